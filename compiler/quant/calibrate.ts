/**
 * Activation ranges from sample inputs. The float graph runs on the CPU
 * executor with the observed values as extra results; each value keeps a
 * strided sample of its magnitudes, from which a symmetric threshold is chosen
 * by the maximum, a percentile, or the threshold that minimizes the int8
 * quantization error (MSE) over the sample.
 */
import { execute } from '../cpu/execute.ts';
import type { IRFunction, Value } from '../ir/graph.ts';
import { Tensor, sizeOf } from '../tensor/tensor.ts';
import { VtaError } from '../../isa/errors.ts';

export type CalibrationMethod = 'max' | 'percentile' | 'mse';

export interface CalibrationOptions {
  method: CalibrationMethod;
  /** For 'percentile': the percentile of |x| used as the threshold. */
  percentile?: number;
}

export class CalibrationError extends VtaError {
  constructor(message: string) {
    super('VTA_QUANT_CALIB', message);
  }
}

/** Magnitudes kept per value: enough for a stable percentile, small enough to search quickly. */
const SAMPLE_CAP = 1 << 16;

/** Splits a batch of samples ([N, ...shape] or exactly `shape`) into tensors of the parameter's shape. */
export function splitSamples(batch: Tensor, shape: readonly number[]): Tensor[] {
  const per = sizeOf(shape);
  if (batch.size % per !== 0 || batch.dtype !== 'float32') {
    throw new CalibrationError(`calibration samples (${batch.shape.join('x')}, ${batch.dtype}) do not divide into inputs of shape ${shape.join('x')} float32`);
  }
  const data = batch.data as Float32Array;
  return Array.from({ length: batch.size / per }, (_, i) => new Tensor('float32', shape, data.slice(i * per, (i + 1) * per)));
}

/**
 * Runs `fn` on every sample and returns, per value, a strided sample of |x| (and the exact maximum).
 * A value whose leading dimension is the samples' batch is sampled image by image, from each
 * image's start: a model compiled for batch N on samples that group N images then keeps exactly
 * the magnitudes the batch-1 model keeps on the single images, so both quantize alike.
 */
export function observe(fn: IRFunction, values: readonly Value[], samples: readonly Tensor[]): { abs: Float32Array; max: number }[] {
  if (samples.length === 0) throw new CalibrationError('no calibration samples');
  const probe: IRFunction = { params: fn.params, results: values };
  const kept = values.map(() => ({ parts: [] as Float32Array[], max: 0 }));
  for (const x of samples) {
    const batch = x.shape.length >= 2 ? x.shape[0]! : 1;
    execute(probe, [x]).forEach((t, i) => {
      const d = t.data as Float32Array;
      const images = t.shape.length >= 2 && t.shape[0] === batch ? batch : 1;
      const per = d.length / images;
      const stride = Math.max(1, Math.floor((d.length * samples.length) / SAMPLE_CAP));
      const part = new Float32Array(images * Math.ceil(per / stride));
      let k = 0;
      for (let b = 0; b < images; b++) for (let j = 0; j < per; j += stride) part[k++] = Math.abs(d[b * per + j]!);
      let m = kept[i]!.max;
      for (let j = 0; j < d.length; j++) if (Math.abs(d[j]!) > m) m = Math.abs(d[j]!);
      kept[i]!.max = m;
      kept[i]!.parts.push(part);
    });
  }
  return kept.map(({ parts, max }) => {
    const abs = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) {
      abs.set(p, off);
      off += p.length;
    }
    return { abs, max };
  });
}

/** Magnitudes sorted ascending, with what every threshold's error shares. */
interface Sorted {
  values: Float32Array;
  /** below[i]: the sum of values[j]^2 for j < i, added in order (the error of values that quantize to 0). */
  below: Float64Array;
}

/**
 * A sorted copy of magnitudes. Non-negative floats (NaN last) order as their bit patterns do, and
 * V8 sorts integers about twice as fast as floats.
 */
function sortAbs(abs: Float32Array): Float32Array {
  return new Float32Array(new Uint32Array(abs.slice().buffer).sort().buffer);
}

function sortMagnitudes(abs: Float32Array): Sorted {
  const values = sortAbs(abs);
  const below = new Float64Array(values.length + 1);
  for (let i = 0; i < values.length; i++) below[i + 1] = below[i]! + values[i]! * values[i]!;
  return { values, below };
}

/** The first index in [lo, hi) whose value quantizes to level k or above with step s (hi if none). */
function firstAtLevel(values: Float32Array, s: number, k: number, lo: number, hi: number): number {
  while (lo < hi) {
    const m = (lo + hi) >> 1;
    if (Math.round(values[m]! / s) >= k) hi = m;
    else lo = m + 1;
  }
  return lo;
}

/**
 * Squared error of symmetric int8 quantization with threshold t (values beyond t clip). The
 * values are sorted, so each quantization level covers one run of them, found by binary search;
 * the sum is taken in the same order as an element-by-element loop would, so it is exactly that.
 */
function quantError({ values, below }: Sorted, t: number): number {
  const s = t / 127;
  const n = values.length;
  let i = firstAtLevel(values, s, 1, 0, n);
  let err = below[i]!;
  for (let k = 1; k <= 127 && i < n; k++) {
    const end = k === 127 ? n : firstAtLevel(values, s, k + 1, i, n);
    const q = k * s;
    for (; i < end; i++) {
      const d = values[i]! - q;
      err += d * d;
    }
  }
  return err;
}

/** The symmetric threshold T (the scale is T / 127) for one value's magnitudes. */
export function chooseThreshold(obs: { abs: Float32Array; max: number }, opts: CalibrationOptions): number {
  if (obs.max === 0) return 1;
  if (opts.method === 'max') return obs.max;
  if (opts.method === 'percentile') {
    const sorted = sortAbs(obs.abs);
    const p = opts.percentile ?? 99.99;
    const idx = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
    return Math.max(sorted[Math.max(0, idx)]!, obs.max * 1e-3);
  }
  // MSE: a grid of thresholds between a small fraction of the maximum and the maximum.
  const sorted = sortMagnitudes(obs.abs);
  let best = obs.max;
  let bestErr = quantError(sorted, obs.max);
  for (let i = 1; i < 100; i++) {
    const t = obs.max * (0.2 + (0.8 * i) / 100);
    const e = quantError(sorted, t);
    if (e < bestErr) {
      best = t;
      bestErr = e;
    }
  }
  return best;
}
