/**
 * Compiler front end and CPU reference executor (issue 4's benchmark): ONNX
 * import time of resnet18.onnx, and CPU inference time of digits_cnn and
 * resnet18 beside onnxruntime-node's for the same model and input in the same run;
 * and the whole compile (import, calibration, passes, lowering) of a 306-node
 * Inception-style float graph (issue 14).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { compileOnnx } from '../compiler/compile.ts';
import { execute } from '../compiler/cpu/execute.ts';
import { Tensor } from '../compiler/tensor/tensor.ts';
import { importOnnxFile } from '../compiler/onnx/import.ts';
import { readNpy } from '../compiler/tensor/npy.ts';
import { timeBest, type BenchRow, type BenchSuite } from './harness.ts';
import { modelFile, styleGraphs } from '../test/data/index.ts';


/** vta-compile of the Inception-style graph from float, calibrated on 4 inputs, cycles not measured. */
async function compileInception(repeat: number, log: (msg: string) => void): Promise<BenchRow> {
  const file = path.join(styleGraphs, 'inception_large_op13_init.onnx');
  const shape = [4, 3, 32, 32];
  const calibration = new Tensor('float32', shape, Float32Array.from({ length: 4 * 3 * 32 * 32 }, (_, i) => Math.sin(i * 0.37) * 2));
  let layers = 0;
  const compile = () => {
    layers = compileOnnx(file, { target: 'sim', calibration, firstConv: 'vta', cycles: 'skip' }).report.vta.layers;
  };
  // The first compile in the process is what a user of vta-compile waits for; the best of the rest shows the steady cost.
  const t0 = performance.now();
  compile();
  const cold = (performance.now() - t0) / 1000;
  const t = await timeBest(compile, repeat);
  log(`compile inception_large_op13_init.onnx: first ${cold.toFixed(2)} s, best ${t.toFixed(2)} s, ${layers} VTA layers`);
  return {
    suite: 'compiler', name: 'compile 306-node Inception-style graph (float, calibrated, first run in the process)', value: cold, unit: 's',
    reference: { label: 'target', value: 5, unit: 's' },
    note: `best of ${repeat} later runs ${t.toFixed(2)} s; ${layers} VTA layers; ${cold < 5 ? 'meets' : 'misses'} the < 5 s target`,
  };
}

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
      await compileInception(quick ? 1 : 3, log),
    ];
  },
};
