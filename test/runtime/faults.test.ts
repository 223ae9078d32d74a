// Faults mid-run on the simulator targets: a device run past its timeout is reported as
// RunTimeoutError and the same loaded model then gives exactly its earlier outputs.
import { describe, expect, it } from 'vitest';
import { preset } from '../../isa/config.ts';
import { createRuntime, RunTimeoutError } from '../../runtime/index.ts';
import { compiledDigits, digitImages, expectSurvives, outputsOf } from './fault-helpers.ts';

const images = digitImages(3);

describe.each(['sim', 'cyclesim'] as const)('faults on %s', (target) => {
  it('reports a run past its timeout and then runs the same model bit-exactly', async () => {
    const rt = await createRuntime({ target, config: preset('default'), memBytes: 8 << 20 });
    const model = await rt.load(compiledDigits(target), 'digits');
    const expected = [];
    for (const x of images) expected.push(await outputsOf(model, x));
    for (let k = 0; k < 3; k++) {
      await expectSurvives(model, images, expected, () => outputsOf(model, images[k]!, { timeoutMs: 1e-6 }), { code: 'VTA_TIMEOUT', target });
    }
    await expect(outputsOf(model, images[0]!, { timeoutMs: 1e-6 })).rejects.toBeInstanceOf(RunTimeoutError);
    await rt.close();
  }, 60_000);
});
