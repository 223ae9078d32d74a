/** Test blocks that need the large models (ResNet-18), skipped or failed where those are absent. */
import { describe, it } from 'vitest';
import { LARGE_MODELS_SETTING, largeModelsMissing } from './index.ts';

let warned = false;

/**
 * A describe block that needs the large models. Where they are absent it is reported as skipped,
 * with one line naming the setting; under CI=true their absence is a failure, so CI keeps running them.
 */
export function describeWithLargeModels(title: string, body: () => void): void {
  if (largeModelsMissing === undefined) {
    describe(title, body);
  } else if (process.env.CI === 'true') {
    describe(title, () => {
      it('has the large models it needs', () => {
        throw new Error(`CI=true: ${largeModelsMissing}`);
      });
    });
  } else {
    if (!warned) console.warn(`skipped (needs the large models): ${largeModelsMissing}`);
    warned = true;
    describe.skip(`${title} [needs ${LARGE_MODELS_SETTING}]`, body);
  }
}
