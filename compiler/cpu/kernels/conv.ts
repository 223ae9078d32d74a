/**
 * Convolutions as im2col + GEMM: im2col writes the column matrix straight
 * into the panels the GEMM reads. float32 runs on the
 * WebAssembly SIMD kernel in blocks of output rows; the integer types run on
 * the exact float64 JS kernel. 1-D convolutions run as 2-D ones with a height
 * of 1; packed data/kernel layouts (NCHW{b}n{c}c, OIHW{c}o{c}i) are unpacked,
 * convolved and repacked. int64 convolutions are not supported.
 */
import type { Attrs, TensorType } from '../../ir/graph.ts';
import { intAttr, stringAttr } from '../../ir/attrs.ts';
import { isPacked, parseLayout } from '../../ir/layout.ts';
import { windowAttrs } from '../../ir/ops/nn.ts';
import type { NumberData } from '../../tensor/dtype.ts';
import { Tensor, sizeOf } from '../../tensor/tensor.ts';
import { ExecutionError } from '../errors.ts';
import { registerKernel } from '../registry.ts';
import { gemmPacked, matmulInto, packPanels, panelCount, scratchBuffer } from './gemm.ts';
import { A_PANEL, B_PANEL, simdGemm } from './simd-gemm.ts';
import { relayout } from './transform.ts';

interface Geometry {
  N: number; C: number; H: number; W: number;
  O: number; KH: number; KW: number; OH: number; OW: number;
  sh: number; sw: number; ph: number; pw: number; dh: number; dw: number;
  groups: number;
}

/** Reads the window attributes as 2-D, inserting a unit height for 1-D ops. */
function geometry(op: string, attrs: Attrs, n: number, x: readonly number[], w: readonly number[], out: readonly number[]): Geometry {
  const win = windowAttrs(op, attrs, n);
  const two = <T>(v: readonly T[], one: T): T[] => (n === 1 ? [one, v[0]!] : [v[0]!, v[1]!]);
  const [sh, sw] = two(win.strides, 1);
  const [dh, dw] = two(win.dilation, 1);
  const [ph, pw] = two(win.padding, 0);
  const [H, W] = two(x.slice(2), 1);
  const [KH, KW] = two(w.slice(2), 1);
  const [OH, OW] = two(out.slice(2), 1);
  return { N: x[0]!, C: x[1]!, H, W, O: out[1]!, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, groups: intAttr(op, attrs, 'groups', 1) };
}

/**
 * The im2col matrix of output rows [oy0, oy1) for one image and group: row k =
 * (c, ky, kx), column p = (oy - oy0)*OW + ox. With `width` 0 it is written
 * row-major, each row copied as runs of input pixels; with a power-of-two
 * `width` it is written straight into GEMM panels of that many columns,
 * dst[(p/width*K + k)*width + p%width], the last panel's tail zeroed.
 */
function im2colRows(x: NumberData, xOff: number, Cg: number, g: Geometry, oy0: number, oy1: number, dst: Float32Array | Float64Array, width: number): void {
  const { H, W, KH, KW, OW, sh, sw, ph, pw, dh, dw } = g;
  const K = Cg * KH * KW;
  const cols = (oy1 - oy0) * OW;
  const shift = Math.log2(width);
  const mask = width - 1;
  const panelStride = K * width;
  let k = 0;
  for (let ci = 0; ci < Cg; ci++) {
    for (let ky = 0; ky < KH; ky++) {
      for (let kx = 0; kx < KW; kx++, k++) {
        const dx = kx * dw - pw;
        // Output columns whose input pixel ox*sw + dx lies inside the row.
        const lo = Math.min(OW, Math.max(0, Math.ceil(-dx / sw)));
        const hi = Math.max(lo, Math.min(OW, Math.floor((W - 1 - dx) / sw) + 1));
        for (let oy = oy0; oy < oy1; oy++) {
          const p0 = (oy - oy0) * OW;
          const iy = oy * sh - ph + ky * dh;
          const inside = iy >= 0 && iy < H;
          const src = xOff + (ci * H + iy) * W + dx;
          if (width === 0) {
            const o = k * cols + p0;
            if (!inside) {
              dst.fill(0, o, o + OW);
              continue;
            }
            dst.fill(0, o, o + lo);
            if (sw === 1) dst.set(x.subarray(src + lo, src + hi), o + lo);
            else for (let ox = lo; ox < hi; ox++) dst[o + ox] = x[src + ox * sw]!;
            dst.fill(0, o + hi, o + OW);
          } else {
            const row = k * width;
            for (let ox = 0; ox < OW; ox++) {
              const p = p0 + ox;
              dst[(p >> shift) * panelStride + row + (p & mask)] = inside && ox >= lo && ox < hi ? x[src + ox * sw]! : 0;
            }
          }
        }
      }
    }
  }
  if (width !== 0 && cols & mask) {
    const last = (cols >> shift) * panelStride;
    for (let kk = 0; kk < K; kk++) dst.fill(0, last + kk * width + (cols & mask), last + (kk + 1) * width);
  }
}

/** Packed weights per (weight tensor, group), kept while the weight tensor lives. */
const packedWeights = new WeakMap<Tensor, Float64Array[]>();
const packedWeights32 = new WeakMap<Tensor, Float32Array[]>();

function weightPanels(w: Tensor, groups: number, Og: number, K: number): Float64Array[] {
  const hit = packedWeights.get(w);
  if (hit) return hit;
  const panels = Array.from({ length: groups }, (_, gi) =>
    packPanels(w.numbers(), gi * Og * K, Og, K, K, 1, new Float64Array(panelCount(Og) * 4 * K)));
  packedWeights.set(w, panels);
  return panels;
}

function weightPanels32(w: Tensor, groups: number, Og: number, K: number): Float32Array[] {
  const hit = packedWeights32.get(w);
  if (hit) return hit;
  const panels = Array.from({ length: groups }, (_, gi) =>
    packPanels(w.numbers(), gi * Og * K, Og, K, K, 1, new Float32Array(Math.ceil(Og / A_PANEL) * A_PANEL * K), A_PANEL));
  packedWeights32.set(w, panels);
  return panels;
}

/** Column-matrix elements per SIMD GEMM call: B's block stays near 1 MB, reused from cache by every A panel. */
const SIMD_BLOCK_FLOATS = 1 << 18;

function conv(x: Tensor, w: Tensor, g: Geometry, out: Tensor): void {
  const { N, C, H, W, O, KH, KW, OH, OW, groups } = g;
  const Cg = C / groups;
  const Og = O / groups;
  const K = Cg * KH * KW;
  const P = OH * OW;
  if (x.data instanceof Int32Array || w.data instanceof Int32Array) {
    convInt32(x, w, g, out);
    return;
  }
  const direct = KH === 1 && KW === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0 && OH === H && OW === W;
  const xd = x.numbers();
  const od = out.numbers();
  if (simdGemm && x.data instanceof Float32Array && w.data instanceof Float32Array && out.data instanceof Float32Array && K > 0 && Og > 0) {
    const Ap = weightPanels32(w, groups, Og, K);
    // Whole output rows per block, so im2col copies whole input row runs.
    const rowsPerBlock = Math.max(1, Math.floor(SIMD_BLOCK_FLOATS / K / OW));
    for (let n = 0; n < N; n++) {
      for (let gi = 0; gi < groups; gi++) {
        const xOff = (n * C + gi * Cg) * H * W;
        const buf = simdGemm.prepare(Og, Math.min(rowsPerBlock * OW, P), K);
        buf.a.set(Ap[gi]!);
        for (let oy0 = 0; oy0 < OH; oy0 += rowsPerBlock) {
          const oy1 = Math.min(OH, oy0 + rowsPerBlock);
          const p0 = oy0 * OW;
          const cols = (oy1 - oy0) * OW;
          if (direct) packPanels(xd, xOff + p0, cols, K, 1, H * W, buf.b, B_PANEL);
          else im2colRows(xd, xOff, Cg, g, oy0, oy1, buf.b, B_PANEL);
          simdGemm.run(cols);
          for (let r = 0; r < Og; r++) od.set(buf.c.subarray(r * buf.ldc, r * buf.ldc + cols), (n * O + gi * Og + r) * P + p0);
        }
      }
    }
    return;
  }
  const Ap = weightPanels(w, groups, Og, K);
  const Bp = scratchBuffer(1, panelCount(P) * 4 * K);
  for (let n = 0; n < N; n++) {
    for (let gi = 0; gi < groups; gi++) {
      const xOff = (n * C + gi * Cg) * H * W;
      if (direct) {
        packPanels(xd, xOff, P, K, 1, H * W, Bp);
      } else {
        im2colRows(xd, xOff, Cg, g, 0, OH, Bp, 4);
      }
      gemmPacked(Og, P, K, Ap[gi]!, Bp, od, (n * O + gi * Og) * P, P);
    }
  }
}

/** int32 operands: the im2col matrix holds them exactly as doubles; the product is the wrapping int32 one. */
function convInt32(x: Tensor, w: Tensor, g: Geometry, out: Tensor): void {
  const { N, C, H, W, O, KH, KW, OH, OW, groups } = g;
  const Cg = C / groups;
  const Og = O / groups;
  const K = Cg * KH * KW;
  const P = OH * OW;
  const col = new Float64Array(K * P);
  for (let n = 0; n < N; n++) {
    for (let gi = 0; gi < groups; gi++) {
      im2colRows(x.numbers(), (n * C + gi * Cg) * H * W, Cg, g, 0, OH, col, 0);
      matmulInto(Og, P, K, { data: w.data, off: gi * Og * K, rowStride: K, colStride: 1 }, { data: col, off: 0, rowStride: P, colStride: 1 }, out.data, (n * O + gi * Og) * P);
    }
  }
}

for (const n of [1, 2]) {
  const dataDefault = n === 1 ? 'NCW' : 'NCHW';
  const kernelDefault = n === 1 ? 'OIW' : 'OIHW';
  registerKernel(`nn.conv${n}d`, ([data, weight], attrs, type, op) => {
    const dl = stringAttr(op, attrs, 'data_layout', dataDefault);
    const kl = stringAttr(op, attrs, 'kernel_layout', kernelDefault);
    const ol = stringAttr(op, attrs, 'out_layout', '') || dl;
    if (data!.dtype === 'int64' || weight!.dtype === 'int64') throw new ExecutionError(op, 'int64 convolutions are not supported');
    const x = isPacked(parseLayout(dl)) ? unpack(data!, dl, dataDefault) : data!;
    const w = isPacked(parseLayout(kl)) ? unpack(weight!, kl, kernelDefault) : weight!;
    const logicalOut = [x.shape[0]!, w.shape[0]!, ...outSpatial(type, ol, dataDefault)];
    const out = Tensor.zeros(type.dtype, logicalOut);
    conv(x, w, geometry(op, attrs, n, x.shape, w.shape, logicalOut), out);
    return ol === dataDefault ? out : relayout(out, dataDefault, ol, type.shape);
  });

  registerKernel(`nn.conv${n}d_transpose`, ([data, weight], attrs, type, op) => {
    const out = Tensor.zeros(type.dtype, type.shape);
    convTranspose(data!, weight!, geometry(op, attrs, n, data!.shape, weight!.shape, type.shape), out, op);
    return out;
  });
}

export function unpack(t: Tensor, layout: string, plain: string): Tensor {
  const l = parseLayout(layout);
  const shape = l.primal.map((a) => {
    const outer = t.shape[l.dims.findIndex((d) => d.axis === a && d.factor === undefined)]!;
    return outer * (l.dims.find((d) => d.axis === a && d.factor !== undefined)?.factor ?? 1);
  });
  return relayout(t, layout, plain, shape);
}

export function outSpatial(type: TensorType, layout: string, plain: string): number[] {
  const l = parseLayout(layout);
  return [...plain.slice(2)].map((axis) => type.shape[l.dims.findIndex((d) => d.axis === axis && d.factor === undefined)]!);
}

/**
 * Transposed convolution: columns = W^T x X (one column per input pixel), then
 * each column is scattered back into the output window it came from (col2im).
 */
function convTranspose(x: Tensor, w: Tensor, g: Geometry, out: Tensor, op: string): void {
  const { N, C, H, W, O, KH, KW, OH, OW, sh, sw, ph, pw, dh, dw, groups } = g;
  if (out.data instanceof BigInt64Array) throw new ExecutionError(op, 'int64 is not supported');
  const Cg = C / groups;
  const Og = O / groups;
  const K = Og * KH * KW;
  const P = H * W;
  const col = new Float64Array(K * P);
  const acc = new Float64Array(sizeOf(out.shape));
  for (let n = 0; n < N; n++) {
    for (let gi = 0; gi < groups; gi++) {
      matmulInto(K, P, Cg, { data: w.data, off: gi * Cg * K, rowStride: 1, colStride: K }, { data: x.data, off: (n * C + gi * Cg) * P, rowStride: P, colStride: 1 }, col, 0);
      for (let k = 0; k < K; k++) {
        const oc = gi * Og + Math.floor(k / (KH * KW));
        const ky = Math.floor(k / KW) % KH;
        const kx = k % KW;
        const obase = (n * O + oc) * OH * OW;
        for (let iy = 0; iy < H; iy++) {
          const oy = iy * sh - ph + ky * dh;
          if (oy < 0 || oy >= OH) continue;
          for (let ix = 0; ix < W; ix++) {
            const ox = ix * sw - pw + kx * dw;
            if (ox >= 0 && ox < OW) acc[obase + oy * OW + ox]! += col[k * P + iy * W + ix]!;
          }
        }
      }
    }
  }
  out.data.set(acc);
}
