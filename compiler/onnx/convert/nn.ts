/** Conv, ConvTranspose, Gemm, MatMul, pools, normalizations, Softmax, ReduceMean. */
import type { Value } from '../../ir/graph.ts';
import { sizeOf } from '../../tensor/tensor.ts';
import type { Converter, NodeContext } from '../context.ts';
import { windowSpec } from './window.ts';

function spatialRank(ctx: NodeContext, x: Value): number {
  const n = x.type.shape.length - 2;
  if (n !== 1 && n !== 2) ctx.fail(`${n}-D spatial input ${JSON.stringify(x.type.shape)} is not supported (1-D and 2-D are)`);
  return n;
}

function checkKernelShape(ctx: NodeContext, kernel: readonly number[]): void {
  const declared = ctx.attrs.ints('kernel_shape');
  if (declared && declared.join() !== kernel.join()) ctx.fail(`kernel_shape [${declared}] does not match the weight's [${kernel}]`);
}

function withBias(ctx: NodeContext, y: Value, biasIndex: number): Value {
  const bias = ctx.optional(biasIndex);
  return bias ? ctx.emit('nn.bias_add', [y, bias], { axis: 1 }) : y;
}

const conv: Converter = (ctx) => {
  const x = ctx.input(0);
  const w = ctx.input(1);
  const n = spatialRank(ctx, x);
  const kernel = w.type.shape.slice(2);
  checkKernelShape(ctx, kernel);
  const win = windowSpec(ctx, x.type.shape.slice(2), kernel);
  const y = ctx.emit(`nn.conv${n}d`, [x, w], {
    strides: win.strides, padding: win.pads, dilation: win.dilations, groups: ctx.attrs.int('group', 1),
  });
  return withBias(ctx, y, 2);
};

const convTranspose: Converter = (ctx) => {
  const x = ctx.input(0);
  const w = ctx.input(1);
  const n = spatialRank(ctx, x);
  const kernel = w.type.shape.slice(2);
  checkKernelShape(ctx, kernel);
  const groups = ctx.attrs.int('group', 1);
  const strides = ctx.attrs.ints('strides', new Array<number>(n).fill(1));
  const dilations = ctx.attrs.ints('dilations', new Array<number>(n).fill(1));
  let outputPadding = ctx.attrs.ints('output_padding', new Array<number>(n).fill(0));
  let pads = ctx.attrs.ints('pads', new Array<number>(2 * n).fill(0));
  const outputShape = ctx.attrs.ints('output_shape');
  const autoPad = ctx.attrs.string('auto_pad', 'NOTSET');
  if (outputShape || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    // Pads that give the requested size (ONNX: output_shape, or in*stride for SAME_*).
    const target = outputShape?.slice(-n) ?? x.type.shape.slice(2).map((d, i) => d * strides[i]!);
    pads = new Array<number>(2 * n).fill(0);
    outputPadding = outputPadding.slice();
    for (let i = 0; i < n; i++) {
      const full = strides[i]! * (x.type.shape[2 + i]! - 1) + outputPadding[i]! + (kernel[i]! - 1) * dilations[i]! + 1;
      const total = full - target[i]!;
      if (total < 0) {
        outputPadding[i]! -= total;
        continue;
      }
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_LOWER' ? total - small : small;
      pads[n + i] = total - pads[i]!;
    }
  } else if (autoPad === 'VALID') {
    pads = new Array<number>(2 * n).fill(0);
  }
  const y = ctx.emit(`nn.conv${n}d_transpose`, [x, w], {
    strides, padding: pads, dilation: dilations, groups, output_padding: outputPadding,
  });
  return withBias(ctx, y, 2);
};

function pool(kind: 'max' | 'avg'): Converter {
  return (ctx) => {
    const x = ctx.input(0);
    const n = spatialRank(ctx, x);
    const kernel = ctx.attrs.ints('kernel_shape') ?? ctx.fail('kernel_shape is required');
    if (kernel.length !== n) ctx.fail(`kernel_shape needs ${n} entries`);
    const win = windowSpec(ctx, x.type.shape.slice(2), kernel);
    return ctx.emit(`nn.${kind}_pool${n}d`, [x], {
      pool_size: kernel, strides: win.strides, padding: win.pads, dilation: win.dilations,
      ceil_mode: ctx.attrs.int('ceil_mode', 0),
      ...(kind === 'avg' ? { count_include_pad: ctx.attrs.int('count_include_pad', 0) } : {}),
    });
  };
}

const gemm: Converter = (ctx) => {
  let a = ctx.input(0);
  let b = ctx.input(1);
  if (a.type.shape.length !== 2 || b.type.shape.length !== 2) ctx.fail('A and B must be 2-D');
  if (ctx.attrs.int('transA', 0)) a = ctx.emit('transpose', [a], { axes: [1, 0] });
  // nn.dense takes the weight as [N, K], which is B when transB is set.
  if (!ctx.attrs.int('transB', 0)) b = ctx.emit('transpose', [b], { axes: [1, 0] });
  const dtype = a.type.dtype;
  const alpha = ctx.attrs.float('alpha', 1);
  const beta = ctx.attrs.float('beta', 1);
  let y = ctx.emit('nn.dense', [a, b]);
  if (alpha !== 1) y = ctx.emit('multiply', [y, ctx.scalar(dtype, alpha)]);
  const c = ctx.optional(2);
  if (!c || beta === 0) return y;
  const scaled = beta === 1 ? c : ctx.emit('multiply', [c, ctx.scalar(dtype, beta)]);
  const n = y.type.shape[1]!;
  return scaled.type.shape.length === 1 && scaled.type.shape[0] === n
    ? ctx.emit('nn.bias_add', [y, scaled], { axis: 1 })
    : ctx.emit('add', [y, scaled]);
};

const batchNorm: Converter = (ctx) => {
  if (ctx.attrs.int('training_mode', 0)) ctx.fail('training_mode=1 is not supported (inference only)');
  const args = [0, 1, 2, 3, 4].map((i) => ctx.input(i));
  return ctx.emit('nn.batch_norm', args, { epsilon: ctx.attrs.float('epsilon', 1e-5), axis: 1 });
};

const lrn: Converter = (ctx) =>
  ctx.emit('nn.lrn', [ctx.input(0)], {
    size: ctx.attrs.int('size') ?? ctx.fail('size is required'),
    alpha: ctx.attrs.float('alpha', 1e-4), beta: ctx.attrs.float('beta', 0.75), bias: ctx.attrs.float('bias', 1), axis: 1,
  });

// Before opset 13 Softmax works on the input flattened to 2-D at `axis`.
const softmax: Converter = (ctx) => {
  const x = ctx.input(0);
  const rank = x.type.shape.length;
  if (ctx.opset >= 13) return ctx.emit('nn.softmax', [x], { axis: ctx.attrs.int('axis', -1) });
  const axis = ctx.attrs.int('axis', 1);
  const a = axis < 0 ? axis + rank : axis;
  if (a === rank - 1) return ctx.emit('nn.softmax', [x], { axis: -1 });
  const flat = ctx.emit('reshape', [x], { newshape: [sizeOf(x.type.shape.slice(0, a)), sizeOf(x.type.shape.slice(a))] });
  return ctx.emit('reshape', [ctx.emit('nn.softmax', [flat], { axis: 1 })], { newshape: x.type.shape });
};

const reduceMean: Converter = (ctx) => {
  const axes = ctx.opset >= 18 ? (ctx.optional(1) ? ctx.ints(1) : []) : ctx.attrs.ints('axes', []);
  const x = ctx.input(0);
  if (axes.length === 0 && ctx.attrs.int('noop_with_empty_axes', 0)) return x;
  return ctx.emit('mean', [x], { axis: axes, keepdims: ctx.attrs.int('keepdims', 1) });
};

export const NN_CONVERTERS: Record<string, Converter> = {
  Conv: conv,
  ConvTranspose: convTranspose,
  Gemm: gemm,
  MatMul: (ctx) => ctx.emit('nn.matmul', [ctx.input(0), ctx.input(1)]),
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: (ctx) => ctx.emit('nn.global_avg_pool2d', [ctx.input(0)]),
  GlobalMaxPool: (ctx) => ctx.emit('nn.global_max_pool2d', [ctx.input(0)]),
  BatchNormalization: batchNorm,
  LRN: lrn,
  Softmax: softmax,
  ReduceMean: reduceMean,
};
