/**
 * The first conv without padding waste. A conv on VTA whose input has fewer channels than a block
 * (ResNet-18's conv1: 3 channels, 7x7 stride 2) would pad them to BLOCK and spend most of its
 * GEMMs on zeros. When its input comes from the host (the quantize step), the host rearranges it:
 * - a strided conv, by space-to-depth with the stride: x[c][s·i + dy][s·j + dx] becomes channel
 *   (c·s + dy)·s + dx at (i, j), and the conv a stride-1 conv with about K/s taps per axis over C·s²
 *   channels (ResNet-18: 12 channels, 4x4 taps);
 * - then, when it takes fewer GEMM block-taps, the kernel's columns are packed into channels: the
 *   host lays KW column-shifted copies side by side and the conv becomes KHx1 over KW·C channels
 *   (ResNet-18: 48 channels, three whole blocks, 4x1 taps: 12 block-taps per output block where the
 *   plain conv has 49 and space-to-depth alone 16; digits: 3 channels, 3x1, 3 instead of 9);
 * - or, when that takes fewer block-taps still, every tap of the original window is packed into
 *   channels: the host lays the KH·KW strided copies of the padded input side by side and the conv
 *   becomes 1x1 over KH·KW·C channels (ResNet-18: 147 channels in 10 blocks, 10 block-taps;
 *   digits: 9 channels, 1 block-tap). The host moves more bytes (one copy per tap), the GEMM fewer.
 * The weights move with the taps (zeros where a tap falls outside the original window), and zeros
 * (the host's padding or VTA's) still stand for the original zero padding, so the int32 sums are the
 * same products in another order: the rewritten conv is bit-exact.
 */
import { call, constant, type Call, type Constant, type IRFunction, type Value } from '../ir/graph.ts';
import { Tensor } from '../tensor/tensor.ts';
import { DEFAULT_TARGET, type VtaTarget } from './annotate.ts';
import { consumers, rewrite } from './rewrite.ts';

interface AxisPlan {
  /** Taps of the rewritten conv, its padding before and after. */
  taps: number;
  before: number;
  after: number;
  /** The first original tap offset (in units of the stride) the rewritten tap 0 stands for. */
  first: number;
}

/** One spatial axis: size n, kernel k, stride s, pads pb/pe; undefined when it does not fit. */
function planAxis(n: number, k: number, s: number, pb: number, pe: number): AxisPlan | undefined {
  if (n % s !== 0) return undefined;
  const out = Math.floor((n + pb + pe - k) / s) + 1;
  const first = Math.floor(-pb / s);
  const last = Math.floor((k - 1 - pb) / s);
  const taps = last - first + 1;
  const before = -first;
  const after = out - 1 + taps - n / s - before;
  // VTA pads by DMA, up to 15 and less than the window.
  if (after < 0 || before >= taps || after >= taps || before > 15 || after > 15) return undefined;
  return { taps, before, after, first };
}

function spaceToDepthWeights(w: Constant, s: number, py: AxisPlan, px: AxisPlan, pads: readonly number[]): Constant {
  const [O, C, KH, KW] = w.type.shape as [number, number, number, number];
  const C2 = C * s * s;
  const out = Tensor.zeros('int8', [O, C2, py.taps, px.taps]);
  const src = w.value.data as Int8Array;
  const dst = out.data as Int8Array;
  for (let o = 0; o < O; o++)
    for (let c = 0; c < C; c++)
      for (let dy = 0; dy < s; dy++)
        for (let dx = 0; dx < s; dx++)
          for (let ay = 0; ay < py.taps; ay++)
            for (let ax = 0; ax < px.taps; ax++) {
              const ky = s * (ay + py.first) + dy + pads[0]!;
              const kx = s * (ax + px.first) + dx + pads[1]!;
              if (ky < 0 || ky >= KH || kx < 0 || kx >= KW) continue;
              dst[((o * C2 + (c * s + dy) * s + dx) * py.taps + ay) * px.taps + ax] = src[((o * C + c) * KH + ky) * KW + kx]!;
            }
  return constant(w.name, out);
}

/** Weights [O][C][KH][KW] -> [O][KW·C][KH][1]: column tap ax of channel c becomes channel ax·C + c. */
function columnTapWeights(w: Constant): Constant {
  const [O, C, KH, KW] = w.type.shape as [number, number, number, number];
  const out = Tensor.zeros('int8', [O, KW * C, KH, 1]);
  const src = w.value.data as Int8Array;
  const dst = out.data as Int8Array;
  for (let o = 0; o < O; o++)
    for (let c = 0; c < C; c++)
      for (let ky = 0; ky < KH; ky++)
        for (let kx = 0; kx < KW; kx++) dst[(o * KW * C + kx * C + c) * KH + ky] = src[((o * C + c) * KH + ky) * KW + kx]!;
  return constant(w.name, out);
}

interface Conv {
  x: Value;
  w: Constant;
  strides: number[];
  padding: number[];
}

const blocksOf = (n: number, block: number) => Math.ceil(n / block);

/** Space-to-depth by the stride (a stride-1 conv over C·s² channels), or undefined when it does not apply. */
function spaceToDepth(conv: Conv, name: string): Conv | undefined {
  const { x, w, strides, padding: pads } = conv;
  const s = strides[0]!;
  if (s < 2 || strides[1] !== s) return undefined;
  const [N, C, H, W] = x.type.shape as [number, number, number, number];
  const [KH, KW] = w.type.shape.slice(2) as [number, number];
  const py = planAxis(H, KH, s, pads[0]!, pads[2]!);
  const px = planAxis(W, KW, s, pads[1]!, pads[3]!);
  if (!py || !px) return undefined;
  const host = { device: 'cpu' as const };
  const split = call('reshape', [x], { newshape: [N, C, H / s, s, W / s, s] }, host);
  const moved = call('transpose', [split], { axes: [0, 1, 3, 5, 2, 4] }, host);
  const x2 = call('reshape', [moved], { newshape: [N, C * s * s, H / s, W / s] }, { name: `${name}/space_to_depth`, device: 'cpu' });
  return { x: x2, w: spaceToDepthWeights(w, s, py, px, pads), strides: [1, 1], padding: [py.before, px.before, py.after, px.after] };
}

/**
 * The kernel's columns packed into channels (a KHx1 conv over KW·C channels), when that takes fewer
 * GEMM block-taps: the host pads the columns and lays the KW shifted copies side by side.
 */
function packColumnTaps(conv: Conv, block: number, name: string): Conv | undefined {
  const { x, w, strides, padding: pads } = conv;
  const [N, C, H, W] = x.type.shape as [number, number, number, number];
  const [KH, KW] = w.type.shape.slice(2) as [number, number];
  if (strides[1] !== 1 || KW < 2 || blocksOf(KW * C, block) >= blocksOf(C, block) * KW) return undefined;
  const OW = W + pads[1]! + pads[3]! - KW + 1;
  if (OW < 1) return undefined;
  const host = { device: 'cpu' as const };
  const padded = call('nn.pad', [x], { pad_before: [0, 0, 0, pads[1]!], pad_after: [0, 0, 0, pads[3]!], pad_value: 0 }, host);
  const shifted = Array.from({ length: KW }, (_, ax) => call('strided_slice', [padded], { begin: [0, 0, 0, ax], end: [N, C, H, ax + OW], strides: [1, 1, 1, 1] }, host));
  const x2 = call('concatenate', shifted, { axis: 1 }, { name: `${name}/column_taps`, device: 'cpu' });
  return { x: x2, w: columnTapWeights(w), strides, padding: [pads[0]!, 0, pads[2]!, 0] };
}

/** Weights [O][C][KH][KW] -> [O][KH·KW·C][1][1]: tap (ky, kx) of channel c becomes channel (ky·KW + kx)·C + c. */
function allTapWeights(w: Constant): Constant {
  const [O, C, KH, KW] = w.type.shape as [number, number, number, number];
  const K = KH * KW * C;
  const out = Tensor.zeros('int8', [O, K, 1, 1]);
  const src = w.value.data as Int8Array;
  const dst = out.data as Int8Array;
  for (let o = 0; o < O; o++)
    for (let c = 0; c < C; c++)
      for (let ky = 0; ky < KH; ky++)
        for (let kx = 0; kx < KW; kx++) dst[o * K + (ky * KW + kx) * C + c] = src[((o * C + c) * KH + ky) * KW + kx]!;
  return constant(w.name, out);
}

/** GEMM block-taps per output block of a conv over C channels with a KHxKW kernel. */
const blockTaps = (conv: Conv, block: number): number => {
  const [, C, KH, KW] = conv.w.type.shape as [number, number, number, number];
  return blocksOf(C, block) * KH * KW;
};

/**
 * Every tap of the window packed into channels (a 1x1 stride-1 conv over KH·KW·C channels at the
 * output's size): the host pads the input and lays the KH·KW strided copies side by side.
 */
function packAllTaps(conv: Conv, name: string): Conv | undefined {
  const { x, w, strides, padding: pads } = conv;
  const [N, C, H, W] = x.type.shape as [number, number, number, number];
  const [KH, KW] = w.type.shape.slice(2) as [number, number];
  const [sh, sw] = strides as [number, number];
  const OH = Math.floor((H + pads[0]! + pads[2]! - KH) / sh) + 1;
  const OW = Math.floor((W + pads[1]! + pads[3]! - KW) / sw) + 1;
  if (OH < 1 || OW < 1 || KH * KW < 2) return undefined;
  const host = { device: 'cpu' as const };
  const padded = call('nn.pad', [x], { pad_before: [0, 0, pads[0]!, pads[1]!], pad_after: [0, 0, pads[2]!, pads[3]!], pad_value: 0 }, host);
  const taps: Call[] = [];
  for (let ky = 0; ky < KH; ky++)
    for (let kx = 0; kx < KW; kx++)
      taps.push(call('strided_slice', [padded], { begin: [0, 0, ky, kx], end: [N, C, ky + (OH - 1) * sh + 1, kx + (OW - 1) * sw + 1], strides: [1, 1, sh, sw] }, host));
  const x2 = call('concatenate', taps, { axis: 1 }, { name: `${name}/all_taps`, device: 'cpu' });
  return { x: x2, w: allTapWeights(w), strides: [1, 1], padding: [0, 0, 0, 0] };
}

const onHost = (v: Value): boolean => v.kind === 'var' || (v.kind === 'call' && v.device !== 'vta');

/** Rewrites every narrow conv on VTA fed by the host and the only reader of its input (see the module comment). */
export function rearrangeFirstConv(fn: IRFunction, target: VtaTarget = DEFAULT_TARGET): IRFunction {
  const readers = consumers(fn);
  return rewrite(fn, (c: Call, args) => {
    if (c.op !== 'nn.conv2d' || c.device !== 'vta') return undefined;
    // Another reader of the input (a residual) would need the plain tensor copied to VTA as well.
    if (readers.get(c.args[0]!)?.length !== 1 || fn.results.includes(c.args[0]!)) return undefined;
    const [x, w] = args as [Value, Value];
    const dilation = (c.attrs['dilation'] as number[] | undefined) ?? [1, 1];
    if (w.kind !== 'constant' || !onHost(x) || x.type.shape.length !== 4 || x.type.shape[1]! >= target.block) return undefined;
    if (dilation.some((d) => d !== 1) || Number(c.attrs['groups'] ?? 1) !== 1) return undefined;
    const name = c.name ?? 'conv';
    const original: Conv = { x, w, strides: (c.attrs['strides'] as number[] | undefined) ?? [1, 1], padding: (c.attrs['padding'] as number[] | undefined) ?? [0, 0, 0, 0] };
    const s2d = spaceToDepth(original, name) ?? original;
    const columns = packColumnTaps(s2d, target.block, name) ?? s2d;
    const all = packAllTaps(original, name);
    const conv = all && blockTaps(all, target.block) < blockTaps(columns, target.block) ? all : columns;
    if (conv === original) return undefined;
    return call('nn.conv2d', [conv.x, conv.w], { ...c.attrs, strides: conv.strides, padding: conv.padding }, { name: c.name, device: c.device });
  });
}
