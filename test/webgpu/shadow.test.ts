/**
 * The stale ranges of the webgpu driver's host copy of DRAM (no GPU needed), against a naive
 * oracle: one flag per byte.
 */
import { describe, expect, it } from 'vitest';
import { ByteRanges } from '../../webgpu/shadow.ts';

describe('stale ranges', () => {
  it('agree with a byte-per-flag model under random adds and removes', () => {
    let seed = 99;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const N = 200;
    for (let trial = 0; trial < 200; trial++) {
      const r = new ByteRanges();
      const flags = new Uint8Array(N);
      for (let step = 0; step < 30; step++) {
        const a = next(N);
        const b = a + next(N - a + 1);
        if (next(3) === 0) {
          r.remove(a, b);
          flags.fill(0, a, b);
        } else {
          r.add(a, b);
          flags.fill(1, a, b);
        }
        // The list is the maximal runs of stale bytes.
        const runs: [number, number][] = [];
        for (let i = 0; i < N; i++) if (flags[i] && (i === 0 || !flags[i - 1])) runs.push([i, flags.indexOf(0, i) < 0 ? N : flags.indexOf(0, i)]);
        expect(r.list().map((x) => [...x])).toEqual(runs);
        const q0 = next(N);
        const q1 = q0 + next(N - q0 + 1);
        const stale = [...flags.subarray(q0, q1).keys()].filter((i) => flags[q0 + i]).map((i) => q0 + i);
        expect(r.within(q0, q1)).toEqual(stale.length ? [stale[0], stale[stale.length - 1]! + 1] : null);
      }
    }
  });
});
