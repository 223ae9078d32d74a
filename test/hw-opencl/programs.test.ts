/**
 * The shared corpus (test/programs) on intelfocl (POCL) against the functional simulator: every
 * output region bit-identical, and the same profiler counters; a program the simulator rejects must
 * be rejected with the same error code. Also on a second configuration (BATCH 2, BLOCK 8, smaller
 * buffers), which exercises the header generated per configuration, and on the cloud presets
 * (1x32x32, 1x64x64: 512-bit bus).
 *
 * The simulator starts from zeroed SRAM; the device's SRAM holds whatever an earlier launch left
 * (on POCL not even that: each launch may get another worker thread's local memory), which SPEC.md
 * allows since programs must not rely on it. So that a program which does read SRAM it never wrote
 * still compares equal, both sides run it behind a prefix that zeroes every SRAM buffer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeConfig, preset, type VtaConfig } from '../../isa/config.ts';
import { encodeProgram } from '../../isa/codec.ts';
import type { ProgramImage } from '../../isa/image.ts';
import { NO_DEPS, type Insn } from '../../isa/types.ts';
import { runImage as simRun } from '../../sim/fsim.ts';
import { IntelFoclDriver } from '../../hw-opencl/driver.ts';
import { sramZeroAlign, sramZeroBytes, sramZeroLoads, testPrograms } from '../programs/index.ts';
import { ensureAddon } from './util.ts';

/** The image with SRAM-zeroing loads in front: a zero region and the stream go after its data. */
function withClearedSram(cfg: VtaConfig, image: ProgramImage): ProgramImage {
  const zeroBytes = sramZeroBytes(cfg);
  const zeroAt = Math.ceil(image.memBytes / sramZeroAlign(cfg)) * sramZeroAlign(cfg);
  const prefix: Insn[] = [
    ...sramZeroLoads(cfg, zeroAt),
    // a compute no-op takes the load module's token, so FINISH is ordered after the prefix
    { ...NO_DEPS, opcode: 'LOAD', memory_type: 'UOP', sram_base: 0, dram_base: 0, y_size: 0, x_size: 0, x_stride: 0, y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0, pop_prev_dep: 1 },
  ];
  const insnAddr = zeroAt + zeroBytes;
  const insns = [...prefix, ...image.insns];
  return {
    ...image,
    insns,
    segments: [...image.segments, { name: 'sram-zero', kind: 'zero', dtype: 'u8', addr: zeroAt, bytes: new Uint8Array(zeroBytes) }],
    insnAddr,
    memBytes: insnAddr + insns.length * 16,
  };
}

const small = makeConfig({
  name: 'b2x8',
  LOG_INP_WIDTH: 3,
  LOG_WGT_WIDTH: 3,
  LOG_ACC_WIDTH: 5,
  LOG_BATCH: 1,
  LOG_BLOCK: 3,
  LOG_UOP_BUFF_SIZE: 13,
  LOG_INP_BUFF_SIZE: 13,
  LOG_WGT_BUFF_SIZE: 15,
  LOG_ACC_BUFF_SIZE: 15,
  BUS_WIDTH: 64,
  CLOCK_MHZ: 100,
});

const MEM_BYTES = 16 << 20;
describe.each([preset('default'), small, preset('1x32x32'), preset('1x64x64')])('test programs on intelfocl vs the functional simulator ($fingerprint)', (cfg: VtaConfig) => {
  let drv: IntelFoclDriver;
  beforeAll(async () => {
    ensureAddon();
    drv = await IntelFoclDriver.open({ config: cfg, memBytes: MEM_BYTES });
  });
  afterAll(async () => {
    await drv?.close();
  });

  for (const program of testPrograms(cfg)) {
    it(program.name, async () => {
      const { outputs } = program;
      const image = withClearedSram(cfg, program.image);
      expect(image.memBytes).toBeLessThanOrEqual(MEM_BYTES);
      let expected: ReturnType<typeof simRun>;
      try {
        expected = simRun(cfg, image);
      } catch (simError) {
        const ours = await (async () => {
          await drv.write(image.insnAddr, encodeProgram(cfg, image.insns));
          await drv.run(image.insnAddr, image.insns.length, { timeoutMs: 60_000 });
        })().catch((e: unknown) => e);
        expect((ours as { code?: string }).code, `the simulator rejected it: ${(simError as Error).message}`).toBe((simError as { code: string }).code);
        return;
      }
      // The device buffer is reused: zero what the image leaves unset, as in a fresh simulator.
      await drv.write(0, new Uint8Array(image.memBytes));
      for (const s of image.segments) await drv.write(s.addr, s.bytes);
      await drv.write(image.insnAddr, encodeProgram(cfg, image.insns));
      const result = await drv.run(image.insnAddr, image.insns.length, { timeoutMs: 60_000 });
      for (const name of outputs) {
        const seg = image.segments.find((s) => s.name === name)!;
        const got = await drv.read(seg.addr, seg.bytes.length);
        expect(Buffer.from(got).equals(Buffer.from(expected.regions.get(name)!)), `region ${name}`).toBe(true);
      }
      const { kernel_ns: _, ...counters } = result.counters;
      expect(counters).toEqual({ ...expected.counters });
    });
  }
});
