/**
 * The webgpu driver's contract (isa/device.ts) on small hand-written programs, checked against
 * the naive reference in reference.ts: memory copies at any alignment, SRAM that persists across
 * runs, micro-ops read from bytes a STORE of the same run wrote, loops whose destinations repeat
 * (run in a safe order), typed errors that leave the driver usable, and the typed error when no
 * adapter exists.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../../isa/asm.ts';
import { encodeProgram } from '../../isa/codec.ts';
import { preset } from '../../isa/config.ts';
import type { ProgramImage } from '../../isa/image.ts';
import { WebGpuDriver } from '../../webgpu/driver.ts';
import { describeWithWebGpu, initialMemory, webgpuAvailability } from './helpers.ts';
import { refRun, refState, type RefState } from './reference.ts';

const cfg = preset('default');
const MEM = 1 << 16;
const avail = await webgpuAvailability(cfg);

const rnd = (seed: number, n: number, lo: number, hi: number) => {
  let s = seed >>> 0;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + (s % (hi - lo + 1));
  });
};

describeWithWebGpu(avail, 'webgpu driver', () => {
  let d: WebGpuDriver;
  /** The reference's SRAM, kept across runs like the device's. */
  let ref: RefState;
  beforeAll(async () => {
    d = await WebGpuDriver.open({ config: cfg, memBytes: MEM });
    ref = refState(cfg, new Uint8Array(MEM));
  });
  afterAll(async () => {
    await d?.close();
  });

  /** Writes the image, runs it on both, and compares all of device memory. */
  async function check(image: ProgramImage): Promise<void> {
    const mem = new Uint8Array(MEM);
    mem.set(initialMemory(cfg, image));
    await d.write(0, mem);
    await d.run(image.insnAddr, image.insns.length, { timeoutMs: 60_000 });
    ref.dram = mem.slice();
    refRun(cfg, ref, image.insns);
    const got = await d.read(0, MEM);
    const first = got.findIndex((v, i) => v !== ref.dram[i]);
    expect(first, 'first differing byte').toBe(-1);
  }

  it('copies bytes at any offset and length', async () => {
    const data = Uint8Array.from(rnd(1, 301, 0, 255));
    for (const [off, len] of [[1, 1], [3, 6], [5, 301], [4096 + 2, 7], [MEM - 3, 3]] as const) {
      await d.write(off, data.subarray(0, len));
      expect(Array.from(await d.read(off, len))).toEqual(Array.from(data.subarray(0, len)));
    }
    // Neighbouring bytes survive a sub-word write.
    await d.write(100, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    await d.write(102, Uint8Array.of(9, 9, 9));
    expect(Array.from(await d.read(100, 8))).toEqual([1, 2, 9, 9, 9, 6, 7, 8]);
  });

  it('rejects copies outside device memory with a typed error', async () => {
    await expect(d.write(MEM - 1, new Uint8Array(2))).rejects.toMatchObject({ code: 'VTA_DEVICE_RANGE' });
    await expect(d.read(-1, 4)).rejects.toMatchObject({ code: 'VTA_DEVICE_RANGE' });
  });

  it('runs GEMM loops whose destinations repeat across iterations and micro-ops', async () => {
    // Four micro-ops onto two destinations, iter_in accumulating onto the same element (factor 0),
    // and a sliding destination (d = k + i) that no split into independent threads allows.
    const image = assemble(
      cfg,
      `.data inp i8 ${rnd(2, 16 * 8, -128, 127).join(' ')}
.data wgt i8 ${rnd(3, 256 * 4, -128, 127).join(' ')}
.uops u 0,0,0 1,1,1 0,2,2 1,3,3 0,0,0 1,1,1 2,2,2
.zero out i8 ${16 * 8}
load uop sram_base=0 dram_base=u y_size=1 x_size=7 x_stride=7
load inp sram_base=0 dram_base=inp y_size=1 x_size=8 x_stride=8
load wgt sram_base=0 dram_base=wgt y_size=1 x_size=4 x_stride=4 push_next_dep
gemm reset_reg uop_bgn=4 uop_end=7 iter_out=3 iter_in=1 dst_factor_out=2 pop_prev_dep
gemm uop_bgn=0 uop_end=4 iter_out=2 iter_in=3 dst_factor_out=2 src_factor_out=4 src_factor_in=1 wgt_factor_in=0
gemm uop_bgn=4 uop_end=7 iter_out=4 iter_in=1 dst_factor_out=1 src_factor_out=1 wgt_factor_out=0
alu add uop_bgn=4 uop_end=7 iter_out=2 iter_in=2 dst_factor_out=1 dst_factor_in=1 src_factor_out=2 src_factor_in=3
alu shr uop_bgn=4 uop_end=5 iter_out=8 iter_in=1 dst_factor_out=1 use_imm imm=2 push_next_dep
store out sram_base=0 dram_base=out y_size=1 x_size=8 x_stride=8 pop_prev_dep push_prev_dep
finish pop_next_dep`,
    );
    await check(image);
  });

  it('keeps SRAM across runs, and reads micro-ops a STORE of the same run wrote', async () => {
    // Run 1 loads acc and uops. Run 2 stores acc values whose low bytes form micro-op words,
    // loads those words as micro-ops, and uses them, with acc left from run 1.
    const words = [0x00000001, 0x00000000]; // {dst 1, src 0, wgt 0}, {dst 0, src 0, wgt 0}
    const accVals: number[] = [];
    for (let e = 0; e < 4; e++) for (let l = 0; l < 16; l++) accVals.push(e === 0 ? (words[l >> 2]! >>> ((l & 3) * 8)) & 0xff : e * 100 + l);
    const first = assemble(
      cfg,
      `.data acc @0 i32 ${accVals.join(' ')}
.mem ${MEM}
.text @4096
load acc sram_base=0 dram_base=0 y_size=1 x_size=4 x_stride=4
finish`,
    );
    await check(first);
    const second = assemble(
      cfg,
      `.zero out @1024 i8 64
.zero acc2 @2048 i8 64
.mem ${MEM}
.text @4096
alu add uop_bgn=0 uop_end=0 iter_out=1 iter_in=1 push_next_dep
store out sram_base=0 dram_base=64 y_size=1 x_size=1 x_stride=1 pop_prev_dep push_prev_dep
load uop sram_base=0 dram_base=256 y_size=1 x_size=2 x_stride=2 pop_next_dep
alu add uop_bgn=0 uop_end=2 iter_out=1 iter_in=1 src_factor_out=0
alu shr uop_bgn=0 uop_end=1 iter_out=3 iter_in=1 dst_factor_out=1 use_imm imm=1 push_next_dep
store out sram_base=1 dram_base=128 y_size=1 x_size=3 x_stride=3 pop_prev_dep push_prev_dep
finish pop_next_dep`,
    );
    await check(second);
    // The uops of run 2 came from the stored bytes: acc[1] += acc[0], then acc[0] += acc[0].
    const out = new Int8Array((await d.read(2048, 48)).buffer);
    expect(out[0]).toBe(((100 + 1 + 0) >> 1) << 24 >> 24);
  });

  it('reuses the plan of a repeated run only while its stream, uop SRAM and micro-op bytes are unchanged', async () => {
    const src = (uops: string) => `.data inp i8 ${rnd(5, 16 * 4, -128, 127).join(' ')}
.data wgt i8 ${rnd(6, 256 * 2, -128, 127).join(' ')}
.uops u ${uops}
.zero out i8 ${16 * 4}
load uop sram_base=0 dram_base=u y_size=1 x_size=4 x_stride=4
load inp sram_base=0 dram_base=inp y_size=1 x_size=4 x_stride=4
load wgt sram_base=0 dram_base=wgt y_size=1 x_size=2 x_stride=2 push_next_dep
gemm reset_reg uop_bgn=0 uop_end=4 iter_out=1 iter_in=1 pop_prev_dep
gemm uop_bgn=0 uop_end=4 iter_out=1 iter_in=1 push_next_dep
store out sram_base=0 dram_base=out y_size=1 x_size=4 x_stride=4 pop_prev_dep push_prev_dep
finish pop_next_dep`;
    const a = assemble(cfg, src('0,0,0 1,1,1 2,2,0 3,3,1'));
    await check(a);
    expect(d.lastRun?.cached).toBe(false);
    await check(a);
    expect(d.lastRun?.cached).toBe(true);
    // Same stream, other micro-op bytes at the same address: planned again, with the new micro-ops.
    const b = assemble(cfg, src('0,0,0 0,1,1 1,2,0 1,3,1'));
    expect(b.insnAddr).toBe(a.insnAddr);
    await check(b);
    expect(d.lastRun?.cached).toBe(false);
  });

  it('rejects a micro-op index outside its buffer before running anything, and stays usable', async () => {
    const image = assemble(
      cfg,
      `.uops u 2047,0,0
.zero out i8 16
load uop sram_base=0 dram_base=u y_size=1 x_size=1 x_stride=1
gemm reset_reg uop_bgn=0 uop_end=1 iter_out=2 iter_in=1 dst_factor_out=1 push_next_dep
store out sram_base=0 dram_base=out y_size=1 x_size=1 x_stride=1 pop_prev_dep push_prev_dep
finish pop_next_dep`,
    );
    await d.write(0, initialMemory(cfg, image));
    await expect(d.run(image.insnAddr, image.insns.length, { timeoutMs: 60_000 })).rejects.toMatchObject({
      code: 'VTA_PROGRAM',
      message: expect.stringMatching(/instruction 1: GEMM: micro-op 0 .* dst index 2048, outside the acc buffer/),
    });
    await expect(d.run(image.insnAddr, 3, { timeoutMs: 60_000 })).rejects.toMatchObject({ code: 'VTA_PROGRAM' });
    await expect(d.run(3, 1, { timeoutMs: 60_000 })).rejects.toMatchObject({ code: 'VTA_DEVICE_RANGE' });
    // Still usable.
    await d.write(8, Uint8Array.of(42));
    expect((await d.read(8, 1))[0]).toBe(42);
  });

  it('rejects a run that passes its timeout with VTA_TIMEOUT, and stays usable', async () => {
    const image = assemble(cfg, `.zero out i8 16\ngemm reset_reg uop_bgn=0 uop_end=1 iter_out=64 iter_in=1 dst_factor_out=1 push_next_dep
store out sram_base=0 dram_base=out y_size=1 x_size=1 x_stride=1 pop_prev_dep push_prev_dep
finish pop_next_dep`);
    await d.write(0, initialMemory(cfg, image));
    await expect(d.run(image.insnAddr, image.insns.length, { timeoutMs: 1e-6 })).rejects.toMatchObject({ code: 'VTA_TIMEOUT' });
    await expect(d.run(image.insnAddr, image.insns.length, { timeoutMs: 0 })).rejects.toMatchObject({ code: 'VTA_TIMEOUT_OPTION' });
    await d.write(8, Uint8Array.of(7));
    expect((await d.read(8, 1))[0]).toBe(7);
  });

  it('rejects a deadlocking stream with the scheduler typed error', async () => {
    const image = assemble(cfg, `gemm reset_reg uop_bgn=0 uop_end=0 iter_out=1 iter_in=1 pop_prev_dep\nfinish`);
    await d.write(0, encodeProgram(cfg, image.insns));
    await expect(d.run(0, image.insns.length, { timeoutMs: 60_000 })).rejects.toMatchObject({ code: 'VTA_DEADLOCK' });
  });

  it('rejects calls after close', async () => {
    const other = await WebGpuDriver.open({ config: cfg, memBytes: 256 });
    await other.close();
    await expect(other.read(0, 4)).rejects.toMatchObject({ code: 'VTA_DEVICE_CLOSED' });
    await expect(other.close()).rejects.toMatchObject({ code: 'VTA_DEVICE_CLOSED' });
  });
});

describe('webgpu without an adapter', () => {
  it('fails with VTA_WEBGPU_UNAVAILABLE and a message saying what is missing, not a crash', () => {
    const script = `
import { preset } from './isa/config.ts';
import { createWebGpuDriver } from './webgpu/driver.ts';
try {
  await createWebGpuDriver({ config: preset('default'), memBytes: 4096 });
  console.log('OPENED');
} catch (e) {
  console.log(JSON.stringify({ code: e.code, message: e.message }));
}`;
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json' },
    });
    expect(r.status, r.stderr).toBe(0);
    const line = r.stdout.trim().split('\n').pop()!;
    const out = JSON.parse(line) as { code: string; message: string };
    expect(out.code).toBe('VTA_WEBGPU_UNAVAILABLE');
    expect(out.message).toMatch(/no WebGPU adapter found: .*(libvulkan|VK_ICD_FILENAMES)/);
  });
});
