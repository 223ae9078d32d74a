/**
 * Issue 7's benchmark: ResNet-18 end to end through the runtime on `sim` (compile once, then
 * createRuntime -> load -> run per image; CPU operators, copies and the device run included),
 * for the QDQ model and for the float model calibrated on its reference input, beside
 * onnxruntime-node running the float model on the same machine in the same run. Also what the
 * profile says an inference costs: device runs and host<->device bytes.
 */
import * as ort from 'onnxruntime-node';
import type { Tensor } from '../compiler/tensor/tensor.ts';
import { timeBest, type BenchRow, type BenchSuite } from './harness.ts';
import { modelFile } from '../test/data/index.ts';
import { compileResnet18, modelInput, timeInference } from './models.ts';

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
    const repeat = quick ? 1 : 8;
    const x = modelInput('resnet18');
    const ortFloat = await onnxruntime(modelFile('resnet18.onnx'), x, quick ? 2 : 10);
    log(`onnxruntime-node resnet18.onnx: ${(ortFloat * 1e3).toFixed(1)} ms`);
    const reference = { label: 'onnxruntime-node, float resnet18.onnx', value: ortFloat, unit: 's/image' };
    const rows: BenchRow[] = [];
    for (const name of ['resnet18_int8_qdq', 'resnet18'] as const) {
      log(`${name}: compiling`);
      const model = compileResnet18(name, 'sim');
      const t = await timeInference('sim', model, name, modelInput(name), repeat);
      const p = t.profile;
      log(`${name} on sim: ${(t.seconds * 1e3).toFixed(1)} ms per image (device ${(t.deviceSeconds * 1e3).toFixed(1)} ms), ${p.deviceRuns} device runs`);
      const what = name === 'resnet18' ? 'resnet18 (float, calibrated on its ref input)' : 'resnet18_int8_qdq';
      rows.push(
        {
          suite: 'runtime',
          name: `${what} end to end on sim (runtime run(), CPU ops included)`,
          value: t.seconds,
          unit: 's/image',
          reference,
          note: `goal <= 0.15 s (issue 15; issue 7: <= 1 s, TVM C++ fsim 1.01 s); ${(t.seconds / ortFloat).toFixed(1)}x onnxruntime`,
        },
        {
          suite: 'runtime',
          name: `${what}: device run wall time per inference (profile deviceMs)`,
          value: t.deviceSeconds,
          unit: 's/image',
          note: `the rest of the inference, ${((t.seconds - t.deviceSeconds) * 1e3).toFixed(1)} ms, is the host's operators and copies`,
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
