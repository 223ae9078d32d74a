/**
 * The intelfocl target behind the runtime's API (createRuntime -> runtime/targets.ts -> this
 * driver): a compiled two-layer model gives the naive reference's result and the same counters as
 * the `sim` target.
 */
import { describe, expect, it } from 'vitest';
import { encodeModel } from '../../compiler/artifact/format.ts';
import { preset } from '../../isa/config.ts';
import { createRuntime } from '../../runtime/index.ts';
import { matmulModel, referenceLayer } from '../runtime/model-builder.ts';
import { ensureAddon } from './util.ts';

const cfg = preset('default');

function randomInt8(n: number, seed: number, scale: number): Int8Array {
  let s = seed >>> 0;
  return Int8Array.from({ length: n }, () => Math.trunc((((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24) - 128) / scale));
}

describe('runtime on intelfocl (POCL)', () => {
  it('runs a two-layer model like the naive reference and the sim target', async () => {
    ensureAddon();
    const weights = [randomInt8(32 * 32, 1, 8), randomInt8(32 * 32, 2, 8)];
    const model = encodeModel(matmulModel(cfg, { weights, shift: 6 }));
    const xs = [randomInt8(128, 3, 4), randomInt8(128, 4, 1)];
    const profiles: Record<string, number>[] = [];
    for (const target of ['intelfocl', 'sim'] as const) {
      const rt = await createRuntime({ target, memBytes: 1 << 20 });
      try {
        const m = await rt.load(model, 'two-layer');
        for (const x of xs) {
          const out = await m.run({ x });
          const want = referenceLayer(referenceLayer(x, weights[0]!, 6), weights[1]!, 6);
          expect(Array.from(out.y!.data as Int8Array), target).toEqual(Array.from(want));
        }
        const { kernel_ns: _, ...counters } = m.profile()!.counters;
        profiles.push(counters);
      } finally {
        await rt.close();
      }
    }
    expect(profiles[0]).toEqual(profiles[1]);
  });
});
