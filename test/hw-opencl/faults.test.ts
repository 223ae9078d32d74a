// Faults mid-run on the intelfocl target (POCL): a run past its timeout (the core stops at its work
// budget) and an OpenCL error reported by the kernel command (injected through the driver's
// diagnostic injectRunError). Each is a typed error, and the same loaded model then gives exactly
// its earlier outputs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenClError } from '../../hw-opencl/errors.ts';
import type { IntelFoclDriver } from '../../hw-opencl/driver.ts';
import type { Model, Runtime } from '../../runtime/index.ts';
import type { DeviceMemory } from '../../runtime/memory.ts';
import { compiledDigits, digitImages, expectSurvives, outputsOf, runtimeOver } from '../runtime/fault-helpers.ts';
import { MEM_BYTES, openPocl } from './util.ts';

const images = digitImages(3);

describe('faults on intelfocl', () => {
  let driver: IntelFoclDriver;
  let rt: Runtime;
  let memory: DeviceMemory;
  let model: Model;
  const expected: Record<string, number[]>[] = [];

  beforeAll(async () => {
    driver = await openPocl();
    ({ rt, memory } = runtimeOver(driver, MEM_BYTES));
    model = await rt.load(compiledDigits('intelfocl'), 'digits');
    for (const x of images) expected.push(await outputsOf(model, x));
  }, 120_000);
  afterAll(async () => {
    await rt?.close();
  });

  it('reports a run past its timeout (the core stops at its budget) and then runs bit-exactly', async () => {
    await expectSurvives(model, images, expected, () => outputsOf(model, images[1]!, { timeoutMs: 1e-6 }), {
      code: 'VTA_TIMEOUT',
      target: 'intelfocl',
      message: expect.stringMatching(/work budget/),
    });
  }, 60_000);

  it('reports an OpenCL error returned mid-run and then runs bit-exactly', async () => {
    for (const [status, name] of [
      [-5, 'CL_OUT_OF_RESOURCES'],
      [-14, 'CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST'],
    ] as const) {
      driver.injectRunError(status);
      await expectSurvives(model, images, expected, () => outputsOf(model, images[2]!), { code: 'VTA_OPENCL', clName: name, clCode: status });
    }
    // The fault is one-shot and the error names what failed.
    driver.injectRunError();
    const err = await outputsOf(model, images[0]!).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenClError);
    expect((err as Error).message).toMatch(/^launching the core \(run of \d+ instructions at \d+\): .*CL_OUT_OF_RESOURCES/);
    expect(await outputsOf(model, images[0]!)).toEqual(expected[0]);
  }, 60_000);

  it('gives back all device memory when the model closes after the faults', async () => {
    const before = memory.freeBytes;
    await model.close();
    expect(memory.freeBytes).toBe(MEM_BYTES);
    expect(before).toBeLessThan(MEM_BYTES);
  });
});
