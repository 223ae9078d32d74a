/**
 * The bit layout of 128-bit instructions and 32-bit micro-ops, computed from the configuration with
 * VTA's packing rule: fields are laid out from bit 0 in order, and a field that would straddle
 * bit 64 starts at bit 64 instead (the C bitfields of VTA's hw_spec.h pack into two uint64 words).
 * Every implementation (TS, the generated C header, the generated Scala object) reads this table.
 */
import { ConfigError } from './errors.ts';

export interface FieldSpec {
  readonly name: string;
  /** Bit offset from bit 0 of the little-endian 128-bit (or 32-bit) word. */
  readonly offset: number;
  readonly width: number;
  /** Two's complement field (only ALU `imm`). */
  readonly signed: boolean;
  /** The configuration parameter that sets the width, or 'ISA' for a fixed width. */
  readonly source: string;
}

export interface FormatLayout {
  readonly fields: readonly FieldSpec[];
  readonly byName: Readonly<Record<string, FieldSpec>>;
}

export interface IsaLayout {
  readonly mem: FormatLayout;
  readonly gemm: FormatLayout;
  readonly alu: FormatLayout;
  readonly finish: FormatLayout;
  readonly uop: FormatLayout;
}

/** Fixed widths from VTA's hw_spec_const.h. */
export const OPCODE_BITS = 3;
export const MEMOP_ID_BITS = 3;
export const MEMOP_SRAM_ADDR_BITS = 16;
export const MEMOP_DRAM_ADDR_BITS = 32;
export const MEMOP_SIZE_BITS = 16;
export const MEMOP_STRIDE_BITS = 16;
export const MEMOP_PAD_BITS = 4;
export const LOOP_ITER_BITS = 14;
export const ALU_OPCODE_BITS = 3;
export const ALU_IMM_BITS = 16;
export const INSN_BITS = 128;
export const UOP_BITS = 32;

type FieldDef = [name: string, width: number, source: string, signed?: boolean];

const HEADER: FieldDef[] = [
  ['opcode', OPCODE_BITS, 'ISA'],
  ['pop_prev_dep', 1, 'ISA'],
  ['pop_next_dep', 1, 'ISA'],
  ['push_prev_dep', 1, 'ISA'],
  ['push_next_dep', 1, 'ISA'],
];

function pack(format: string, defs: FieldDef[], totalBits: number, splitAt: number | null): FormatLayout {
  const fields: FieldSpec[] = [];
  let bit = 0;
  for (const [name, width, source, signed] of defs) {
    if (splitAt !== null && bit < splitAt && bit + width > splitAt) bit = splitAt;
    if (bit + width > totalBits) {
      throw new ConfigError(
        source,
        `makes the ${format} field ${name} end at bit ${bit + width}, past the ${totalBits}-bit ${format === 'uop' ? 'micro-op' : 'instruction'}`,
      );
    }
    fields.push(Object.freeze({ name, offset: bit, width, signed: signed ?? false, source }));
    bit += width;
  }
  return Object.freeze({
    fields: Object.freeze(fields),
    byName: Object.freeze(Object.fromEntries(fields.map((f) => [f.name, f]))),
  });
}

export interface LayoutInputs {
  LOG_UOP_DEPTH: number;
  LOG_INP_DEPTH: number;
  LOG_WGT_DEPTH: number;
  LOG_ACC_DEPTH: number;
}

export function computeLayout(p: LayoutInputs): IsaLayout {
  const uop = 'LOG_UOP_BUFF_SIZE';
  const inp = 'LOG_INP_BUFF_SIZE';
  const wgt = 'LOG_WGT_BUFF_SIZE';
  const acc = 'LOG_ACC_BUFF_SIZE';
  const loop: FieldDef[] = [
    ['reset_reg', 1, 'ISA'],
    ['uop_bgn', p.LOG_UOP_DEPTH, uop],
    ['uop_end', p.LOG_UOP_DEPTH + 1, uop],
    ['iter_out', LOOP_ITER_BITS, 'ISA'],
    ['iter_in', LOOP_ITER_BITS, 'ISA'],
    ['dst_factor_out', p.LOG_ACC_DEPTH, acc],
    ['dst_factor_in', p.LOG_ACC_DEPTH, acc],
  ];
  const srcIdxBits = Math.max(p.LOG_INP_DEPTH, p.LOG_ACC_DEPTH);
  return Object.freeze({
    mem: pack(
      'memory',
      [
        ...HEADER,
        ['memory_type', MEMOP_ID_BITS, 'ISA'],
        ['sram_base', MEMOP_SRAM_ADDR_BITS, 'ISA'],
        ['dram_base', MEMOP_DRAM_ADDR_BITS, 'ISA'],
        ['y_size', MEMOP_SIZE_BITS, 'ISA'],
        ['x_size', MEMOP_SIZE_BITS, 'ISA'],
        ['x_stride', MEMOP_STRIDE_BITS, 'ISA'],
        ['y_pad_0', MEMOP_PAD_BITS, 'ISA'],
        ['y_pad_1', MEMOP_PAD_BITS, 'ISA'],
        ['x_pad_0', MEMOP_PAD_BITS, 'ISA'],
        ['x_pad_1', MEMOP_PAD_BITS, 'ISA'],
      ],
      INSN_BITS,
      64,
    ),
    gemm: pack(
      'GEMM',
      [
        ...HEADER,
        ...loop,
        ['src_factor_out', p.LOG_INP_DEPTH, inp],
        ['src_factor_in', p.LOG_INP_DEPTH, inp],
        ['wgt_factor_out', p.LOG_WGT_DEPTH, wgt],
        ['wgt_factor_in', p.LOG_WGT_DEPTH, wgt],
      ],
      INSN_BITS,
      64,
    ),
    alu: pack(
      'ALU',
      [
        ...HEADER,
        ...loop,
        ['src_factor_out', p.LOG_ACC_DEPTH, acc],
        ['src_factor_in', p.LOG_ACC_DEPTH, acc],
        ['alu_opcode', ALU_OPCODE_BITS, 'ISA'],
        ['use_imm', 1, 'ISA'],
        ['imm', ALU_IMM_BITS, 'ISA', true],
      ],
      INSN_BITS,
      64,
    ),
    finish: pack('FINISH', HEADER, INSN_BITS, 64),
    uop: pack(
      'uop',
      [
        ['dst_idx', p.LOG_ACC_DEPTH, acc],
        ['src_idx', srcIdxBits, p.LOG_INP_DEPTH >= p.LOG_ACC_DEPTH ? inp : acc],
        ['wgt_idx', p.LOG_WGT_DEPTH, wgt],
      ],
      UOP_BITS,
      null,
    ),
  });
}

/** Bits of the 128-bit word that no field of the format covers: they must be zero. */
export function reservedMask(format: FormatLayout, totalBits = INSN_BITS): Uint32Array {
  const words = new Uint32Array(totalBits / 32);
  for (let i = 0; i < words.length; i++) words[i] = 0xffffffff;
  for (const f of format.fields) {
    for (let b = f.offset; b < f.offset + f.width; b++) words[b >>> 5] &= ~(1 << (b & 31));
  }
  return words;
}
