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
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { digitsTest, npy } from './helpers.ts';
import { modelFile, styleGraphs } from '../data/index.ts';

const runtimes: Runtime[] = [];
afterAll(async () => {
  for (const rt of runtimes) await rt.close();
});

describe('groups the lowering cannot run', () => {
  it('run on the CPU between device runs, with the same outputs as the CPU executor', async () => {
    const cfg = preset('default');
    const calibration = splitSamples(npy('digits_calib_x.npy'), [1, 1, 16, 16]).slice(0, 20);
    const { compiled } = compileOnnx(modelFile('digits_cnn.onnx'), { target: 'sim', calibration, cycles: 'skip', firstConv: 'cpu' });
    // The last two conv2d groups are the global average pool (window sums, which lower without a conv
    // tiling) and the dense (a 1x1 conv over the flattened pool).
    expect(compiled.groups.map((g) => g.anchor)).toEqual(['conv2d', 'max_pool2d', 'conv2d', 'conv2d', 'conv2d', 'conv2d']);
    const emitted = emitModel(cfg, compiled.fn, compiled.groups, {
      target: 'sim',
      source: 'digits_cnn.onnx',
      lower: { tiling: { tco: 1000, th: 1, tw: 1, tci: 1, order: 'co' } },
    });
    // The three convs and the dense (its tiling is a conv's).
    expect(emitted.fallbacks.map((f) => f.anchor)).toEqual(['conv2d', 'conv2d', 'conv2d', 'conv2d']);
    for (const f of emitted.fallbacks) expect(f.reason).toMatch(/tiling .* does not fit/);
    expect(emitted.layers.map((l) => l.layer.kind)).toEqual(['maxpool', 'sumpool']);
    expect(emitted.cpuOps.filter((c) => c.fallback !== undefined).map((c) => c.op)).toContain('nn.conv2d');
    // In: the max pool's input (made on the CPU). Out: its output, read by the next conv on the CPU.
    // In and out again around the global average pool, whose input the last conv made on the CPU.
    expect(emitted.copies).toBe(4);

    const rt = await createRuntime({ target: 'sim' });
    runtimes.push(rt);
    const model = await rt.load(encodeModel(emitted.model));
    for (const x of digitsTest().x.slice(0, 10)) {
      const out = (await model.run({ [model.inputs[0]!.name]: x }))[model.outputs[0]!.name]!;
      expect(Array.from(out.data as Float32Array)).toEqual(Array.from(execute(compiled.fn, [x])[0]!.data as Float32Array));
    }
    // The max pool, then the global average pool after the last conv ran on the CPU.
    expect(model.profile()!.deviceRuns).toBe(2);
  });

  it('turn the channel concatenations fed by fallen-back convs into CPU concatenations, same outputs', async () => {
    const cfg = preset('default');
    const file = path.join(styleGraphs, 'inception_op13_init.onnx');
    const sample = (k: number) => new Tensor('float32', [1, 3, 16, 16], Float32Array.from({ length: 768 }, (_, i) => Math.sin(i * 0.61 + k) * 1.5));
    const { compiled } = compileOnnx(file, { target: 'sim', calibration: [sample(0), sample(1)], firstConv: 'vta', cycles: 'skip' });
    const emitted = emitModel(cfg, compiled.fn, compiled.groups, { target: 'sim', source: 'inception', lower: { tiling: { tco: 1000, th: 1, tw: 1, tci: 1, order: 'co' } } });
    const concats = emitted.fallbacks.filter((f) => f.anchor === 'concatenate');
    expect(concats).toHaveLength(2);
    for (const f of concats) expect(f.reason).toMatch(/is on the CPU or read there/);
    expect(emitted.cpuOps.filter((c) => c.op === 'concatenate' && c.fallback !== undefined)).toHaveLength(2);
    const rt = await createRuntime({ target: 'sim' });
    runtimes.push(rt);
    const model = await rt.load(encodeModel(emitted.model));
    const x = sample(7);
    const out = await model.run({ [model.inputs[0]!.name]: x });
    execute(compiled.fn, [x]).forEach((want, i) => expect(Array.from(out[model.outputs[i]!.name]!.data as Float32Array)).toEqual(Array.from(want.data as Float32Array)));
  });
});
