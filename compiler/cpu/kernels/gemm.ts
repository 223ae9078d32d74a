/**
 * The JS matrix products: dense, matmul, and the integer convolutions (float32
 * convolutions use simd-gemm.ts). Operands are packed into panels of four rows
 * (A) or four columns (B) of float64, so the 4x4 micro-kernel reads both
 * sequentially and keeps its sixteen sums in locals. float64 sums of int8/uint8
 * products are exact (far below 2^53), so the same kernel serves the integer
 * path; int32/int64 operands take the exact wrapping kernels instead.
 */
import type { NumberData, TensorData } from '../../tensor/dtype.ts';

const PANEL = 4;

export function panelCount(rows: number): number {
  return Math.ceil(rows / PANEL);
}

/** Scratch buffers reused across calls: packing allocates nothing in steady state. */
const scratch: Float64Array[] = [new Float64Array(0), new Float64Array(0)];

export function scratchBuffer(slot: 0 | 1, size: number): Float64Array {
  if (scratch[slot]!.length < size) scratch[slot] = new Float64Array(Math.max(size, scratch[slot]!.length * 1.5));
  return scratch[slot]!;
}

/**
 * Packs the `rows` x `depth` matrix src[off + r*rowStride + k*depthStride] into
 * panels of `width` rows: dst[(panel*depth + k)*width + r%width], zero-filling the last panel.
 */
export function packPanels<T extends Float64Array | Float32Array>(
  src: NumberData, off: number, rows: number, depth: number, rowStride: number, depthStride: number, dst: T, width = PANEL,
): T {
  const panels = Math.ceil(rows / width);
  // k outer, so the writes are sequential and each row is read as a stream.
  for (let p = 0, d = 0; p < panels; p++) {
    const first = p * width;
    const n = Math.min(width, rows - first);
    for (let k = 0; k < depth; k++) {
      const s = off + first * rowStride + k * depthStride;
      for (let r = 0; r < n; r++) dst[d + r] = src[s + r * rowStride]!;
      for (let r = n; r < width; r++) dst[d + r] = 0;
      d += width;
    }
  }
  return dst;
}

/**
 * C[i*ldc + j + cOff] = sum_k A[i,k] * B[k,j] for packed A (M rows) and B (N
 * columns), depth K. N is walked in blocks so a block of B panels stays in cache
 * while every A panel passes over it.
 */
export function gemmPacked(
  M: number, N: number, K: number, Ap: Float64Array, Bp: Float64Array, C: NumberData | Float64Array, cOff: number, ldc: number,
): void {
  const mPanels = panelCount(M);
  const nPanels = panelCount(N);
  const block = Math.max(1, Math.floor(32768 / Math.max(K, 1)));
  for (let jb = 0; jb < nPanels; jb += block) {
    const jEnd = Math.min(nPanels, jb + block);
    for (let ip = 0; ip < mPanels; ip++) {
      const aBase = ip * K * PANEL;
      const i0 = ip * PANEL;
      const rows = Math.min(PANEL, M - i0);
      for (let jp = jb; jp < jEnd; jp++) {
        let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
        for (let k = 0, a = aBase, b = jp * K * PANEL; k < K; k++, a += PANEL, b += PANEL) {
          const a0 = Ap[a]!, a1 = Ap[a + 1]!, a2 = Ap[a + 2]!, a3 = Ap[a + 3]!;
          const b0 = Bp[b]!, b1 = Bp[b + 1]!, b2 = Bp[b + 2]!, b3 = Bp[b + 3]!;
          c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
          c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
          c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
          c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
        }
        const j0 = jp * PANEL;
        const cols = Math.min(PANEL, N - j0);
        let o = cOff + i0 * ldc + j0;
        if (cols === PANEL && rows === PANEL) {
          C[o] = c00; C[o + 1] = c01; C[o + 2] = c02; C[o + 3] = c03; o += ldc;
          C[o] = c10; C[o + 1] = c11; C[o + 2] = c12; C[o + 3] = c13; o += ldc;
          C[o] = c20; C[o + 1] = c21; C[o + 2] = c22; C[o + 3] = c23; o += ldc;
          C[o] = c30; C[o + 1] = c31; C[o + 2] = c32; C[o + 3] = c33;
          continue;
        }
        const tile = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
        for (let r = 0; r < rows; r++, o += ldc) for (let c = 0; c < cols; c++) C[o + c] = tile[r * PANEL + c]!;
      }
    }
  }
}

/** A general strided view of a matrix operand. */
export interface MatrixView {
  data: TensorData;
  off: number;
  rowStride: number;
  colStride: number;
}

/** C = A x B for M x K by K x N views into row-major C (M x N at cOff). */
export function matmulInto(M: number, N: number, K: number, A: MatrixView, B: MatrixView, C: TensorData | Float64Array, cOff: number): void {
  if (A.data instanceof BigInt64Array || B.data instanceof BigInt64Array || C instanceof BigInt64Array) {
    matmulBigInt(M, N, K, A, B, C, cOff);
  } else if (A.data instanceof Int32Array || B.data instanceof Int32Array) {
    matmulInt32(M, N, K, A, B, C, cOff);
  } else if (M < PANEL) {
    matmulRows(M, N, K, A, B, C, cOff);
  } else {
    const Ap = packPanels(A.data, A.off, M, K, A.rowStride, A.colStride, scratchBuffer(0, panelCount(M) * PANEL * K));
    const Bp = packPanels(B.data, B.off, N, K, B.colStride, B.rowStride, scratchBuffer(1, panelCount(N) * PANEL * K));
    gemmPacked(M, N, K, Ap, Bp, C, cOff, N);
  }
}

/**
 * Few rows (dense at batch 1): packing B would copy the whole weight for a
 * single pass over it, so each output is a plain dot product instead.
 */
function matmulRows(M: number, N: number, K: number, A: MatrixView, B: MatrixView, C: NumberData | Float64Array, cOff: number): void {
  const a = A.data as NumberData;
  const b = B.data as NumberData;
  const { rowStride: bk, colStride: bj } = B;
  const contiguous = A.colStride === 1 && bk === 1;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      const a0 = A.off + i * A.rowStride;
      const b0 = B.off + j * bj;
      let acc = 0;
      if (contiguous) {
        // Dense weights are rows of B^T: both operands stream; four sums break the add chain.
        let s1 = 0, s2 = 0, s3 = 0;
        let k = 0;
        for (; k + 4 <= K; k += 4) {
          acc += a[a0 + k]! * b[b0 + k]!;
          s1 += a[a0 + k + 1]! * b[b0 + k + 1]!;
          s2 += a[a0 + k + 2]! * b[b0 + k + 2]!;
          s3 += a[a0 + k + 3]! * b[b0 + k + 3]!;
        }
        for (; k < K; k++) acc += a[a0 + k]! * b[b0 + k]!;
        acc += s1 + s2 + s3;
      } else {
        for (let k = 0, ai = a0, bi = b0; k < K; k++, ai += A.colStride, bi += bk) acc += a[ai]! * b[bi]!;
      }
      C[cOff + i * N + j] = acc;
    }
  }
}

// int32 products do not fit a double exactly; Math.imul and |0 give the wrapping int32 result.
function matmulInt32(M: number, N: number, K: number, A: MatrixView, B: MatrixView, C: NumberData | Float64Array, cOff: number): void {
  const a = A.data as NumberData;
  const b = B.data as NumberData;
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let acc = 0;
      let ai = A.off + i * A.rowStride;
      let bj = B.off + j * B.colStride;
      for (let k = 0; k < K; k++, ai += A.colStride, bj += B.rowStride) acc = (acc + Math.imul(a[ai]!, b[bj]!)) | 0;
      C[cOff + i * N + j] = acc;
    }
  }
}

function matmulBigInt(M: number, N: number, K: number, A: MatrixView, B: MatrixView, C: TensorData | Float64Array, cOff: number): void {
  const get = (v: MatrixView, i: number) => BigInt(v.data[i]!);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let acc = 0n;
      for (let k = 0; k < K; k++) acc += get(A, A.off + i * A.rowStride + k * A.colStride) * get(B, B.off + k * B.rowStride + j * B.colStride);
      if (C instanceof BigInt64Array) C[cOff + i * N + j] = acc;
      else C[cOff + i * N + j] = Number(BigInt.asIntN(32, acc));
    }
  }
}
