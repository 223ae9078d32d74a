/**
 * The `sim` device driver as the runtime uses it: copy data and the encoded stream into device
 * memory, run from an offset, read results; checked against the naive reference.
 */
import { describe, expect, it } from 'vitest';
import { DeadlockError, DecodeError, encodeProgram, NO_DEPS, preset, VtaError, type Insn } from '../../isa/index.ts';
import { createSimDriver } from '../../sim/driver.ts';
import { testPrograms } from '../programs/index.ts';
import { referenceRun } from './reference.ts';

const cfg = preset('default');

describe('sim driver', () => {
  it.each(testPrograms(cfg).map((p) => [p.name, p] as const))('runs %s from device memory', async (_n, p) => {
    const drv = await createSimDriver({ config: cfg, memBytes: p.image.memBytes });
    expect(drv.target).toBe('sim');
    for (const s of p.image.segments) await drv.write(s.addr, s.bytes);
    await drv.write(p.image.insnAddr, encodeProgram(cfg, p.image.insns));
    const result = await drv.run(p.image.insnAddr, p.image.insns.length, { timeoutMs: 60_000 });
    const ref = referenceRun(cfg, p.image);
    expect(result.counters).toEqual({ ...ref.machine.counters });
    for (const name of p.outputs) {
      const seg = p.image.segments.find((s) => s.name === name)!;
      expect(Buffer.from(await drv.read(seg.addr, seg.bytes.length)).equals(Buffer.from(ref.memory.subarray(seg.addr, seg.addr + seg.bytes.length)))).toBe(true);
    }
    await drv.close();
  });

  it('decodes a stream again when its bytes change in place between runs', async () => {
    const p = testPrograms(cfg).find((q) => q.image.insns.some((i) => i.opcode === 'GEMM'))!;
    const drv = await createSimDriver({ config: cfg, memBytes: p.image.memBytes });
    const stream = encodeProgram(cfg, p.image.insns);
    const n = p.image.insns.length;
    const ref = referenceRun(cfg, p.image);
    const runOnce = async () => {
      for (const s of p.image.segments) await drv.write(s.addr, s.bytes);
      const result = await drv.run(p.image.insnAddr, n, { timeoutMs: 60_000 });
      expect(result.counters).toEqual({ ...ref.machine.counters });
      for (const name of p.outputs) {
        const seg = p.image.segments.find((s) => s.name === name)!;
        expect(Buffer.from(await drv.read(seg.addr, seg.bytes.length)).equals(Buffer.from(ref.memory.subarray(seg.addr, seg.addr + seg.bytes.length)))).toBe(true);
      }
    };
    await drv.write(p.image.insnAddr, stream);
    await runOnce();
    // Same address and length, other instructions: empty loads, then FINISH (nothing computed).
    const idle: Insn = { ...NO_DEPS, opcode: 'LOAD', memory_type: 'UOP', sram_base: 0, dram_base: 0, y_size: 0, x_size: 0, x_stride: 0, y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0 };
    await drv.write(p.image.insnAddr, encodeProgram(cfg, [...Array.from({ length: n - 1 }, () => idle), { ...NO_DEPS, opcode: 'FINISH' }]));
    expect((await drv.run(p.image.insnAddr, n, { timeoutMs: 1000 })).counters.gemm_counter).toBe(0);
    // One byte of the original stream broken: an unknown opcode.
    const broken = stream.slice();
    broken[0] = 6;
    await drv.write(p.image.insnAddr, broken);
    await expect(drv.run(p.image.insnAddr, n, { timeoutMs: 1000 })).rejects.toBeInstanceOf(DecodeError);
    await drv.write(p.image.insnAddr, stream);
    await runOnce();
    await runOnce();
    await drv.close();
  });

  it('rejects malformed streams and stays usable', async () => {
    const drv = await createSimDriver({ config: cfg, memBytes: 4096 });
    const finish: Insn = { ...NO_DEPS, opcode: 'FINISH' };
    const bad = encodeProgram(cfg, [finish]);
    bad[0] = 6;
    await drv.write(0, bad);
    await expect(drv.run(0, 1, { timeoutMs: 1000 })).rejects.toBeInstanceOf(DecodeError);
    const gemm: Insn = {
      ...NO_DEPS, opcode: 'GEMM', reset_reg: 1, uop_bgn: 0, uop_end: 0, iter_out: 1, iter_in: 1,
      dst_factor_out: 0, dst_factor_in: 0, src_factor_out: 0, src_factor_in: 0, wgt_factor_out: 0, wgt_factor_in: 0, pop_next_dep: 1,
    };
    await drv.write(16, encodeProgram(cfg, [gemm, finish]));
    await expect(drv.run(16, 2, { timeoutMs: 1000 })).rejects.toBeInstanceOf(DeadlockError);
    await drv.write(32, encodeProgram(cfg, [finish]));
    expect((await drv.run(32, 1, { timeoutMs: 1000 })).counters.gemm_counter).toBe(0);
    await expect(drv.run(8, 1, { timeoutMs: 1000 })).rejects.toThrow(/not 16-byte aligned/);
    await expect(drv.run(4080, 2, { timeoutMs: 1000 })).rejects.toThrow(/outside the 4096-byte device memory/);
    await expect(drv.read(4000, 200)).rejects.toThrow(/outside/);
    await drv.close();
    await expect(drv.read(0, 1)).rejects.toBeInstanceOf(VtaError);
  });
});
