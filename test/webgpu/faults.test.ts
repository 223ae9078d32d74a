// Faults mid-run on the webgpu target (SwiftShader here): a run past its timeout, and a lost GPU
// device (Dawn's device.destroy() through the driver's diagnostic loseDevice), during a run and
// between runs. Each is reported (or, between runs, recovered from), the driver opens a new device
// and uploads device memory again, and the same loaded model then gives exactly its earlier outputs.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { preset } from '../../isa/config.ts';
import type { Model, Runtime } from '../../runtime/index.ts';
import { WebGpuDriver } from '../../webgpu/driver.ts';
import { WebGpuError } from '../../webgpu/errors.ts';
import { compiledDigits, digitImages, expectSurvives, outputsOf, runtimeOver } from '../runtime/fault-helpers.ts';
import { describeWithWebGpu, webgpuAvailability } from './helpers.ts';

const cfg = preset('default');
const avail = await webgpuAvailability(cfg);
const MEM_BYTES = 8 << 20;
const images = digitImages(2);

describeWithWebGpu(avail, 'faults on webgpu', () => {
  let driver: WebGpuDriver;
  let rt: Runtime;
  let model: Model;
  const expected: Record<string, number[]>[] = [];

  beforeAll(async () => {
    driver = await WebGpuDriver.open({ config: cfg, memBytes: MEM_BYTES, targetOptions: { sramCopies: 8 } });
    ({ rt } = runtimeOver(driver, MEM_BYTES));
    model = await rt.load(compiledDigits('webgpu'), 'digits');
    for (const x of images) expected.push(await outputsOf(model, x));
  }, 300_000);
  afterAll(async () => {
    await rt?.close();
  });

  it('reports a run past its timeout and then runs bit-exactly', async () => {
    await expectSurvives(model, images, expected, () => outputsOf(model, images[1]!, { timeoutMs: 1e-6 }), { code: 'VTA_TIMEOUT', target: 'webgpu' });
  }, 120_000);

  it('reports a device lost during a run, opens a new one and then runs bit-exactly', async () => {
    const before = driver.recoveries;
    driver.loseDevice('next-run');
    await expectSurvives(model, images, expected, () => outputsOf(model, images[0]!), {
      code: 'VTA_WEBGPU',
      message: expect.stringMatching(/^webgpu: run of \d+ instructions at \d+: the GPU device was lost \(.*\); the next operation opens it again/),
    });
    expect(driver.recoveries).toBe(before + 1);
  }, 120_000);

  it('opens a new device after a loss between runs, refusing to read back what only the lost device held', async () => {
    const before = driver.recoveries;
    driver.loseDevice('now');
    // The digits CNN's inner activations were stored by the GPU and never read back: they went with the device.
    const err = await driver.read(0, MEM_BYTES).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebGpuError);
    expect((err as Error).message).toMatch(/were lost with the GPU device/);
    expect(driver.recoveries).toBe(before + 1);
    for (let i = 0; i < images.length; i++) expect(await outputsOf(model, images[i]!)).toEqual(expected[i]);
    // The next inference gave every activation a value again.
    await expect(driver.read(0, MEM_BYTES)).resolves.toHaveLength(MEM_BYTES);
  }, 120_000);
});
