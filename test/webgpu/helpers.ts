/**
 * Opening the webgpu target for tests. Without an adapter the execution tests are skipped with the
 * reason in their name, and a test that checks the typed error runs instead; with
 * VTA_REQUIRE_WEBGPU=1 (CI, where SwiftShader is installed) a missing adapter fails the suite.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { VtaConfig } from '../../isa/config.ts';
import { encodeProgram } from '../../isa/codec.ts';
import type { ProgramImage } from '../../isa/image.ts';
import { NO_DEPS, type Insn } from '../../isa/index.ts';
import { sramZeroBytes, sramZeroLoads } from '../programs/index.ts';
import { WebGpuUnavailableError } from '../../webgpu/errors.ts';
import { SWIFTSHADER_ICD } from '../../webgpu/gpu.ts';
import { WebGpuDriver } from '../../webgpu/driver.ts';

// Without a GPU, SwiftShader (Debian's chromium package) is the adapter the tests use.
if (process.env.VK_ICD_FILENAMES === undefined && process.env.VK_DRIVER_FILES === undefined && existsSync(SWIFTSHADER_ICD)) {
  process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
}

export interface Availability {
  ok: boolean;
  /** The adapter, or why there is none. */
  detail: string;
  error?: WebGpuUnavailableError;
}

let probed: Promise<Availability> | undefined;

/** Whether a webgpu driver opens here (probed once per test file). */
export function webgpuAvailability(cfg: VtaConfig): Promise<Availability> {
  probed ??= WebGpuDriver.open({ config: cfg, memBytes: 4096 }).then(
    async (d) => {
      const detail = d.adapter;
      await d.close();
      return { ok: true, detail };
    },
    (e: unknown) => {
      if (e instanceof WebGpuUnavailableError) return { ok: false, detail: e.message, error: e };
      throw e;
    },
  );
  return probed;
}

const requireWebGpu = process.env.VTA_REQUIRE_WEBGPU === '1';

/**
 * A describe block that needs an adapter. Without one it is skipped with the reason in its name,
 * or, with VTA_REQUIRE_WEBGPU=1, replaced by one failing test.
 */
export function describeWithWebGpu(avail: Availability, title: string, body: () => void): void {
  if (avail.ok) {
    describe(`${title} (${avail.detail})`, body);
  } else if (requireWebGpu) {
    describe(title, () => {
      it('needs an adapter (VTA_REQUIRE_WEBGPU=1)', () => {
        expect.fail(avail.detail);
      });
    });
  } else {
    describe.skip(`${title} [SKIPPED, no adapter: ${avail.detail}]`, body);
  }
}

/** Loads an image into a fresh driver, runs it, and returns the whole device memory afterwards. */
export async function runImage(
  cfg: VtaConfig,
  image: ProgramImage,
  targetOptions: Record<string, unknown> = {},
): Promise<{ mem: Uint8Array; counters: Record<string, number> }> {
  const d = await WebGpuDriver.open({ config: cfg, memBytes: image.memBytes, targetOptions });
  try {
    for (const s of image.segments) await d.write(s.addr, s.bytes);
    await d.write(image.insnAddr, encodeProgram(cfg, image.insns));
    const r = await d.run(image.insnAddr, image.insns.length, { timeoutMs: 60_000 });
    return { mem: await d.read(0, image.memBytes), counters: r.counters };
  } finally {
    await d.close();
  }
}

/** The device memory an image starts with. */
export function initialMemory(cfg: VtaConfig, image: ProgramImage): Uint8Array {
  const mem = new Uint8Array(image.memBytes);
  for (const s of image.segments) mem.set(s.bytes, s.addr);
  mem.set(encodeProgram(cfg, image.insns), image.insnAddr);
  return mem;
}

/** Device memory a driver needs for `clearSram`'s zero region and stream, after `memBytes`. */
export function clearSramBytes(cfg: VtaConfig): number {
  return 256 + sramZeroBytes(cfg) + 5 * 16;
}

/**
 * Zeroes every SRAM of the driver with one run that loads from a zero region at `at` (aligned to sramZeroAlign,
 * clearSramBytes(cfg) bytes free), so a program starts from the state the functional simulator
 * starts from, whatever the runs before it left.
 */
export async function clearSram(driver: WebGpuDriver, cfg: VtaConfig, at: number): Promise<void> {
  const zeroBytes = clearSramBytes(cfg) - 5 * 16;
  const insns: Insn[] = [
    ...sramZeroLoads(cfg, at),
    { ...NO_DEPS, opcode: 'FINISH', pop_prev_dep: 1 },
  ];
  await driver.write(at, new Uint8Array(zeroBytes));
  await driver.write(at + zeroBytes, encodeProgram(cfg, insns));
  await driver.run(at + zeroBytes, insns.length, { timeoutMs: 60_000 });
}
