/** Shared by the end-to-end tests: where the data is, compiling a model and loading it on a target. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { encodeModel } from '../../compiler/artifact/format.ts';
import { compileOnnx, type CompileOptions, type CompileResult } from '../../compiler/compile.ts';
import { execute } from '../../compiler/cpu/execute.ts';
import { splitSamples } from '../../compiler/quant/calibrate.ts';
import { readNpy } from '../../compiler/tensor/npy.ts';
import { sizeOf, type Tensor } from '../../compiler/tensor/tensor.ts';
import { bytesPerElement } from '../../compiler/tensor/dtype.ts';
import { dtypeFromProto, shapeOf } from '../../compiler/artifact/values.ts';
import { createRuntime, type Model, type Runtime } from '../../runtime/index.ts';
import type { TargetName } from '../../isa/device.ts';
import { modelFile } from '../data/index.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function npy(name: string): Tensor {
  return readNpy(fs.readFileSync(modelFile(name)), name);
}

/** The 397 held-out digits (1x1x16x16 each) and their labels. */
export function digitsTest(): { x: Tensor[]; y: number[] } {
  return { x: splitSamples(npy('digits_test_x.npy'), [1, 1, 16, 16]), y: npy('digits_test_y.npy').toNumbers() };
}

export function argmax(t: Tensor): number {
  const d = t.data as Float32Array;
  let best = 0;
  for (let i = 1; i < d.length; i++) if (d[i]! > d[best]!) best = i;
  return best;
}

export interface Loaded {
  compiled: CompileResult;
  rt: Runtime;
  model: Model;
  input: string;
}

/** Compiles a model of test/data (or a large one, see test/data/index.ts) and loads the result on `target`. */
export async function compileAndLoad(name: string, opts: Partial<CompileOptions> = {}, target: TargetName = 'sim'): Promise<Loaded> {
  const compiled = compileOnnx(modelFile(`${name}.onnx`), { target, ...opts });
  const rt = await createRuntime({ target });
  const model = await rt.load(encodeModel(compiled.model), name);
  return { compiled, rt, model, input: model.inputs[0]!.name };
}

/**
 * The lowering must have taken every kernel group the passes put on VTA; otherwise the model still
 * runs (those groups on the CPU), but it does not test what it claims to.
 */
export function expectEveryGroupOnVta(c: CompileResult): void {
  const why = c.report.fallbacks.map((f) => `${f.anchor} ${f.source}: ${f.reason}`);
  expect(why, `${why.length} of ${c.compiled.groups.length} VTA kernel groups fell back to the CPU because the lowering cannot run them`).toEqual([]);
}

/** The placed graph on the CPU executor: the oracle the VTA run must equal bit for bit. */
export function cpuReference(c: CompileResult, x: Tensor): Tensor[] {
  return execute(c.compiled.fn, [x]);
}

/** Host<->device bytes one inference must move: the model's copy steps, nothing else. */
export function copyBytes(c: CompileResult): { toDevice: number; toHost: number } {
  let toDevice = 0;
  let toHost = 0;
  for (const s of c.model.steps) {
    if (s.kind.case !== 'copy') continue;
    const info = s.kind.value.info!;
    const bytes = sizeOf(shapeOf(info)) * bytesPerElement(dtypeFromProto(info.dtype, info.name));
    if (s.kind.value.toDevice) toDevice += bytes;
    else toHost += bytes;
  }
  return { toDevice, toHost };
}

/** Cosine similarity of two outputs (the float oracle comparisons against onnxruntime). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i]! * b[i]!;
    aa += a[i]! * a[i]!;
    bb += b[i]! * b[i]!;
  }
  return ab / Math.sqrt(aa * bb);
}
