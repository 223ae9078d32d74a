// A kernel group the lowering refuses still compiles: it runs on the CPU on the same packed tensors,
// with copies where its inputs and output cross the device boundary. Forced here by a conv tiling
// that fits no layer, so every conv group falls back and the max pool alone stays on VTA; the
// model must still give exactly the CPU executor's outputs for the placed graph.
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeModel } from '../../compiler/artifact/format.ts';
import { compileOnnx } from '../../compiler/compile.ts';
import { execute } from '../../compiler/cpu/execute.ts';
import { createRuntime, type Runtime } from '../../runtime/index.ts';
import { emitModel } from '../../compiler/emit.ts';
import { splitSamples } from '../../compiler/quant/calibrate.ts';
import { preset } from '../../isa/config.ts';
import { digitsTest, models, npy } from './helpers.ts';

const runtimes: Runtime[] = [];
afterAll(async () => {
  for (const rt of runtimes) await rt.close();
});

describe('groups the lowering cannot run', () => {
  it('run on the CPU between device runs, with the same outputs as the CPU executor', async () => {
    const cfg = preset('default');
    const calibration = splitSamples(npy('digits_calib_x.npy'), [1, 1, 16, 16]).slice(0, 20);
    const { compiled } = compileOnnx(path.join(models, 'digits_cnn.onnx'), { target: 'sim', calibration, cycles: 'skip', firstConv: 'cpu' });
    expect(compiled.groups.map((g) => g.anchor)).toEqual(['conv2d', 'max_pool2d', 'conv2d', 'conv2d']);
    const emitted = emitModel(cfg, compiled.fn, compiled.groups, {
      target: 'sim',
      source: 'digits_cnn.onnx',
      lower: { tiling: { tco: 1000, th: 1, tw: 1, tci: 1, order: 'co' } },
    });
    expect(emitted.fallbacks.map((f) => f.anchor)).toEqual(['conv2d', 'conv2d', 'conv2d']);
    for (const f of emitted.fallbacks) expect(f.reason).toMatch(/tiling .* does not fit/);
    expect(emitted.layers.map((l) => l.layer.kind)).toEqual(['maxpool']);
    expect(emitted.cpuOps.filter((c) => c.fallback !== undefined).map((c) => c.op)).toContain('nn.conv2d');
    // In: the max pool's input (made on the CPU). Out: its output, read by the next conv on the CPU.
    expect(emitted.copies).toBe(2);

    const rt = await createRuntime({ target: 'sim' });
    runtimes.push(rt);
    const model = await rt.load(encodeModel(emitted.model));
    for (const x of digitsTest().x.slice(0, 10)) {
      const out = (await model.run({ [model.inputs[0]!.name]: x }))[model.outputs[0]!.name]!;
      expect(Array.from(out.data as Float32Array)).toEqual(Array.from(execute(compiled.fn, [x])[0]!.data as Float32Array));
    }
    expect(model.profile()!.deviceRuns).toBe(1);
  });
});
