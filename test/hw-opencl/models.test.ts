/**
 * Real models end to end on intelfocl (POCL) beside the `sim` target, the same compiled bytes
 * loaded by the runtime on each: digits_cnn (float, calibrated on shared calibration images) on
 * every held-out test image, and ResNet-18's QDQ model on its reference input. Every output must
 * be bit-identical between the targets, so the digits accuracy is too; the labels shipped with
 * the data give the accuracy itself. (That `sim` equals the CPU integer reference is test/e2e's.)
 */
import { describe, expect, it } from 'vitest';
import { preset } from '../../isa/config.ts';
import type { Tensor } from '../../compiler/tensor/tensor.ts';
import { createRuntime } from '../../runtime/index.ts';
import { argmax, compileDigitsCnn, digitsTestSet } from '../../bench/opencl.ts';
import { compileResnet18, modelInput, sameBytes } from '../../bench/models.ts';
import { describeWithLargeModels } from '../data/large-models.ts';
import { ensureAddon } from './util.ts';

const cfg = preset('default');
const TARGETS = ['sim', 'intelfocl'] as const;

/** Runs `model` on each target over `images`; outputs per target. */
async function runOnBoth(model: Uint8Array, name: string, images: readonly Tensor[]): Promise<Record<(typeof TARGETS)[number], Tensor[]>> {
  const results = {} as Record<(typeof TARGETS)[number], Tensor[]>;
  for (const target of TARGETS) {
    const rt = await createRuntime({ target, memBytes: 64 << 20 });
    try {
      const m = await rt.load(model, name);
      const input = m.inputs[0]!.name;
      const outputs: Tensor[] = [];
      for (const x of images) outputs.push(Object.values(await m.run({ [input]: x }))[0]!);
      results[target] = outputs;
    } finally {
      await rt.close();
    }
  }
  return results;
}

describe('compiled models on intelfocl vs sim', () => {
  it('digits_cnn: bit-identical outputs on all 397 test images, hence the same accuracy', async () => {
    ensureAddon();
    const { images, labels } = digitsTestSet(397);
    expect(images.length).toBe(397);
    const { sim, intelfocl } = await runOnBoth(compileDigitsCnn(cfg), 'digits_cnn', images);
    const differ = images.map((_, i) => i).filter((i) => !sameBytes(intelfocl[i]!, sim[i]!));
    expect(differ).toEqual([]);
    const correct = (outs: Tensor[]) => outs.filter((o, i) => argmax(o) === labels[i]).length;
    console.log(`digits_cnn: ${correct(intelfocl)} of ${images.length} correct on intelfocl, ${correct(sim)} on sim`);
    expect(correct(intelfocl)).toBe(correct(sim));
    // The float model scores 99.75 % on the whole set; the quantized one should stay close.
    expect(correct(intelfocl) / images.length).toBeGreaterThanOrEqual(0.98);
  });

  describeWithLargeModels('resnet18_int8_qdq', () => {
    it('resnet18_int8_qdq: bit-identical outputs for its reference input', async () => {
      ensureAddon();
      const { sim, intelfocl } = await runOnBoth(compileResnet18('resnet18_int8_qdq', 'intelfocl'), 'resnet18_int8_qdq', [modelInput('resnet18_int8_qdq')]);
      expect(intelfocl[0]!.shape).toEqual(sim[0]!.shape);
      expect(sameBytes(intelfocl[0]!, sim[0]!)).toBe(true);
    });
  });
});
