/** QuantizeLinear / DequantizeLinear, per tensor or per axis. */
import { constant } from '../../ir/graph.ts';
import { Tensor } from '../../tensor/tensor.ts';
import type { Converter, NodeContext } from '../context.ts';

function checkBlockSize(ctx: NodeContext): void {
  if (ctx.attrs.int('block_size', 0) !== 0) ctx.fail('blocked quantization (block_size) is not supported');
}

const quantize: Converter = (ctx) => {
  checkBlockSize(ctx);
  const x = ctx.input(0);
  const scale = ctx.input(1);
  // Without a zero point the output is uint8 (or output_dtype from opset 21) with zero point 0.
  const zp = ctx.optional(2) ?? constant(`${ctx.name}_zero_point`, Tensor.zeros(ctx.attrs.int('output_dtype', 2) === 3 ? 'int8' : 'uint8', []));
  if (zp.type.dtype !== 'int8' && zp.type.dtype !== 'uint8') ctx.fail(`zero point of type ${zp.type.dtype} is not supported (int8, uint8 are)`);
  return ctx.emit('qnn.quantize', [x, scale, zp], { axis: ctx.attrs.int('axis', 1), out_dtype: zp.type.dtype });
};

const dequantize: Converter = (ctx) => {
  checkBlockSize(ctx);
  const x = ctx.input(0);
  const zp = ctx.optional(2) ?? constant(`${ctx.name}_zero_point`, Tensor.zeros(x.type.dtype, []));
  return ctx.emit('qnn.dequantize', [x, ctx.input(1), zp], { axis: ctx.attrs.int('axis', 1) });
};

export const QUANT_CONVERTERS: Record<string, Converter> = {
  QuantizeLinear: quantize,
  DequantizeLinear: dequantize,
};
