/**
 * The models the whole-model benchmarks share (runtime.ts, webgpu.ts): ResNet-18 compiled from
 * the large models (VTA_MODELS, see test/data/index.ts), its reference input, and timing
 * inferences through the runtime.
 */
import fs from 'node:fs';
import path from 'node:path';
import { VtaError } from '../isa/errors.ts';
import { encodeModel } from '../compiler/artifact/format.ts';
import { compileOnnx } from '../compiler/compile.ts';
import { readNpy } from '../compiler/tensor/npy.ts';
import type { Tensor } from '../compiler/tensor/tensor.ts';
import { createRuntime, type InferenceProfile, type TargetName } from '../runtime/index.ts';
import { modelFile } from '../test/data/index.ts';
import { timeBest } from './harness.ts';

/**
 * Where models compiled ahead are read from instead of compiling the ONNX models, for a machine
 * that carries no ONNX models (bench/device-bundle.sh): `<name>.<target>.vta` beside
 * `<name>.ref_in.npy`.
 */
export const COMPILED_AHEAD_SETTING = 'VTA_BENCH_COMPILED';

function compiledAhead(file: string): string | undefined {
  const dir = process.env[COMPILED_AHEAD_SETTING];
  if (!dir) return undefined;
  const full = path.join(dir, file);
  if (!fs.existsSync(full)) throw new VtaError('VTA_BENCH', `${file}: not found in ${dir} (${COMPILED_AHEAD_SETTING})`);
  return full;
}

export type ResnetName = 'resnet18' | 'resnet18_int8_qdq';

export function modelInput(name: string): Tensor {
  const file = `${name}.ref_in.npy`;
  return readNpy(fs.readFileSync(compiledAhead(file) ?? modelFile(file)), file);
}

/**
 * A ResNet-18 model compiled for `target` (the float one calibrated on its reference input), as
 * the bytes of a .vta file. Cycles are not measured: only the program matters here.
 */
export function compileResnet18(name: ResnetName, target: TargetName): Uint8Array {
  const ahead = compiledAhead(`${name}.${target}.vta`);
  if (ahead !== undefined) return fs.readFileSync(ahead);
  const x = modelInput(name);
  const compiled = compileOnnx(modelFile(`${name}.onnx`), { target, cycles: 'skip', ...(name === 'resnet18' ? { calibration: [x] } : {}) });
  return encodeModel(compiled.model);
}

export interface Inference {
  /** Best wall time of one inference, in seconds (after a warm-up run). */
  seconds: number;
  /** Best wall time of an inference's device runs (the VTA program), in seconds. */
  deviceSeconds: number;
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
    let deviceMs = Infinity;
    const seconds = await timeBest(async () => {
      output = Object.values(await m.run(feeds))[0]!;
      deviceMs = Math.min(deviceMs, m.profile()!.deviceMs);
    }, repeat);
    return { seconds, deviceSeconds: deviceMs / 1000, profile: m.profile()!, output: output! };
  } finally {
    await rt.close();
  }
}

/** Whether two outputs hold the same bytes (floats compared bit for bit, NaNs included). */
export function sameBytes(a: Tensor, b: Tensor): boolean {
  const bytes = (t: Tensor) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return bytes(a).equals(bytes(b));
}

