/** Shape and data-movement ops, constants, and the ops that only pass their input through. */
import { constant, type Value } from '../../ir/graph.ts';
import { Tensor, sizeOf } from '../../tensor/tensor.ts';
import type { Converter, NodeContext } from '../context.ts';
import { dtypeOf } from '../tensor-proto.ts';

function axisOf(ctx: NodeContext, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) ctx.fail(`axis ${axis} is out of range for rank ${rank}`);
  return a;
}

const flatten: Converter = (ctx) => {
  const x = ctx.input(0);
  const rank = x.type.shape.length;
  const axis = ctx.attrs.int('axis', 1);
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a > rank) ctx.fail(`axis ${axis} is out of range for rank ${rank}`);
  return ctx.emit('reshape', [x], { newshape: [sizeOf(x.type.shape.slice(0, a)), sizeOf(x.type.shape.slice(a))] });
};

// 0 copies the input's dimension (unless allowzero), -1 takes what is left.
const reshape: Converter = (ctx) => {
  const x = ctx.input(0);
  const spec = ctx.ints(1);
  const allowZero = ctx.attrs.int('allowzero', 0) === 1;
  const shape = spec.map((d, i) => (d === 0 && !allowZero ? (x.type.shape[i] ?? ctx.fail(`0 at position ${i} has no input dimension`)) : d));
  const unknown = shape.indexOf(-1);
  if (shape.some((d, i) => d < -1 || (d === -1 && i !== unknown))) ctx.fail(`invalid shape [${spec}]`);
  if (unknown >= 0) {
    const known = sizeOf(shape.filter((d) => d !== -1));
    const total = sizeOf(x.type.shape);
    if (known === 0 || total % known !== 0) ctx.fail(`cannot reshape ${x.type.shape.length ? `[${x.type.shape}]` : 'a scalar'} to [${spec}]`);
    shape[unknown] = total / known;
  }
  return ctx.emit('reshape', [x], { newshape: shape });
};

const transpose: Converter = (ctx) => {
  const x = ctx.input(0);
  const rank = x.type.shape.length;
  return ctx.emit('transpose', [x], { axes: ctx.attrs.ints('perm', [...Array(rank).keys()].reverse()) });
};

/** Resolved begin/end/stride for every axis from ONNX Slice operands (clamped as ONNX specifies). */
function sliceAttrs(ctx: NodeContext, x: Value, starts: number[], ends: number[], axes: number[] | undefined, steps: number[] | undefined) {
  const shape = x.type.shape;
  const rank = shape.length;
  const begin = shape.map(() => 0);
  const end = [...shape];
  const strides = shape.map(() => 1);
  const ax = axes ?? starts.map((_, i) => i);
  if (ends.length !== starts.length || ax.length !== starts.length || (steps && steps.length !== starts.length)) ctx.fail('starts, ends, axes and steps differ in length');
  ax.forEach((axis, i) => {
    const a = axisOf(ctx, axis, rank);
    const dim = shape[a]!;
    const step = steps?.[i] ?? 1;
    if (step === 0) ctx.fail('step 0');
    let s = starts[i]!;
    let e = ends[i]!;
    if (s < 0) s += dim;
    if (e < 0) e += dim;
    if (step > 0) {
      s = Math.min(Math.max(s, 0), dim);
      e = Math.min(Math.max(e, 0), dim);
    } else {
      s = Math.min(Math.max(s, 0), dim - 1);
      e = Math.min(Math.max(e, -1), dim - 1);
    }
    begin[a] = s;
    end[a] = e;
    strides[a] = step;
  });
  return { begin, end, strides };
}

const slice: Converter = (ctx) => {
  const x = ctx.input(0);
  const attrs = ctx.opset < 10
    ? sliceAttrs(ctx, x, ctx.attrs.ints('starts') ?? ctx.fail('starts is required'), ctx.attrs.ints('ends') ?? ctx.fail('ends is required'), ctx.attrs.ints('axes'), undefined)
    : sliceAttrs(ctx, x, ctx.ints(1), ctx.ints(2), ctx.optional(3) ? ctx.ints(3) : undefined, ctx.optional(4) ? ctx.ints(4) : undefined);
  return ctx.emit('strided_slice', [x], attrs);
};

// Split becomes one strided_slice per output, keeping the IR single-output.
const split: Converter = (ctx) => {
  const x = ctx.input(0);
  const rank = x.type.shape.length;
  const axis = axisOf(ctx, ctx.attrs.int('axis', 0), rank);
  const dim = x.type.shape[axis]!;
  const outputs = ctx.attrs.int('num_outputs') ?? ctx.outputCount;
  if (outputs !== ctx.outputCount) ctx.fail(`num_outputs ${outputs} differs from the node's ${ctx.outputCount} outputs`);
  let sizes = ctx.opset < 13 ? ctx.attrs.ints('split') : ctx.optional(1) ? ctx.ints(1) : undefined;
  if (!sizes) {
    // Equal parts; from opset 18 the last one may be smaller.
    const part = Math.ceil(dim / outputs);
    sizes = Array.from({ length: outputs }, (_, i) => Math.max(0, Math.min(part, dim - i * part)));
  }
  if (sizes.length !== ctx.outputCount || sizes.some((s) => s < 0) || sizes.reduce((a, b) => a + b, 0) !== dim) {
    ctx.fail(`split sizes [${sizes}] do not divide axis ${axis} of size ${dim} into ${ctx.outputCount} outputs`);
  }
  let at = 0;
  return sizes.map((size) => {
    const begin = x.type.shape.map((_, i) => (i === axis ? at : 0));
    const end = x.type.shape.map((d, i) => (i === axis ? at + size : d));
    at += size;
    return ctx.emit('strided_slice', [x], { begin, end, strides: x.type.shape.map(() => 1) });
  });
};

const squeeze: Converter = (ctx) => {
  const x = ctx.input(0);
  const given = ctx.opset < 13 ? ctx.attrs.ints('axes') : ctx.optional(1) ? ctx.ints(1) : undefined;
  const axes = given ?? x.type.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  return ctx.emit('squeeze', [x], { axis: axes });
};

const unsqueeze: Converter = (ctx) => {
  const axes = ctx.opset < 13 ? ctx.attrs.ints('axes') ?? ctx.fail('axes is required') : ctx.ints(1);
  return ctx.emit('expand_dims', [ctx.input(0)], { axis: axes });
};

const concat: Converter = (ctx) => {
  const args = Array.from({ length: ctx.inputCount }, (_, i) => ctx.input(i));
  return ctx.emit('concatenate', args, { axis: ctx.attrs.int('axis') ?? ctx.fail('axis is required') });
};

// Pads and the fill value are attributes before opset 11, inputs after; opset 18 adds axes.
const pad: Converter = (ctx) => {
  const x = ctx.input(0);
  const rank = x.type.shape.length;
  const mode = ctx.attrs.string('mode', 'constant');
  if (mode !== 'constant' && mode !== 'reflect' && mode !== 'edge') ctx.fail(`mode ${mode} is not supported`);
  let pads: number[];
  let value: number;
  if (ctx.opset < 11) {
    pads = ctx.attrs.ints('pads') ?? ctx.attrs.ints('paddings') ?? ctx.fail('pads is required');
    value = ctx.attrs.float('value', 0);
  } else {
    pads = ctx.ints(1);
    value = ctx.optionalConstant(2)?.toNumbers()[0] ?? 0;
  }
  const axes = ctx.opset >= 18 && ctx.optional(3) ? ctx.ints(3).map((a) => axisOf(ctx, a, rank)) : [...Array(rank).keys()];
  if (pads.length !== 2 * axes.length) ctx.fail(`pads need ${2 * axes.length} entries`);
  const before = new Array<number>(rank).fill(0);
  const after = new Array<number>(rank).fill(0);
  axes.forEach((a, i) => {
    before[a] = pads[i]!;
    after[a] = pads[axes.length + i]!;
  });
  return ctx.emit('nn.pad', [x], { pad_before: before, pad_after: after, pad_mode: mode, pad_value: value });
};

// Opset 15 Shape takes start/end to slice the shape.
const shape: Converter = (ctx) => {
  const x = ctx.input(0);
  const rank = x.type.shape.length;
  const clampEnd = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clampEnd(ctx.attrs.int('start', 0));
  const end = clampEnd(ctx.attrs.int('end', rank));
  const dims = x.type.shape.slice(start, Math.max(start, end));
  return constant(ctx.node.output[0] || ctx.name, Tensor.from('int64', [dims.length], dims));
};

const gather: Converter = (ctx) => ctx.emit('take', [ctx.input(0), ctx.input(1)], { axis: ctx.attrs.int('axis', 0) });

const constantOp: Converter = (ctx) => {
  const name = ctx.node.output[0] || ctx.name;
  const t = ctx.attrs.tensor('value');
  if (t) return constant(name, t);
  const f = ctx.attrs.float('value_float');
  if (f !== undefined) return constant(name, Tensor.from('float32', [], [f]));
  const fs = ctx.attrs.floats('value_floats');
  if (fs) return constant(name, Tensor.from('float32', [fs.length], fs));
  const i = ctx.attrs.int('value_int');
  if (i !== undefined) return constant(name, Tensor.from('int64', [], [i]));
  const is = ctx.attrs.ints('value_ints');
  if (is) return constant(name, Tensor.from('int64', [is.length], is));
  return ctx.fail(`only tensor, float and int values are supported (got ${ctx.attrs.names().join(', ') || 'none'})`);
};

const constantOfShape: Converter = (ctx) => {
  const dims = ctx.ints(0);
  const value = ctx.attrs.tensor('value');
  if (value && value.size !== 1) ctx.fail('value must hold one element');
  return ctx.emit('full', [], { shape: dims, fill_value: value ? value.toNumbers()[0]! : 0, dtype: value?.dtype ?? 'float32' });
};

/**
 * ConstantFill, the experimental op of old Caffe2 exports (opsets before 10): a tensor of `shape`
 * (or, with an input, of that input's shape, or of the shape the input holds when input_as_shape
 * is 1) plus `extra_shape`, filled with `value`, of element type `dtype` (default float).
 */
const constantFill: Converter = (ctx) => {
  let dims = ctx.attrs.ints('shape', []);
  if (ctx.inputCount > 0) dims = ctx.attrs.int('input_as_shape', 0) === 1 ? ctx.ints(0) : [...ctx.input(0).type.shape];
  else if (ctx.attrs.int('input_as_shape', 0) === 1) ctx.fail('input_as_shape is 1 but there is no input');
  dims = [...dims, ...ctx.attrs.ints('extra_shape', [])];
  const dtype = dtypeOf(ctx.attrs.int('dtype', 1), 'ConstantFill dtype', ctx.file);
  return ctx.emit('full', [], { shape: dims, fill_value: ctx.attrs.float('value', 0), dtype });
};

const expand: Converter = (ctx) => ctx.emit('broadcast_to', [ctx.input(0)], { shape: ctx.ints(1) });

// Dropout at inference and Identity pass their input on (Dropout's mask output is left unsupported).
const passThrough: Converter = (ctx) => ctx.input(0);

export const TENSOR_CONVERTERS: Record<string, Converter> = {
  Flatten: flatten,
  Reshape: reshape,
  Transpose: transpose,
  Slice: slice,
  Split: split,
  Squeeze: squeeze,
  Unsqueeze: unsqueeze,
  Concat: concat,
  Pad: pad,
  Shape: shape,
  Gather: gather,
  Constant: constantOp,
  ConstantOfShape: constantOfShape,
  ConstantFill: constantFill,
  Expand: expand,
  Identity: passThrough,
  Dropout: passThrough,
};
