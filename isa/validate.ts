/**
 * Static validity of instructions and streams (SPEC.md §6): everything that can be checked without
 * running the program. Every driver runs `validateProgram` before a stream reaches its device.
 */
import { elemBytes, sramDepth, type VtaConfig } from './config.ts';
import { ProgramError } from './errors.ts';
import { scheduleProgram, type ScheduleOptions } from './schedule.ts';
import { moduleOf, type Insn, type MemInsn } from './types.ts';

/** SRAM elements a LOAD writes (padding included) or a STORE reads. */
export function sramExtent(insn: MemInsn): number {
  if (insn.x_size === 0) return 0;
  if (insn.opcode === 'STORE') return insn.y_size * insn.x_size;
  return (insn.y_pad_0 + insn.y_size + insn.y_pad_1) * (insn.x_pad_0 + insn.x_size + insn.x_pad_1);
}

/** [first, end) DRAM byte range a memory instruction touches, or null if it touches none. */
export function dramRange(cfg: VtaConfig, insn: MemInsn): [number, number] | null {
  if (insn.x_size === 0 || insn.y_size === 0) return null;
  const eb = elemBytes(cfg, insn.memory_type);
  const first = insn.dram_base * eb;
  const end = (insn.dram_base + (insn.y_size - 1) * insn.x_stride + insn.x_size) * eb;
  return [first, end];
}

function invalid(insn: Insn, index: number, msg: string): never {
  throw new ProgramError(index, `${insn.opcode}: ${msg}`);
}

/** Checks one instruction's semantic rules (field widths are checked by the codec). */
export function validateInsn(cfg: VtaConfig, insn: Insn, index: number, memBytes?: number): void {
  const module = moduleOf(insn);
  if (module === 'load' && (insn.pop_prev_dep || insn.push_prev_dep)) {
    invalid(insn, index, 'a load-module instruction may not use pop_prev_dep/push_prev_dep (the load module has no previous stage)');
  }
  if (module === 'store' && (insn.pop_next_dep || insn.push_next_dep)) {
    invalid(insn, index, 'a STORE may not use pop_next_dep/push_next_dep (the store module has no next stage)');
  }
  switch (insn.opcode) {
    case 'LOAD':
    case 'STORE': {
      if (insn.opcode === 'LOAD' && insn.memory_type === 'OUT') invalid(insn, index, 'memory_type OUT cannot be loaded');
      if (insn.opcode === 'STORE' && insn.memory_type !== 'OUT') invalid(insn, index, `memory_type must be OUT, got ${insn.memory_type}`);
      if (insn.x_size === 0) return;
      const padded = insn.y_pad_0 || insn.y_pad_1 || insn.x_pad_0 || insn.x_pad_1;
      if (padded && (insn.opcode === 'STORE' || insn.memory_type === 'UOP')) {
        invalid(insn, index, `${insn.opcode === 'STORE' ? 'a STORE' : 'a UOP load'} cannot pad`);
      }
      // Overlapping rows are harmless to read (x_stride 0 broadcasts a row) but would make a
      // STORE's result depend on write order, which parallel implementations need not keep.
      if (insn.opcode === 'STORE' && insn.x_stride < insn.x_size) {
        invalid(insn, index, `x_stride=${insn.x_stride} is smaller than x_size=${insn.x_size}: stored rows would overlap`);
      }
      const depth = sramDepth(cfg, insn.memory_type);
      const end = insn.sram_base + sramExtent(insn);
      if (end > depth) {
        invalid(insn, index, `SRAM range [${insn.sram_base}, ${end}) of ${insn.memory_type} exceeds its depth ${depth}`);
      }
      const range = dramRange(cfg, insn);
      if (memBytes !== undefined && range && range[1] > memBytes) {
        invalid(insn, index, `DRAM bytes [${range[0]}, ${range[1]}) fall outside the ${memBytes}-byte device memory`);
      }
      return;
    }
    case 'GEMM':
    case 'ALU':
      if (insn.uop_bgn > insn.uop_end) invalid(insn, index, `uop_bgn=${insn.uop_bgn} is greater than uop_end=${insn.uop_end}`);
      if (insn.uop_end > cfg.UOP_DEPTH) invalid(insn, index, `uop_end=${insn.uop_end} exceeds the uop depth ${cfg.UOP_DEPTH}`);
      if (insn.opcode === 'ALU' && insn.reset_reg) invalid(insn, index, 'reset_reg must be 0 for ALU');
      return;
    case 'FINISH':
      return;
  }
}

export interface ValidateOptions extends ScheduleOptions {
  /** Device memory size in bytes; DRAM ranges are checked against it when given. */
  memBytes?: number;
}

/**
 * Checks every instruction, the FINISH rule, and that the dependency tokens neither deadlock nor
 * leave a LOAD/STORE unordered before FINISH. Returns the schedule (an execution order consistent
 * with the tokens) so simulators need not compute it again.
 */
export function validateProgram(cfg: VtaConfig, insns: readonly Insn[], opts: ValidateOptions = {}): Int32Array {
  if (insns.length === 0) throw new ProgramError(-1, 'the stream is empty: it needs at least a FINISH');
  insns.forEach((insn, i) => {
    validateInsn(cfg, insn, i, opts.memBytes);
    if (insn.opcode === 'FINISH' && i !== insns.length - 1) {
      throw new ProgramError(i, `FINISH must be the last instruction (the stream has ${insns.length})`);
    }
  });
  if (insns[insns.length - 1]!.opcode !== 'FINISH') {
    throw new ProgramError(-1, `the stream of ${insns.length} instructions does not end with FINISH`);
  }
  return scheduleProgram(insns, opts);
}
