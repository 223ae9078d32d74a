// The digits CNN end to end: compiled (float with calibration, and onnxruntime's QDQ model), loaded
// by the runtime and run on the functional simulator over the 397 held-out images. Oracles: the
// labels shipped with the data (accuracy), and the CPU executor running the same placed graph,
// which every VTA output must equal bit for bit (the CPU ops after the device are the same kernels,
// so any int8 difference on the device would show in the final floats).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmax, compileAndLoad, copyBytes, cpuReference, digitsTest, expectEveryGroupOnVta, type Loaded } from './helpers.ts';
import { modelFile } from '../data/index.ts';

const data = digitsTest();

interface Evaluation {
  loaded: Loaded;
  accuracy: number;
  /** Images whose output differs from the CPU executor's. */
  mismatches: number[];
}

async function evaluate(name: string, calibration?: string): Promise<Evaluation> {
  const loaded = await compileAndLoad(name, { calibration });
  let ok = 0;
  const mismatches: number[] = [];
  for (let i = 0; i < data.x.length; i++) {
    const out = Object.values(await loaded.model.run({ [loaded.input]: data.x[i]! }))[0]!;
    if (argmax(out) === data.y[i]) ok++;
    const ref = cpuReference(loaded.compiled, data.x[i]!)[0]!;
    if (!(out.data as Float32Array).every((v, k) => v === ref.data[k])) mismatches.push(i);
  }
  const c = loaded.compiled.report;
  console.log(
    `${name} on sim: ${((ok / data.x.length) * 100).toFixed(2)} % of ${data.x.length} images, ${mismatches.length} outputs differ from the CPU executor; ` +
      `${c.vta.layers} layers on VTA, ${c.fallbacks.length} groups fell back to the CPU; compiled in ${c.seconds.total.toFixed(2)} s`,
  );
  return { loaded, accuracy: ok / data.x.length, mismatches };
}

describe.each([
  { name: 'digits_cnn', calibration: modelFile('digits_calib_x.npy'), min: 0.99, layers: 7 },
  { name: 'digits_cnn_int8_qdq', calibration: undefined, min: 0.995, layers: 7 },
])('$name on sim', ({ name, calibration, min, layers }) => {
  let e: Evaluation;
  beforeAll(async () => {
    e = await evaluate(name, calibration);
  });
  afterAll(async () => {
    await e?.loaded.rt.close();
  });

  it(`reaches >= ${min * 100} % on the 397 test images`, () => {
    expect(e.accuracy).toBeGreaterThanOrEqual(min);
  });

  it('gives outputs bit-identical to the CPU executor running the placed integer graph', () => {
    expect(e.mismatches).toEqual([]);
  });

  it(`runs all ${layers} kernel groups on VTA in one device run, moving only the boundary copies`, () => {
    const c = e.loaded.compiled;
    expectEveryGroupOnVta(c);
    expect(c.report.vta.layers).toBe(layers);
    const p = e.loaded.model.profile()!;
    expect(p.deviceRuns).toBe(1);
    expect(c.report.deviceCopies).toBe(c.compiled.copies);
    const bytes = copyBytes(c);
    expect([p.hostToDeviceBytes, p.deviceToHostBytes]).toEqual([bytes.toDevice, bytes.toHost]);
  });
});
