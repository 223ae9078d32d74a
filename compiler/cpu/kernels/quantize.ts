/**
 * ONNX QuantizeLinear / DequantizeLinear semantics, bit-exact with float32
 * arithmetic: the double quotient and product of float32 operands, rounded once
 * to float32 (Math.fround), equal the float32 operation's result.
 */
import { intAttr } from '../../ir/attrs.ts';
import { integerRange, type NumberData } from '../../tensor/dtype.ts';
import { sizeOf, Tensor } from '../../tensor/tensor.ts';
import { ExecutionError } from '../errors.ts';
import { registerKernel } from '../registry.ts';

/** Round half to even, as std::nearbyint does in the default rounding mode. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Per-element parameter index: 0 per tensor, else the index along `axis`. */
function paramIndex(x: Tensor, param: Tensor, axis: number): (i: number) => number {
  if (param.size === 1) return () => 0;
  const a = axis < 0 ? axis + x.shape.length : axis;
  const inner = sizeOf(x.shape.slice(a + 1));
  const C = x.shape[a]!;
  return (i) => Math.floor(i / inner) % C;
}

function numbers(op: string, t: Tensor): NumberData {
  if (t.data instanceof BigInt64Array) throw new ExecutionError(op, 'int64 is not supported');
  return t.data;
}

registerKernel('qnn.quantize', ([x, scale, zp], attrs, type, op) => {
  const axis = intAttr(op, attrs, 'axis', 1);
  const [lo, hi] = integerRange(type.dtype);
  const src = numbers(op, x!);
  const s = numbers(op, scale!);
  const z = numbers(op, zp!);
  const at = paramIndex(x!, scale!, axis);
  const out = Tensor.zeros(type.dtype, type.shape);
  const o = out.data as NumberData;
  for (let i = 0; i < src.length; i++) {
    const p = at(i);
    const q = roundHalfEven(Math.fround(src[i]! / s[p]!)) + z[p]!;
    o[i] = q < lo ? lo : q > hi ? hi : q;
  }
  return out;
});

registerKernel('qnn.dequantize', ([x, scale, zp], attrs, type, op) => {
  const axis = intAttr(op, attrs, 'axis', 1);
  const src = numbers(op, x!);
  const s = numbers(op, scale!);
  const z = numbers(op, zp!);
  const at = paramIndex(x!, scale!, axis);
  const out = Tensor.zeros('float32', type.shape);
  const o = out.data as Float32Array;
  for (let i = 0; i < src.length; i++) {
    const p = at(i);
    // The difference is rounded to float32 first, as ONNX defines it (exact for 8-bit inputs).
    o[i] = Math.fround(src[i]! - z[p]!) * s[p]!;
  }
  return out;
});
