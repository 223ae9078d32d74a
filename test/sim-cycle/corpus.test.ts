/**
 * The cycle-level simulator on every program of the shared corpus (test/programs/): with
 * functional execution on, its outputs and profiler counters equal the functional simulator's
 * bit for bit; and its timeline obeys the rules independently of how the engine computes it —
 * each module runs its instructions in order without overlap, every pop comes at least
 * tokenLatency after the matching push, and every module's cycles add up to the total.
 */
import { describe, expect, it } from 'vitest';
import { moduleOf, preset, type Insn } from '../../isa/index.ts';
import { Dram } from '../../sim/dram.ts';
import { placeImage, runImage } from '../../sim/fsim.ts';
import { CycleSimulator } from '../../sim/cycle/cyclesim.ts';
import { CATEGORIES, MODULE_NAMES, type CycleResult } from '../../sim/cycle/engine.ts';
import { DEFAULT_TIMING, makeTiming, type TimingConfig } from '../../sim/cycle/timing.ts';
import { testPrograms } from '../programs/index.ts';

const PREV = { load: -1, compute: 0, store: 2 } as const; // queue popped by pop_prev_dep
const NEXT = { load: 1, compute: 3, store: -1 } as const; // queue popped by pop_next_dep
const PUSH_PREV = { load: -1, compute: 1, store: 3 } as const;
const PUSH_NEXT = { load: 0, compute: 2, store: -1 } as const;

function checkTimeline(insns: readonly Insn[], r: CycleResult, t: TimingConfig): void {
  const lastEnd = { load: 0, compute: 0, store: 0 };
  const pushes: number[][] = [[], [], [], []];
  const pops: number[][] = [[], [], [], []];
  insns.forEach((insn, i) => {
    const m = moduleOf(insn);
    expect(r.issue[i]).toBeGreaterThanOrEqual(r.dispatch[i]!);
    expect(r.issue[i]).toBeGreaterThanOrEqual(lastEnd[m]);
    expect(r.complete[i]).toBeGreaterThan(r.issue[i]!);
    lastEnd[m] = r.complete[i]!;
    if (insn.pop_prev_dep) pops[PREV[m]]!.push(i);
    if (insn.pop_next_dep) pops[NEXT[m]]!.push(i);
    if (insn.push_prev_dep) pushes[PUSH_PREV[m]]!.push(i);
    if (insn.push_next_dep) pushes[PUSH_NEXT[m]]!.push(i);
  });
  for (let q = 0; q < 4; q++) {
    // Queues are FIFOs: the k-th pop takes the k-th push's token.
    expect(pops[q]!.length).toBe(pushes[q]!.length);
    pops[q]!.forEach((consumer, k) => expect(r.issue[consumer]).toBeGreaterThanOrEqual(r.complete[pushes[q]![k]!]! + t.tokenLatency));
  }
  for (const m of MODULE_NAMES) expect(CATEGORIES.reduce((s, c) => s + r.modules[m][c], 0)).toBe(r.cycles);
  expect(r.cycles).toBe(r.complete[insns.length - 1]);
}

for (const presetName of ['default', 'intelfocl', '1x32x32', '1x64x64'] as const) {
  const cfg = preset(presetName);
  describe(`cycle-level simulator on the corpus (${presetName})`, () => {
    for (const prog of testPrograms(cfg)) {
      it(prog.name, () => {
        const ref = runImage(cfg, prog.image);
        for (const timing of [DEFAULT_TIMING, makeTiming({ busLatency: 3, maxBurstBeats: 2, tokenLatency: 0, tokenQueueDepth: 2, fetchBufferInsns: 1 })]) {
          const dram = new Dram(prog.image.memBytes);
          placeImage(cfg, dram, prog.image);
          const sim = new CycleSimulator(cfg, dram, timing);
          const run = sim.run(prog.image.insns);
          for (const name of prog.outputs) {
            const seg = prog.image.segments.find((s) => s.name === name)!;
            expect(dram.read(seg.addr, seg.bytes.length), `${prog.name}: region ${name}`).toEqual(ref.regions.get(name));
          }
          expect(run.counters).toEqual(ref.counters);
          checkTimeline(prog.image.insns, run.timing, timing);
        }
      });
    }
  });
}
