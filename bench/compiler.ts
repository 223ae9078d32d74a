/**
 * Compiler front end and CPU reference executor (issue 4's benchmark): ONNX
 * import time of resnet18.onnx, and CPU inference time of digits_cnn and
 * resnet18 beside onnxruntime-node's for the same model and input in the same run.
 */
import fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import { execute } from '../compiler/cpu/execute.ts';
import { importOnnxFile } from '../compiler/onnx/import.ts';
import { readNpy } from '../compiler/tensor/npy.ts';
import { timeBest, type BenchRow, type BenchSuite } from './harness.ts';
import { modelFile } from '../test/data/index.ts';


async function inference(name: string, repeat: number, log: (msg: string) => void): Promise<BenchRow> {
  const file = modelFile(`${name}.onnx`);
  const model = importOnnxFile(file);
  const input = readNpy(fs.readFileSync(modelFile(`${name}.ref_in.npy`)));
  const ours = await timeBest(() => execute(model.fn, [input]), repeat);
  // onnxruntime with its defaults (all cores of this machine); the ratio is ours / theirs.
  const session = await ort.InferenceSession.create(file);
  const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', input.data as Float32Array, [...input.shape]) };
  const theirs = await timeBest(() => session.run(feeds), repeat);
  await session.release();
  log(`${name}: ${(ours * 1000).toFixed(1)} ms vs onnxruntime ${(theirs * 1000).toFixed(1)} ms`);
  return {
    suite: 'compiler', name: `cpu inference ${name}`, value: ours * 1000, unit: 'ms',
    reference: { label: 'onnxruntime-node', value: theirs * 1000, unit: 'ms' },
    note: `${(ours / theirs).toFixed(1)}x onnxruntime`,
  };
}

export const compilerSuite: BenchSuite = {
  name: 'compiler',
  async run({ quick, log }) {
    // From the file: reading the 46 MB is part of importing.
    const importTime = await timeBest(() => importOnnxFile(modelFile('resnet18.onnx')), quick ? 2 : 5);
    log(`import resnet18.onnx: ${(importTime * 1000).toFixed(1)} ms`);
    return [
      {
        suite: 'compiler', name: 'import resnet18.onnx', value: importTime, unit: 's',
        reference: { label: 'target', value: 0.5, unit: 's' }, note: importTime < 0.5 ? 'meets the < 0.5 s target' : 'misses the < 0.5 s target',
      },
      // Best of many runs for the small model: a single run is shorter than a scheduler time slice.
      await inference('digits_cnn', quick ? 5 : 50, log),
      await inference('resnet18', quick ? 2 : 5, log),
    ];
  },
};
