/** fast-check generators of instructions and micro-ops with every field anywhere in its range. */
import fc from 'fast-check';
import {
  ALU_OPCODE_NAMES,
  MEMORY_TYPE_NAMES,
  type Bit,
  type DepFlags,
  type Insn,
  type Uop,
  type VtaConfig,
} from '../../isa/index.ts';

const bit = fc.constantFrom<Bit>(0, 1);
const uint = (bits: number) => fc.integer({ min: 0, max: 2 ** bits - 1 });

const flags: fc.Arbitrary<DepFlags> = fc.record({ pop_prev_dep: bit, pop_next_dep: bit, push_prev_dep: bit, push_next_dep: bit });

export function insnArb(cfg: VtaConfig): fc.Arbitrary<Insn> {
  const uopBits = cfg.LOG_UOP_DEPTH;
  const acc = cfg.LOG_ACC_DEPTH;
  const loop = {
    reset_reg: bit,
    uop_bgn: uint(uopBits),
    uop_end: uint(uopBits + 1),
    iter_out: uint(14),
    iter_in: uint(14),
    dst_factor_out: uint(acc),
    dst_factor_in: uint(acc),
  };
  const mem = fc.record({
    opcode: fc.constantFrom('LOAD' as const, 'STORE' as const),
    memory_type: fc.constantFrom(...MEMORY_TYPE_NAMES),
    sram_base: uint(16),
    dram_base: uint(32),
    y_size: uint(16),
    x_size: uint(16),
    x_stride: uint(16),
    y_pad_0: uint(4),
    y_pad_1: uint(4),
    x_pad_0: uint(4),
    x_pad_1: uint(4),
  });
  const gemm = fc.record({
    opcode: fc.constant('GEMM' as const),
    ...loop,
    src_factor_out: uint(cfg.LOG_INP_DEPTH),
    src_factor_in: uint(cfg.LOG_INP_DEPTH),
    wgt_factor_out: uint(cfg.LOG_WGT_DEPTH),
    wgt_factor_in: uint(cfg.LOG_WGT_DEPTH),
  });
  const alu = fc.record({
    opcode: fc.constant('ALU' as const),
    ...loop,
    src_factor_out: uint(acc),
    src_factor_in: uint(acc),
    alu_opcode: fc.constantFrom(...ALU_OPCODE_NAMES),
    use_imm: bit,
    imm: fc.integer({ min: -32768, max: 32767 }),
  });
  const finish = fc.record({ opcode: fc.constant('FINISH' as const) });
  return fc
    .tuple(fc.oneof(mem, gemm, alu, finish), flags)
    .map(([body, f]) => ({ ...f, ...body }) as Insn);
}

export function uopArb(cfg: VtaConfig): fc.Arbitrary<Uop> {
  return fc.record({
    dst_idx: uint(cfg.LOG_ACC_DEPTH),
    src_idx: uint(Math.max(cfg.LOG_INP_DEPTH, cfg.LOG_ACC_DEPTH)),
    wgt_idx: uint(cfg.LOG_WGT_DEPTH),
  });
}
