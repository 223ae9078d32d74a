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

/** Runs `fn` on every sample and returns, per value, a strided sample of |x| (and the exact maximum). */
export function observe(fn: IRFunction, values: readonly Value[], samples: readonly Tensor[]): { abs: Float32Array; max: number }[] {
  if (samples.length === 0) throw new CalibrationError('no calibration samples');
  const probe: IRFunction = { params: fn.params, results: values };
  const kept = values.map(() => ({ parts: [] as Float32Array[], max: 0 }));
  for (const x of samples) {
    execute(probe, [x]).forEach((t, i) => {
      const d = t.data as Float32Array;
      const stride = Math.max(1, Math.floor((d.length * samples.length) / SAMPLE_CAP));
      const part = new Float32Array(Math.ceil(d.length / stride));
      for (let j = 0, k = 0; j < d.length; j += stride, k++) part[k] = Math.abs(d[j]!);
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

/** Mean squared error of symmetric int8 quantization with threshold t (values beyond t clip). */
function quantError(sorted: Float32Array, t: number): number {
  const s = t / 127;
  let err = 0;
  for (const v of sorted) {
    const q = Math.min(127, Math.round(v / s)) * s;
    err += (v - q) ** 2;
  }
  return err;
}

/** The symmetric threshold T (the scale is T / 127) for one value's magnitudes. */
export function chooseThreshold(obs: { abs: Float32Array; max: number }, opts: CalibrationOptions): number {
  if (obs.max === 0) return 1;
  if (opts.method === 'max') return obs.max;
  const sorted = obs.abs.slice().sort();
  if (opts.method === 'percentile') {
    const p = opts.percentile ?? 99.99;
    const idx = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
    return Math.max(sorted[Math.max(0, idx)]!, obs.max * 1e-3);
  }
  // MSE: a grid of thresholds between a small fraction of the maximum and the maximum.
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
