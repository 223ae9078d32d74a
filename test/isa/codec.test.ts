/**
 * Instruction and micro-op encoding: property-based round trips for every instruction kind and
 * several configurations, and fixed vectors built by hand from the bit positions in SPEC.md §2.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  configJson,
  DecodeError,
  decodeInsn,
  decodeProgram,
  decodeUop,
  EncodeError,
  encodeInsn,
  encodeProgram,
  encodeUop,
  makeConfig,
  NO_DEPS,
  preset,
  type Insn,
  type VtaConfig,
} from '../../isa/index.ts';
import { insnArb, uopArb } from './arbitraries.ts';

const CONFIGS: VtaConfig[] = [
  preset('default'),
  preset('intelfocl'),
  makeConfig({ ...configJson(preset('default')), name: 'small', LOG_BLOCK: 3, LOG_BATCH: 1, LOG_UOP_BUFF_SIZE: 12, LOG_INP_BUFF_SIZE: 12, LOG_WGT_BUFF_SIZE: 14, LOG_ACC_BUFF_SIZE: 13 }),
];
const KINDS: Insn['opcode'][] = ['LOAD', 'STORE', 'GEMM', 'ALU', 'FINISH'];

describe.each(CONFIGS.map((c) => [c.name, c] as const))('round trips on %s', (_name, cfg) => {
  it.each(KINDS)('decode(encode(x)) == x for %s with random fields', (kind) => {
    fc.assert(
      fc.property(insnArb(cfg).filter((i) => i.opcode === kind), (insn) => {
        const bytes = encodeInsn(cfg, insn);
        expect(bytes.length).toBe(16);
        expect(decodeInsn(cfg, bytes)).toEqual(insn);
      }),
      { numRuns: 300 },
    );
  });

  it('streams round-trip through decodeProgram', () => {
    fc.assert(
      fc.property(fc.array(insnArb(cfg), { maxLength: 20 }), (insns) => {
        expect(decodeProgram(cfg, encodeProgram(cfg, insns))).toEqual(insns);
      }),
      { numRuns: 100 },
    );
  });

  it('encode(decode(b)) == b for every accepted 16 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 4 }), (bytes, opcode) => {
        bytes[0] = (bytes[0]! & ~7) | opcode;
        let insn: Insn;
        try {
          insn = decodeInsn(cfg, bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError);
          return;
        }
        expect(Array.from(encodeInsn(cfg, insn))).toEqual(Array.from(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('micro-ops round-trip', () => {
    fc.assert(
      fc.property(uopArb(cfg), (u) => {
        expect(decodeUop(cfg, encodeUop(cfg, u))).toEqual(u);
      }),
    );
  });

  it('every field rejects the first value past its range, naming it', () => {
    fc.assert(
      fc.property(insnArb(cfg), fc.nat(), (insn, pick) => {
        const numeric = Object.entries(insn).filter(([k, v]) => typeof v === 'number' && k !== 'imm');
        if (numeric.length === 0) return;
        const [field] = numeric[pick % numeric.length]!;
        const f = [cfg.layout.mem, cfg.layout.gemm, cfg.layout.alu, cfg.layout.finish].flatMap((l) => l.fields).find((x) => x.name === field)!;
        const bad = { ...insn, [field]: 2 ** f.width } as Insn;
        expect(() => encodeInsn(cfg, bad)).toThrow(EncodeError);
        expect(() => encodeInsn(cfg, bad)).toThrow(new RegExp(`field ${field}=${2 ** f.width} is out of range`));
      }),
      { numRuns: 200 },
    );
  });
});

/** The 16 little-endian bytes of a 128-bit value given as [value, first bit] pairs. */
function bytesOf(fields: [number | bigint, number][]): number[] {
  let v = 0n;
  for (const [value, at] of fields) v |= BigInt(value) << BigInt(at);
  return Array.from({ length: 16 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));
}

describe('fixed vectors (default configuration, SPEC.md §2 bit positions)', () => {
  const cfg = preset('default');

  it('FINISH with pop_next_dep is 0x13 then zeros', () => {
    expect(Array.from(encodeInsn(cfg, { ...NO_DEPS, opcode: 'FINISH', pop_next_dep: 1 }))).toEqual([0x13, ...new Array(15).fill(0)]);
  });

  it('LOAD INP', () => {
    const insn: Insn = {
      ...NO_DEPS,
      opcode: 'LOAD',
      pop_next_dep: 1,
      push_next_dep: 1,
      memory_type: 'INP',
      sram_base: 0x1234,
      dram_base: 0xdeadbeef,
      y_size: 0x0102,
      x_size: 0x0304,
      x_stride: 0x0506,
      y_pad_0: 1,
      y_pad_1: 2,
      x_pad_0: 3,
      x_pad_1: 4,
    };
    const expected = bytesOf([
      [0, 0], [1, 4], [1, 6], [2, 7], [0x1234, 10], [0xdeadbeef, 26],
      [0x0102, 64], [0x0304, 80], [0x0506, 96], [1, 112], [2, 116], [3, 120], [4, 124],
    ]);
    expect(Array.from(encodeInsn(cfg, insn))).toEqual(expected);
    // Spot checks worked out on paper: byte 0 = push_next (0x40) | pop_next (0x10) | low bit of memory_type 2 (0 at bit 7);
    // byte 1 = memory_type bits 1-2 (0b01) | sram_base bits 0-5 (0x34 & 0x3f = 0x34) << 2 = 0xd1.
    expect(expected.slice(0, 2)).toEqual([0x50, 0xd1]);
    expect(expected.slice(8, 16)).toEqual([0x02, 0x01, 0x04, 0x03, 0x06, 0x05, 0x21, 0x43]);
    expect(decodeInsn(cfg, Uint8Array.from(expected))).toEqual(insn);
  });

  it('GEMM', () => {
    const insn: Insn = {
      ...NO_DEPS,
      opcode: 'GEMM',
      pop_prev_dep: 1,
      push_prev_dep: 1,
      reset_reg: 1,
      uop_bgn: 0x1abc,
      uop_end: 0x2def,
      iter_out: 0x3001,
      iter_in: 0x0fff,
      dst_factor_out: 0x7ff,
      dst_factor_in: 0x401,
      src_factor_out: 0x123,
      src_factor_in: 0x456,
      wgt_factor_out: 0x3ff,
      wgt_factor_in: 0x2aa,
    };
    const expected = bytesOf([
      [2, 0], [1, 3], [1, 5], [1, 7], [0x1abc, 8], [0x2def, 21], [0x3001, 35], [0x0fff, 49],
      [0x7ff, 64], [0x401, 75], [0x123, 86], [0x456, 97], [0x3ff, 108], [0x2aa, 118],
    ]);
    expect(Array.from(encodeInsn(cfg, insn))).toEqual(expected);
    expect(decodeInsn(cfg, Uint8Array.from(expected))).toEqual(insn);
  });

  it('ALU SHR with a negative immediate', () => {
    const insn: Insn = {
      ...NO_DEPS,
      opcode: 'ALU',
      push_next_dep: 1,
      reset_reg: 0,
      uop_bgn: 5,
      uop_end: 6,
      iter_out: 8,
      iter_in: 2,
      dst_factor_out: 1,
      dst_factor_in: 16,
      src_factor_out: 1,
      src_factor_in: 16,
      alu_opcode: 'SHR',
      use_imm: 1,
      imm: -2,
    };
    const expected = bytesOf([
      [4, 0], [1, 6], [5, 8], [6, 21], [8, 35], [2, 49],
      [1, 64], [16, 75], [1, 86], [16, 97], [3, 108], [1, 111], [0xfffe, 112],
    ]);
    expect(Array.from(encodeInsn(cfg, insn))).toEqual(expected);
    expect(expected.slice(14)).toEqual([0xfe, 0xff]);
    expect(decodeInsn(cfg, Uint8Array.from(expected))).toEqual(insn);
  });

  it('micro-op fields at bits 0, 11 and 22', () => {
    expect(encodeUop(cfg, { dst_idx: 0x7ff, src_idx: 0x2aa, wgt_idx: 0x155 })).toBe((0x7ff | (0x2aa << 11) | (0x155 << 22)) >>> 0);
    expect(decodeUop(cfg, 0xffffffff)).toEqual({ dst_idx: 2047, src_idx: 2047, wgt_idx: 1023 });
  });

  it('reserved bits are rejected: MEM 58-63, GEMM/ALU 63, FINISH 7-127', () => {
    const load = encodeInsn(cfg, { ...NO_DEPS, opcode: 'LOAD', memory_type: 'UOP', sram_base: 0, dram_base: 0, y_size: 0, x_size: 0, x_stride: 0, y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0 });
    load[7] = 0x04; // bit 58
    expect(() => decodeInsn(cfg, load, 3)).toThrow(/instruction 3: LOAD has reserved bit 58 set/);
    const gemm = Uint8Array.from(bytesOf([[2, 0], [1, 63]]));
    expect(() => decodeInsn(cfg, gemm)).toThrow(/GEMM has reserved bit 63 set/);
    const finish = Uint8Array.from(bytesOf([[3, 0], [1, 100]]));
    expect(() => decodeInsn(cfg, finish)).toThrow(/FINISH has reserved bit 100 set/);
    const alu = Uint8Array.from(bytesOf([[4, 0], [6, 108]]));
    expect(() => decodeInsn(cfg, alu)).toThrow(/unknown alu_opcode 6/);
  });
});
