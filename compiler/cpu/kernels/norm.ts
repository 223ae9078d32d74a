import { floatAttr, intAttr } from '../../ir/attrs.ts';
import type { NumberData } from '../../tensor/dtype.ts';
import { sizeOf, Tensor } from '../../tensor/tensor.ts';
import { ExecutionError } from '../errors.ts';
import { registerKernel } from '../registry.ts';
import { BINARY, binary } from './elementwise.ts';

/** Splits a shape around `axis` into (outer, channels, inner) element counts. */
function around(shape: readonly number[], axis: number): [number, number, number] {
  const a = axis < 0 ? axis + shape.length : axis;
  return [sizeOf(shape.slice(0, a)), shape[a]!, sizeOf(shape.slice(a + 1))];
}

function floats(op: string, t: Tensor): Float32Array | Float64Array {
  if (!(t.data instanceof Float32Array || t.data instanceof Float64Array)) throw new ExecutionError(op, `needs a float input, got ${t.dtype}`);
  return t.data;
}

registerKernel('nn.bias_add', ([x, bias], attrs, type, op) => {
  const [outer, C, inner] = around(x!.shape, intAttr(op, attrs, 'axis', 1));
  if (x!.data instanceof BigInt64Array || bias!.data instanceof BigInt64Array) {
    const rank = x!.shape.length;
    const axis = (intAttr(op, attrs, 'axis', 1) + rank) % rank;
    return binary(x!, bias!.reshape(x!.shape.map((d, i) => (i === axis ? d : 1))), type, BINARY.add!);
  }
  // One channel's bias over a contiguous run: the hot path after every convolution.
  const src = x!.data;
  const b = bias!.data;
  const out = Tensor.zeros(type.dtype, type.shape);
  const o = out.data as NumberData;
  for (let n = 0, i = 0; n < outer; n++) {
    for (let c = 0; c < C; c++) {
      const v = b[c]!;
      for (const end = i + inner; i < end; i++) o[i] = src[i]! + v;
    }
  }
  return out;
});

registerKernel('nn.batch_norm', ([x, gamma, beta, mean, variance], attrs, type, op) => {
  const eps = floatAttr(op, attrs, 'epsilon');
  const [outer, C, inner] = around(x!.shape, intAttr(op, attrs, 'axis', 1));
  const src = floats(op, x!);
  const [g, b, m, v] = [gamma!, beta!, mean!, variance!].map((t) => floats(op, t));
  const out = Tensor.zeros(type.dtype, type.shape);
  const o = out.data as Float32Array;
  for (let c = 0; c < C; c++) {
    const scale = g![c]! / Math.sqrt(v![c]! + eps);
    const shift = b![c]! - m![c]! * scale;
    for (let n = 0; n < outer; n++) {
      for (let i = (n * C + c) * inner, end = i + inner; i < end; i++) o[i] = src[i]! * scale + shift;
    }
  }
  return out;
});

// ONNX LRN: the window spans floor((size-1)/2) channels before and ceil((size-1)/2) after.
registerKernel('nn.lrn', ([x], attrs, type, op) => {
  const size = intAttr(op, attrs, 'size');
  const alpha = floatAttr(op, attrs, 'alpha', 1e-4);
  const beta = floatAttr(op, attrs, 'beta', 0.75);
  const bias = floatAttr(op, attrs, 'bias', 1);
  const [outer, C, inner] = around(x!.shape, intAttr(op, attrs, 'axis', 1));
  const src = floats(op, x!);
  const out = Tensor.zeros(type.dtype, type.shape);
  const o = out.data as Float32Array;
  const before = Math.floor((size - 1) / 2);
  const after = Math.ceil((size - 1) / 2);
  for (let n = 0; n < outer; n++) {
    for (let c = 0; c < C; c++) {
      const lo = Math.max(0, c - before);
      const hi = Math.min(C - 1, c + after);
      for (let i = 0; i < inner; i++) {
        let sq = 0;
        for (let j = lo; j <= hi; j++) {
          const v = src[(n * C + j) * inner + i]!;
          sq += v * v;
        }
        const at = (n * C + c) * inner + i;
        o[at] = src[at]! / Math.pow(bias + (alpha / size) * sq, beta);
      }
    }
  }
  return out;
});

registerKernel('nn.softmax', ([x], attrs, type, op) => {
  const [outer, C, inner] = around(x!.shape, intAttr(op, attrs, 'axis', -1));
  const src = floats(op, x!);
  const out = Tensor.zeros(type.dtype, type.shape);
  const o = out.data as Float32Array;
  for (let n = 0; n < outer; n++) {
    for (let i = 0; i < inner; i++) {
      const base = n * C * inner + i;
      let max = -Infinity;
      for (let c = 0; c < C; c++) max = Math.max(max, src[base + c * inner]!);
      let sum = 0;
      for (let c = 0; c < C; c++) sum += Math.exp(src[base + c * inner]! - max);
      for (let c = 0; c < C; c++) o[base + c * inner] = Math.exp(src[base + c * inner]! - max) / sum;
    }
  }
  return out;
});
