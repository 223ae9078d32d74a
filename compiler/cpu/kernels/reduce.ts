import { intsAttr } from '../../ir/attrs.ts';
import { reduceAxes } from '../../ir/ops/reduce.ts';
import { sizeOf, stridesOf, Tensor } from '../../tensor/tensor.ts';
import { isFloat } from '../../tensor/dtype.ts';
import { ExecutionError } from '../errors.ts';
import { registerKernel } from '../registry.ts';

// Integer means round half up, like the integer average pools.
registerKernel('mean', ([x], attrs, type, op) => {
  if (x!.data instanceof BigInt64Array) throw new ExecutionError(op, 'int64 is not supported');
  const src = x!.data;
  const rank = x!.shape.length;
  const axes = reduceAxes(op, intsAttr(op, attrs, 'axis', []), rank);
  const count = sizeOf(x!.shape.filter((_, i) => axes.has(i)));
  // Accumulate into the kept-dims layout; output strides skip reduced axes.
  const keptShape = x!.shape.map((d, i) => (axes.has(i) ? 1 : d));
  const keptStrides = stridesOf(keptShape).map((s, i) => (axes.has(i) ? 0 : s));
  const acc = new Float64Array(sizeOf(keptShape));
  const idx = new Array<number>(rank).fill(0);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    acc[o]! += src[i]!;
    for (let d = rank - 1; d >= 0; d--) {
      o += keptStrides[d]!;
      if (++idx[d]! < x!.shape[d]!) break;
      o -= keptStrides[d]! * x!.shape[d]!;
      idx[d] = 0;
    }
  }
  const out = Tensor.zeros(type.dtype, type.shape);
  const od = out.data as Float32Array;
  for (let i = 0; i < acc.length; i++) od[i] = isFloat(type.dtype) ? acc[i]! / count : Math.round(acc[i]! / count);
  return out;
});
