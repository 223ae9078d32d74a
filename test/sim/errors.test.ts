/**
 * Streams the functional simulator must refuse, each with its typed error: deadlocks (naming the
 * blocked module, instruction and queue), malformed encodings (the field), semantic errors
 * (out-of-range SRAM and DRAM, no FINISH), indices from micro-ops past a buffer at run time, and
 * the wall-clock limit. The expected messages are written from SPEC.md, not from the simulator.
 */
import { describe, expect, it } from 'vitest';
import {
  assemble,
  configJson,
  DeadlockError,
  DecodeError,
  decodeProgram,
  EncodeError,
  encodeProgram,
  encodeUops,
  makeConfig,
  NO_DEPS,
  preset,
  ProgramError,
  type Insn,
  type MemInsn,
} from '../../isa/index.ts';
import { Dram } from '../../sim/dram.ts';
import { FunctionalSimulator, runImage, SimTimeoutError } from '../../sim/fsim.ts';

const cfg = preset('default');

const mem = (opcode: 'LOAD' | 'STORE', memory_type: MemInsn['memory_type'], f: Partial<MemInsn> = {}): MemInsn => ({
  ...NO_DEPS,
  opcode,
  memory_type,
  sram_base: 0,
  dram_base: 0,
  y_size: 1,
  x_size: 1,
  x_stride: 1,
  y_pad_0: 0,
  y_pad_1: 0,
  x_pad_0: 0,
  x_pad_1: 0,
  ...f,
});
const gemm = (f: Partial<Extract<Insn, { opcode: 'GEMM' }>> = {}): Insn => ({
  ...NO_DEPS,
  opcode: 'GEMM',
  reset_reg: 0,
  uop_bgn: 0,
  uop_end: 1,
  iter_out: 1,
  iter_in: 1,
  dst_factor_out: 0,
  dst_factor_in: 0,
  src_factor_out: 0,
  src_factor_in: 0,
  wgt_factor_out: 0,
  wgt_factor_in: 0,
  ...f,
});
const finish = (f: Partial<Insn> = {}): Insn => ({ ...NO_DEPS, opcode: 'FINISH', ...f }) as Insn;

function sim(memBytes = 1 << 16): FunctionalSimulator {
  return new FunctionalSimulator(cfg, new Dram(memBytes));
}

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

describe('deadlock', () => {
  it('compute pops a token no load pushes', () => {
    const e = thrown(() => sim().run([mem('LOAD', 'UOP'), gemm({ pop_prev_dep: 1 }), finish()]));
    expect(e).toBeInstanceOf(DeadlockError);
    const d = e as DeadlockError;
    expect([d.module, d.index, d.queue]).toEqual(['compute', 1, 'load->compute']);
    expect(d.message).toMatch(/compute module.*instruction 1.*load->compute queue/);
  });

  it('store waits on compute, compute on store', () => {
    const insns: Insn[] = [
      mem('STORE', 'OUT', { pop_prev_dep: 1, push_prev_dep: 1 }),
      gemm({ pop_next_dep: 1, push_next_dep: 1 }),
      finish(),
    ];
    const e = thrown(() => sim().run(insns)) as DeadlockError;
    expect(e).toBeInstanceOf(DeadlockError);
    expect([e.module, e.index, e.queue]).toEqual(['store', 0, 'compute->store']);
  });

  it('a load waiting for a compute token that comes after FINISH never runs', () => {
    const insns: Insn[] = [mem('LOAD', 'INP', { pop_next_dep: 1, push_next_dep: 1 }), finish({ pop_prev_dep: 1 })];
    const e = thrown(() => sim().run(insns)) as DeadlockError;
    expect(e).toBeInstanceOf(DeadlockError);
    expect([e.module, e.index, e.queue]).toEqual(['load', 0, 'compute->load']);
  });

  it('runs nothing before reporting', () => {
    const s = sim();
    s.dram.u8.fill(7, 0, 64);
    expect(() => s.run([mem('LOAD', 'ACC'), gemm({ pop_prev_dep: 1 }), finish()])).toThrow(DeadlockError);
    expect(s.machine.sram.acc.every((v) => v === 0)).toBe(true);
  });
});

describe('malformed streams', () => {
  it('an unknown opcode is a DecodeError naming the instruction', () => {
    const bytes = encodeProgram(cfg, [finish(), finish()]);
    bytes[16] = 7;
    const e = thrown(() => decodeProgram(cfg, bytes)) as DecodeError;
    expect(e).toBeInstanceOf(DecodeError);
    expect(e.index).toBe(1);
    expect(e.message).toMatch(/instruction 1: unknown opcode 7/);
  });

  it('a reserved bit is a DecodeError naming the bit', () => {
    const bytes = encodeProgram(cfg, [mem('LOAD', 'INP')]);
    bytes[7] |= 0x40; // bit 62: inside the MEM format's gap at bits 58-63
    expect(() => decodeProgram(cfg, bytes)).toThrow(/reserved bit 62/);
  });

  it('an unknown memory type or ALU opcode is a DecodeError', () => {
    const load = encodeProgram(cfg, [mem('LOAD', 'INP')]);
    load[0] = (load[0]! & ~0x380) | (7 << 7);
    load[1] = (load[1]! & ~0x03) | 0x03; // memory_type bits 7-9 = 7
    expect(() => decodeProgram(cfg, load)).toThrow(/unknown memory_type 7/);
  });

  it('a field out of range is an EncodeError naming the field and value', () => {
    const e = thrown(() => encodeProgram(cfg, [mem('LOAD', 'INP', { sram_base: 70000 })])) as EncodeError;
    expect(e).toBeInstanceOf(EncodeError);
    expect(e.field).toBe('sram_base');
    expect(e.message).toMatch(/sram_base=70000 is out of range \[0, 65535\]/);
    expect(() => encodeProgram(cfg, [gemm({ iter_out: 1 << 14 })])).toThrow(/iter_out=16384/);
  });

  it('a stream that is not a multiple of 16 bytes is a DecodeError', () => {
    expect(() => decodeProgram(cfg, new Uint8Array(20))).toThrow(DecodeError);
  });
});

describe('program errors', () => {
  const cases: [string, Insn[], RegExp][] = [
    ['no FINISH', [mem('LOAD', 'UOP')], /does not end with FINISH/],
    ['an empty stream', [], /empty/],
    ['FINISH not last', [finish(), mem('LOAD', 'UOP'), finish()], /instruction 0: FINISH must be the last/],
    ['LOAD of OUT', [mem('LOAD', 'OUT'), finish()], /instruction 0: LOAD: memory_type OUT/],
    ['a padded UOP load', [mem('LOAD', 'UOP', { x_pad_0: 1 }), finish()], /UOP load cannot pad/],
    ['a STORE that pads', [mem('STORE', 'OUT', { y_pad_1: 1 }), finish()], /STORE cannot pad/],
    ['overlapping STORE rows', [mem('STORE', 'OUT', { y_size: 2, x_size: 2, x_stride: 1 }), finish()], /x_stride=1 is smaller than x_size=2/],
    ['SRAM range past the inp depth', [mem('LOAD', 'INP', { sram_base: 2047, x_size: 2, x_stride: 2 }), finish()], /SRAM range \[2047, 2049\) of INP exceeds its depth 2048/],
    ['padding past the acc depth', [mem('LOAD', 'ACC', { sram_base: 2046, y_pad_1: 2 }), finish()], /exceeds its depth 2048/],
    ['DRAM range past the device memory', [mem('LOAD', 'WGT', { dram_base: 255, x_size: 2, x_stride: 2 }), finish()], /DRAM bytes \[65280, 65792\) fall outside the 65536-byte device memory/],
    ['uop_end past the uop depth', [gemm({ uop_end: 8193 }), finish()], /uop_end=8193 exceeds the uop depth 8192/],
    ['uop_bgn after uop_end', [gemm({ uop_bgn: 2, uop_end: 1 }), finish()], /uop_bgn=2 is greater than uop_end=1/],
    ['a load with prev flags', [mem('LOAD', 'INP', { pop_prev_dep: 1 }), finish()], /load-module instruction may not use/],
  ];
  it.each(cases)('%s', (_name, insns, message) => {
    const e = thrown(() => sim().run(insns));
    expect(e).toBeInstanceOf(ProgramError);
    expect((e as Error).message).toMatch(message);
  });

  it('indices from micro-ops past a buffer fail at run time, naming the instruction, and change nothing', () => {
    const s = sim();
    // uop {dst 2040, src 0, wgt 0}; 9 outer iterations of dst_factor_out 1 reach acc 2048.
    s.dram.write(0, encodeUops(cfg, [{ dst_idx: 2040, src_idx: 0, wgt_idx: 0 }]));
    s.dram.write(64, new Uint8Array(16).fill(3));
    const e = thrown(() =>
      s.run([
        mem('LOAD', 'UOP'),
        gemm({ reset_reg: 1, iter_out: 8, dst_factor_out: 1 }),
        gemm({ iter_out: 9, dst_factor_out: 1 }),
        finish(),
      ]),
    ) as ProgramError;
    expect(e).toBeInstanceOf(ProgramError);
    expect(e.index).toBe(2);
    expect(e.message).toMatch(/instruction 2: GEMM: .*i=8.*dst index 2048, outside the acc buffer of depth 2048/);
  });

  it('ALU tensor operands are checked; immediates do not read src', () => {
    const s = sim();
    s.dram.write(0, encodeUops(cfg, [{ dst_idx: 0, src_idx: 2047, wgt_idx: 0 }]));
    const alu = (use_imm: 0 | 1, iter_out: number): Insn => ({
      ...NO_DEPS, opcode: 'ALU', reset_reg: 0, uop_bgn: 0, uop_end: 1, iter_out, iter_in: 1,
      dst_factor_out: 0, dst_factor_in: 0, src_factor_out: 1, src_factor_in: 0, alu_opcode: 'ADD', use_imm, imm: 1,
    });
    expect(s.run([mem('LOAD', 'UOP'), alu(1, 4), finish()]).alu_counter).toBe(4);
    expect(() => s.run([mem('LOAD', 'UOP'), alu(0, 2), finish()])).toThrow(/src index 2048, outside the acc buffer/);
  });

  it('a GEMM reset does not read src or wgt', () => {
    const s = sim();
    s.dram.write(0, encodeUops(cfg, [{ dst_idx: 0, src_idx: 2047, wgt_idx: 1023 }]));
    expect(s.run([mem('LOAD', 'UOP'), gemm({ reset_reg: 1, iter_out: 5, src_factor_out: 1, wgt_factor_out: 1 }), finish()]).gemm_counter).toBe(0);
  });
});

describe('wall-clock limit', () => {
  it('stops with SimTimeoutError and the simulator stays usable', () => {
    const s = sim();
    const many: Insn[] = [...Array.from({ length: 64 }, () => mem('LOAD', 'ACC')), finish()];
    expect(() => s.run(many, { timeoutMs: -1 })).toThrow(SimTimeoutError);
    expect(s.run(many).acc_load_nbytes).toBe(64 * 64);
  });
});

describe('images', () => {
  it('an image for another configuration is refused', () => {
    const image = assemble(preset('default'), 'finish');
    expect(() => runImage(cfg, { ...image, fingerprint: 'other' })).toThrow(/assembled for configuration other/);
  });
});

describe('kernel choice', () => {
  it('asking for the SIMD kernel where BLOCK < 4 is a typed error', () => {
    const tiny = makeConfig({ ...configJson(cfg), name: 'b2', LOG_BLOCK: 1, LOG_INP_BUFF_SIZE: 12, LOG_WGT_BUFF_SIZE: 12, LOG_ACC_BUFF_SIZE: 14 });
    expect(() => new FunctionalSimulator(tiny, new Dram(64), { kernel: 'wasm' })).toThrow(/does not fit configuration 1x2_/);
    expect(new FunctionalSimulator(tiny, new Dram(64)).machine.kernelKind).toBe('js');
  });
});
