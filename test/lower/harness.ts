/**
 * The oracle and the runner of the lowering tests: a naive integer reference over plain NCHW arrays
 * (written here, independent of the lowering), and a runner that packs the operands, places every
 * buffer in a fresh device memory, runs the relocated stream on the functional simulator and
 * unpacks the output.
 */
import { expect } from 'vitest';
import { configJson, makeConfig, preset, type VtaConfig } from '../../isa/config.ts';
import type { AluOpName } from '../../isa/types.ts';
import { Dram } from '../../sim/dram.ts';
import { FunctionalSimulator } from '../../sim/fsim.ts';
import {
  convOutputSize,
  convTilings,
  lowerConv,
  lowerLayer,
  outputShape,
  inputShape,
  packActivation,
  packChannelVectors,
  packEpilogueTensors,
  packWeights,
  placeBuffers,
  relocate,
  uopBytes,
  withFinish,
  type Conv2dLayer,
  type DenseLayer,
  type EpilogueStep,
  type Layer,
  type LoweredLayer,
  type MaxPoolLayer,
  type SumPoolLayer,
} from '../../compiler/lower/index.ts';
import { rng } from '../rng.ts';

export { rng };

/** The default configuration, and two small ones so modest shapes need several tiles in every dimension. */
export const cfg = preset('default');
export const small: VtaConfig = makeConfig({
  name: 'small',
  LOG_INP_WIDTH: 3,
  LOG_WGT_WIDTH: 3,
  LOG_ACC_WIDTH: 5,
  LOG_BATCH: 0,
  LOG_BLOCK: 4,
  LOG_UOP_BUFF_SIZE: 13,
  LOG_INP_BUFF_SIZE: 13,
  LOG_WGT_BUFF_SIZE: 15,
  LOG_ACC_BUFF_SIZE: 14,
  BUS_WIDTH: 64,
  CLOCK_MHZ: 100,
});
export const batch2: VtaConfig = makeConfig({ ...configJson(small), name: 'batch2', LOG_BATCH: 1, LOG_BLOCK: 3 });

export const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function aluRef(op: AluOpName, x: number, y: number): number {
  switch (op) {
    case 'MIN':
      return Math.min(x, y);
    case 'MAX':
      return Math.max(x, y);
    case 'ADD':
      return (x + y) | 0;
    case 'MUL':
      return Math.imul(x, y);
    case 'SHR':
      if (y >= 0) return x >> Math.min(y, 31);
      return y <= -32 ? 0 : x << -y;
  }
}

/** conv2d over NCHW int8 with int32 accumulation; weights [O][I/groups][kh][kw]. */
export function convRef(l: Conv2dLayer, x: Int8Array, w: Int8Array): Int32Array {
  const [oh, ow] = convOutputSize(l);
  const { batch: N, inChannels: C, outChannels: O, height: H, width: W, groups: G } = l;
  const [kh, kw] = l.kernel;
  const [sh, sw] = l.stride;
  const ig = C / G;
  const og = O / G;
  const out = new Int32Array(N * O * oh * ow);
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++) {
      const g = Math.floor(o / og);
      for (let y = 0; y < oh; y++)
        for (let xo = 0; xo < ow; xo++) {
          let s = 0;
          for (let i = 0; i < ig; i++)
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const iy = y * sh + ky - l.padding[0];
                const ix = xo * sw + kx - l.padding[1];
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                s = (s + x[((n * C + g * ig + i) * H + iy) * W + ix]! * w[((o * ig + i) * kh + ky) * kw + kx]!) | 0;
              }
          out[((n * O + o) * oh + y) * ow + xo] = s;
        }
    }
  return out;
}

export function denseRef(l: DenseLayer, x: Int8Array, w: Int8Array): Int32Array {
  const out = new Int32Array(l.batch * l.outFeatures);
  for (let n = 0; n < l.batch; n++)
    for (let o = 0; o < l.outFeatures; o++) {
      let s = 0;
      for (let k = 0; k < l.inFeatures; k++) s = (s + x[n * l.inFeatures + k]! * w[o * l.inFeatures + k]!) | 0;
      out[n * l.outFeatures + o] = s;
    }
  return out;
}

/** A fold over each window's taps inside the image (padding contributes nothing), from `start`. */
function windowRef(l: MaxPoolLayer | SumPoolLayer, x: Int8Array, start: number, fold: (acc: number, v: number) => number): Int32Array {
  const [oh, ow] = convOutputSize(l);
  const { batch: N, channels: C, height: H, width: W } = l;
  const out = new Int32Array(N * C * oh * ow);
  for (let p = 0; p < N * C; p++)
    for (let y = 0; y < oh; y++)
      for (let xo = 0; xo < ow; xo++) {
        let m = start;
        for (let ky = 0; ky < l.kernel[0]; ky++)
          for (let kx = 0; kx < l.kernel[1]; kx++) {
            const iy = y * l.stride[0] + ky - l.padding[0];
            const ix = xo * l.stride[1] + kx - l.padding[1];
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) m = fold(m, x[(p * H + iy) * W + ix]!);
          }
        out[(p * oh + y) * ow + xo] = m;
      }
  return out;
}

export const maxPoolRef = (l: MaxPoolLayer, x: Int8Array): Int32Array => windowRef(l, x, -128, Math.max);

/** An average pool's window sums. */
export const sumPoolRef = (l: SumPoolLayer, x: Int8Array): Int32Array => windowRef(l, x, 0, (a, v) => a + v);

/** The epilogue in order on NCHW int32, then the store's wrap to int8. */
export function epilogueRef(acc: Int32Array, shape: readonly number[], steps: readonly EpilogueStep[], residual?: Int8Array): Int8Array {
  const [, C, H, W] = shape as [number, number, number, number];
  const v = Int32Array.from(acc);
  for (const s of steps) {
    for (let i = 0; i < v.length; i++) {
      const c = Math.floor(i / (H * W)) % C;
      const y = s.kind === 'imm' ? s.imm : s.kind === 'channel' ? s.values[c]! : s.kind === 'tensor' ? s.values[i]! : residual![i]!;
      v[i] = aluRef(s.op, v[i]!, y);
    }
  }
  return Int8Array.from(v, (e) => (e << 24) >> 24);
}

/** Unpacks [N/b][C/c][H][W][b][c] (written here so the check does not trust the lowering's packer). */
function unpack(cfg: VtaConfig, packed: Int8Array, shape: readonly number[]): Int8Array {
  const [N, C, H, W] = shape as [number, number, number, number];
  const b = cfg.BATCH;
  const k = cfg.BLOCK_OUT;
  const cb = Math.ceil(C / k);
  const out = new Int8Array(N * C * H * W);
  let i = 0;
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) {
          const elem = ((Math.floor(n / b) * cb + Math.floor(c / k)) * H + y) * W + x;
          out[i++] = packed[elem * b * k + (n % b) * k + (c % k)]!;
        }
  return out;
}

export interface Operands {
  input: Int8Array;
  weights?: Int8Array;
  residual?: Int8Array;
}

/** Runs a lowered layer on the functional simulator; returns the NCHW int8 output. */
export function runLowered(cfg: VtaConfig, lowered: LoweredLayer, ops: Operands): Int8Array {
  const layer: Layer = lowered.layer;
  const base = 4096;
  const { bases, end } = placeBuffers(cfg, lowered, base);
  const dram = new Dram(end + 4096);
  const put = (name: keyof typeof bases, bytes: Uint8Array | Int8Array | Int32Array) => {
    if (bases[name] === undefined) return;
    // A packed operand larger than the buffer the stream declares would spill into its neighbour.
    if (bytes.byteLength > lowered.buffers[name]!) throw new Error(`packed ${name} is ${bytes.byteLength} bytes, the layer declares ${lowered.buffers[name]}`);
    dram.write(bases[name]!, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  };
  put('input', packActivation(cfg, ops.input, inputShape(layer)));
  if (ops.residual) put('residual', packActivation(cfg, ops.residual, outputShape(layer)));
  if (ops.weights && (layer.kind === 'conv2d' || layer.kind === 'dense')) put('weights', packWeights(cfg, layer, ops.weights));
  put('bias', packChannelVectors(cfg, layer));
  put('tensor', packEpilogueTensors(cfg, layer));
  put('uops', uopBytes(cfg, lowered));
  // Fill the output with garbage so unwritten elements show.
  if (bases.output !== undefined) dram.write(bases.output, new Uint8Array(lowered.buffers.output!).fill(0x5a));
  const sim = new FunctionalSimulator(cfg, dram, process.env.VTA_KERNEL ? { kernel: process.env.VTA_KERNEL as 'js' } : {});
  sim.run(withFinish(relocate(cfg, lowered, bases)));
  const shape = outputShape(layer);
  const out = dram.read(bases.output!, lowered.buffers.output!);
  return unpack(cfg, new Int8Array(out.buffer, out.byteOffset, out.byteLength), shape);
}


export function randInt8(r: () => number, n: number, lo = -128, hi = 127): Int8Array {
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + Math.floor(r() * (hi - lo + 1));
  return out;
}

/**
 * Bit-exact comparison summarised for the assertion: the mismatch count and the first mismatch
 * (deep equality over large typed arrays is slow in the test runner).
 */
export function mismatches(got: Int8Array, want: Int8Array): { count: number; first: string | null } {
  if (got.length !== want.length) return { count: Math.max(got.length, want.length), first: `length ${got.length} vs ${want.length}` };
  let count = 0;
  let first: string | null = null;
  for (let i = 0; i < want.length; i++) {
    if (got[i] === want[i]) continue;
    count++;
    first ??= `index ${i}: got ${got[i]}, want ${want[i]}`;
  }
  return { count, first };
}

export const SAME = { count: 0, first: null };

/**
 * Runs a conv layer on random operands (the search's heuristic tiling, or legal tiling number
 * `pick`: small configurations give many tiles everywhere) and expects the naive reference's result.
 */
export function checkConv(c: VtaConfig, layer: Conv2dLayer, seed: number, pick: number | null): LoweredLayer {
  const r = rng(seed);
  const x = randInt8(r, size([layer.batch, layer.inChannels, layer.height, layer.width]));
  const w = randInt8(r, layer.outChannels * (layer.inChannels / layer.groups) * layer.kernel[0] * layer.kernel[1]);
  const res = randInt8(r, size(outputShape(layer)));
  const tilings = convTilings(c, layer);
  const lowered = pick === null ? lowerLayer(c, layer).lowered : lowerConv(c, layer, tilings[pick % tilings.length]!);
  const want = epilogueRef(convRef(layer, x, w), outputShape(layer), layer.epilogue, res);
  expect(mismatches(runLowered(c, lowered, { input: x, weights: w, residual: res }), want), lowered.tiling).toEqual(SAME);
  return lowered;
}
