import { describe, expect, it } from 'vitest';
import { encodeModel } from '../../compiler/artifact/format.ts';
import { preset } from '../../isa/config.ts';
import { createRuntime, InputError } from '../../runtime/index.ts';
import { matmulModel, referenceLayer } from './model-builder.ts';

const cfg = preset('default');

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) >>> 24) - 128;
}
function randomInt8(n: number, seed: number, scale = 1): Int8Array {
  const r = rng(seed);
  return Int8Array.from({ length: n }, () => Math.trunc(r() / scale));
}

const weights = [randomInt8(32 * 32, 1, 8), randomInt8(32 * 32, 2, 8)];
const reference = (x: Int8Array) => referenceLayer(referenceLayer(x, weights[0]!, 6), weights[1]!, 6);

describe('runtime on sim', () => {
  it('runs two VTA layers in one device run and matches the naive reference', async () => {
    const rt = await createRuntime({ target: 'sim', memBytes: 1 << 20 });
    const model = await rt.load(encodeModel(matmulModel(cfg, { weights, shift: 6 })), 'two-layer');
    const x = randomInt8(128, 3, 4);
    const out = await model.run({ x });
    expect(Array.from(out.y!.data as Int8Array)).toEqual(Array.from(reference(x)));
    const p = model.profile()!;
    expect(p.deviceRuns).toBe(1);
    // Only the input and the output cross: weights and micro-ops were uploaded at load.
    expect(p.hostToDeviceBytes).toBe(128);
    expect(p.deviceToHostBytes).toBe(128);
    expect(p.layers.map((l) => l.name)).toEqual(['matmul0', 'matmul1']);
    // The second layer's micro-op table equals the first's, still resident: its load is skipped.
    expect(p.layers[1]!.uopCacheHits).toBe(1);
    expect(p.counters.gemm_counter).toBe(2 * 16);
    await rt.close();
  });

  it('serves 8 concurrent runs in FIFO order, each with its own result', async () => {
    const rt = await createRuntime({ target: 'sim', memBytes: 1 << 20 });
    const model = await rt.load(encodeModel(matmulModel(cfg, { weights, shift: 6 })));
    const xs = Array.from({ length: 8 }, (_, k) => randomInt8(128, 100 + k, 4));
    const results = await Promise.all(xs.map((x) => model.run({ x })));
    results.forEach((r, k) => expect(Array.from(r.y!.data as Int8Array)).toEqual(Array.from(reference(xs[k]!))));
    await rt.close();
  });

  it('rejects a wrong input with a typed error and serves the next call', async () => {
    const rt = await createRuntime({ target: 'sim', memBytes: 1 << 20 });
    const model = await rt.load(encodeModel(matmulModel(cfg, { weights, shift: 6 })));
    await expect(model.run({ x: new Float32Array(128) })).rejects.toThrow(InputError);
    await expect(model.run({ x: { data: new Int8Array(64), shape: [2, 32] } })).rejects.toThrow(/shape \(2, 32\)/);
    await expect(model.run({ z: new Int8Array(128) })).rejects.toThrow(/no such input/);
    const x = randomInt8(128, 9, 4);
    expect(Array.from((await model.run({ x })).y!.data as Int8Array)).toEqual(Array.from(reference(x)));
    await rt.close();
  });

  it('refuses a model compiled for another configuration, naming both', async () => {
    const rt = await createRuntime({ target: 'sim', memBytes: 1 << 20 });
    const bytes = encodeModel(matmulModel(cfg, { weights, shift: 6, fingerprint: '1x32_i8w8a32_15_15_18_17' }));
    await expect(rt.load(bytes, 'other.vta')).rejects.toThrow(/other\.vta: compiled for hardware configuration 1x32_i8w8a32_15_15_18_17.*1x16_i8w8a32_15_15_18_17/);
    await rt.close();
  });

  it('reports a device error as a typed error and keeps serving', async () => {
    const rt = await createRuntime({ target: 'sim', memBytes: 1 << 20 });
    const bad = matmulModel(cfg, { weights, shift: 6 });
    // Drop the pop that consumes the store's token: the run would end with a stale token.
    const layer = bad.steps[1]!.kind.value as { insns: Uint8Array };
    layer.insns = layer.insns.slice(0, layer.insns.length - 16);
    const badModel = await rt.load(encodeModel(bad), 'bad');
    await expect(badModel.run({ x: new Int8Array(128) })).rejects.toMatchObject({ code: expect.stringMatching(/^VTA_/) });
    const good = await rt.load(encodeModel(matmulModel(cfg, { weights, shift: 6 })));
    const x = randomInt8(128, 5, 4);
    expect(Array.from((await good.run({ x })).y!.data as Int8Array)).toEqual(Array.from(reference(x)));
    await rt.close();
  });
});
