/** Strided copies shared by the data-movement kernels. */
import type { TensorData } from '../../tensor/dtype.ts';

/** Any typed array, read and written element by element (int64 elements are bigints). */
export interface Elements {
  [i: number]: number | bigint;
  readonly length: number;
}

/**
 * dst[i] = src[off + sum_d idx_d * strides[d]] for i walking `shape` in row-major
 * order; the last axis runs as a plain loop.
 */
export function gatherStrided(src: TensorData, off: number, shape: readonly number[], strides: readonly number[], dst: TensorData, dstOff = 0): void {
  const s = src as Elements;
  const d = dst as Elements;
  const rank = shape.length;
  if (rank === 0) {
    d[dstOff] = s[off]!;
    return;
  }
  for (const n of shape) if (n === 0) return;
  const inner = shape[rank - 1]!;
  const innerStride = strides[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let o = dstOff;
  let base = off;
  for (;;) {
    for (let i = 0, p = base; i < inner; i++, p += innerStride) d[o++] = s[p]!;
    let ax = rank - 2;
    for (; ax >= 0; ax--) {
      idx[ax]!++;
      base += strides[ax]!;
      if (idx[ax]! < shape[ax]!) break;
      base -= strides[ax]! * shape[ax]!;
      idx[ax] = 0;
    }
    if (ax < 0) return;
  }
}
