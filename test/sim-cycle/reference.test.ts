/**
 * The event-driven engine against a naive reference written here from the rules in
 * sim/cycle/README.md: a loop over every cycle, each instruction expanded up front into its steps
 * (fixed-length runs and bus bursts), every module re-examined every cycle, the port arbitrated
 * every cycle. It shares no code with the engine, so agreement on every instruction's dispatch,
 * issue and completion cycle, on every module's busy/stall/idle split and on the DRAM totals
 * checks the engine's shortcuts (jumping between events, granting uncontended bursts in one go).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadlockError, elemBytes, moduleOf, preset, validateProgram, type Insn, type VtaConfig } from '../../isa/index.ts';
import { CATEGORIES, MODULE_NAMES, simulateCycles } from '../../sim/cycle/engine.ts';
import { DEFAULT_TIMING, makeTiming, type TimingConfig } from '../../sim/cycle/timing.ts';
import { testPrograms } from '../programs/index.ts';

type Step = { bus: false; cycles: number } | { bus: true; beats: number };
type Category = (typeof CATEGORIES)[number];

interface RefModule {
  queue: { insn: number; ready: number }[];
  started: number;
  cur: number;
  step: number;
  stepEnd: number;
  waitingBus: boolean;
  beats: number;
  pushes: number[];
  done: number;
}

function bursts(beats: number, max: number): Step[] {
  const out: Step[] = [];
  for (let left = beats; left > 0; left -= max) out.push({ bus: true, beats: Math.min(left, max) });
  return out;
}

function steps(cfg: VtaConfig, t: TimingConfig, insn: Insn): Step[] {
  const run = (cycles: number): Step[] => (cycles > 0 ? [{ bus: false, cycles }] : []);
  if (insn.opcode === 'GEMM' || insn.opcode === 'ALU') {
    const uops = insn.iter_out * insn.iter_in * (insn.uop_end - insn.uop_bgn);
    const per = insn.opcode === 'GEMM' ? t.gemmCyclesPerUop : insn.use_imm ? t.aluCyclesPerUopImm : t.aluCyclesPerUopTensor;
    const fill = insn.opcode === 'GEMM' ? t.gemmPipelineFill : t.aluPipelineFill;
    return run(Math.max(1, fill + uops * per));
  }
  if (insn.opcode === 'FINISH' || insn.x_size === 0) return run(t.syncCycles);
  const width = insn.x_pad_0 + insn.x_size + insn.x_pad_1;
  const p = t.padCyclesPerElem;
  const rowBeats = Math.ceil((insn.x_size * elemBytes(cfg, insn.memory_type)) / cfg.BUS_BYTES);
  const out: Step[] = [];
  if (insn.y_size === 0) out.push(...run((insn.y_pad_0 + insn.y_pad_1) * width * p));
  for (let r = 0; r < insn.y_size; r++) {
    out.push(...run(((r === 0 ? insn.y_pad_0 * width : 0) + insn.x_pad_0) * p));
    out.push(...bursts(rowBeats, t.maxBurstBeats));
    out.push(...run((insn.x_pad_1 + (r === insn.y_size - 1 ? insn.y_pad_1 * width : 0)) * p));
  }
  // Merge adjacent pad runs (x_pad_1 of a row and x_pad_0 of the next are one stretch of writes).
  const merged: Step[] = [];
  for (const s of out) {
    const last = merged[merged.length - 1];
    if (last && !last.bus && !s.bus) last.cycles += s.cycles;
    else merged.push({ ...s });
  }
  return merged.length ? merged : run(t.syncCycles);
}

function reference(cfg: VtaConfig, insns: readonly Insn[], t: TimingConfig) {
  const n = insns.length;
  const mod = insns.map((insn) => 1 + ['load', 'compute', 'store'].indexOf(moduleOf(insn)));
  const plan = insns.map((insn) => steps(cfg, t, insn));
  // Token queues: 0 load->compute, 1 compute->load, 2 compute->store, 3 store->compute.
  const popsOf = (i: number): number[] => {
    const m = mod[i]!;
    const q: number[] = [];
    if (insns[i]!.pop_prev_dep) q.push(m === 2 ? 0 : 2);
    if (insns[i]!.pop_next_dep) q.push(m === 1 ? 1 : 3);
    return q;
  };
  const pushesOf = (i: number): number[] => {
    const m = mod[i]!;
    const q: number[] = [];
    if (insns[i]!.push_prev_dep) q.push(m === 2 ? 1 : 3);
    if (insns[i]!.push_next_dep) q.push(m === 1 ? 0 : 2);
    return q;
  };
  const tokens: number[][] = [[], [], [], []]; // visibility cycle of each queued token
  const dispatch = new Array<number>(n).fill(-1);
  const issue = new Array<number>(n).fill(-1);
  const complete = new Array<number>(n).fill(-1);
  const mods: RefModule[] = [0, 1, 2, 3].map(() => ({ queue: [], started: 0, cur: -1, step: 0, stepEnd: 0, waitingBus: false, beats: 0, pushes: [], done: -1 }));
  const fetch = mods[0]!;
  let fetched = 0;
  let routed = 0;
  let chunkEnd = 0;
  let fetchSteps: Step[] = [];
  let routing = false;
  let nextRoute = 0;
  let fetchBlocked = false;
  let busFree = 0;
  let last = 3;
  let requests = 0;
  let beats = 0;
  const stats = mods.map(() => ({ busy: 0, tokenStall: 0, busStall: 0, idle: 0 }));
  const perModule = [0, 1, 2, 3].map((mi) => mod.filter((m) => m === mi).length);

  const begin = (m: RefModule, s: Step, c: number) => {
    if (s.bus) {
      m.waitingBus = true;
      m.beats = s.beats;
    } else m.stepEnd = c + s.cycles;
  };

  const actFetch = (c: number): boolean => {
    let changed = false;
    for (;;) {
      if (fetch.done >= 0) return changed;
      if (fetch.cur >= 0) {
        if (fetch.waitingBus || c < fetch.stepEnd) return changed;
        fetch.step++;
        if (fetch.step < fetchSteps.length) {
          begin(fetch, fetchSteps[fetch.step]!, c);
          continue;
        }
        fetch.cur = -1;
        routing = true;
        nextRoute = c;
      }
      if (routing) {
        if (c < nextRoute) return changed;
        if (routed === chunkEnd) {
          routing = false;
          continue;
        }
        const target = mods[mod[routed]!]!;
        fetchBlocked = target.queue.length - target.started >= t.commandQueueDepth;
        if (fetchBlocked) return changed;
        dispatch[routed] = c + t.fetchDispatchCycles;
        target.queue.push({ insn: routed, ready: c + t.fetchDispatchCycles });
        routed++;
        nextRoute = c + t.fetchDispatchCycles;
        changed = true;
        continue;
      }
      if (fetched === n) {
        fetch.done = c;
        return changed;
      }
      const count = Math.min(t.fetchBufferInsns, n - fetched);
      chunkEnd = fetched + count;
      fetched += count;
      fetchSteps = bursts(Math.ceil((count * 16) / cfg.BUS_BYTES), t.maxBurstBeats);
      fetch.cur = 0;
      fetch.step = 0;
      begin(fetch, fetchSteps[0]!, c);
      return changed;
    }
  };

  const act = (mi: number, c: number): boolean => {
    const m = mods[mi]!;
    let changed = false;
    for (;;) {
      if (m.cur >= 0) {
        if (m.waitingBus || c < m.stepEnd) return changed;
        m.step++;
        if (m.step < plan[m.cur]!.length) {
          begin(m, plan[m.cur]![m.step]!, c);
          continue;
        }
        complete[m.cur] = c;
        m.pushes = pushesOf(m.cur);
        m.cur = -1;
        changed = true;
      }
      while (m.pushes.length && tokens[m.pushes[0]!]!.length < t.tokenQueueDepth) {
        tokens[m.pushes.shift()!]!.push(c + t.tokenLatency);
        changed = true;
      }
      if (m.pushes.length) return changed;
      if (m.started === perModule[mi]) {
        if (m.done < 0) m.done = c;
        return changed;
      }
      const head = m.queue[m.started];
      if (!head || head.ready > c) return changed;
      const pops = popsOf(head.insn);
      if (pops.some((q) => !tokens[q]!.length || tokens[q]![0]! > c)) return changed;
      for (const q of pops) tokens[q]!.shift();
      m.started++;
      m.cur = head.insn;
      m.step = 0;
      issue[head.insn] = c;
      begin(m, plan[head.insn]![0]!, c);
      changed = true;
    }
  };

  const classify = (mi: number, c: number): Category => {
    const m = mods[mi]!;
    if (mi === 0) {
      if (m.done >= 0) return 'idle';
      if (m.cur >= 0) return m.waitingBus ? 'busStall' : 'busy';
      return c < nextRoute ? 'busy' : fetchBlocked ? 'tokenStall' : 'idle';
    }
    if (m.cur >= 0) return m.waitingBus ? 'busStall' : 'busy';
    if (m.pushes.length) return 'tokenStall';
    const head = m.queue[m.started];
    return head && head.ready <= c ? 'tokenStall' : 'idle';
  };

  for (let c = 0; ; c++) {
    let changed = true;
    while (changed) {
      changed = actFetch(c);
      for (let mi = 1; mi <= 3; mi++) if (act(mi, c)) changed = true;
    }
    if (busFree <= c) {
      for (let k = 1; k <= 4; k++) {
        const mi = (last + k) % 4;
        const m = mods[mi]!;
        if (!m.waitingBus) continue;
        m.waitingBus = false;
        m.stepEnd = c + t.busLatency + m.beats;
        busFree = m.stepEnd;
        last = mi;
        requests++;
        beats += m.beats;
        break;
      }
    }
    if (mods.every((m) => m.done >= 0)) {
      const cycles = Math.max(...mods.map((m) => m.done));
      return { cycles, dispatch, issue, complete, stats, requests, beats };
    }
    for (let mi = 0; mi < 4; mi++) stats[mi]![classify(mi, c)]++;
    if (c > 50_000_000) throw new Error('reference did not finish');
  }
}

const TIMINGS: TimingConfig[] = [
  DEFAULT_TIMING,
  makeTiming({ busLatency: 3, maxBurstBeats: 2, tokenLatency: 0, tokenQueueDepth: 2, fetchBufferInsns: 1, commandQueueDepth: 2 }),
  makeTiming({ busLatency: 0, maxBurstBeats: 1, gemmPipelineFill: 0, aluPipelineFill: 0, padCyclesPerElem: 3, tokenLatency: 5, fetchDispatchCycles: 2, fetchBufferInsns: 5 }),
];

for (const presetName of ['default', 'intelfocl'] as const) {
  const cfg = preset(presetName);
  describe(`event-driven engine = cycle-by-cycle reference (${presetName})`, () => {
    for (const prog of testPrograms(cfg)) {
      it(prog.name, () => {
        const insns = prog.image.insns;
        for (const t of TIMINGS) {
          try {
            validateProgram(cfg, insns, { tokenQueueDepth: t.tokenQueueDepth, commandQueueDepth: t.commandQueueDepth });
          } catch (e) {
            // Queues this small can deadlock a valid program; the engine must then see it too.
            expect(e).toBeInstanceOf(DeadlockError);
            expect(() => simulateCycles(cfg, insns, { timing: t })).toThrow(DeadlockError);
            continue;
          }
          const ref = reference(cfg, insns, t);
          const r = simulateCycles(cfg, insns, { timing: t });
          expect(Array.from(r.dispatch)).toEqual(ref.dispatch);
          expect(Array.from(r.issue)).toEqual(ref.issue);
          expect(Array.from(r.complete)).toEqual(ref.complete);
          expect(r.cycles).toBe(ref.cycles);
          MODULE_NAMES.forEach((m, k) => expect(r.modules[m], `${m} with ${JSON.stringify(t)}`).toEqual(ref.stats[k]));
          expect(r.bus.requests).toBe(ref.requests);
          expect(r.bus.beats).toBe(ref.beats);
        }
      });
    }
  });
}

describe('event-driven engine = cycle-by-cycle reference, random timings', () => {
  it('agrees on random timing parameters over the corpus', () => {
    const cfg = preset('default');
    const programs = testPrograms(cfg);
    const small = (max: number) => fc.integer({ min: 0, max });
    const timing = fc.record({
      busLatency: small(40),
      maxBurstBeats: fc.integer({ min: 1, max: 32 }),
      gemmPipelineFill: small(8),
      gemmCyclesPerUop: fc.integer({ min: 1, max: 4 }),
      aluPipelineFill: small(8),
      aluCyclesPerUopImm: fc.integer({ min: 1, max: 3 }),
      aluCyclesPerUopTensor: fc.integer({ min: 1, max: 4 }),
      padCyclesPerElem: small(3),
      syncCycles: fc.integer({ min: 1, max: 3 }),
      tokenLatency: small(4),
      fetchDispatchCycles: fc.integer({ min: 1, max: 3 }),
      fetchBufferInsns: fc.integer({ min: 1, max: 20 }),
      commandQueueDepth: fc.integer({ min: 4, max: 600 }),
      tokenQueueDepth: fc.integer({ min: 4, max: 8 }),
    });
    fc.assert(
      fc.property(timing, fc.nat(programs.length - 1), (overrides, k) => {
        const t = makeTiming(overrides);
        const insns = programs[k]!.image.insns;
        try {
          validateProgram(cfg, insns, { tokenQueueDepth: t.tokenQueueDepth, commandQueueDepth: t.commandQueueDepth });
        } catch {
          return;
        }
        const ref = reference(cfg, insns, t);
        const r = simulateCycles(cfg, insns, { timing: t });
        expect(Array.from(r.complete)).toEqual(ref.complete);
        expect(Array.from(r.issue)).toEqual(ref.issue);
        MODULE_NAMES.forEach((m, j) => expect(r.modules[m]).toEqual(ref.stats[j]));
      }),
      { numRuns: 100, seed: 20261121 },
    );
  });
});
