/**
 * Shared by the fault tests of every target and the soak (test/soak): the bundled digits CNN compiled for a target, a few
 * bundled images, a runtime over a driver the test holds (to inject faults through it), and the
 * check every fault test makes: the fault is reported as a typed error, and the next run of the
 * same loaded model gives exactly the outputs it gave before the fault.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { expect } from 'vitest';
import { encodeModel } from '../../compiler/artifact/format.ts';
import { compileOnnx } from '../../compiler/compile.ts';
import { splitSamples } from '../../compiler/quant/calibrate.ts';
import { readNpy } from '../../compiler/tensor/npy.ts';
import type { Tensor } from '../../compiler/tensor/tensor.ts';
import { Runtime, type Model } from '../../runtime/index.ts';
import type { DeviceDriver, TargetName } from '../../isa/device.ts';
import { DeviceMemory } from '../../runtime/memory.ts';

const example = (p: string) => fileURLToPath(new URL(`../../examples/digits/${p}`, import.meta.url));

/** The bundled digits CNN (examples/digits), calibrated on its bundled images, compiled for `target`. */
export function compiledDigits(target: TargetName, opts: { firstConv?: 'cpu' | 'vta' } = {}): Uint8Array {
  return encodeModel(compileOnnx(example('digits_cnn.onnx'), { target, calibration: example('calib_x.npy'), cycles: 'skip', ...opts }).model);
}

/** The first `n` bundled test images, 1x1x16x16 each. */
export function digitImages(n: number): Tensor[] {
  return splitSamples(readNpy(readFileSync(example('test_x.npy'))), [1, 1, 16, 16]).slice(0, n);
}

/** A runtime over `driver` (which the test keeps, to inject faults), with its device memory. */
export function runtimeOver(driver: DeviceDriver, memBytes: number, timeoutMs = 60_000): { rt: Runtime; memory: DeviceMemory } {
  const memory = new DeviceMemory(driver.config, memBytes);
  return { rt: new Runtime(driver.target, driver.config, driver, memory, pino({ level: 'silent' }), timeoutMs), memory };
}

/** The outputs of one run, as plain arrays (the comparison is exact). */
export async function outputsOf(model: Model, input: Tensor, opts?: { timeoutMs?: number }): Promise<Record<string, number[]>> {
  const out = await model.run({ [model.inputs[0]!.name]: input }, opts);
  return Object.fromEntries(Object.entries(out).map(([k, t]: [string, Tensor]) => [k, Array.from(t.data as ArrayLike<number>)]));
}

/**
 * Runs `faulty` (a run that meets the fault), expects it to reject with an error matching
 * `error`, then expects the next runs of `model` on every image to equal `expected` exactly.
 */
export async function expectSurvives(
  model: Model,
  images: readonly Tensor[],
  expected: readonly Record<string, number[]>[],
  faulty: () => Promise<unknown>,
  error: Record<string, unknown>,
): Promise<void> {
  await expect(faulty()).rejects.toMatchObject(error);
  for (let i = 0; i < images.length; i++) expect(await outputsOf(model, images[i]!), `image ${i} after the fault`).toEqual(expected[i]);
}
