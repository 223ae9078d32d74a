/**
 * The `cyclesim` device driver, against the `sim` driver as oracle: the same bytes written, the
 * same stream run from device memory, the same memory read back and the same profiler counters,
 * plus `cycles` and the per-module figures that add up to it.
 */
import { describe, expect, it } from 'vitest';
import { assemble, encodeProgram, preset, VtaError } from '../../isa/index.ts';
import type { DeviceDriver } from '../../isa/device.ts';
import { createSimDriver } from '../../sim/driver.ts';
import { createCycleSimDriver, type CycleSimDriver } from '../../sim/cycle/driver.ts';
import { DEFAULT_TIMING } from '../../sim/cycle/timing.ts';
import { testPrograms } from '../programs/index.ts';

const cfg = preset('default');
const prog = testPrograms(cfg).find((p) => p.name.includes('gemm'))!;
const image = prog.image;

async function load(d: DeviceDriver): Promise<void> {
  for (const seg of image.segments) await d.write(seg.addr, seg.bytes);
  await d.write(image.insnAddr, encodeProgram(cfg, image.insns));
}

async function outputs(d: DeviceDriver): Promise<Uint8Array[]> {
  return Promise.all(prog.outputs.map((name) => {
    const seg = image.segments.find((s) => s.name === name)!;
    return d.read(seg.addr, seg.bytes.length);
  }));
}

describe('cyclesim driver', () => {
  it('runs a stream from device memory like the sim driver, and reports cycles per module', async () => {
    const ref = await createSimDriver({ config: cfg, memBytes: image.memBytes });
    await load(ref);
    const refRun = await ref.run(image.insnAddr, image.insns.length, { timeoutMs: 60_000 });

    const d = (await createCycleSimDriver({ config: cfg, memBytes: image.memBytes })) as CycleSimDriver;
    expect(d.target).toBe('cyclesim');
    await load(d);
    const run = await d.run(image.insnAddr, image.insns.length, { timeoutMs: 60_000 });
    expect(await outputs(d)).toEqual(await outputs(ref));
    for (const [k, v] of Object.entries(refRun.counters)) expect(run.counters[k], k).toBe(v);
    const c = run.counters;
    expect(c.cycles).toBeGreaterThan(0);
    expect(c.cycles).toBe(d.lastTiming!.cycles);
    expect(Array.from(run.insnCycles!)).toEqual(Array.from(d.lastTiming!.complete));
    expect(Math.max(...Array.from(run.insnCycles!))).toBe(c.cycles);
    for (const m of ['fetch', 'load', 'compute', 'store']) {
      expect(c[`${m}_busy_cycles`]! + c[`${m}_token_stall_cycles`]! + c[`${m}_bus_stall_cycles`]! + c[`${m}_idle_cycles`]!).toBe(c.cycles);
    }
    // A second run on the same driver gives the same time (SRAM contents do not affect timing).
    const again = await d.run(image.insnAddr, image.insns.length, { timeoutMs: 60_000 });
    expect(again.counters.cycles).toBe(c.cycles);
    await d.close();
    await expect(d.read(0, 1)).rejects.toThrow(/closed/);
    await ref.close();
  });

  it('takes timing overrides and can model time alone', async () => {
    const slow = await createCycleSimDriver({
      config: cfg,
      memBytes: image.memBytes,
      targetOptions: { timing: { busLatency: DEFAULT_TIMING.busLatency + 100 }, functional: false },
    });
    const fast = await createCycleSimDriver({ config: cfg, memBytes: image.memBytes, targetOptions: { functional: false } });
    await load(slow);
    await load(fast);
    const a = await slow.run(image.insnAddr, image.insns.length, { timeoutMs: 60_000 });
    const b = await fast.run(image.insnAddr, image.insns.length, { timeoutMs: 60_000 });
    expect(a.counters.cycles).toBeGreaterThan(b.counters.cycles!);
    // Time only: nothing executed, so the outputs keep their initial zeros.
    for (const out of await outputs(fast)) expect(out.every((v) => v === 0)).toBe(true);
    expect(b.counters.gemm_counter).toBe(0);
  });

  it('stops a run that exceeds its time limit and stays usable', async () => {
    const long = assemble(cfg, `${'gemm uop_bgn=0 uop_end=1 iter_out=1 iter_in=1\n'.repeat(300)}finish`);
    const d = await createCycleSimDriver({ config: cfg, memBytes: long.memBytes });
    await d.write(long.insnAddr, encodeProgram(cfg, long.insns));
    await expect(d.run(long.insnAddr, long.insns.length, { timeoutMs: 0 })).rejects.toMatchObject({ code: 'VTA_TIMEOUT' });
    const ok = await d.run(long.insnAddr, long.insns.length, { timeoutMs: 60_000 });
    // 300 GEMMs of one uop back to back, then FINISH.
    expect(ok.counters.compute_busy_cycles).toBe(300 * (DEFAULT_TIMING.gemmPipelineFill + 1) + DEFAULT_TIMING.syncCycles);
  });

  it('rejects bad options and bad stream addresses with typed errors', async () => {
    await expect(createCycleSimDriver({ config: cfg, memBytes: 1024, targetOptions: { timming: {} } })).rejects.toThrow(/unknown targetOptions.timming/);
    await expect(createCycleSimDriver({ config: cfg, memBytes: 1024, targetOptions: { timing: { busLatency: -1 } } })).rejects.toThrow(/busLatency/);
    const d = await createCycleSimDriver({ config: cfg, memBytes: 1024 });
    await expect(d.run(8, 1, { timeoutMs: 1000 })).rejects.toThrow(VtaError);
    await expect(d.run(1008, 2, { timeoutMs: 1000 })).rejects.toThrow(/outside/);
  });
});
