/**
 * The intelfocl host driver: host-side rejection of malformed streams, timeouts that leave the
 * device usable, and OpenCL failures as typed errors carrying the OpenCL status name.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../../isa/asm.ts';
import { configJson, makeConfig, type VtaConfig } from '../../isa/config.ts';
import { encodeProgram } from '../../isa/codec.ts';
import { DeadlockError, DecodeError, ProgramError } from '../../isa/errors.ts';
import { IntelFoclDriver } from '../../hw-opencl/driver.ts';
import { OpenClError, PlatformNotFoundError } from '../../hw-opencl/errors.ts';
import { DeviceClosedError, DeviceRangeError, RunTimeoutError } from '../../isa/device-errors.ts';
import { CORE_KERNEL_NAME, coreBuildOptions, coreSource, STATE, STATUS } from '../../hw-opencl/kernel.ts';
import { nativeModule } from '../../hw-opencl/native.ts';
import { cfg, ensureAddon, list, loadImage, openPocl, runImage } from './util.ts';

let drv: IntelFoclDriver;
beforeAll(async () => {
  drv = await openPocl();
});
afterAll(async () => {
  await drv?.close();
});

/** A program whose valid prefix stores zeros over region `sentinel`; `tail` is spliced before FINISH. */
function guarded(tail: string[], finish = ['finish pop_next_dep']): string {
  return [
    `.data sentinel i8 ${list(new Array(32).fill(0x55))}`,
    '.uops u 0,0,0 2000,0,0',
    'load uop sram_base=0 dram_base=u y_size=1 x_size=2 x_stride=2',
    'gemm reset_reg uop_bgn=0 uop_end=1 iter_out=2 iter_in=1 dst_factor_out=1 push_next_dep',
    'store out sram_base=0 dram_base=sentinel y_size=1 x_size=2 x_stride=2 pop_prev_dep push_prev_dep',
    ...tail,
    ...finish,
  ].join('\n');
}

async function expectRejectedBeforeDevice(text: string, mutate: (stream: Uint8Array) => void, errorClass: Function, code: string) {
  const image = assemble(cfg, text, 'malformed.s');
  await loadImage(drv, image);
  const stream = encodeProgram(cfg, image.insns);
  mutate(stream);
  await drv.write(image.insnAddr, stream);
  const err = await drv.run(image.insnAddr, image.insns.length, { timeoutMs: 10_000 }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(errorClass);
  expect((err as { code: string }).code).toBe(code);
  // Had any instruction reached the core, the STORE would have overwritten the sentinel.
  const sentinel = image.segments.find((s) => s.name === 'sentinel')!;
  expect(Array.from(await drv.read(sentinel.addr, 32))).toEqual(new Array(32).fill(0x55));
}

const none = () => undefined;

describe('intelfocl driver: host-side validation', () => {
  it('a well-formed guard program does reach the core (the sentinel check works)', async () => {
    const ran = await runImage(drv, assemble(cfg, guarded([]), 'ok.s'));
    expect(Array.from(await ran.bytes('sentinel'))).toEqual(new Array(32).fill(0));
  });

  it('rejects a reserved bit', async () => {
    // bit 63 is unused by GEMM (instruction 1)
    await expectRejectedBeforeDevice(guarded([]), (s) => (s[16 + 7]! |= 0x80), DecodeError, 'VTA_DECODE');
  });

  it('rejects an unknown opcode', async () => {
    await expectRejectedBeforeDevice(guarded([]), (s) => (s[16 * 3]! |= 0x7), DecodeError, 'VTA_DECODE');
  });

  it('rejects a stream without FINISH', async () => {
    await expectRejectedBeforeDevice(guarded(['alu add uop_bgn=0 uop_end=1 iter_out=1 iter_in=1 use_imm imm=1'], []), none, ProgramError, 'VTA_PROGRAM');
  });

  it('rejects tokens that deadlock', async () => {
    await expectRejectedBeforeDevice(guarded(['alu add uop_bgn=0 uop_end=1 iter_out=1 iter_in=1 use_imm imm=1 pop_prev_dep']), none, DeadlockError, 'VTA_DEADLOCK');
  });

  it('rejects a DRAM range outside the device buffer', async () => {
    const far = drv.memBytes / 16; // the first 16-byte ACC_8BIT element past the end
    await expectRejectedBeforeDevice(
      guarded([`load acc_8bit sram_base=0 dram_base=${far} y_size=1 x_size=1 x_stride=1`]),
      none,
      ProgramError,
      'VTA_PROGRAM',
    );
  });

  it('rejects micro-op indices past the accumulator', async () => {
    // uop 1 has dst 2000; 60 outer iterations reach 2059 >= 2048
    await expectRejectedBeforeDevice(
      guarded(['alu add uop_bgn=1 uop_end=2 iter_out=60 iter_in=1 dst_factor_out=1 use_imm imm=1']),
      none,
      ProgramError,
      'VTA_PROGRAM',
    );
  });

  it('rejects micro-ops that no load of the stream wrote', async () => {
    await expectRejectedBeforeDevice(guarded(['alu add uop_bgn=5 uop_end=6 iter_out=1 iter_in=1 use_imm imm=1']), none, ProgramError, 'VTA_PROGRAM');
  });

  it('checks again when the micro-ops of a stream it has validated before change', async () => {
    const image = assemble(cfg, guarded(['alu add uop_bgn=1 uop_end=2 iter_out=40 iter_in=1 dst_factor_out=1 use_imm imm=1']), 'cached.s');
    await runImage(drv, image); // dst 2000 + 39 < 2048: valid
    const u = image.segments.find((s) => s.name === 'u')!;
    const sentinel = image.segments.find((s) => s.name === 'sentinel')!;
    await drv.write(sentinel.addr, new Uint8Array(32).fill(0x55));
    await drv.write(u.addr + 4, new Uint8Array(Uint32Array.of(2047).buffer)); // dst 2047 + 39 overflows
    const err = await drv.run(image.insnAddr, image.insns.length, { timeoutMs: 10_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProgramError);
    expect(Array.from(await drv.read(sentinel.addr, 32))).toEqual(new Array(32).fill(0x55));
  });

  it('rejects copies outside the device buffer and unaligned streams', async () => {
    await expect(drv.write(drv.memBytes - 4, new Uint8Array(8))).rejects.toBeInstanceOf(DeviceRangeError);
    await expect(drv.read(-1, 4)).rejects.toBeInstanceOf(DeviceRangeError);
    await expect(drv.run(8, 1, { timeoutMs: 1000 })).rejects.toBeInstanceOf(DeviceRangeError);
  });
});

/** A valid GEMM loop of about 2.7e8 micro-ops in one instruction: far longer than any timeout below. */
const RUNAWAY = [
  '.uops u 0,0,0',
  'load uop sram_base=0 dram_base=u y_size=1 x_size=1 x_stride=1',
  'gemm uop_bgn=0 uop_end=1 iter_out=16383 iter_in=16383',
  'finish',
].join('\n');

/** About 2e8 micro-ops in 3000 short instructions, so the core keeps running past the wall-clock timeout. */
const LONG_STREAM = [
  '.uops u 0,0,0',
  'load uop sram_base=0 dram_base=u y_size=1 x_size=1 x_stride=1',
  ...new Array(3000).fill('gemm uop_bgn=0 uop_end=1 iter_out=256 iter_in=256'),
  'finish',
].join('\n');

const SMALL = [
  '.data x i8 ' + list(Array.from({ length: 16 }, (_, i) => i - 8)),
  '.uops u 0,0,0',
  '.zero y i8 16',
  'load uop sram_base=0 dram_base=u y_size=1 x_size=1 x_stride=1',
  'load acc_8bit sram_base=0 dram_base=x y_size=1 x_size=1 x_stride=1',
  'alu mul uop_bgn=0 uop_end=1 iter_out=1 iter_in=1 use_imm imm=3 push_next_dep',
  'store out sram_base=0 dram_base=y y_size=1 x_size=1 x_stride=1 pop_prev_dep push_prev_dep',
  'finish pop_next_dep',
].join('\n');
const SMALL_EXPECTED = Array.from({ length: 16 }, (_, i) => (i - 8) * 3);

describe('intelfocl driver: timeouts', () => {
  it('reports a run past its timeout while the core still runs, then serves the next run', async () => {
    // A fixed rate (no calibration under a busy machine's noise) whose budget, 200 ms x 150000 x 8
    // units = 1.5e7 GEMM micro-ops, outlasts the 200 ms wall clock on any CPU.
    const d = await openPocl({ workUnitsPerMs: 150_000 });
    try {
      const err = await runImage(d, assemble(cfg, LONG_STREAM, 'long.s'), 200).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RunTimeoutError);
      expect((err as RunTimeoutError).code).toBe('VTA_TIMEOUT');
      expect((err as Error).message).toMatch(/did not finish within 200 ms; the core stops at its work budget/);
      // Operations issued at once, while the kernel still runs, queue behind it in order.
      const bytes = Uint8Array.from({ length: 64 }, (_, i) => i);
      const [, readBack] = await Promise.all([d.write(1 << 20, bytes), d.read(1 << 20, 64), d.write(1 << 20, new Uint8Array(64))]);
      expect(Array.from(readBack)).toEqual(Array.from(bytes));
      const ran = await runImage(d, assemble(cfg, SMALL, 'small.s'));
      expect(Array.from(await ran.i8('y'))).toEqual(SMALL_EXPECTED);
    } finally {
      await d.close();
    }
  });

  it('does not start an instruction that cannot finish within the budget', async () => {
    const err = await runImage(drv, assemble(cfg, RUNAWAY, 'runaway.s'), 200).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunTimeoutError);
    expect((err as Error).message).toMatch(/work budget of \d+ units and stopped before instruction 1/);
    const ran = await runImage(drv, assemble(cfg, SMALL, 'small.s'));
    expect(Array.from(await ran.i8('y'))).toEqual(SMALL_EXPECTED);
  });

  it('stops the core at its work budget, then serves the next run', async () => {
    // A tiny rate makes the budget, not the wall clock, end the run.
    const slow = await openPocl({ workUnitsPerMs: 10 });
    try {
      const err = await runImage(slow, assemble(cfg, LONG_STREAM, 'long.s'), 1000).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RunTimeoutError);
      expect((err as Error).message).toMatch(/work budget of \d+ units and stopped before instruction 1/);
      const ran = await runImage(slow, assemble(cfg, SMALL, 'small.s'), 1000);
      expect(Array.from(await ran.i8('y'))).toEqual(SMALL_EXPECTED);
    } finally {
      await slow.close();
    }
  });
});

describe('intelfocl core: its own checks, with the host validator bypassed', () => {
  it('stops on what the validator would have rejected, without touching memory outside', async () => {
    ensureAddon();
    const dev = new (nativeModule().Device)(0, 0);
    try {
      await dev.buildSource(coreSource(cfg), coreBuildOptions(), CORE_KERNEL_NAME);
      const memBytes = 1 << 16;
      const buf = dev.createBuffer(memBytes);
      const state = async (lines: string[]) => {
        const image = assemble(cfg, ['.uops u 2000,0,0', ...lines].join('\n'), 'raw.s');
        for (const seg of image.segments) await dev.write(buf, seg.addr, seg.bytes);
        await dev.write(buf, image.insnAddr, encodeProgram(cfg, image.insns));
        const r = await dev.run(buf, image.insnAddr / 16, image.insns.length, 1e9);
        return [r.status[STATUS.state], r.status[STATUS.index]];
      };
      const loadUop = 'load uop sram_base=0 dram_base=u y_size=1 x_size=1 x_stride=1';
      expect(await state([loadUop, 'gemm reset_reg uop_bgn=0 uop_end=1 iter_out=60 iter_in=1 dst_factor_out=1', 'finish'])).toEqual([STATE.SRAM_RANGE, 1]);
      expect(await state([loadUop, `load acc sram_base=0 dram_base=${memBytes / 64} y_size=1 x_size=1 x_stride=1`, 'finish'])).toEqual([STATE.DRAM_RANGE, 1]);
      expect(await state([loadUop, 'alu add uop_bgn=0 uop_end=1 iter_out=1 iter_in=1 use_imm imm=1 pop_prev_dep', 'finish'])).toEqual([STATE.DEADLOCK, 1]);
      expect(await state([loadUop])).toEqual([STATE.NO_FINISH, 1]);
      expect(await state([loadUop, 'finish'])).toEqual([STATE.FINISHED, 1]);
    } finally {
      dev.release();
    }
  });
});

describe('intelfocl driver: OpenCL errors', () => {
  it('names the OpenCL status of a failed allocation', async () => {
    ensureAddon();
    const info = nativeModule().platforms()[0]!.devices[0]!;
    const err = await openPocl({}, info.maxAllocBytes + 4096).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenClError);
    expect((err as OpenClError).clName).toBe('CL_INVALID_BUFFER_SIZE');
    expect((err as OpenClError).code).toBe('VTA_OPENCL');
    expect((err as Error).message).toContain('CL_INVALID_BUFFER_SIZE');
  });

  it('names the OpenCL status of a bad device binary', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vta-ocl-'));
    const bogus = join(dir, 'bogus.aocx');
    writeFileSync(bogus, 'not a device binary');
    const err = await openPocl({ binary: bogus }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenClError);
    expect((err as OpenClError).clName).toBe('CL_INVALID_BINARY');
  });

  it('carries the build log of a failed source build', async () => {
    ensureAddon();
    const native = nativeModule();
    const dev = new native.Device(0, 0);
    try {
      const bad = coreSource(cfg).replace('uint module_of(', 'uint module_of(undeclared_type x, ');
      const err = await dev.buildSource(bad, coreBuildOptions(), CORE_KERNEL_NAME).catch((e: unknown) => e);
      expect((err as { clName: string }).clName).toBe('CL_BUILD_PROGRAM_FAILURE');
      expect((err as { buildLog: string }).buildLog).toMatch(/undeclared_type/);
      const err2 = await dev.buildSource(coreSource(cfg), coreBuildOptions(), 'no_such_kernel').catch((e: unknown) => e);
      expect((err2 as { clName: string }).clName).toBe('CL_INVALID_KERNEL_NAME');
    } finally {
      dev.release();
    }
  });

  it('loads a prebuilt device binary, and refuses one built for another configuration', async () => {
    ensureAddon();
    const native = nativeModule();
    const dir = mkdtempSync(join(tmpdir(), 'vta-ocl-'));
    const other = makeConfig({ ...configJson(cfg), name: 'block8', LOG_BLOCK: 3, LOG_INP_BUFF_SIZE: 14, LOG_WGT_BUFF_SIZE: 16, LOG_ACC_BUFF_SIZE: 16 });
    const build = async (c: VtaConfig, file: string) => {
      const dev = new native.Device(0, 0);
      try {
        await dev.buildSource(coreSource(c), coreBuildOptions(), CORE_KERNEL_NAME);
        writeFileSync(file, dev.programBinary());
      } finally {
        dev.release();
      }
    };
    await build(cfg, join(dir, 'default.bin'));
    await build(other, join(dir, 'block8.bin'));
    const prebuilt = await openPocl({ binary: join(dir, 'default.bin') });
    try {
      const ran = await runImage(prebuilt, assemble(cfg, SMALL, 'small.s'));
      expect(Array.from(await ran.i8('y'))).toEqual(SMALL_EXPECTED);
    } finally {
      await prebuilt.close();
    }
    const err = await openPocl({ binary: join(dir, 'block8.bin') }).catch((e: unknown) => e);
    expect((err as { code: string }).code).toBe('VTA_OPENCL_CONFIG');
  });

  it('reports an unknown platform by name', async () => {
    const err = await openPocl({ platform: 'No Such Platform' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlatformNotFoundError);
    expect((err as Error).message).toContain('Portable Computing Language');
  });

  it('picks a platform the user names', async () => {
    const named = await openPocl({ platform: 'portable computing' });
    try {
      expect(named.platform.platformName).toBe('Portable Computing Language');
      expect(named.platform.intelFpga).toBe(false);
    } finally {
      await named.close();
    }
  });

  it('rejects every call after close', async () => {
    const d = await openPocl();
    await d.close();
    await expect(d.read(0, 4)).rejects.toBeInstanceOf(DeviceClosedError);
    await expect(d.close()).rejects.toBeInstanceOf(DeviceClosedError);
  });
});
