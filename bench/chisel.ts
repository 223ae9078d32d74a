/**
 * The Chisel core in Verilator (the tsim target):
 * - calibration: cycles of tsim against the cycle-level simulator run with its default timing (sim/cycle/timing.json, calibrated here)
 *   (the core's timing parameters), per program of a benchmark set; the target is |diff| <= 5 %;
 * - speed: simulated cycles per second of wall time on a GEMM-heavy program, and the wall time of
 *   the VTA part of ResNet-18 (bench/lower.ts's layers, untuned, as one stream) on tsim;
 * - size: yosys's word-level cell, flip-flop and memory counts (hw-chisel/synth.ys), cached in
 *   hw-chisel/target/ until the SystemVerilog changes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { preset, type VtaConfig } from '../isa/config.ts';
import { encodeProgram } from '../isa/codec.ts';
import type { Insn } from '../isa/types.ts';
import { lowerLayer, placeBuffers, relocate, ScheduleCache, withFinish } from '../compiler/lower/index.ts';
import { simulateCycles } from '../sim/cycle/engine.ts';
import { DEFAULT_TIMING } from '../sim/cycle/timing.ts';
import { buildTsim } from '../hw-chisel/build.ts';
import { DEFAULT_DRAM_LATENCY, TsimDriver } from '../hw-chisel/driver.ts';
import { testPrograms } from '../test/programs/index.ts';
import { gemmHeavyProgram } from './cyclesim.ts';
import { resnet18Layers } from './lower.ts';
import type { BenchRow, BenchSuite } from './harness.ts';

const HW = fileURLToPath(new URL('../hw-chisel/', import.meta.url));
const SUITE = 'chisel';

interface BenchProgram {
  name: string;
  insns: Insn[];
  memBytes: number;
  init: { addr: number; bytes: Uint8Array }[];
  insnAddr: number;
}

function benchmarkSet(cfg: VtaConfig, quick: boolean): BenchProgram[] {
  const corpus = testPrograms(cfg).map((p) => ({
    name: p.name,
    insns: p.image.insns,
    memBytes: p.image.memBytes,
    init: p.image.segments.map((s) => ({ addr: s.addr, bytes: s.bytes })),
    insnAddr: p.image.insnAddr,
  }));
  const heavy = (tiles: number) => {
    const g = gemmHeavyProgram(cfg, tiles);
    // gemmHeavyProgram places its instructions last, in its own memory layout.
    const insnBytes = g.insns.length * 16;
    return { name: `gemm-heavy-${tiles}`, insns: g.insns, memBytes: g.memBytes, init: g.init, insnAddr: g.memBytes - insnBytes };
  };
  return [...corpus, heavy(quick ? 4 : 32), ...(quick ? [] : [resnet18(cfg)])];
}

/** Every conv of ResNet-18's layer1..layer4 lowered without tuning, chained into one stream. */
function resnet18(cfg: VtaConfig): BenchProgram {
  const cache = new ScheduleCache();
  const insns: Insn[] = [];
  let end = 0;
  for (const layer of resnet18Layers()) {
    const { lowered } = lowerLayer(cfg, layer, { tune: 'none', cache });
    const placed = placeBuffers(cfg, lowered, end);
    end = placed.end;
    insns.push(...relocate(cfg, lowered, placed.bases));
  }
  const stream = withFinish(insns);
  const insnAddr = Math.ceil(end / 256) * 256;
  // Timing does not depend on the data, so DRAM stays zero.
  return { name: 'resnet18-layer1-4', insns: stream, memBytes: insnAddr + stream.length * 16, init: [], insnAddr };
}

async function runTsim(cfg: VtaConfig, p: BenchProgram): Promise<{ cycles: number; seconds: number; cpuSeconds: number }> {
  const drv = await TsimDriver.open({ config: cfg, memBytes: p.memBytes, targetOptions: { dramLatency: DEFAULT_DRAM_LATENCY } });
  try {
    for (const seg of p.init) await drv.write(seg.addr, seg.bytes);
    await drv.write(p.insnAddr, encodeProgram(cfg, p.insns));
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const r = await drv.run(p.insnAddr, p.insns.length, { timeoutMs: 600_000 });
    const cpu = process.cpuUsage(cpu0);
    return { cycles: r.counters.cycles!, seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
  } finally {
    await drv.close();
  }
}

/** yosys's statistics, recomputed only when the SystemVerilog is newer than the cached report. */
export function synthStats(log: (msg: string) => void): Record<string, number> {
  const sv = `${HW}target/sv/VTACore.sv`;
  const report = `${HW}target/synth-stat.txt`;
  if (!existsSync(report) || statSync(report).mtimeMs < statSync(sv).mtimeMs) {
    log('estimating the size with yosys (a few minutes)');
    const r = spawnSync('yosys', ['-q', '-s', 'synth.ys'], { cwd: HW, encoding: 'utf8', maxBuffer: 1 << 26 });
    if (r.status !== 0) throw new Error(`yosys failed:\n${r.stderr}`);
  }
  const text = readFileSync(report, 'utf8');
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  // `stat -width` lines such as "$sdffe_32   12": twelve 32-bit flip-flop cells.
  const ffBits = [...text.matchAll(/\$\w*dff\w*_(\d+)\s+(\d+)/g)].reduce((s, m) => s + Number(m[1]) * Number(m[2]), 0);
  return {
    cells: num(/Number of cells:\s+(\d+)/),
    flipFlops: ffBits,
    memories: num(/Number of memories:\s+(\d+)/),
    memoryBits: num(/Number of memory bits:\s+(\d+)/),
  };
}

export const chiselSuite: BenchSuite = {
  name: SUITE,
  async run({ quick, log }) {
    buildTsim();
    const cfg = preset('default');
    const timing = DEFAULT_TIMING;
    const rows: BenchRow[] = [];
    let worst = 0;
    for (const p of benchmarkSet(cfg, quick)) {
      const model = simulateCycles(cfg, p.insns, { timing }).cycles;
      const { cycles, seconds, cpuSeconds } = await runTsim(cfg, p);
      const diff = (model - cycles) / cycles;
      worst = Math.max(worst, Math.abs(diff));
      rows.push({
        suite: SUITE,
        name: `calibration ${p.name}`,
        value: cycles,
        unit: 'cycles',
        reference: { label: 'cyclesim', value: model, unit: 'cycles' },
        note: `diff ${(diff * 100).toFixed(1)} % (target within 5 %)`,
      });
      // CPU time is reported beside wall time: on a shared machine the wall time includes waiting.
      if (p.name.startsWith('gemm-heavy')) {
        rows.push({
          suite: SUITE,
          name: `Verilator speed (${p.name})`,
          value: cycles / seconds,
          unit: 'cycles/s',
          note: `${cycles} cycles in ${seconds.toFixed(2)} s wall, ${(cycles / cpuSeconds).toExponential(2)} cycles per CPU second`,
        });
      }
      if (p.name.startsWith('resnet18')) {
        rows.push({
          suite: SUITE,
          name: 'ResNet-18 VTA part on tsim (wall time)',
          value: seconds,
          unit: 's',
          reference: { label: "TVM's tsim", value: 227.7, unit: 's' },
          note: `target at most 30 s; ${cpuSeconds.toFixed(1)} s of CPU, ${cycles} cycles`,
        });
      }
    }
    rows.push({ suite: SUITE, name: 'calibration worst |diff|', value: worst * 100, unit: '%', note: 'target at most 5 %' });
    if (quick) {
      log('skipping yosys in --quick');
    } else {
      const s = synthStats(log);
      rows.push(
        { suite: SUITE, name: 'yosys cells (word-level)', value: s.cells!, unit: 'cells', note: 'hw-chisel/synth.ys, default configuration' },
        { suite: SUITE, name: 'yosys flip-flops', value: s.flipFlops!, unit: 'bits' },
        { suite: SUITE, name: 'yosys memories', value: s.memories!, unit: 'memories', note: `${s.memoryBits} bits` },
      );
    }
    return rows;
  },
};
