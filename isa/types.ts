/**
 * Instructions and micro-ops as plain objects whose keys are VTA's field names, so the JSON form
 * (`vta-disasm --json`) is the object itself. Flags are 0/1 numbers.
 */
import type { MemoryTypeName } from './config.ts';

export const OPCODES = { LOAD: 0, STORE: 1, GEMM: 2, FINISH: 3, ALU: 4 } as const;
export type OpcodeName = keyof typeof OPCODES;
export const OPCODE_NAMES: readonly OpcodeName[] = ['LOAD', 'STORE', 'GEMM', 'FINISH', 'ALU'];

export const MEMORY_TYPES = { UOP: 0, WGT: 1, INP: 2, ACC: 3, OUT: 4, ACC_8BIT: 5 } as const;
export const MEMORY_TYPE_NAMES: readonly MemoryTypeName[] = ['UOP', 'WGT', 'INP', 'ACC', 'OUT', 'ACC_8BIT'];

export const ALU_OPCODES = { MIN: 0, MAX: 1, ADD: 2, SHR: 3, MUL: 4 } as const;
export type AluOpName = keyof typeof ALU_OPCODES;
export const ALU_OPCODE_NAMES: readonly AluOpName[] = ['MIN', 'MAX', 'ADD', 'SHR', 'MUL'];

export type Bit = 0 | 1;

export interface DepFlags {
  pop_prev_dep: Bit;
  pop_next_dep: Bit;
  push_prev_dep: Bit;
  push_next_dep: Bit;
}

export const DEP_FLAG_NAMES = ['pop_prev_dep', 'pop_next_dep', 'push_prev_dep', 'push_next_dep'] as const;

export interface MemInsn extends DepFlags {
  opcode: 'LOAD' | 'STORE';
  memory_type: MemoryTypeName;
  sram_base: number;
  dram_base: number;
  y_size: number;
  x_size: number;
  x_stride: number;
  y_pad_0: number;
  y_pad_1: number;
  x_pad_0: number;
  x_pad_1: number;
}

export interface LoopFields {
  reset_reg: Bit;
  uop_bgn: number;
  uop_end: number;
  iter_out: number;
  iter_in: number;
  dst_factor_out: number;
  dst_factor_in: number;
  src_factor_out: number;
  src_factor_in: number;
}

export interface GemmInsn extends DepFlags, LoopFields {
  opcode: 'GEMM';
  wgt_factor_out: number;
  wgt_factor_in: number;
}

export interface AluInsn extends DepFlags, LoopFields {
  opcode: 'ALU';
  alu_opcode: AluOpName;
  use_imm: Bit;
  /** Signed 16-bit immediate, sign-extended to 32 bits when used. */
  imm: number;
}

export interface FinishInsn extends DepFlags {
  opcode: 'FINISH';
}

export type Insn = MemInsn | GemmInsn | AluInsn | FinishInsn;

export interface Uop {
  dst_idx: number;
  src_idx: number;
  wgt_idx: number;
}

export const NO_DEPS: DepFlags = Object.freeze({ pop_prev_dep: 0, pop_next_dep: 0, push_prev_dep: 0, push_next_dep: 0 });

/**
 * The module an instruction runs on, as VTA's fetch routes it: INP/WGT loads to load, STORE to
 * store, everything else (UOP/ACC/ACC_8BIT loads, GEMM, ALU, FINISH) to compute.
 */
export type ModuleName = 'load' | 'compute' | 'store';

export function moduleOf(insn: Insn): ModuleName {
  if (insn.opcode === 'STORE') return 'store';
  if (insn.opcode === 'LOAD' && (insn.memory_type === 'INP' || insn.memory_type === 'WGT')) return 'load';
  return 'compute';
}
