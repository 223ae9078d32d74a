// Every ONNX backend test case in test/data/onnx-tests/{pytorch-converted,pytorch-operator,simple}
// against its expected outputs (rtol 1e-3, atol 1e-4).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { execute } from '../../compiler/cpu/execute.ts';
import { importOnnxFile } from '../../compiler/onnx/import.ts';
import type { Tensor } from '../../compiler/tensor/tensor.ts';
import { onnxTests } from '../data/index.ts';
import { closeness, fedInputs, readTensorPb } from './helpers.ts';

const suites = ['pytorch-converted', 'pytorch-operator', 'simple'];
const cases = suites.flatMap((s) =>
  fs.readdirSync(path.join(onnxTests, s)).map((name) => ({ id: `${s}/${name}`, dir: path.join(onnxTests, s, name) })));

function readSet(dir: string, prefix: string): Tensor[] {
  const files = fs.readdirSync(dir).filter((f) => f.startsWith(prefix) && f.endsWith('.pb'));
  files.sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3)));
  return files.map((f) => readTensorPb(path.join(dir, f)));
}

describe('ONNX backend test cases', () => {
  it('finds the cases', () => expect(cases.length).toBe(52));
  for (const c of cases) {
    it(c.id, () => {
      const modelFile = path.join(c.dir, 'model.onnx');
      const dataDir = path.join(c.dir, 'test_data_set_0');
      const names = fedInputs(modelFile);
      const inputs = new Map(readSet(dataDir, 'input_').map((t, i) => [names[i]!, t]));
      const expected = readSet(dataDir, 'output_');
      // int64 inputs are shape operands (Expand's shape): bound as constants, the graph stays static.
      const bindInputs = Object.fromEntries([...inputs].filter(([, t]) => t.dtype === 'int64'));
      const model = importOnnxFile(modelFile, { bindInputs });
      const outputs = execute(model.fn, model.fn.params.map((p) => inputs.get(p.name)!));
      expect(outputs.length).toBe(expected.length);
      outputs.forEach((out, i) => {
        expect(out.dtype).toBe(expected[i]!.dtype);
        const { worst, index } = closeness(out, expected[i]!, 1e-3, 1e-4);
        expect(worst, `output ${i} element ${index}`).toBeLessThanOrEqual(0);
      });
    });
  }
});
