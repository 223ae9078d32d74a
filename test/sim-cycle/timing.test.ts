/**
 * Hand-computed timing cases of the cycle-level model (sim/cycle/README.md states the rules the
 * expectations below follow). Every test spells its arithmetic out from the timing parameters, so
 * the oracle is the rule, not a remembered number from an earlier run.
 */
import { describe, expect, it } from 'vitest';
import { assemble, preset, validateProgram, type Insn } from '../../isa/index.ts';
import { CATEGORIES, MODULE_NAMES, simulateCycles, type CycleResult } from '../../sim/cycle/engine.ts';
import { makeTiming, type TimingConfig } from '../../sim/cycle/timing.ts';

const cfg = preset('default'); // 64-bit bus: 8 bytes per beat
const BEAT = cfg.BUS_BYTES;
const INSN_BEATS = 16 / BEAT;

/** A timing where the whole test program arrives in one fetch request (so fetch is easy to follow); every parameter explicit, so the hand computations do not follow the default. */
const T: TimingConfig = makeTiming({
  busLatency: 10,
  maxBurstBeats: 64,
  gemmPipelineFill: 5,
  gemmCyclesPerUop: 1,
  aluPipelineFill: 4,
  aluCyclesPerUopImm: 1,
  aluCyclesPerUopTensor: 2,
  padCyclesPerElem: 1,
  syncCycles: 1,
  tokenLatency: 1,
  fetchDispatchCycles: 1,
  fetchBufferInsns: 32,
  commandQueueDepth: 512,
  tokenQueueDepth: 8,
});

function run(text: string, timing: TimingConfig = T): { insns: Insn[]; r: CycleResult } {
  const { insns } = assemble(cfg, text);
  validateProgram(cfg, insns, { tokenQueueDepth: timing.tokenQueueDepth, commandQueueDepth: timing.commandQueueDepth });
  const r = simulateCycles(cfg, insns, { timing });
  for (const m of MODULE_NAMES) {
    // Every module's cycles are classified exactly once.
    expect(CATEGORIES.reduce((s, c) => s + r.modules[m][c], 0)).toBe(r.cycles);
  }
  return { insns, r };
}

/** Fetch reads n instructions in one request (latency + beats), then routes one per cycle; instruction i is ready a cycle after its routing starts. */
function readyAt(n: number, i: number, t = T): number {
  return t.busLatency + n * INSN_BEATS + i * t.fetchDispatchCycles + t.fetchDispatchCycles;
}

describe('cycle-level timing, hand-computed', () => {
  it('one LOAD costs the latency plus its beats', () => {
    // 4 INP elements of 16 B = 64 B = 8 beats.
    const { r } = run(`
      load inp sram_base=0 dram_base=0 y_size=1 x_size=4 x_stride=4 push_next_dep
      finish pop_prev_dep
    `);
    const issue = readyAt(2, 0);
    const done = issue + T.busLatency + 64 / BEAT;
    expect(r.issue[0]).toBe(issue);
    expect(r.complete[0]).toBe(done);
    // FINISH sees the token tokenLatency later and takes syncCycles.
    expect(r.issue[1]).toBe(done + T.tokenLatency);
    expect(r.cycles).toBe(done + T.tokenLatency + T.syncCycles);
    expect(r.modules.load.busy).toBe(T.busLatency + 8);
    expect(r.bus.beats).toBe(2 * INSN_BEATS + 8);
    expect(r.bus.requests).toBe(2);
  });

  it('the bus width comes from the configuration (intelfocl: 512 bits)', () => {
    const wide = preset('intelfocl');
    const { insns } = assemble(wide, `
      load wgt sram_base=0 dram_base=0 y_size=1 x_size=2 x_stride=2 push_next_dep
      finish pop_prev_dep
    `);
    const r = simulateCycles(wide, insns, { timing: T });
    // Fetch: 2 instructions = 32 B = 1 beat of 64 B. The load: 2 x 256 B = 512 B = 8 beats.
    const issue = T.busLatency + 1 + T.fetchDispatchCycles;
    expect(r.issue[0]).toBe(issue);
    expect(r.complete[0]).toBe(issue + T.busLatency + 8);
    expect(r.bus.beats).toBe(1 + 8);
  });

  it('a 2-D LOAD pays latency per row, splits long rows into bursts, and pads without the bus', () => {
    // INP, 3 rows of 2 elements (32 B = 4 beats each), x_pad 1+1, y_pad_0 1: a row is 4 elements.
    // Pads before row 0: 1 pad row (4) + x_pad_0 (1) = 5; between rows: x_pad_1 + x_pad_0 = 2; after: x_pad_1 = 1.
    const padded = run(`
      load inp sram_base=0 dram_base=0 y_size=3 x_size=2 x_stride=5 x_pad_0=1 x_pad_1=1 y_pad_0=1 push_next_dep
      finish pop_prev_dep
    `).r;
    const rowCost = T.busLatency + 4;
    expect(padded.complete[0]! - padded.issue[0]!).toBe(5 + 3 * rowCost + 2 * 2 + 1);
    expect(padded.bus.beats).toBe(2 * INSN_BEATS + 3 * 4);

    // One WGT element is 256 B = 32 beats; with bursts of at most 16 beats it takes two requests.
    const t16 = makeTiming({ ...T, maxBurstBeats: 16 });
    const split = run(
      `
      load wgt sram_base=0 dram_base=0 y_size=1 x_size=1 x_stride=1 push_next_dep
      finish pop_prev_dep
    `,
      t16,
    ).r;
    expect(split.complete[0]! - split.issue[0]!).toBe(2 * (t16.busLatency + 16));
    expect(split.bus.requests).toBe(1 + 2);
  });

  it('the DRAM port is shared round-robin, burst by burst', () => {
    // A WGT load (32 beats) and an ACC load (4 x 64 B = 32 beats), each split into two 16-beat
    // bursts of B = latency + 16 cycles. The WGT load gets the port first (it is ready a cycle
    // earlier); after each burst the port goes to the other waiting module.
    const t16 = makeTiming({ ...T, maxBurstBeats: 16 });
    const { r } = run(
      `
      load wgt sram_base=0 dram_base=0 y_size=1 x_size=1 x_stride=1 push_next_dep
      load acc sram_base=0 dram_base=0 y_size=1 x_size=4 x_stride=4
      finish pop_prev_dep
    `,
      t16,
    );
    const B = t16.busLatency + 16;
    const r0 = readyAt(3, 0, t16);
    // Port: wgt burst 1 [r0, r0+B), acc burst 1, wgt burst 2, acc burst 2.
    expect(r.issue[0]).toBe(r0);
    expect(r.issue[1]).toBe(r0 + 1);
    expect(r.complete[0]).toBe(r0 + 3 * B);
    expect(r.complete[1]).toBe(r0 + 4 * B);
    expect(r.modules.load.busStall).toBe(B);
    expect(r.modules.compute.busStall).toBe(B - 1 + B);
    expect(r.bus.busyCycles).toBe(4 * B + t16.busLatency + 3 * INSN_BEATS);
  });

  it('a GEMM of N micro-ops takes N + fill cycles', () => {
    const N = 4 * 3 * 5; // uops x iter_out x iter_in
    const { r } = run(`
      gemm uop_bgn=0 uop_end=4 iter_out=3 iter_in=5
      finish
    `);
    const issue = readyAt(2, 0);
    expect(r.issue[0]).toBe(issue);
    expect(r.complete[0]! - r.issue[0]!).toBe(N + T.gemmPipelineFill);
    expect(r.cycles).toBe(issue + N + T.gemmPipelineFill + T.syncCycles);
    expect(r.gemm.uops).toBe(N);
    expect(r.gemm.utilization).toBeCloseTo(N / r.cycles, 12);
    expect(r.gemm.macsPerCycle).toBeCloseTo((N * cfg.BATCH * cfg.BLOCK_IN * cfg.BLOCK_OUT) / r.cycles, 12);
    expect(r.gemm.peakMacsPerCycle).toBe(256);
  });

  it('ALU: one uop per cycle with an immediate, one per two cycles tensor-tensor', () => {
    const { r } = run(`
      alu add uop_bgn=0 uop_end=2 iter_out=1 iter_in=10 use_imm imm=3
      alu add uop_bgn=0 uop_end=2 iter_out=1 iter_in=10
      finish
    `);
    expect(r.complete[0]! - r.issue[0]!).toBe(T.aluPipelineFill + 20 * T.aluCyclesPerUopImm);
    expect(r.complete[1]! - r.issue[1]!).toBe(T.aluPipelineFill + 20 * T.aluCyclesPerUopTensor);
    expect(r.issue[1]).toBe(r.complete[0]);
    expect(r.alu.uops).toBe(40);
  });

  /**
   * K tiles of load INP (8 beats: Ld = L + 8) -> GEMM (G = fill + 60) -> store OUT (8 beats: St = L + 8).
   *
   * Single-buffered, tile k+1's load must wait for GEMM k to release the input buffer, and GEMM
   * k+1 for the load; store k and load k+1 then both want the port when GEMM k's tokens arrive
   * (round-robin: the store wins, the load module having had the last grant). Each boundary
   * between tiles therefore exposes 2 token hops + St + Ld beside the GEMMs:
   *   serial = ready(L0) + Ld + K (tau + G) + (K-1)(tau + St + Ld) + tau + St + tau + sync.
   * Double-buffered, loads run one tile ahead and stores one behind, hidden under the GEMMs
   * (G > Ld + St), so the GEMMs run back to back:
   *   double = ready(L0) + Ld + tau + K G + tau + St + tau + sync,
   * faster by (K-1)(2 tau + St + Ld).
   */
  it('double buffering a load->compute->store chain hides the loads and stores under compute', () => {
    const K = 4;
    // Tile k uses input buffer `buf` (elements buf*4..) and accumulator buffer `buf` alike.
    const tile = (k: number, buf: number, flags: { load: string[]; gemm: string[]; store: string[] }) => `
      load inp sram_base=${4 * buf} dram_base=${4 * k} y_size=1 x_size=4 x_stride=4 push_next_dep ${flags.load.join(' ')}
      gemm uop_bgn=0 uop_end=4 iter_out=15 iter_in=1 pop_prev_dep ${flags.gemm.join(' ')}
      store out sram_base=${4 * buf} dram_base=${4 * k} y_size=1 x_size=4 x_stride=4 pop_prev_dep ${flags.store.join(' ')}`;
    const when = (cond: boolean, flag: string) => (cond ? [flag] : []);
    // One buffer: load k (k>0) waits for GEMM k-1 to release it; GEMM k (k>0) for store k-1; FINISH for the last store.
    let serial = '';
    for (let k = 0; k < K; k++) {
      serial += tile(k, 0, {
        load: when(k > 0, 'pop_next_dep'),
        gemm: ['push_next_dep', ...when(k < K - 1, 'push_prev_dep'), ...when(k > 0, 'pop_next_dep')],
        store: ['push_prev_dep'],
      });
    }
    serial += '\nfinish pop_next_dep';
    // Two buffers: load k (k>=2) waits for GEMM k-2; GEMM k (k>=2) for store k-2; FINISH for the last store.
    let double = '';
    for (let k = 0; k < K; k++) {
      double += tile(k, k % 2, {
        load: when(k >= 2, 'pop_next_dep'),
        gemm: ['push_next_dep', ...when(k < K - 2, 'push_prev_dep'), ...when(k >= 2, 'pop_next_dep')],
        store: when(k < K - 2 || k === K - 1, 'push_prev_dep'),
      });
    }
    double += '\nfinish pop_next_dep';

    const n = 3 * K + 1;
    const tau = T.tokenLatency;
    const Ld = T.busLatency + 8;
    const St = T.busLatency + 8;
    const G = T.gemmPipelineFill + 60;
    expect(G).toBeGreaterThan(Ld + St);
    const serialExpected = readyAt(n, 0) + Ld + K * (tau + G) + (K - 1) * (tau + St + Ld) + tau + St + tau + T.syncCycles;
    const doubleExpected = readyAt(n, 0) + Ld + tau + K * G + tau + St + tau + T.syncCycles;

    const s = run(serial).r;
    const d = run(double).r;
    expect(s.cycles).toBe(serialExpected);
    expect(d.cycles).toBe(doubleExpected);
    expect(s.cycles - d.cycles).toBe((K - 1) * (2 * tau + St + Ld));
    // The GEMM unit is busy exactly K*G cycles either way; only the waits between differ.
    expect(s.modules.compute.busy).toBe(K * G + T.syncCycles);
    expect(d.modules.compute.busy).toBe(K * G + T.syncCycles);
  });

  it('a push into a full token queue stalls its producer until the consumer pops', () => {
    // GEMM keeps compute busy while the load module pushes 9 tokens into a queue of depth 8.
    const loads = Array.from({ length: 9 }, (_, k) => `load inp sram_base=${k} dram_base=${k} y_size=1 x_size=1 x_stride=1 push_next_dep`).join('\n');
    const pops = Array.from({ length: 9 }, () => 'load uop sram_base=0 dram_base=0 y_size=0 x_size=0 x_stride=0 pop_prev_dep').join('\n');
    const program = `
      gemm uop_bgn=0 uop_end=1000 iter_out=1 iter_in=1
      ${loads}
      ${pops}
      finish
    `;
    const { r } = run(program);
    const n = 20;
    const gemmDone = readyAt(n, 0) + T.gemmPipelineFill + 1000;
    const ld = T.busLatency + 16 / BEAT; // one INP element
    // Loads run back to back from when the first is ready.
    const last = readyAt(n, 1) + 9 * ld;
    expect(r.complete[9]).toBe(last);
    expect(r.complete[0]).toBe(gemmDone);
    // The 9th push waits for the first pop, which happens when the GEMM ends.
    expect(r.issue[10]).toBe(gemmDone);
    expect(r.modules.load.tokenStall).toBe(gemmDone - last);
    expect(r.modules.load.busy).toBe(9 * ld);
    // The same program with a deeper queue never stalls the load module.
    const deep = run(program, makeTiming({ ...T, tokenQueueDepth: 16 })).r;
    expect(deep.modules.load.tokenStall).toBe(0);
    expect(deep.cycles).toBe(r.cycles);
  });

  it('names the blocked module when given a stream that deadlocks', () => {
    // Validation rejects such streams first; the engine still fails cleanly rather than spin.
    const { insns } = assemble(cfg, 'gemm uop_bgn=0 uop_end=1 iter_out=1 iter_in=1 pop_prev_dep\nfinish');
    expect(() => simulateCycles(cfg, insns, { timing: T })).toThrow(/compute module is blocked at instruction 0: the load->compute queue is empty/);
  });

  it('fetch stalls on a full command queue and counts it as a queue stall', () => {
    // Command queues of depth 1: the second GEMM cannot be routed until the first starts.
    const t1 = makeTiming({ ...T, commandQueueDepth: 1 });
    const { r } = run(
      `
      gemm uop_bgn=0 uop_end=100 iter_out=1 iter_in=1
      gemm uop_bgn=0 uop_end=100 iter_out=1 iter_in=1
      gemm uop_bgn=0 uop_end=100 iter_out=1 iter_in=1
      finish
    `,
      t1,
    );
    const G = T.gemmPipelineFill + 100;
    const first = readyAt(4, 0);
    // GEMM 1 is routed when GEMM 0 starts, GEMM 2 when GEMM 1 starts, FINISH when GEMM 2 starts.
    expect(r.issue[1]).toBe(first + G);
    expect(r.dispatch[2]).toBe(first + G + 1);
    expect(r.cycles).toBe(first + 3 * G + T.syncCycles);
    expect(r.modules.fetch.tokenStall).toBe(2 * G - 2 * T.fetchDispatchCycles);
  });
});
