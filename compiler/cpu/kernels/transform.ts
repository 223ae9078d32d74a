import type { Attrs } from '../../ir/graph.ts';
import { intAttr, intsAttr, stringAttr } from '../../ir/attrs.ts';
import { parseLayout } from '../../ir/layout.ts';
import { Tensor, sizeOf, stridesOf } from '../../tensor/tensor.ts';
import { ExecutionError } from '../errors.ts';
import { registerKernel } from '../registry.ts';
import { gatherStrided, type Elements } from './indexing.ts';

// Shape-only ops share the input's data: tensors are never written after they are made.
const sameData = (args: readonly Tensor[], _a: Attrs, type: { shape: readonly number[] }) => args[0]!.reshape(type.shape);
for (const op of ['reshape', 'squeeze', 'expand_dims', 'device_copy']) registerKernel(op, sameData);

export function transpose(x: Tensor, axes: readonly number[]): Tensor {
  const strides = stridesOf(x.shape);
  const out = Tensor.zeros(x.dtype, axes.map((a) => x.shape[a]!));
  gatherStrided(x.data, 0, out.shape, axes.map((a) => strides[a]!), out.data);
  return out;
}

registerKernel('transpose', ([x], attrs, _t, op) => {
  const rank = x!.shape.length;
  return transpose(x!, intsAttr(op, attrs, 'axes').map((a) => (a < 0 ? a + rank : a)));
});

registerKernel('concatenate', (args, attrs, type, op) => {
  const rank = type.shape.length;
  const axis = (intAttr(op, attrs, 'axis') + rank) % rank;
  const out = Tensor.zeros(type.dtype, type.shape);
  const outer = sizeOf(type.shape.slice(0, axis));
  const rowOut = sizeOf(type.shape.slice(axis));
  let col = 0;
  for (const a of args) {
    const row = sizeOf(a.shape.slice(axis));
    for (let i = 0; i < outer; i++) (out.data as Elements as Float32Array).set(a.data.subarray(i * row, (i + 1) * row) as Float32Array, i * rowOut + col);
    col += row;
  }
  return out;
});

registerKernel('strided_slice', ([x], attrs, type, op) => {
  const begin = intsAttr(op, attrs, 'begin');
  const steps = intsAttr(op, attrs, 'strides');
  const strides = stridesOf(x!.shape);
  const out = Tensor.zeros(type.dtype, type.shape);
  let off = 0;
  for (let i = 0; i < strides.length; i++) off += begin[i]! * strides[i]!;
  gatherStrided(x!.data, off, type.shape, strides.map((s, i) => s * steps[i]!), out.data);
  return out;
});

registerKernel('take', ([x, indices], attrs, type, op) => {
  const rank = x!.shape.length;
  const axis = (intAttr(op, attrs, 'axis', 0) + rank) % rank;
  const dim = x!.shape[axis]!;
  const outer = sizeOf(x!.shape.slice(0, axis));
  const inner = sizeOf(x!.shape.slice(axis + 1));
  const idx = indices!.toNumbers().map((i) => {
    if (i < -dim || i >= dim) throw new ExecutionError(op, `index ${i} is out of range for axis ${axis} of size ${dim}`);
    return i < 0 ? i + dim : i;
  });
  const out = Tensor.zeros(type.dtype, type.shape);
  const src = x!.data as Elements as Float32Array;
  const dst = out.data as Elements as Float32Array;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < idx.length; j++) {
      const from = (o * dim + idx[j]!) * inner;
      dst.set(src.subarray(from, from + inner), (o * idx.length + j) * inner);
    }
  }
  return out;
});

registerKernel('broadcast_to', ([x], _attrs, type) => {
  const rank = type.shape.length;
  const xs = stridesOf(x!.shape);
  const strides = type.shape.map((_, i) => {
    const j = i - (rank - x!.shape.length);
    return j < 0 || x!.shape[j] === 1 ? 0 : xs[j]!;
  });
  const out = Tensor.zeros(type.dtype, type.shape);
  gatherStrided(x!.data, 0, type.shape, strides, out.data);
  return out;
});

registerKernel('shape_of', ([x]) => Tensor.from('int64', [x!.shape.length], x!.shape));

registerKernel('full', (_args, attrs, type, op) => {
  const out = Tensor.zeros(type.dtype, type.shape);
  const value = attrs['fill_value'] ?? 0;
  if (typeof value !== 'number') throw new ExecutionError(op, 'fill_value must be a number');
  if (out.data instanceof BigInt64Array) out.data.fill(BigInt(Math.trunc(value)));
  else out.data.fill(value);
  return out;
});

registerKernel('nn.pad', ([x], attrs, type, op) => {
  const before = intsAttr(op, attrs, 'pad_before');
  const mode = stringAttr(op, attrs, 'pad_mode', 'constant');
  const value = attrs['pad_value'] ?? 0;
  if (typeof value !== 'number') throw new ExecutionError(op, 'pad_value must be a number');
  const rank = type.shape.length;
  const out = Tensor.zeros(type.dtype, type.shape);
  if (mode === 'constant' && value !== 0) {
    if (out.data instanceof BigInt64Array) out.data.fill(BigInt(Math.trunc(value)));
    else out.data.fill(value);
  }
  const inStrides = stridesOf(x!.shape);
  const src = x!.data as Elements;
  const dst = out.data as Elements;
  // Maps an output coordinate to the input coordinate it copies, or -1 for the constant.
  const source = (c: number, d: number): number => {
    const n = x!.shape[d]!;
    let i = c - before[d]!;
    if (i >= 0 && i < n) return i;
    if (mode === 'constant') return -1;
    if (mode === 'edge') return i < 0 ? 0 : n - 1;
    const period = 2 * (n - 1);
    i = ((i % period) + period) % period;
    return i < n ? i : period - i;
  };
  const maps = type.shape.map((len, d) => Int32Array.from({ length: len }, (_, c) => source(c, d)));
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.size; o++) {
    let off = 0;
    for (let d = 0; d < rank; d++) {
      const i = maps[d]![idx[d]!]!;
      if (i < 0) {
        off = -1;
        break;
      }
      off += i * inStrides[d]!;
    }
    if (off >= 0) dst[o] = src[off]!;
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d]! < type.shape[d]!) break;
      idx[d] = 0;
    }
  }
  return out;
});

/**
 * Moves a tensor between layouts with the same logical axes (NCHW <-> NCHW1n16c, ...). The source
 * offset of a logical index is looked up per axis in a precomputed table, so each element costs a
 * few table reads and no divisions; packing the weights of a large model runs through here.
 */
export function relayout(x: Tensor, srcName: string, dstName: string, outShape: readonly number[]): Tensor {
  const src = parseLayout(srcName);
  const dst = parseLayout(dstName);
  const srcStrides = stridesOf(x.shape);
  const axes = dst.primal;
  const rank = outShape.length;
  const out = Tensor.zeros(x.dtype, outShape);
  if (out.size === 0) return out;
  const block = (l: typeof src, axis: string) => l.dims.find((d) => d.axis === axis && d.factor !== undefined)?.factor ?? 1;
  // Each destination dim adds idx * unit to the logical index of its axis.
  const axisOf = dst.dims.map((d) => axes.indexOf(d.axis));
  const unit = dst.dims.map((d) => (d.factor === undefined ? block(dst, d.axis) : 1));
  // tables[a][l]: the source offset of logical index l on axis a, (l / block) * outer stride + (l % block) * inner stride.
  const tables = axes.map((a, ai) => {
    const b = block(src, a);
    const outer = srcStrides[src.dims.findIndex((d) => d.axis === a && d.factor === undefined)]!;
    const i = src.dims.findIndex((d) => d.axis === a && d.factor !== undefined);
    const inner = i >= 0 ? srcStrides[i]! : 0;
    let extent = 1;
    for (let d = 0; d < rank; d++) if (axisOf[d] === ai) extent += (outShape[d]! - 1) * unit[d]!;
    const t = new Int32Array(extent);
    for (let l = 0; l < extent; l++) t[l] = Math.floor(l / b) * outer + (l % b) * inner;
    return t;
  });
  const s = x.data as Elements;
  const o = out.data as Elements;
  // The last destination dim runs as a plain loop over its axis' table; the others as an odometer.
  const last = rank - 1;
  const lastAxis = axisOf[last]!;
  const lastTable = tables[lastAxis]!;
  const lastUnit = unit[last]!;
  const lastLen = outShape[last]!;
  const idx = new Array<number>(rank).fill(0);
  const logical = new Array<number>(axes.length).fill(0);
  for (let n = 0; ; ) {
    let base = 0;
    for (let a = 0; a < axes.length; a++) if (a !== lastAxis) base += tables[a]![logical[a]!]!;
    for (let j = 0, l = logical[lastAxis]!; j < lastLen; j++, l += lastUnit) o[n++] = s[base + lastTable[l]!]!;
    let d = last - 1;
    for (; d >= 0; d--) {
      logical[axisOf[d]!]! += unit[d]!;
      if (++idx[d]! < outShape[d]!) break;
      logical[axisOf[d]!]! -= outShape[d]! * unit[d]!;
      idx[d] = 0;
    }
    if (d < 0) return out;
  }
}

registerKernel('layout_transform', ([x], attrs, type, op) =>
  relayout(x!, stringAttr(op, attrs, 'src_layout'), stringAttr(op, attrs, 'dst_layout'), type.shape));
