/**
 * The Chisel core under Verilator (the `tsim` target) against the functional simulator: every
 * program of the shared corpus, plus programs aimed at this core's own mechanisms (the micro-op
 * word unpacker, accumulator forwarding between back-to-back micro-ops, bursts split at 256
 * beats), at several DRAM latencies. Outputs and VTA's profiler counters must match bit-exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preset } from '../../isa/config.ts';
import { encodeProgram } from '../../isa/codec.ts';
import { ProgramError, VtaError } from '../../isa/errors.ts';
import { NO_DEPS, type Insn, type Uop } from '../../isa/types.ts';
import { runImage } from '../../sim/fsim.ts';
import { buildTsim } from '../../hw-chisel/build.ts';
import { TsimDriver } from '../../hw-chisel/driver.ts';
import { RunTimeoutError } from '../../isa/device-errors.ts';
import { ProgramBuilder, rng } from '../programs/builder.ts';
import { testPrograms, type TestProgram } from '../programs/index.ts';

const cfg = preset('default');
const LANES = cfg.BATCH * cfg.BLOCK_OUT;
const MEM_BYTES = 4 << 20;

async function runOn(drv: TsimDriver, p: TestProgram) {
  for (const s of p.image.segments) await drv.write(s.addr, s.bytes);
  await drv.write(p.image.insnAddr, encodeProgram(cfg, p.image.insns));
  const result = await drv.run(p.image.insnAddr, p.image.insns.length, { timeoutMs: 60_000 });
  // Completion cycles: one per instruction, FINISH last, at the run's cycle count.
  const done = Array.from(result.insnCycles!);
  expect(done).toHaveLength(p.image.insns.length);
  expect(Math.max(...done)).toBe(result.counters.cycles);
  expect(done[done.length - 1]).toBe(result.counters.cycles);
  const outputs = new Map<string, Uint8Array>();
  for (const name of p.outputs) {
    const seg = p.image.segments.find((s) => s.name === name)!;
    outputs.set(name, await drv.read(seg.addr, seg.bytes.length));
  }
  return { counters: result.counters, outputs };
}

async function expectSameAsFsim(drv: TsimDriver, p: TestProgram): Promise<void> {
  const ref = runImage(cfg, p.image);
  const got = await runOn(drv, p);
  for (const name of p.outputs) expect(got.outputs.get(name), `${p.name}: region ${name}`).toEqual(ref.regions.get(name));
  expect(got.counters, p.name).toMatchObject({ ...ref.counters });
  expect(got.counters.cycles).toBeGreaterThan(0);
}

const int8s = (r: ReturnType<typeof rng>, n: number) => Array.from({ length: n }, () => r.int(-128, 127));
const int32s = (r: ReturnType<typeof rng>, n: number) => Array.from({ length: n }, () => r.int(-(2 ** 31), 2 ** 31 - 1));

/** Micro-op loads at odd word addresses, odd and even strides, and several rows. */
function oddUops(): TestProgram {
  const r = rng(11);
  const b = new ProgramBuilder(cfg);
  const acc = b.data('acc', 'i32', int32s(r, 16 * LANES));
  const uops: Uop[] = Array.from({ length: 12 }, (_, k) => ({ dst_idx: 16 + k, src_idx: (5 * k) % 16, wgt_idx: 0 }));
  const u = b.uops('u', uops);
  const out = b.zero('out', 2 * 16 * LANES);
  b.load('ACC', { sram_base: 0, dram_base: b.base(acc, 'ACC'), y_size: 1, x_size: 16, x_stride: 16 });
  b.load('ACC', { sram_base: 16, dram_base: b.base(acc, 'ACC'), y_size: 1, x_size: 16, x_stride: 16 });
  // Rows at words 1, 4, 7 (odd, even, odd starts) and one single-word row at word 11.
  b.load('UOP', { sram_base: 0, dram_base: b.base(u, 'UOP') + 1, y_size: 3, x_size: 3, x_stride: 3 });
  b.load('UOP', { sram_base: 9, dram_base: b.base(u, 'UOP') + 11, y_size: 1, x_size: 1, x_stride: 1 });
  b.alu('ADD', { uop_bgn: 0, uop_end: 10, iter_out: 1, iter_in: 1 });
  b.alu('MUL', { uop_bgn: 0, uop_end: 10, iter_out: 1, iter_in: 1, imm: 3 });
  b.store({ sram_base: 0, dram_base: b.base(out, 'OUT'), y_size: 2, x_size: 16, x_stride: 16 });
  b.finish();
  return { name: 'odd-uops', image: b.image(), outputs: ['out'] };
}

/** Back-to-back micro-ops on one accumulator row: GEMM sums, chained tensor ALU, immediate chains. */
function forwarding(): TestProgram {
  const r = rng(12);
  const b = new ProgramBuilder(cfg);
  const inp = b.data('inp', 'i8', int8s(r, 8 * cfg.BATCH * cfg.BLOCK_IN));
  const wgt = b.data('wgt', 'i8', int8s(r, 4 * cfg.BLOCK_OUT * cfg.BLOCK_IN));
  const acc = b.data('acc', 'i32', int32s(r, 8 * LANES).map((v) => v >> 12));
  const uops: Uop[] = [
    ...Array.from({ length: 8 }, (_, k) => ({ dst_idx: 0, src_idx: k, wgt_idx: k % 4 })),
    // a chain: row 9 += row 8, row 10 += row 9, ...
    ...Array.from({ length: 6 }, (_, k) => ({ dst_idx: 9 + k, src_idx: 8 + k, wgt_idx: 0 })),
    { dst_idx: 20, src_idx: 20, wgt_idx: 0 },
  ];
  const u = b.uops('u', uops);
  const out = b.zero('out', 32 * LANES);
  b.load('UOP', { sram_base: 0, dram_base: b.base(u, 'UOP'), y_size: 1, x_size: uops.length, x_stride: uops.length });
  // Every row the store reads is written first (a run must not depend on earlier SRAM contents).
  b.gemm({ reset_reg: 1, uop_bgn: 0, uop_end: 1, iter_out: 32, iter_in: 1, dst_factor_out: 1 });
  b.load('INP', { sram_base: 0, dram_base: b.base(inp, 'INP'), y_size: 1, x_size: 8, x_stride: 8 });
  b.load('WGT', { sram_base: 0, dram_base: b.base(wgt, 'WGT'), y_size: 1, x_size: 4, x_stride: 4 });
  b.load('ACC', { sram_base: 8, dram_base: b.base(acc, 'ACC'), y_size: 1, x_size: 8, x_stride: 8 });
  b.load('ACC', { sram_base: 20, dram_base: b.base(acc, 'ACC'), y_size: 1, x_size: 1, x_stride: 1 });
  b.gemm({ reset_reg: 1, uop_bgn: 0, uop_end: 1, iter_out: 1, iter_in: 1 });
  // Eight micro-ops, twice over, all into acc[0].
  b.gemm({ uop_bgn: 0, uop_end: 8, iter_out: 2, iter_in: 1 });
  b.alu('ADD', { uop_bgn: 8, uop_end: 14, iter_out: 1, iter_in: 1 });
  b.alu('SHR', { uop_bgn: 8, uop_end: 14, iter_out: 1, iter_in: 1, imm: 1 });
  b.alu('ADD', { uop_bgn: 14, uop_end: 15, iter_out: 5, iter_in: 3, imm: 7 });
  b.alu('MUL', { uop_bgn: 14, uop_end: 15, iter_out: 3, iter_in: 1, imm: -3 });
  b.alu('MAX', { uop_bgn: 14, uop_end: 15, iter_out: 1, iter_in: 4 });
  b.store({ sram_base: 0, dram_base: b.base(out, 'OUT'), y_size: 1, x_size: 32, x_stride: 32 });
  b.finish();
  return { name: 'forwarding', image: b.image(), outputs: ['out'] };
}

/** Rows longer than one 256-beat burst on every engine. */
function longBursts(): TestProgram {
  const r = rng(13);
  const b = new ProgramBuilder(cfg);
  const n = 300;
  const inp = b.data('inp', 'i8', int8s(r, n * cfg.BATCH * cfg.BLOCK_IN));
  const wgt = b.data('wgt', 'i8', int8s(r, 9 * cfg.BLOCK_OUT * cfg.BLOCK_IN));
  const acc = b.data('acc', 'i32', int32s(r, 40 * LANES));
  const u = b.uops('u', Array.from({ length: 600 }, (_, k) => ({ dst_idx: k % n, src_idx: k % n, wgt_idx: k % 9 })));
  const out = b.zero('out', 2 * n * LANES);
  b.load('UOP', { sram_base: 0, dram_base: b.base(u, 'UOP'), y_size: 1, x_size: 600, x_stride: 600 });
  b.load('INP', { sram_base: 0, dram_base: b.base(inp, 'INP'), y_size: 1, x_size: n, x_stride: n });
  b.load('WGT', { sram_base: 0, dram_base: b.base(wgt, 'WGT'), y_size: 1, x_size: 9, x_stride: 9 });
  b.gemm({ reset_reg: 1, uop_bgn: 0, uop_end: 1, iter_out: n, iter_in: 1, dst_factor_out: 1 });
  b.load('ACC', { sram_base: 0, dram_base: b.base(acc, 'ACC'), y_size: 1, x_size: 40, x_stride: 40 });
  b.gemm({ uop_bgn: 0, uop_end: 600, iter_out: 1, iter_in: 1 });
  b.store({ sram_base: 0, dram_base: b.base(out, 'OUT'), y_size: 2, x_size: n / 2, x_stride: n });
  b.finish();
  return { name: 'long-bursts', image: b.image(), outputs: ['out'] };
}

const corpus = testPrograms(cfg);
const own = [oddUops(), forwarding(), longBursts()];

describe('tsim (Chisel core in Verilator)', () => {
  let drv: TsimDriver;
  beforeAll(async () => {
    buildTsim();
    drv = await TsimDriver.open({ config: cfg, memBytes: MEM_BYTES });
  });
  afterAll(async () => {
    await drv?.close();
  });

  // A fresh core per corpus program, as the functional simulator's zeroed SRAM: strided-stores
  // stores accumulator rows 16-19, which it never writes.
  it.each(corpus.map((p) => [p.name, p] as const))('corpus program %s matches the functional simulator', async (_, p) => {
    const d = await TsimDriver.open({ config: cfg, memBytes: MEM_BYTES });
    try {
      await expectSameAsFsim(d, p);
    } finally {
      await d.close();
    }
  });

  // The core-specific programs share one core: SRAM contents carry over between runs, as on hardware.

  it.each(own.map((p) => [p.name, p] as const))('%s matches the functional simulator', async (_, p) => {
    await expectSameAsFsim(drv, p);
  });

  it.each([0, 1, 200])('gives the same results with a DRAM latency of %i cycles', async (dramLatency) => {
    const d = await TsimDriver.open({ config: cfg, memBytes: MEM_BYTES, targetOptions: { dramLatency } });
    try {
      for (const p of [...own, corpus.find((c) => c.name === 'double-buffer')!]) await expectSameAsFsim(d, p);
    } finally {
      await d.close();
    }
  });

  it('counts the same cycles on every run of a program (reset state is defined)', async () => {
    const p = corpus.find((c) => c.name === 'random-3')!;
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) {
      const d = await TsimDriver.open({ config: cfg, memBytes: MEM_BYTES });
      try {
        runs.push((await runOn(d, p)).counters.cycles!);
        runs.push((await runOn(d, p)).counters.cycles!);
      } finally {
        await d.close();
      }
    }
    expect(new Set(runs).size).toBe(1);
  });

  it('rejects an invalid stream before the core sees it, and stays usable', async () => {
    const bad: Insn[] = [{ ...NO_DEPS, opcode: 'GEMM', reset_reg: 0, uop_bgn: 5, uop_end: 2, iter_out: 1, iter_in: 1, dst_factor_out: 0, dst_factor_in: 0, src_factor_out: 0, src_factor_in: 0, wgt_factor_out: 0, wgt_factor_in: 0 }, { ...NO_DEPS, opcode: 'FINISH' }];
    await drv.write(0, encodeProgram(cfg, bad));
    await expect(drv.run(0, 2, { timeoutMs: 1000 })).rejects.toBeInstanceOf(ProgramError);
    await expectSameAsFsim(drv, own[0]!);
  });

  it('times out a long run with a typed error, resets the core and runs the next program', async () => {
    const loop = { reset_reg: 0 as const, uop_bgn: 0, uop_end: 1, iter_out: 16383, iter_in: 16383, dst_factor_out: 0, dst_factor_in: 0, src_factor_out: 0, src_factor_in: 0, wgt_factor_out: 0, wgt_factor_in: 0 };
    // One zero micro-op at byte 4096, loaded by the stream itself (a run may not rely on earlier uop SRAM).
    const uopLoad: Insn = { ...NO_DEPS, opcode: 'LOAD', memory_type: 'UOP', sram_base: 0, dram_base: 4096 / 4, y_size: 1, x_size: 1, x_stride: 1, y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0 };
    const prog: Insn[] = [uopLoad, { ...NO_DEPS, opcode: 'GEMM', ...loop }, { ...NO_DEPS, opcode: 'FINISH' }];
    await drv.write(4096, new Uint8Array(4));
    await drv.write(0, encodeProgram(cfg, prog));
    const err = await drv.run(0, prog.length, { timeoutMs: 200 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunTimeoutError);
    expect((err as VtaError).code).toBe('VTA_TIMEOUT');
    await expectSameAsFsim(drv, own[1]!);
  });

  it('refuses a configuration the core was not generated for, unknown options, and use after close', async () => {
    await expect(TsimDriver.open({ config: preset('intelfocl'), memBytes: MEM_BYTES })).rejects.toMatchObject({ code: 'VTA_CONFIG_MISMATCH' });
    await expect(TsimDriver.open({ config: cfg, memBytes: MEM_BYTES, targetOptions: { latency: 3 } })).rejects.toMatchObject({ code: 'VTA_TARGET_OPTION' });
    const d = await TsimDriver.open({ config: cfg, memBytes: 1024 });
    await expect(d.write(1000, new Uint8Array(100))).rejects.toMatchObject({ code: 'VTA_DEVICE_RANGE' });
    await d.close();
    await expect(d.read(0, 4)).rejects.toMatchObject({ code: 'VTA_DEVICE_CLOSED' });
  });
});

