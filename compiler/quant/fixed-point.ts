/**
 * Integer requantization as VTA's ALU runs it (isa/SPEC.md §4 ALU): a value at
 * one scale is brought to another by an optional rounding pre-shift, a multiply
 * by a 16-bit immediate and a rounding right shift:
 *
 *   y = ((((x + 2^(p-1)) >> p) * M) + 2^(k-1)) >> k        (y ≈ x * ratio)
 *
 * Every immediate (M, 2^(p-1), 2^(k-1)) must fit the ALU's signed 16-bit
 * field, and x * M must not wrap int32 for any |x| up to the given bound; the
 * pre-shift exists for that overflow guard. A power-of-two ratio becomes the
 * plain rounding shift VTA's own flow emits (add 2^(k-1), shift right by k).
 */
import { VtaError } from '../../isa/errors.ts';
import { call, constant, type Value } from '../ir/graph.ts';
import { Tensor } from '../tensor/tensor.ts';

export const IMM_MIN = -(2 ** 15);
export const IMM_MAX = 2 ** 15 - 1;
/** The largest shift whose rounding constant 2^(k-1) is still an immediate. */
export const MAX_ROUNDING_SHIFT = 15;
const INT32_MAX = 2 ** 31 - 1;

export interface FixedPoint {
  /** Rounding right shift applied before the multiply (0: none). */
  readonly preShift: number;
  /** The multiplier, 1 <= M <= IMM_MAX (1: no multiply). */
  readonly multiplier: number;
  /** Final shift: > 0 a rounding right shift, < 0 a left shift, 0 none. */
  readonly shift: number;
}

/** A scale ratio that no 16-bit fixed-point sequence can represent within int32. */
export class RequantizeError extends VtaError {
  constructor(message: string) {
    super('VTA_QUANT_REQUANT', message);
  }
}

function isPowerOfTwo(r: number): boolean {
  return r > 0 && 2 ** Math.round(Math.log2(r)) === r;
}

/** Worst relative-to-output error (in output units) of a candidate for inputs up to `bound`. */
function errorOf(fp: FixedPoint, ratio: number, bound: number): number {
  const pre = fp.preShift > 0 ? 0.5 * 2 ** fp.preShift * ratio : 0;
  const scale = fp.multiplier * 2 ** -(fp.preShift + fp.shift);
  return pre + bound * Math.abs(scale - ratio);
}

function fits(fp: FixedPoint, bound: number): boolean {
  const p = fp.preShift;
  const afterPre = p > 0 ? Math.floor((bound + 2 ** (p - 1)) / 2 ** p) + 1 : bound;
  const round = fp.shift > 0 ? 2 ** (fp.shift - 1) : 0;
  return afterPre * fp.multiplier + round <= INT32_MAX;
}

/**
 * The most accurate (preShift, M, shift) for `ratio` that cannot overflow for
 * |x| <= bound. Throws RequantizeError when none exists (a ratio too large to
 * scale up within int32).
 */
export function chooseFixedPoint(ratio: number, bound: number): FixedPoint {
  if (!(ratio > 0) || !Number.isFinite(ratio)) throw new RequantizeError(`requantization ratio ${ratio} is not a positive number`);
  if (isPowerOfTwo(ratio)) {
    const e = -Math.log2(ratio);
    if (e <= MAX_ROUNDING_SHIFT) {
      const fp = { preShift: 0, multiplier: 1, shift: e };
      if (e >= 0 || fits(fp, bound * 2 ** -e)) return fp;
    } else {
      return { preShift: e - MAX_ROUNDING_SHIFT, multiplier: 1, shift: MAX_ROUNDING_SHIFT };
    }
  }
  let best: FixedPoint | undefined;
  let bestErr = Infinity;
  for (let p = 0; p <= MAX_ROUNDING_SHIFT; p++) {
    for (let k = 0; k <= MAX_ROUNDING_SHIFT; k++) {
      const m = Math.round(ratio * 2 ** (p + k));
      if (m < 1 || m > IMM_MAX) continue;
      const fp = { preShift: p, multiplier: m, shift: k };
      if (!fits(fp, bound)) continue;
      const err = errorOf(fp, ratio, bound);
      if (err < bestErr - 1e-12) {
        best = fp;
        bestErr = err;
      }
    }
  }
  if (!best) throw new RequantizeError(`no 16-bit fixed-point multiplier represents ratio ${ratio} for inputs up to ${bound} without int32 overflow`);
  return best;
}

/** An int32 scalar constant (an ALU immediate when it fits 16 bits). */
export function int32Scalar(value: number, name = 'imm'): Value {
  return constant(name, Tensor.from('int32', [], [value]));
}

/** Rounding right shift by k > 0 (add 2^(k-1), SHR k); a left shift for k < 0. */
export function roundingShift(x: Value, k: number, name?: string): Value {
  if (k === 0) return x;
  const rounded = k > 0 ? call('add', [x, int32Scalar(2 ** (k - 1))], {}, { name }) : x;
  return call('right_shift', [rounded, int32Scalar(k)], {}, { name });
}

/** The IR ops of a FixedPoint on an int32 value. */
export function applyFixedPoint(x: Value, fp: FixedPoint, name?: string): Value {
  let y = roundingShift(x, fp.preShift, name);
  if (fp.multiplier !== 1) y = call('multiply', [y, int32Scalar(fp.multiplier)], {}, { name });
  return roundingShift(y, fp.shift, name);
}

/** Adds the output zero point, clips to [lo, hi] (MAX then MIN on VTA) and narrows to int8. */
export function narrowToInt8(x: Value, zeroPoint: number, lo: number, hi: number, name?: string): Value {
  const shifted = zeroPoint !== 0 ? call('add', [x, int32Scalar(zeroPoint)], {}, { name }) : x;
  const clipped = call('clip', [shifted], { a_min: lo, a_max: hi }, { name });
  return call('cast', [clipped], { dtype: 'int8' }, { name });
}
