import type { DType } from '../../tensor/dtype.ts';
import { formatShape } from '../../tensor/tensor.ts';
import type { TensorType } from '../types.ts';
import { TypeInferenceError } from '../errors.ts';

/** NumPy-style broadcast of two shapes. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new TypeInferenceError(op, `shapes ${formatShape(a)} and ${formatShape(b)} do not broadcast`);
    out[i] = da === 1 ? db : da;
  }
  return out;
}

export function sameDType(op: string, types: readonly TensorType[]): DType {
  const d = types[0]!.dtype;
  for (const t of types) if (t.dtype !== d) throw new TypeInferenceError(op, `operand dtypes differ (${types.map((x) => x.dtype).join(', ')})`);
  return d;
}

/** Normalizes a possibly negative axis for a tensor of `rank` dimensions. */
export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new TypeInferenceError(op, `axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export function checkRank(op: string, t: TensorType, min: number, what = 'input'): void {
  if (t.shape.length < min) throw new TypeInferenceError(op, `${what} needs rank >= ${min}, got ${formatShape(t.shape)}`);
}

export function checkDims(op: string, shape: readonly number[]): readonly number[] {
  let size = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new TypeInferenceError(op, `invalid dimension ${d} in ${formatShape(shape)}`);
    size *= d;
  }
  if (!Number.isSafeInteger(size)) throw new TypeInferenceError(op, `shape ${formatShape(shape)} is too large`);
  return shape;
}
