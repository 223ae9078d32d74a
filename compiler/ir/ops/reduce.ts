import { intAttr, intsAttr } from '../attrs.ts';
import { TypeInferenceError } from '../errors.ts';
import { registerOp } from './registry.ts';
import { normAxis } from './shape-utils.ts';

/** Reduction axes: an empty list reduces every axis (ONNX's default). */
export function reduceAxes(op: string, axes: readonly number[], rank: number): Set<number> {
  const set = new Set(axes.length ? axes.map((a) => normAxis(op, a, rank)) : [...Array(rank).keys()]);
  if (set.size !== (axes.length || rank)) throw new TypeInferenceError(op, 'repeated axis');
  return set;
}

registerOp({
  name: 'mean',
  arity: [1, 1],
  infer: ([x], attrs, op) => {
    const axes = reduceAxes(op, intsAttr(op, attrs, 'axis', []), x!.shape.length);
    const keep = intAttr(op, attrs, 'keepdims', 1) === 1;
    const shape = keep ? x!.shape.map((d, i) => (axes.has(i) ? 1 : d)) : x!.shape.filter((_, i) => !axes.has(i));
    return { shape, dtype: x!.dtype };
  },
});
