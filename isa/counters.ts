/** VTA's profiler counters (SPEC.md section 6), counted the same way by every target that reports them. */
import type { VtaConfig } from './config.ts';
import type { Insn } from './types.ts';

/** Named as VTA's `profiler_status` prints them. */
export interface Counters {
  inp_load_nbytes: number;
  wgt_load_nbytes: number;
  acc_load_nbytes: number;
  uop_load_nbytes: number;
  out_store_nbytes: number;
  /** GEMM micro-ops executed, resets excluded. */
  gemm_counter: number;
  /** ALU micro-ops executed. */
  alu_counter: number;
}

export const COUNTER_NAMES: readonly (keyof Counters)[] = [
  'inp_load_nbytes',
  'wgt_load_nbytes',
  'acc_load_nbytes',
  'uop_load_nbytes',
  'out_store_nbytes',
  'gemm_counter',
  'alu_counter',
];

export function zeroCounters(): Counters {
  return { inp_load_nbytes: 0, wgt_load_nbytes: 0, acc_load_nbytes: 0, uop_load_nbytes: 0, out_store_nbytes: 0, gemm_counter: 0, alu_counter: 0 };
}

/** Adds what one executed instruction counts (SPEC.md section 6); ranges are the caller's to check. */
export function countInsn(cfg: VtaConfig, c: Counters, insn: Insn): void {
  switch (insn.opcode) {
    case 'LOAD': {
      const n = insn.x_size * insn.y_size;
      switch (insn.memory_type) {
        case 'UOP':
          c.uop_load_nbytes += n * cfg.UOP_ELEM_BYTES;
          break;
        case 'INP':
          c.inp_load_nbytes += n * cfg.INP_ELEM_BYTES;
          break;
        case 'WGT':
          c.wgt_load_nbytes += n * cfg.WGT_ELEM_BYTES;
          break;
        // VTA's profiler counts ACC_8BIT loads in full acc elements.
        case 'ACC':
        case 'ACC_8BIT':
          c.acc_load_nbytes += n * cfg.ACC_ELEM_BYTES;
          break;
        case 'OUT':
          break;
      }
      return;
    }
    case 'STORE':
      c.out_store_nbytes += insn.x_size * insn.y_size * cfg.OUT_ELEM_BYTES;
      return;
    case 'GEMM':
      if (insn.reset_reg === 0) c.gemm_counter += insn.iter_out * insn.iter_in * (insn.uop_end - insn.uop_bgn);
      return;
    case 'ALU':
      c.alu_counter += insn.iter_out * insn.iter_in * (insn.uop_end - insn.uop_bgn);
      return;
    case 'FINISH':
      return;
  }
}
