/**
 * Speed of the functional simulator: int8 multiply-accumulates per second of wall time on a stream
 * of full-tile GEMM instructions (target: 2x10^9 MAC/s on the 2-core dev machine), with the plain
 * JS kernel timed on the same stream as the reference; and ALU micro-ops per second.
 */
import { preset, type VtaConfig } from '../isa/config.ts';
import { encodeUops } from '../isa/codec.ts';
import { NO_DEPS, type Insn } from '../isa/types.ts';
import { Dram } from '../sim/dram.ts';
import { FunctionalSimulator } from '../sim/fsim.ts';
import type { KernelChoice } from '../sim/state.ts';
import { timeBest, type BenchRow, type BenchSuite } from './harness.ts';

/** Each GEMM computes a 16x16-block tile: out[M x N] += inp[M x K] . wgt[N x K] (4096 micro-ops). */
const [M, K, N] = [16, 16, 16];

interface Bench {
  sim: FunctionalSimulator;
  insns: Insn[];
}

/** Loads once, then `gemms` GEMMs (or ALU ops) over the same tile, one STORE, FINISH. */
function program(cfg: VtaConfig, kernel: KernelChoice, body: 'gemm' | 'alu', count: number): Bench {
  const eb = { inp: cfg.INP_ELEM_BYTES, wgt: cfg.WGT_ELEM_BYTES };
  const uopAddr = 0;
  const inpAddr = 4096;
  const wgtAddr = inpAddr + M * K * eb.inp;
  const outAddr = wgtAddr + N * K * eb.wgt;
  const memBytes = outAddr + M * N * cfg.OUT_ELEM_BYTES;
  const sim = new FunctionalSimulator(cfg, new Dram(memBytes), { kernel });
  sim.dram.write(uopAddr, encodeUops(cfg, Array.from({ length: K }, (_, k) => ({ dst_idx: 0, src_idx: k, wgt_idx: k }))));
  let seed = 1;
  const fill = (addr: number, n: number) => {
    for (let i = 0; i < n; i++) sim.dram.u8[addr + i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  };
  fill(inpAddr, M * K * eb.inp);
  fill(wgtAddr, N * K * eb.wgt);
  const mem = (opcode: 'LOAD' | 'STORE', memory_type: 'UOP' | 'INP' | 'WGT' | 'OUT', dram_base: number, y_size: number, x_size: number): Insn => ({
    ...NO_DEPS, opcode, memory_type, sram_base: 0, dram_base, y_size, x_size, x_stride: x_size, y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0,
  });
  const loops = { reset_reg: 0 as const, uop_bgn: 0, uop_end: K, iter_out: M, iter_in: N, dst_factor_out: N, dst_factor_in: 1, src_factor_out: K, src_factor_in: 0 };
  const op: Insn =
    body === 'gemm'
      ? { ...NO_DEPS, opcode: 'GEMM', ...loops, wgt_factor_out: 0, wgt_factor_in: K }
      : { ...NO_DEPS, opcode: 'ALU', ...loops, uop_bgn: 0, uop_end: 1, src_factor_out: N, src_factor_in: 1, alu_opcode: 'ADD', use_imm: 0, imm: 0 };
  const insns: Insn[] = [
    mem('LOAD', 'UOP', uopAddr / 4, 1, K),
    { ...mem('LOAD', 'INP', inpAddr / eb.inp, M, K) },
    { ...mem('LOAD', 'WGT', wgtAddr / eb.wgt, N, K), push_next_dep: 1 },
    { ...NO_DEPS, opcode: 'GEMM', ...loops, reset_reg: 1, uop_end: 1, wgt_factor_out: 0, wgt_factor_in: 0, pop_prev_dep: 1 },
    ...Array.from({ length: count }, () => op),
    { ...mem('STORE', 'OUT', outAddr / cfg.OUT_ELEM_BYTES, M, N), pop_prev_dep: 1, push_prev_dep: 1 },
    { ...NO_DEPS, opcode: 'FINISH', pop_next_dep: 1 },
  ];
  insns[insns.length - 3] = { ...insns[insns.length - 3]!, push_next_dep: 1 };
  return { sim, insns };
}

/** Figure per second of the best run. */
async function rate(b: Bench, perRun: (c: ReturnType<FunctionalSimulator['run']>) => number, repeat: number): Promise<number> {
  let amount = 0;
  const seconds = await timeBest(() => {
    amount = perRun(b.sim.run(b.insns));
  }, repeat);
  return amount / seconds;
}

export const simSuite: BenchSuite = {
  name: 'sim',
  async run({ quick, log }) {
    const cfg = preset('default');
    const repeat = quick ? 1 : 5;
    const gemms = quick ? 20 : 200;
    const macs = (c: { gemm_counter: number }) => c.gemm_counter * cfg.MACS_PER_UOP;
    const wasm = program(cfg, 'wasm', 'gemm', gemms);
    log(`GEMM: ${gemms} instructions of ${M * N * K} micro-ops, WebAssembly SIMD kernel`);
    const simd = await rate(wasm, macs, repeat);
    log('GEMM: plain JS kernel');
    const js = await rate(program(cfg, 'js', 'gemm', Math.max(2, gemms / 20)), macs, repeat);
    log('ALU: tensor ADD');
    const alu = await rate(program(cfg, 'auto', 'alu', gemms), (c) => c.alu_counter, repeat);
    const rows: BenchRow[] = [
      {
        suite: 'sim',
        name: 'fsim GEMM int8 MAC/s (16x16 blocks, SIMD kernel)',
        value: simd,
        unit: 'MAC/s',
        reference: { label: 'plain JS kernel', value: js, unit: 'MAC/s' },
        note: 'target >= 2e9',
      },
      { suite: 'sim', name: 'fsim ALU micro-ops/s (tensor ADD, 16 lanes)', value: alu, unit: 'uop/s' },
    ];
    return rows;
  },
};
