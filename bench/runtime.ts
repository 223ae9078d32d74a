/**
 * Issue 7's benchmark: ResNet-18 end to end through the runtime on `sim` (compile once, then
 * createRuntime -> load -> run per image; CPU operators, copies and the device run included),
 * for the QDQ model and for the float model calibrated on its reference input, beside
 * onnxruntime-node running the float model on the same machine in the same run. Also what the
 * profile says an inference costs: device runs and host<->device bytes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { encodeModel } from '../compiler/artifact/format.ts';
import { compileOnnx } from '../compiler/compile.ts';
import { readNpy } from '../compiler/tensor/npy.ts';
import type { Tensor } from '../compiler/tensor/tensor.ts';
import { createRuntime, type InferenceProfile, type TargetName } from '../runtime/index.ts';
import { timeBest, type BenchRow, type BenchSuite } from './harness.ts';

const models = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../shared/models');

export function modelInput(name: string): Tensor {
  return readNpy(fs.readFileSync(path.join(models, `${name}.ref_in.npy`)), `${name}.ref_in.npy`);
}

/**
 * A ResNet-18 model compiled for `target` (the float one calibrated on its reference input), as
 * the bytes of a .vta file. Cycles are not measured: only the program matters here.
 */
export function compileResnet18(name: 'resnet18' | 'resnet18_int8_qdq', target: TargetName): Uint8Array {
  const x = modelInput(name);
  const compiled = compileOnnx(path.join(models, `${name}.onnx`), { target, cycles: 'skip', ...(name === 'resnet18' ? { calibration: [x] } : {}) });
  return encodeModel(compiled.model);
}

export interface Inference {
  /** Best wall time of one inference, in seconds (after a warm-up run). */
  seconds: number;
  profile: InferenceProfile;
  output: Tensor;
}

/** Loads a compiled model on a fresh runtime of `target` and times `model.run` on `x`. */
export async function timeInference(
  target: TargetName,
  model: Uint8Array,
  name: string,
  x: Tensor,
  repeat: number,
  timeoutMs = 600_000,
): Promise<Inference> {
  const rt = await createRuntime({ target, timeoutMs });
  try {
    const m = await rt.load(model, name);
    const feeds = { [m.inputs[0]!.name]: x };
    let output: Tensor | undefined;
    const seconds = await timeBest(async () => {
      output = Object.values(await m.run(feeds))[0]!;
    }, repeat);
    return { seconds, profile: m.profile()!, output: output! };
  } finally {
    await rt.close();
  }
}

/** Whether two outputs hold the same bytes (floats compared bit for bit, NaNs included). */
export function sameBytes(a: Tensor, b: Tensor): boolean {
  const bytes = (t: Tensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return bytes(a).equals(bytes(b));
}

/** Best wall time of onnxruntime-node (its defaults: every core) on a model file and input. */
async function onnxruntime(file: string, x: Tensor, repeat: number): Promise<number> {
  const session = await ort.InferenceSession.create(file);
  try {
    const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) };
    return await timeBest(() => session.run(feeds), repeat);
  } finally {
    await session.release();
  }
}

export const runtimeSuite: BenchSuite = {
  name: 'runtime',
  async run({ quick, log }) {
    const repeat = quick ? 1 : 3;
    const x = modelInput('resnet18');
    const ortFloat = await onnxruntime(path.join(models, 'resnet18.onnx'), x, quick ? 2 : 10);
    log(`onnxruntime-node resnet18.onnx: ${(ortFloat * 1e3).toFixed(1)} ms`);
    const reference = { label: 'onnxruntime-node, float resnet18.onnx', value: ortFloat, unit: 's/image' };
    const rows: BenchRow[] = [];
    for (const name of ['resnet18_int8_qdq', 'resnet18'] as const) {
      log(`${name}: compiling`);
      const model = compileResnet18(name, 'sim');
      const t = await timeInference('sim', model, name, modelInput(name), repeat);
      const p = t.profile;
      log(`${name} on sim: ${(t.seconds * 1e3).toFixed(1)} ms per image, ${p.deviceRuns} device runs`);
      const what = name === 'resnet18' ? 'resnet18 (float, calibrated on its ref input)' : 'resnet18_int8_qdq';
      rows.push(
        {
          suite: 'runtime',
          name: `${what} end to end on sim (runtime run(), CPU ops included)`,
          value: t.seconds,
          unit: 's/image',
          reference,
          note: `target <= 1 s (TVM C++ fsim 1.01 s); ${(t.seconds / ortFloat).toFixed(1)}x onnxruntime`,
        },
        { suite: 'runtime', name: `${what}: device runs per inference`, value: p.deviceRuns, unit: 'runs' },
        {
          suite: 'runtime',
          name: `${what}: host<->device bytes per inference`,
          value: p.hostToDeviceBytes + p.deviceToHostBytes,
          unit: 'B',
          note: `${p.hostToDeviceBytes} to the device, ${p.deviceToHostBytes} to the host`,
        },
      );
    }
    return rows;
  },
};
