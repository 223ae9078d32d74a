/**
 * The synthetic streams the speed benchmarks share: one tile's operands loaded once, then many GEMM
 * instructions over the tile (int8 MAC throughput), or many ALU instructions (per-instruction cost
 * with an immediate; lane throughput with a tensor operand), one STORE and FINISH.
 */
import { encodeProgram, encodeUops } from '../isa/codec.ts';
import type { VtaConfig } from '../isa/config.ts';
import { NO_DEPS, type Insn } from '../isa/types.ts';

/** Each GEMM computes a 16x16-block tile: out[M x N] += inp[M x K] . wgt[N x K] (4096 micro-ops). */
export const [M, K, N] = [16, 16, 16];

export interface Program {
  memory: Uint8Array;
  insns: Insn[];
  insnAddr: number;
  outAddr: number;
  outBytes: number;
}

/**
 * Loads once, then `count` GEMMs, ALU ADDs with an immediate on one acc element, or tensor ALU ADDs
 * over the whole tile, a STORE, FINISH.
 */
export function program(cfg: VtaConfig, body: 'gemm' | 'alu-imm' | 'alu-tensor', count: number): Program {
  const eb = { inp: cfg.INP_ELEM_BYTES, wgt: cfg.WGT_ELEM_BYTES };
  const inpAddr = 4096;
  const wgtAddr = inpAddr + M * K * eb.inp;
  const outAddr = wgtAddr + N * K * eb.wgt;
  const outBytes = M * N * cfg.OUT_ELEM_BYTES;
  const insnAddr = outAddr + outBytes;
  const mem = (opcode: 'LOAD' | 'STORE', memory_type: 'UOP' | 'INP' | 'WGT' | 'OUT', dram_base: number, y_size: number, x_size: number): Insn => ({
    ...NO_DEPS, opcode, memory_type, sram_base: 0, dram_base, y_size, x_size, x_stride: x_size, y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0,
  });
  const loops = { reset_reg: 0 as const, uop_bgn: 0, uop_end: K, iter_out: M, iter_in: N, dst_factor_out: N, dst_factor_in: 1, src_factor_out: K, src_factor_in: 0 };
  const op: Insn =
    body === 'gemm'
      ? { ...NO_DEPS, opcode: 'GEMM', ...loops, wgt_factor_out: 0, wgt_factor_in: K }
      : body === 'alu-imm'
        ? { ...NO_DEPS, opcode: 'ALU', ...loops, uop_end: 1, iter_out: 1, iter_in: 1, alu_opcode: 'ADD', use_imm: 1, imm: 3 }
        : { ...NO_DEPS, opcode: 'ALU', ...loops, uop_end: 1, src_factor_out: N, src_factor_in: 1, alu_opcode: 'ADD', use_imm: 0, imm: 0 };
  const insns: Insn[] = [
    mem('LOAD', 'UOP', 0, 1, K),
    mem('LOAD', 'INP', inpAddr / eb.inp, M, K),
    { ...mem('LOAD', 'WGT', wgtAddr / eb.wgt, N, K), push_next_dep: 1 },
    { ...NO_DEPS, opcode: 'GEMM', ...loops, reset_reg: 1, uop_end: 1, wgt_factor_out: 0, wgt_factor_in: 0, pop_prev_dep: 1 },
    ...Array.from({ length: count }, () => op),
    { ...mem('STORE', 'OUT', outAddr / cfg.OUT_ELEM_BYTES, M, N), pop_prev_dep: 1, push_prev_dep: 1 },
    { ...NO_DEPS, opcode: 'FINISH', pop_next_dep: 1 },
  ];
  insns[insns.length - 3] = { ...insns[insns.length - 3]!, push_next_dep: 1 };
  const memory = new Uint8Array(insnAddr + insns.length * 16);
  memory.set(encodeUops(cfg, Array.from({ length: K }, (_, k) => ({ dst_idx: 0, src_idx: k, wgt_idx: k }))), 0);
  let seed = 1;
  for (let i = inpAddr; i < outAddr; i++) memory[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  memory.set(encodeProgram(cfg, insns), insnAddr);
  return { memory, insns, insnAddr, outAddr, outBytes };
}

