/**
 * Data layouts of the lowered layers: packing activations, weights and per-channel vectors into the
 * DRAM forms the instruction streams read, and the epilogue as it is actually executed.
 */
import type { VtaConfig } from '../../isa/config.ts';
import { ceilDiv, epilogueOf, outputShape, type Conv2dLayer, type DenseLayer, type EpilogueStep, type Layer } from './layers.ts';

/**
 * A layer's epilogue as executed:
 * - leading ADDs commute (int32 addition wraps), so when one of them adds a per-element tensor,
 *   every constant among them (immediates, per-channel vectors, tensors) is summed into that one
 *   tensor ADD, which comes first (residual ADDs among them follow it). A conv starts its
 *   accumulator from it (see `initRuns` in conv.ts), so it costs no ALU pass;
 * - for a conv, that sum is split into a per-channel ADD of each channel's most frequent value and
 *   the remainder tensor when the remainder is mostly zero (a padded conv's zero-point correction
 *   differs from the interior only at the borders): the conv then loads only the remainder's
 *   non-zero runs over a reset accumulator, and the per-channel part is one ALU pass. A remainder
 *   that is all zero leaves the per-channel ADD alone;
 * - a per-channel ADD followed by an immediate ADD (bias, then the rounding constant of a
 *   requantization) becomes one per-channel ADD, saving one ALU pass over the tile;
 * - a per-channel step with one value for every channel that fits the immediate becomes an
 *   immediate step (the ALU reads no operand: 1 cycle per vector instead of 2; calibrated float
 *   models have all-zero biases, so their bias + rounding ADD is one), and ADD 0, SHR 0, MUL 1 go.
 */
const plannedEpilogues = new WeakMap<Layer, readonly EpilogueStep[]>();

/** The executed epilogue of a layer, computed once per layer object (lowering and packing both read it). */
export function planEpilogue(l: Layer): readonly EpilogueStep[] {
  let plan = plannedEpilogues.get(l);
  if (!plan) plannedEpilogues.set(l, (plan = computeEpilogue(l)));
  return plan;
}

function computeEpilogue(l: Layer): EpilogueStep[] {
  const steps = epilogueOf(l);
  const [, channels, h, w] = outputShape(l);
  const plane = h * w;
  let lead = 0;
  while (lead < steps.length && steps[lead]!.op === 'ADD') lead++;
  const out: EpilogueStep[] = [];
  let rest: readonly EpilogueStep[] = steps;
  const first = steps.slice(0, lead).find((s) => s.kind === 'tensor');
  if (first) {
    const sum = new Int32Array(first.values.length);
    const residuals: EpilogueStep[] = [];
    for (const s of steps.slice(0, lead)) {
      if (s.kind === 'residual') residuals.push(s);
      else if (s.kind === 'imm') for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! + s.imm) | 0;
      else if (s.kind === 'channel') for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! + s.values[Math.floor(i / plane) % channels]!) | 0;
      else for (let i = 0; i < sum.length; i++) sum[i] = (sum[i]! + s.values[i]!) | 0;
    }
    const split = l.kind === 'conv2d' || l.kind === 'dense' ? splitChannels(sum, channels, plane) : null;
    if (!split) out.push({ kind: 'tensor', op: 'ADD', values: sum });
    else {
      if (split.nonzero > 0) out.push({ kind: 'tensor', op: 'ADD', values: split.remainder });
      out.push({ kind: 'channel', op: 'ADD', values: split.base });
    }
    out.push(...residuals);
    rest = steps.slice(lead);
  }
  for (const s of rest) {
    const prev = out[out.length - 1];
    if (s.kind === 'imm' && s.op === 'ADD' && prev?.kind === 'channel' && prev.op === 'ADD') {
      const v = new Int32Array(prev.values.length);
      for (let i = 0; i < v.length; i++) v[i] = (prev.values[i]! + s.imm) | 0;
      out[out.length - 1] = { kind: 'channel', op: 'ADD', values: v };
    } else out.push(s);
  }
  return out.map(uniformToImm).filter((s) => !isIdentity(s));
}

const IMM_MIN = -(2 ** 15);
const IMM_MAX = 2 ** 15 - 1;

/** A per-channel step whose channels all hold one value that fits the immediate: one ALU cycle per vector instead of two, and no constant to load. */
function uniformToImm(s: EpilogueStep): EpilogueStep {
  if (s.kind !== 'channel') return s;
  const v = s.values[0]!;
  if (v < IMM_MIN || v > IMM_MAX || s.values.some((x) => x !== v)) return s;
  return { kind: 'imm', op: s.op, imm: v };
}

/** ADD 0, SHR 0 and MUL 1 leave every int32 unchanged. */
function isIdentity(s: EpilogueStep): boolean {
  return s.kind === 'imm' && (s.op === 'ADD' || s.op === 'SHR' ? s.imm === 0 : s.op === 'MUL' && s.imm === 1);
}

/** `t` = base[c] + remainder, base the most frequent value of each channel, when at most half the remainder is non-zero. */
function splitChannels(t: Int32Array, channels: number, plane: number): { base: Int32Array; remainder: Int32Array; nonzero: number } | null {
  const base = new Int32Array(channels);
  const count = new Map<number, number>();
  for (let c = 0; c < channels; c++) {
    count.clear();
    let best = 0;
    for (let i = c * plane; i < t.length; i += channels * plane)
      for (let p = i; p < i + plane; p++) {
        const n = (count.get(t[p]!) ?? 0) + 1;
        count.set(t[p]!, n);
        if (n > best) {
          best = n;
          base[c] = t[p]!;
        }
      }
  }
  const remainder = new Int32Array(t.length);
  let nonzero = 0;
  for (let i = 0; i < t.length; i++) {
    remainder[i] = (t[i]! - base[Math.floor(i / plane) % channels]!) | 0;
    if (remainder[i] !== 0) nonzero++;
  }
  return 2 * nonzero <= t.length ? { base, remainder, nonzero } : null;
}

/** Most identity blocks a residual may take in the GEMM (each costs one GEMM cycle per element). */
const MAX_RESIDUAL_COPIES = 5;

/**
 * When a conv's int8 residual can be accumulated by the GEMM instead of an ALU pass: the residual
 * ADD must follow only ADDs, optionally then one SHR by k >= 0. Since (x >> k) + r = (x + r·2^k) >> k
 * for arithmetic shifts, the GEMM adds r·2^k — as r times identity weight blocks whose scales sum
 * to 2^k — while the reduction runs, and the residual travels through the load stage like any
 * input. Returns those scales, or null. It is only taken when no intermediate value can overflow
 * int32, which the bound over the layer's reduction length and constants shows.
 */
export function residualCopies(cfg: VtaConfig, l: Conv2dLayer | DenseLayer, steps: readonly EpilogueStep[]): number[] | null {
  const r = steps.findIndex((s) => s.kind === 'residual');
  if (r < 0 || steps[r]!.op !== 'ADD' || steps.slice(r + 1).some((s) => s.kind === 'residual')) return null;
  const conv = l.kind === 'conv2d';
  const [kh, kw] = conv ? l.kernel : [1, 1];
  let bound = groupPlan(cfg, l).kBlocks * cfg.BLOCK_IN * kh * kw * 128 * 128;
  let k = 0;
  for (let i = 0; i < r; i++) {
    const s = steps[i]!;
    if (s.kind === 'imm' && s.op === 'SHR' && i === r - 1 && s.imm >= 0) k = s.imm;
    else if (s.op !== 'ADD' || s.kind === 'residual') return null;
    else bound += s.kind === 'imm' ? Math.abs(s.imm) : s.values.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  }
  const scale = 2 ** k;
  if (bound + 128 * scale >= 2 ** 31) return null;
  const n = Math.ceil(scale / 127);
  if (n > MAX_RESIDUAL_COPIES) return null;
  return Array.from({ length: n }, (_, i) => Math.floor(scale / n) + (i < scale % n ? 1 : 0));
}

/** NCHW int8 -> NCHW{BATCH}n{BLOCK}c, channels zero-padded to a multiple of BLOCK. */
export function packActivation(cfg: VtaConfig, data: Int8Array, shape: readonly number[]): Int8Array {
  const [n, c, h, w] = shape as [number, number, number, number];
  const b = cfg.BATCH;
  const k = cfg.BLOCK_IN;
  const cb = ceilDiv(c, k);
  const out = new Int8Array((n / b) * cb * h * w * b * k);
  for (let i = 0; i < n; i++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const e = (((Math.floor(i / b) * cb + Math.floor(ch / k)) * h + y) * w + x) * b * k;
          out[e + (i % b) * k + (ch % k)] = data[((i * c + ch) * h + y) * w + x]!;
        }
  return out;
}

/** The inverse of packActivation (padding channels dropped). */
export function unpackActivation(cfg: VtaConfig, packed: Int8Array, shape: readonly number[]): Int8Array {
  const [n, c, h, w] = shape as [number, number, number, number];
  const b = cfg.BATCH;
  const k = cfg.BLOCK_OUT;
  const cb = ceilDiv(c, k);
  const out = new Int8Array(n * c * h * w);
  for (let i = 0; i < n; i++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const e = (((Math.floor(i / b) * cb + Math.floor(ch / k)) * h + y) * w + x) * b * k;
          out[((i * c + ch) * h + y) * w + x] = packed[e + (i % b) * k + (ch % k)]!;
        }
  return out;
}

/**
 * Which input-channel blocks each output-channel block reads: blocks [start[j], start[j] + kBlocks).
 * For groups = 1 every output block reads all input blocks; for grouped and depthwise convolutions a
 * block reads only the input blocks its groups touch, and the weight blocks hold zeros where an
 * output channel and an input channel are in different groups.
 */
export interface GroupPlan {
  kBlocks: number;
  start: number[];
}

export function groupPlan(cfg: VtaConfig, l: Conv2dLayer | DenseLayer): GroupPlan {
  const bo = cfg.BLOCK_OUT;
  const bi = cfg.BLOCK_IN;
  const inCh = l.kind === 'conv2d' ? l.inChannels : l.inFeatures;
  const outCh = l.kind === 'conv2d' ? l.outChannels : l.outFeatures;
  const groups = l.kind === 'conv2d' ? l.groups : 1;
  const cib = ceilDiv(inCh, bi);
  const cob = ceilDiv(outCh, bo);
  if (groups === 1) return { kBlocks: cib, start: new Array<number>(cob).fill(0) };
  const og = outCh / groups;
  const ig = inCh / groups;
  const lo: number[] = [];
  const hi: number[] = [];
  for (let j = 0; j < cob; j++) {
    const o0 = j * bo;
    const o1 = Math.min(outCh, o0 + bo) - 1;
    const g0 = Math.floor(o0 / og);
    const g1 = Math.floor(o1 / og);
    lo.push(Math.floor((g0 * ig) / bi));
    hi.push(ceilDiv((g1 + 1) * ig, bi));
  }
  const kBlocks = Math.max(...hi.map((h, j) => h - lo[j]!));
  return { kBlocks, start: lo.map((s) => Math.min(s, cib - kBlocks)) };
}

/**
 * Conv weights [O][I/groups][kh][kw] (or dense [O][K]) -> WGT elements [O/c][kBlocks][kh][kw], each
 * a BLOCK_OUT x BLOCK_IN block whose row o holds output o's weights. For groups = 1 this is exactly
 * OIHW{BLOCK}o{BLOCK}i. When the residual goes through the GEMM, its scaled identity blocks follow.
 */
export function packWeights(cfg: VtaConfig, l: Conv2dLayer | DenseLayer, w: Int8Array): Int8Array {
  const bo = cfg.BLOCK_OUT;
  const bi = cfg.BLOCK_IN;
  const conv = l.kind === 'conv2d';
  const inCh = conv ? l.inChannels : l.inFeatures;
  const outCh = conv ? l.outChannels : l.outFeatures;
  const groups = conv ? l.groups : 1;
  const [kh, kw] = conv ? l.kernel : [1, 1];
  const ig = inCh / groups;
  const og = outCh / groups;
  const plan = groupPlan(cfg, l);
  const cob = ceilDiv(outCh, bo);
  const copies = residualCopies(cfg, l, planEpilogue(l)) ?? [];
  const blocks = cob * plan.kBlocks * kh * kw;
  const out = new Int8Array((blocks + copies.length) * bo * bi);
  copies.forEach((scale, i) => {
    for (let d = 0; d < bo; d++) out[(blocks + i) * bo * bi + d * bi + d] = scale;
  });
  for (let o = 0; o < outCh; o++) {
    const j = Math.floor(o / bo);
    const g = Math.floor(o / og);
    for (let r = 0; r < plan.kBlocks; r++) {
      for (let c = 0; c < bi; c++) {
        const i = (plan.start[j]! + r) * bi + c;
        if (i >= inCh || Math.floor(i / ig) !== g) continue;
        const il = i - g * ig;
        for (let y = 0; y < kh; y++)
          for (let x = 0; x < kw; x++) {
            const blk = ((j * plan.kBlocks + r) * kh + y) * kw + x;
            out[blk * bo * bi + (o % bo) * bi + c] = w[((o * ig + il) * kh + y) * kw + x]!;
          }
      }
    }
  }
  return out;
}

/** The `bias` buffer: each per-channel step of the planned epilogue as ACC elements [O/c][BATCH][BLOCK_OUT]. */
export function packChannelVectors(cfg: VtaConfig, l: Layer): Int32Array {
  const bo = cfg.BLOCK_OUT;
  const b = cfg.BATCH;
  const vectors: Int32Array[] = [];
  for (const s of planEpilogue(l)) {
    if (s.kind !== 'channel') continue;
    const cob = ceilDiv(s.values.length, bo);
    const v = new Int32Array(cob * b * bo);
    for (let o = 0; o < s.values.length; o++) {
      for (let n = 0; n < b; n++) v[(Math.floor(o / bo) * b + n) * bo + (o % bo)] = s.values[o]!;
    }
    vectors.push(v);
  }
  return concat(vectors);
}

/**
 * The `tensor` buffer: each per-element step of the planned epilogue (a merged leading ADD first)
 * as ACC elements laid out like the output activation, [N/b][O/c][H][W][BATCH][BLOCK_OUT], channels
 * zero-padded; one after another.
 */
export function packEpilogueTensors(cfg: VtaConfig, l: Layer): Int32Array {
  const [N, C, H, W] = outputShape(l);
  const bo = cfg.BLOCK_OUT;
  const b = cfg.BATCH;
  const cob = ceilDiv(C, bo);
  const tensors: Int32Array[] = [];
  for (const s of planEpilogue(l)) {
    if (s.kind !== 'tensor') continue;
    const v = new Int32Array(N * cob * H * W * bo);
    let i = 0;
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++)
        for (let p = 0; p < H * W; p++) v[((Math.floor(n / b) * cob + Math.floor(c / bo)) * H * W + p) * b * bo + (n % b) * bo + (c % bo)] = s.values[i++]!;
    tensors.push(v);
  }
  return concat(tensors);
}

function concat(parts: readonly Int32Array[]): Int32Array {
  const out = new Int32Array(parts.reduce((n, v) => n + v.length, 0));
  let at = 0;
  for (const v of parts) {
    out.set(v, at);
    at += v.length;
  }
  return out;
}
