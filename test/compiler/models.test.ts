// The models (test/data/models, and the large ones through VTA_MODELS): each model's output on NAME.ref_in.npy against NAME.ref_out.npy (onnxruntime's),
// and digits_cnn's accuracy on the held-out test images.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { execute } from '../../compiler/cpu/execute.ts';
import type { Call, IRFunction } from '../../compiler/ir/graph.ts';
import { importOnnxFile } from '../../compiler/onnx/import.ts';
import { readNpy } from '../../compiler/tensor/npy.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { modelFile } from '../data/index.ts';
import { describeWithLargeModels } from '../data/large-models.ts';
import { closeness } from './helpers.ts';

const npy = (name: string) => readNpy(fs.readFileSync(modelFile(name)), name);

/**
 * The output quantization step of a QDQ model: the scale of the last
 * dequantize on the path to the output (the output itself is float). When the
 * output comes straight from a float op fed by dequantized values, that op's
 * input step bounds the difference between integer and simulated arithmetic.
 */
function outputStep(fn: IRFunction): number {
  let v = fn.results[0]!;
  while (v.kind === 'call' && v.op !== 'qnn.dequantize') v = v.args[0]!;
  if (v.kind !== 'call') throw new Error('no dequantize before the output');
  const scale = (v as Call).args[1]!;
  if (scale.kind !== 'constant') throw new Error('non-constant scale');
  return Math.max(...scale.value.toNumbers());
}

function checkReference(name: string): void {
  it(name, () => {
    const model = importOnnxFile(modelFile(`${name}.onnx`));
    const [out] = execute(model.fn, [npy(`${name}.ref_in.npy`)]);
    const ref = npy(`${name}.ref_out.npy`);
    if (name.includes('qdq')) {
      // One step, plus float32 rounding of values that are exactly one step apart.
      const { worst, index } = closeness(out!, ref, 0, outputStep(model.fn) * (1 + 1e-5));
      expect(worst, `element ${index}`).toBeLessThanOrEqual(0);
    } else {
      const { worst, index } = closeness(out!, ref, 1e-3, 1e-5);
      expect(worst, `element ${index}`).toBeLessThanOrEqual(0);
    }
  });
}

describe('digits models against onnxruntime reference outputs', () => {
  for (const name of ['digits_cnn', 'digits_mlp', 'digits_cnn_int8_qdq']) checkReference(name);

  it('digits_cnn reaches 99.75 % on the 397 test images', () => {
    const model = importOnnxFile(modelFile('digits_cnn.onnx'));
    const x = npy('digits_test_x.npy');
    const y = npy('digits_test_y.npy').toNumbers();
    const n = x.shape[0]!;
    expect(n).toBe(397);
    const one = x.shape.slice(1).reduce((a, b) => a * b, 1);
    let correct = 0;
    for (let i = 0; i < n; i++) {
      const input = new Tensor('float32', [1, ...x.shape.slice(1)], (x.data as Float32Array).subarray(i * one, (i + 1) * one));
      const logits = execute(model.fn, [input])[0]!.toNumbers();
      if (logits.indexOf(Math.max(...logits)) === y[i]) correct++;
    }
    // 99.75 % as the model card rounds it: 396 of 397.
    expect(Math.round((correct / n) * 10000) / 100).toBeGreaterThanOrEqual(99.75);
  });
});

describeWithLargeModels('ResNet-18 models against onnxruntime reference outputs', () => {
  for (const name of ['resnet18', 'resnet18_int8_qdq']) checkReference(name);
});
