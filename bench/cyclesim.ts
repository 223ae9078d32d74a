/**
 * Speed of the cycle-level simulator: simulated cycles per second of wall time on a GEMM-heavy
 * program (double-buffered tiled matrix multiply), with functional execution off (target: at least
 * 50x10^6 cycles/s) and on (target: no slower than the functional simulator + 30 %, which is timed
 * on the same program in the same run).
 */
import { preset, type VtaConfig } from '../isa/config.ts';
import { encodeUops } from '../isa/codec.ts';
import type { DepFlags, Insn, MemInsn } from '../isa/types.ts';
import { Dram } from '../sim/dram.ts';
import { FunctionalSimulator } from '../sim/fsim.ts';
import { CycleSimulator } from '../sim/cycle/cyclesim.ts';
import { simulateCycles } from '../sim/cycle/engine.ts';
import { DEFAULT_TIMING } from '../sim/cycle/timing.ts';
import type { BenchRow, BenchSuite } from './harness.ts';

/** Tile sizes: M input rows x K reduction blocks against N weight blocks per tile. */
const M = 16;
const K = 16;
const N = 8;
/** Distinct input/output tiles in DRAM; tiles beyond these reuse them (the timing is the same). */
const RING = 4;

interface Program {
  insns: Insn[];
  memBytes: number;
  init: { addr: number; bytes: Uint8Array }[];
}

/**
 * T tiles of out[M x N] = inp[M x K] . wgt[K x N] (in blocks), weights loaded once, inputs and
 * accumulators double-buffered, so load t+1 and store t-1 overlap GEMM t. Micro-ops: for buffer b,
 * K GEMM uops at b*K (dst b*M*N, src b*M*K + k, wgt k), and one reset/ALU uop at 2K + b.
 */
export function gemmHeavyProgram(cfg: VtaConfig, tiles: number): Program {
  const flags = (f: Partial<Record<keyof DepFlags, boolean>>): DepFlags => ({
    pop_prev_dep: f.pop_prev_dep ? 1 : 0,
    pop_next_dep: f.pop_next_dep ? 1 : 0,
    push_prev_dep: f.push_prev_dep ? 1 : 0,
    push_next_dep: f.push_next_dep ? 1 : 0,
  });
  const row = (memory_type: MemInsn['memory_type'], sram_base: number, dram_base: number, x_size: number) => ({
    memory_type,
    sram_base,
    dram_base,
    y_size: 1,
    x_size,
    x_stride: x_size,
    y_pad_0: 0,
    y_pad_1: 0,
    x_pad_0: 0,
    x_pad_1: 0,
  });
  const uops = [0, 1].flatMap((b) => Array.from({ length: K }, (_, k) => ({ dst_idx: b * M * N, src_idx: b * M * K + k, wgt_idx: k })));
  uops.push({ dst_idx: 0, src_idx: 0, wgt_idx: 0 }, { dst_idx: M * N, src_idx: M * N, wgt_idx: 0 });
  const uopBytes = encodeUops(cfg, uops);
  // DRAM: uops | weights | RING input tiles | RING output tiles | instructions.
  const wgtAddr = Math.ceil(uopBytes.length / 256) * 256;
  const wgtBytes = N * K * cfg.WGT_ELEM_BYTES;
  const inpAddr = wgtAddr + wgtBytes;
  const inpTile = M * K * cfg.INP_ELEM_BYTES;
  const outAddr = inpAddr + RING * inpTile;
  const outTile = M * N * cfg.OUT_ELEM_BYTES;
  const insnAddr = outAddr + RING * outTile;

  const insns: Insn[] = [];
  insns.push({ opcode: 'LOAD', ...row('UOP', 0, 0, uops.length), ...flags({}) });
  insns.push({ opcode: 'LOAD', ...row('WGT', 0, wgtAddr / cfg.WGT_ELEM_BYTES, N * K), ...flags({}) });
  for (let t = 0; t < tiles; t++) {
    const b = t % 2;
    const inpBase = (inpAddr + (t % RING) * inpTile) / cfg.INP_ELEM_BYTES;
    const outBase = (outAddr + (t % RING) * outTile) / cfg.OUT_ELEM_BYTES;
    const tileLoop = { iter_out: M, iter_in: N, dst_factor_out: 1, dst_factor_in: M };
    insns.push({ opcode: 'LOAD', ...row('INP', b * M * K, inpBase, M * K), ...flags({ pop_next_dep: t >= 2, push_next_dep: true }) });
    // Reset the accumulator tile once store t-2 has read it.
    insns.push({
      opcode: 'GEMM',
      reset_reg: 1,
      uop_bgn: 2 * K + b,
      uop_end: 2 * K + b + 1,
      ...tileLoop,
      src_factor_out: 0,
      src_factor_in: 0,
      wgt_factor_out: 0,
      wgt_factor_in: 0,
      ...flags({ pop_next_dep: t >= 2 }),
    });
    insns.push({
      opcode: 'GEMM',
      reset_reg: 0,
      uop_bgn: b * K,
      uop_end: (b + 1) * K,
      ...tileLoop,
      src_factor_out: K,
      src_factor_in: 0,
      wgt_factor_out: 0,
      wgt_factor_in: K,
      ...flags({ pop_prev_dep: true, push_prev_dep: t < tiles - 2 }),
    });
    insns.push({
      opcode: 'ALU',
      alu_opcode: 'SHR',
      use_imm: 1,
      imm: 8,
      reset_reg: 0,
      uop_bgn: 2 * K + b,
      uop_end: 2 * K + b + 1,
      ...tileLoop,
      src_factor_out: 1,
      src_factor_in: M,
      ...flags({ push_next_dep: true }),
    });
    insns.push({ opcode: 'STORE', ...row('OUT', b * M * N, outBase, M * N), ...flags({ pop_prev_dep: true, push_prev_dep: t < tiles - 2 || t === tiles - 1 }) });
  }
  insns.push({ opcode: 'FINISH', ...flags({ pop_next_dep: true }) });
  const memBytes = insnAddr + insns.length * 16;
  let seed = 12345;
  const noise = (n: number) =>
    Uint8Array.from({ length: n }, () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 24;
    });
  const init = [
    { addr: 0, bytes: uopBytes },
    { addr: wgtAddr, bytes: noise(wgtBytes) },
    ...Array.from({ length: RING }, (_, r) => ({ addr: inpAddr + r * inpTile, bytes: noise(inpTile) })),
  ];
  return { insns, memBytes, init };
}

/**
 * Best wall time in seconds of each function over `repeat` rounds, after a warm-up round; the
 * functions take turns within each round, so a machine whose load varies affects them alike and
 * their ratio stays meaningful.
 */
function timeBestEach(fns: (() => unknown)[], repeat: number): number[] {
  for (const f of fns) f();
  const best = fns.map(() => Infinity);
  for (let r = 0; r < repeat; r++) {
    fns.forEach((f, k) => {
      const t0 = performance.now();
      f();
      best[k] = Math.min(best[k]!, (performance.now() - t0) / 1000);
    });
  }
  return best;
}

function loaded(p: Program): Dram {
  const dram = new Dram(p.memBytes);
  for (const r of p.init) dram.write(r.addr, r.bytes);
  return dram;
}

export const cyclesimSuite: BenchSuite = {
  name: 'cyclesim',
  async run({ quick, log }) {
    const cfg = preset('default');
    const repeat = quick ? 2 : 10;
    const rows: BenchRow[] = [];

    const offProgram = gemmHeavyProgram(cfg, quick ? 500 : 5000);
    const off = new CycleSimulator(cfg, loaded(offProgram), DEFAULT_TIMING);
    const offCycles = off.run(offProgram.insns, { functional: false }).timing.cycles;
    const [offSeconds, engineSeconds] = timeBestEach(
      [() => off.run(offProgram.insns, { functional: false }), () => simulateCycles(cfg, offProgram.insns, { timing: DEFAULT_TIMING })],
      repeat,
    ) as [number, number];
    log(`functional off: ${offProgram.insns.length} instructions, ${offCycles} cycles in ${offSeconds.toFixed(4)} s`);
    rows.push({
      suite: 'cyclesim',
      name: 'simulated cycles/s, functional off (GEMM-heavy)',
      value: offCycles / offSeconds,
      unit: 'cycles/s',
      reference: { label: 'target', value: 50e6, unit: 'cycles/s' },
      note: `${offProgram.insns.length} insns, ${offCycles} cycles; validation included`,
    });
    // The timing model alone (the stream is valid): what the engine itself costs.
    rows.push({
      suite: 'cyclesim',
      name: 'simulated cycles/s, timing model alone (no validation)',
      value: offCycles / engineSeconds,
      unit: 'cycles/s',
      note: 'the same run without validateProgram, which the simulator does first',
    });

    const onProgram = gemmHeavyProgram(cfg, quick ? 50 : 400);
    const on = new CycleSimulator(cfg, loaded(onProgram), DEFAULT_TIMING);
    const onRun = on.run(onProgram.insns);
    const fsim = new FunctionalSimulator(cfg, loaded(onProgram));
    const [onSeconds, fsimSeconds] = timeBestEach([() => on.run(onProgram.insns), () => fsim.run(onProgram.insns)], repeat) as [number, number];
    const cycles = onRun.timing.cycles;
    if (Buffer.compare(on.dram.u8, fsim.dram.u8) !== 0) throw new Error('cyclesim and fsim left different device memory on the benchmark program');
    log(`functional on: ${cycles} cycles in ${onSeconds.toFixed(4)} s; fsim ${fsimSeconds.toFixed(4)} s`);
    rows.push({
      suite: 'cyclesim',
      name: 'simulated cycles/s, functional on (GEMM-heavy)',
      value: cycles / onSeconds,
      unit: 'cycles/s',
      reference: { label: 'fsim-paced (fsim time, same program)', value: cycles / fsimSeconds, unit: 'cycles/s' },
      note: `${onProgram.insns.length} insns, ${cycles} cycles, GEMM utilization ${(100 * onRun.timing.gemm.utilization).toFixed(1)}%`,
    });
    rows.push({
      suite: 'cyclesim',
      name: 'wall time functional on / fsim',
      value: onSeconds / fsimSeconds,
      unit: 'ratio',
      reference: { label: 'target at most', value: 1.3, unit: 'ratio' },
      note: `cyclesim ${(onSeconds * 1e3).toFixed(2)} ms, fsim ${(fsimSeconds * 1e3).toFixed(2)} ms`,
    });
    return rows;
  },
};
