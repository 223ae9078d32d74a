// The light/ network graphs (weights made by ConstantOfShape) against onnxruntime-node on a random input.
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { execute } from '../../compiler/cpu/execute.ts';
import { importOnnxFile } from '../../compiler/onnx/import.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { onnxTests } from '../data/index.ts';
import { closeness, rng } from './helpers.ts';

const dir = path.join(onnxTests, 'light');
const models = fs.readdirSync(dir).filter((f) => f.endsWith('.onnx'));

describe('light/ models match onnxruntime', () => {
  it('finds the models', () => expect(models.length).toBe(4));
  for (const file of models) {
    it(file, async () => {
      const model = importOnnxFile(path.join(dir, file));
      const random = rng(7);
      const inputs = model.fn.params.map((p) => {
        const t = Tensor.zeros(p.type.dtype, p.type.shape);
        (t.data as Float32Array).forEach((_, i, a) => (a[i] = random() * 2 - 1));
        return t;
      });
      const ours = execute(model.fn, inputs);
      const session = await ort.InferenceSession.create(path.join(dir, file));
      const feeds = Object.fromEntries(model.fn.params.map((p, i) => [p.name, new ort.Tensor('float32', inputs[i]!.data as Float32Array, [...p.type.shape])]));
      const theirs = await session.run(feeds);
      model.outputNames.forEach((name, i) => {
        const ref = theirs[name]!;
        const expected = new Tensor('float32', ref.dims.map(Number), ref.data as Float32Array);
        const { worst, index } = closeness(ours[i]!, expected, 1e-3, 1e-4);
        expect(worst, `${name} element ${index}`).toBeLessThanOrEqual(0);
      });
      await session.release();
    });
  }
});
