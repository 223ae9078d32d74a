/**
 * Compiled models end to end on webgpu beside the `sim` target, the same compiled bytes loaded by
 * the runtime on each; every output must be bit-identical between the targets. (That `sim` equals
 * the CPU integer reference is test/e2e's.)
 *
 * - digits_cnn (float, calibrated on the shared calibration images) on all 397 held-out images
 *   (SwiftShader takes about 0.2 s per image, sim a few ms): the accuracy, checked against the
 *   shipped labels, is identical.
 * - resnet18_int8_qdq on its reference input: one inference takes about 35 s on SwiftShader on a
 *   2-core machine (sim about 0.5 s), so the run may take up to 10 minutes before it is reported
 *   as timed out, which a loaded CI machine needs. bench/webgpu.ts times it on a real GPU.
 */
import { expect, it } from 'vitest';
import { encodeModel } from '../../compiler/artifact/format.ts';
import { compileOnnx } from '../../compiler/compile.ts';
import type { Tensor } from '../../compiler/tensor/tensor.ts';
import { preset } from '../../isa/config.ts';
import { createRuntime } from '../../runtime/index.ts';
import { compileResnet18, modelInput, sameBytes } from '../../bench/models.ts';
import { argmax, digitsTest } from '../e2e/helpers.ts';
import { modelFile } from '../data/index.ts';
import { describeWithLargeModels } from '../data/large-models.ts';
import { describeWithWebGpu, webgpuAvailability } from './helpers.ts';

const avail = await webgpuAvailability(preset('default'));
const LONG_MS = 600_000;

async function outputsOn(target: 'sim' | 'webgpu', model: Uint8Array, name: string, images: readonly Tensor[]): Promise<Tensor[]> {
  const rt = await createRuntime({ target, timeoutMs: LONG_MS });
  try {
    const m = await rt.load(model, name);
    const input = m.inputs[0]!.name;
    const outputs: Tensor[] = [];
    for (const x of images) outputs.push(Object.values(await m.run({ [input]: x }))[0]!);
    return outputs;
  } finally {
    await rt.close();
  }
}

describeWithWebGpu(avail, 'compiled models on webgpu vs sim', () => {
  it('digits_cnn: bit-identical outputs on every held-out image, hence the same accuracy', { timeout: LONG_MS }, async () => {
    const { x: images, y: labels } = digitsTest();
    expect(images.length).toBe(397);
    const compiled = compileOnnx(modelFile('digits_cnn.onnx'), { target: 'webgpu', calibration: modelFile('digits_calib_x.npy'), cycles: 'skip' });
    const model = encodeModel(compiled.model);
    const sim = await outputsOn('sim', model, 'digits_cnn', images);
    const webgpu = await outputsOn('webgpu', model, 'digits_cnn', images);
    const differ = images.map((_, i) => i).filter((i) => !sameBytes(webgpu[i]!, sim[i]!));
    expect(differ).toEqual([]);
    const correct = (outs: Tensor[]) => outs.filter((o, i) => argmax(o) === labels[i]).length;
    console.log(`digits_cnn: ${correct(webgpu)} of ${images.length} correct on webgpu, ${correct(sim)} on sim`);
    expect(correct(webgpu)).toBe(correct(sim));
    expect(correct(webgpu) / images.length).toBeGreaterThanOrEqual(0.97);
  });

  describeWithLargeModels('resnet18_int8_qdq', () => {
    it('resnet18_int8_qdq: bit-identical output for its reference input', { timeout: 2 * LONG_MS }, async () => {
      const model = compileResnet18('resnet18_int8_qdq', 'webgpu');
      const x = modelInput('resnet18_int8_qdq');
      const [sim] = await outputsOn('sim', model, 'resnet18_int8_qdq', [x]);
      const [webgpu] = await outputsOn('webgpu', model, 'resnet18_int8_qdq', [x]);
      expect(webgpu!.shape).toEqual(sim!.shape);
      expect(sameBytes(webgpu!, sim!)).toBe(true);
    });
  });
});
