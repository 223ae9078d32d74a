/**
 * digits_cnn end to end on tsim beside the `sim` target: compiled by the compiler (import,
 * quantize, place, lower, emit), loaded by the runtime on each target, and run on the first
 * held-out test images. Every output must be bit-identical between the targets, so the accuracy
 * is too; the labels shipped with the data give the accuracy itself.
 */
import { describe, expect, it } from 'vitest';
import { preset } from '../../isa/config.ts';
import { createRuntime } from '../../runtime/index.ts';
import { buildTsim } from '../../hw-chisel/build.ts';
import { argmax, compileDigitsCnn, digitsTestSet } from '../../bench/opencl.ts';

const cfg = preset('default');
/** Held-out images per target (each a full simulation on tsim, about 0.2 s). */
const IMAGES = 40;

describe('digits_cnn on tsim vs sim', () => {
  it(`gives bit-identical outputs on ${IMAGES} test images`, async () => {
    buildTsim();
    const model = compileDigitsCnn(cfg);
    const { images, labels } = digitsTestSet(IMAGES);
    const results: Record<string, { outputs: Uint8Array[]; correct: number }> = {};
    for (const target of ['sim', 'tsim'] as const) {
      const rt = await createRuntime({ target, memBytes: 64 << 20 });
      try {
        const m = await rt.load(model, 'digits_cnn');
        const input = m.inputs[0]!.name;
        const outputs: Uint8Array[] = [];
        let correct = 0;
        for (const [i, x] of images.entries()) {
          const out = Object.values(await m.run({ [input]: x }))[0]!;
          outputs.push(new Uint8Array((out.data as Float32Array).slice().buffer));
          if (argmax(out) === labels[i]) correct++;
        }
        results[target] = { outputs, correct };
      } finally {
        await rt.close();
      }
    }
    const { sim, tsim } = results as Record<'sim' | 'tsim', { outputs: Uint8Array[]; correct: number }>;
    tsim.outputs.forEach((o, i) => expect(Buffer.from(o).equals(Buffer.from(sim.outputs[i]!)), `image ${i}`).toBe(true));
    expect(tsim.correct).toBe(sim.correct);
    // The float model scores 99.75 % on the whole set; the quantized one should stay close.
    expect(tsim.correct).toBeGreaterThanOrEqual(IMAGES - 3);
  }, 600_000);
});
