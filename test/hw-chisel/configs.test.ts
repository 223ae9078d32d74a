/**
 * The Chisel core generated for configurations other than the checked-in default (hw-chisel/build.ts
 * builds each in target/configs/, about a minute from scratch): the program corpus on tsim against
 * the functional simulator, every output region bit-identical and the same profiler counters. The
 * default suite builds BATCH 2 (LOG_BATCH 1, the batch test's configuration); VTA_HEAVY=1 adds the
 * cloud presets' cores with the core's 64-bit memory port (1x32x32 and 1x64x64 at BUS_WIDTH 64: the
 * presets themselves have a 512-bit bus, which the core's port does not implement).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeProgram } from '../../isa/codec.ts';
import { makeConfig, preset, type VtaConfig } from '../../isa/config.ts';
import { buildTsim, CORE_BUS_BITS } from '../../hw-chisel/build.ts';
import { TsimDriver } from '../../hw-chisel/driver.ts';
import { runImage } from '../../sim/fsim.ts';
import { testPrograms } from '../programs/index.ts';

const MEM_BYTES = 16 << 20;

/** A preset with other parameters changed. */
function variant(name: Parameters<typeof preset>[0], changes: Record<string, number>, label: string): VtaConfig {
  const p = preset(name);
  const keys = ['LOG_INP_WIDTH', 'LOG_WGT_WIDTH', 'LOG_ACC_WIDTH', 'LOG_BATCH', 'LOG_BLOCK', 'LOG_UOP_BUFF_SIZE', 'LOG_INP_BUFF_SIZE', 'LOG_WGT_BUFF_SIZE', 'LOG_ACC_BUFF_SIZE', 'BUS_WIDTH', 'CLOCK_MHZ'] as const;
  return makeConfig({ ...Object.fromEntries(keys.map((k) => [k, p[k]])), ...changes, name: label });
}

const CONFIGS: VtaConfig[] = [
  variant('default', { LOG_BATCH: 1 }, 'batch2'),
  ...(process.env.VTA_HEAVY === '1'
    ? [variant('1x32x32', { BUS_WIDTH: CORE_BUS_BITS }, '1x32x32-bus64'), variant('1x64x64', { BUS_WIDTH: CORE_BUS_BITS }, '1x64x64-bus64')]
    : []),
];

describe.each(CONFIGS.map((c) => [c.name, c] as const))('tsim generated for %s', (_name, cfg) => {
  beforeAll(() => {
    buildTsim(cfg);
  }, 1_800_000);

  let drv: TsimDriver;
  beforeAll(async () => {
    drv = await TsimDriver.open({ config: cfg, memBytes: MEM_BYTES });
  });
  afterAll(async () => {
    await drv?.close();
  });

  it('loads beside the default core in one process', async () => {
    await expect(TsimDriver.open({ config: preset('default'), memBytes: 1024 }).then((d) => d.close())).resolves.toBeUndefined();
    expect(drv.config.fingerprint).toBe(cfg.fingerprint);
  });

  // A fresh core per program, as the functional simulator's zeroed SRAM.
  it.each(testPrograms(cfg).map((p) => [p.name, p] as const))('corpus program %s matches the functional simulator', async (_, p) => {
    const d = await TsimDriver.open({ config: cfg, memBytes: MEM_BYTES });
    try {
      for (const s of p.image.segments) await d.write(s.addr, s.bytes);
      await d.write(p.image.insnAddr, encodeProgram(cfg, p.image.insns));
      const result = await d.run(p.image.insnAddr, p.image.insns.length, { timeoutMs: 600_000 });
      const ref = runImage(cfg, p.image);
      for (const name of p.outputs) {
        const seg = p.image.segments.find((s) => s.name === name)!;
        expect(await d.read(seg.addr, seg.bytes.length), `region ${name}`).toEqual(ref.regions.get(name));
      }
      expect(result.counters).toMatchObject({ ...ref.counters });
    } finally {
      await d.close();
    }
  });
});
