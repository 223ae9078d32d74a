// right_shift and the fixed-point requantization sequence against naive BigInt references of
// isa/SPEC.md §4 ALU (SHR, MUL, ADD on int32 lanes).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { execute } from '../../compiler/cpu/execute.ts';
import { call, variable } from '../../compiler/ir/graph.ts';
import '../../compiler/ir/ops/index.ts';
import { applyFixedPoint, chooseFixedPoint, IMM_MAX, narrowToInt8 } from '../../compiler/quant/fixed-point.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';

/** SPEC SHR on a 32-bit lane, in BigInt. */
function specShr(x: number, y: number): number {
  const v = BigInt(x);
  if (y >= 0) return Number(BigInt.asIntN(32, v >> BigInt(Math.min(y, 31))));
  return -y >= 32 ? 0 : Number(BigInt.asIntN(32, v << BigInt(-y)));
}
const wrap32 = (v: bigint) => BigInt.asIntN(32, v);

describe('right_shift', () => {
  it('is the ALU SHR for every int32 and amount', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: -40, max: 40 })), { minLength: 1, maxLength: 64 }), (pairs) => {
        const n = pairs.length;
        const x = variable('x', { shape: [n], dtype: 'int32' });
        const y = variable('y', { shape: [n], dtype: 'int32' });
        const out = execute({ params: [x, y], results: [call('right_shift', [x, y])] }, [
          Tensor.from('int32', [n], pairs.map((p) => p[0])),
          Tensor.from('int32', [n], pairs.map((p) => p[1])),
        ])[0]!;
        expect(Array.from(out.data as Int32Array)).toEqual(pairs.map(([a, b]) => specShr(a, b)));
      }),
    );
  });
});

describe('fixed-point requantization', () => {
  /** The emitted sequence evaluated step by step with SPEC ALU semantics in BigInt. */
  function naive(x: number, p: number, m: number, k: number): number {
    let v = BigInt(x);
    const shr = (a: bigint, s: number) => (s === 0 ? a : s > 0 ? wrap32(wrap32(a + (1n << BigInt(s - 1))) >> BigInt(Math.min(s, 31))) : wrap32(a << BigInt(-s)));
    v = shr(v, p);
    if (m !== 1) v = wrap32(v * BigInt(m));
    return Number(shr(v, k));
  }

  it('keeps immediates in 16 bits, never overflows, and stays within one step of x * ratio', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -22, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 2 ** 27 }),
        fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 1, maxLength: 32 }),
        (log2Ratio, bound, fractions) => {
          const ratio = 2 ** log2Ratio;
          const fp = chooseFixedPoint(ratio, bound);
          expect(fp.multiplier).toBeLessThanOrEqual(IMM_MAX);
          for (const s of [fp.preShift, fp.shift]) if (s > 0) expect(2 ** (s - 1)).toBeLessThanOrEqual(IMM_MAX);
          const xs = [bound, -bound, ...fractions.map((f) => Math.round(f * bound))];
          const v = variable('x', { shape: [xs.length], dtype: 'int32' });
          const got = Array.from(execute({ params: [v], results: [applyFixedPoint(v, fp)] }, [Tensor.from('int32', [xs.length], xs)])[0]!.data as Int32Array);
          xs.forEach((x, i) => {
            // Bit-exact with the ALU sequence, and the ALU sequence never wrapped (within a step of the real product).
            expect(got[i]).toBe(naive(x, fp.preShift, fp.multiplier, fp.shift));
            const tolerance = 1 + 0.5 * 2 ** fp.preShift * ratio + bound * Math.abs(fp.multiplier * 2 ** -(fp.preShift + fp.shift) - ratio);
            expect(Math.abs(got[i]! - x * ratio)).toBeLessThanOrEqual(tolerance);
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('turns a power-of-two ratio into the plain rounding shift', () => {
    expect(chooseFixedPoint(2 ** -7, 1 << 24)).toEqual({ preShift: 0, multiplier: 1, shift: 7 });
  });

  it('clips before narrowing, so the int8 cast never wraps', () => {
    const v = variable('x', { shape: [6], dtype: 'int32' });
    const xs = [-100000, -129, -128, 0, 127, 100000];
    const out = execute({ params: [v], results: [narrowToInt8(v, 3, -128, 127)] }, [Tensor.from('int32', [6], xs)])[0]!;
    expect(Array.from(out.data as Int8Array)).toEqual(xs.map((x) => Math.max(-128, Math.min(127, x + 3))));
  });
});
