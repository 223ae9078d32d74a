/**
 * The shared corpus (test/programs) on the webgpu target against the functional simulator: all of
 * DRAM below the instruction stream bit-identical after the run, and the same profiler counters.
 * Several configurations exercise the byte packing (BLOCK 2 gives 2-byte inp/out elements, so
 * DRAM and SRAM accesses that are not word aligned), with the SRAM copies the scheduler writes
 * into (the default) and with a single copy (every write in place).
 *
 * One driver serves all programs of a configuration; SRAM persists between runs, as on hardware,
 * so each program starts behind a run that zeroes every SRAM, the state the simulator starts from.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preset, type VtaConfig } from '../../isa/config.ts';
import { runImage as simRun } from '../../sim/fsim.ts';
import { WebGpuDriver } from '../../webgpu/driver.ts';
import { configVariant, sramZeroAlign, testPrograms } from '../programs/index.ts';
import { clearSram, clearSramBytes, describeWithWebGpu, initialMemory, webgpuAvailability } from './helpers.ts';


/** Configuration, `sramCopies` (undefined: the default), and whether to run only the hand-written programs and one random one. */
const CASES: [string, VtaConfig, number | undefined, boolean][] = [
  ['default', preset('default'), undefined, false],
  ['default, one SRAM copy', preset('default'), 1, true],
  ['batch 2 block 8', configVariant('batch2-block8', 1, 3), undefined, false],
  ['block 2 (sub-word elements)', configVariant('block2', 0, 1), undefined, false],
  ['block 2, two SRAM copies', configVariant('block2', 0, 1), 2, true],
  ['preset 1x32x32', preset('1x32x32'), undefined, true],
  ['preset 1x64x64', preset('1x64x64'), undefined, true],
];

const avail = await webgpuAvailability(preset('default'));

describeWithWebGpu(avail, 'corpus on webgpu', () => {
  describe.each(CASES)('%s', (_name, cfg, sramCopies, handWritten) => {
    const programs = testPrograms(cfg).filter((p) => !handWritten || !p.name.startsWith('random-') || p.name === 'random-1');
    const progBytes = Math.ceil(Math.max(...programs.map((p) => p.image.memBytes)) / sramZeroAlign(cfg)) * sramZeroAlign(cfg);
    const memBytes = progBytes + clearSramBytes(cfg);
    let driver: WebGpuDriver;
    beforeAll(async () => {
      driver = await WebGpuDriver.open({ config: cfg, memBytes, targetOptions: sramCopies === undefined ? {} : { sramCopies } });
    });
    afterAll(async () => {
      await driver?.close();
    });

    it.each(programs.map((p) => [p.name, p] as const))('%s matches the functional simulator', async (_n, p) => {
      await clearSram(driver, cfg, progBytes);
      const mem = new Uint8Array(progBytes);
      mem.set(initialMemory(cfg, p.image));
      await driver.write(0, mem);
      const got = await driver.run(p.image.insnAddr, p.image.insns.length, { timeoutMs: 60_000 });
      const sim = simRun(cfg, p.image);
      const dataEnd = p.image.insnAddr;
      const actual = await driver.read(0, dataEnd);
      const expected = sim.sim.dram.u8.subarray(0, dataEnd);
      const first = actual.findIndex((v, i) => v !== expected[i]);
      const region = p.image.segments.find((s) => first >= s.addr && first < s.addr + s.bytes.length);
      expect(first, `first differing DRAM byte (region ${region?.name ?? '-'})`).toBe(-1);
      expect(got.counters).toEqual(sim.counters);
    });
  });
});
