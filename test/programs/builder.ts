/**
 * Builds program images for the test corpus: DRAM regions placed one after another, instructions
 * written as objects, and — unless a program sets its own — dependency tokens inserted the way
 * VTA's runtime does it: before an instruction that touches SRAM another module touched (a read
 * after a write, or a write after a read or write), the other module's latest instruction pushes a
 * token and this one pops it. Only hazards are synchronised, so the modules overlap wherever the
 * data allows, and the result does not depend on how they interleave.
 */
import {
  decodeUop,
  elemBytes,
  encodeUops,
  moduleOf,
  NO_DEPS,
  sramExtent,
  type AluInsn,
  type Bit,
  type DepFlags,
  type GemmInsn,
  type Insn,
  type MemInsn,
  type MemoryTypeName,
  type ProgramImage,
  type Segment,
  type SegmentDtype,
  type Uop,
  type VtaConfig,
} from '../../isa/index.ts';
import { rng as uniform } from '../rng.ts';

const MODULES = ['load', 'compute', 'store'] as const;
type Buf = 'uop' | 'inp' | 'wgt' | 'acc';
interface Access {
  buf: Buf;
  lo: number;
  hi: number;
}

export type MemFields = Omit<MemInsn, 'opcode' | 'memory_type' | keyof DepFlags | 'y_pad_0' | 'y_pad_1' | 'x_pad_0' | 'x_pad_1'> &
  Partial<Pick<MemInsn, 'y_pad_0' | 'y_pad_1' | 'x_pad_0' | 'x_pad_1'>>;
export type LoopInsnFields = Omit<GemmInsn, 'opcode' | keyof DepFlags | 'reset_reg' | 'wgt_factor_out' | 'wgt_factor_in' | 'dst_factor_in' | 'src_factor_in' | 'dst_factor_out' | 'src_factor_out'> &
  Partial<Pick<GemmInsn, 'reset_reg' | 'wgt_factor_out' | 'wgt_factor_in' | 'dst_factor_in' | 'src_factor_in' | 'dst_factor_out' | 'src_factor_out'>>;

export class ProgramBuilder {
  readonly segments: Segment[] = [];
  readonly insns: Insn[] = [];
  private cursor = 0;
  /** Region alignment: every element size divides it. */
  private readonly align: number;
  /** The builder's copy of uop SRAM, to know what GEMM/ALU instructions touch. */
  private readonly uopModel: Uint32Array;
  private readonly lastWrite: Record<Buf, Int32Array>;
  private readonly lastWriter: Record<Buf, Int8Array>;
  private readonly lastRead: Record<Buf, Int32Array[]>;
  private readonly lastOf = [-1, -1, -1];
  private readonly clock = [Int32Array.of(-1, -1, -1), Int32Array.of(-1, -1, -1), Int32Array.of(-1, -1, -1)];
  private readonly clockAfter: Int32Array[] = [];

  /** With `autoSync` false the caller sets every flag itself. */
  constructor(readonly cfg: VtaConfig, readonly autoSync = true) {
    this.uopModel = new Uint32Array(cfg.UOP_DEPTH);
    this.align = Math.max(256, cfg.INP_ELEM_BYTES, cfg.WGT_ELEM_BYTES, cfg.ACC_ELEM_BYTES);
    const depth: Record<Buf, number> = { uop: cfg.UOP_DEPTH, inp: cfg.INP_DEPTH, wgt: cfg.WGT_DEPTH, acc: cfg.ACC_DEPTH };
    const per = <T>(f: (n: number) => T) => ({ uop: f(depth.uop), inp: f(depth.inp), wgt: f(depth.wgt), acc: f(depth.acc) });
    this.lastWrite = per((n) => new Int32Array(n).fill(-1));
    this.lastWriter = per((n) => new Int8Array(n).fill(-1));
    this.lastRead = per((n) => MODULES.map(() => new Int32Array(n).fill(-1)));
  }

  private region(name: string, kind: Segment['kind'], dtype: SegmentDtype, bytes: Uint8Array): Segment {
    const seg: Segment = { name, kind, dtype, addr: Math.ceil(this.cursor / this.align) * this.align, bytes };
    this.cursor = seg.addr + bytes.length;
    this.segments.push(seg);
    return seg;
  }

  data(name: string, dtype: 'i8' | 'i32', values: ArrayLike<number>): Segment {
    const bytes = dtype === 'i8' ? new Uint8Array(Int8Array.from(values).buffer) : new Uint8Array(Int32Array.from(values).buffer);
    return this.region(name, 'data', dtype, bytes);
  }

  zero(name: string, bytes: number): Segment {
    return this.region(name, 'zero', 'i8', new Uint8Array(bytes));
  }

  uops(name: string, uops: readonly Uop[]): Segment {
    return this.region(name, 'uops', 'u32', encodeUops(this.cfg, uops));
  }

  /** Element index of a region for a memory type (its `dram_base`). */
  base(seg: Segment, type: MemoryTypeName): number {
    const eb = elemBytes(this.cfg, type);
    if (seg.addr % eb !== 0) throw new Error(`region ${seg.name} is not aligned to ${type} elements`);
    return seg.addr / eb;
  }

  load(type: MemoryTypeName, f: MemFields, flags: Partial<DepFlags> = {}): number {
    return this.emit({ ...NO_DEPS, y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0, ...f, opcode: 'LOAD', memory_type: type, ...flags });
  }

  store(f: Omit<MemFields, 'y_pad_0' | 'y_pad_1' | 'x_pad_0' | 'x_pad_1'>, flags: Partial<DepFlags> = {}): number {
    return this.emit({ ...NO_DEPS, y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0, ...f, opcode: 'STORE', memory_type: 'OUT', ...flags });
  }

  gemm(f: LoopInsnFields, flags: Partial<DepFlags> = {}): number {
    const zero = { reset_reg: 0 as Bit, dst_factor_out: 0, dst_factor_in: 0, src_factor_out: 0, src_factor_in: 0, wgt_factor_out: 0, wgt_factor_in: 0 };
    return this.emit({ ...NO_DEPS, ...zero, ...f, opcode: 'GEMM', ...flags });
  }

  alu(
    op: AluInsn['alu_opcode'],
    f: Omit<LoopInsnFields, 'reset_reg' | 'wgt_factor_out' | 'wgt_factor_in'> & { imm?: number },
    flags: Partial<DepFlags> = {},
  ): number {
    const zero = { dst_factor_out: 0, dst_factor_in: 0, src_factor_out: 0, src_factor_in: 0 };
    const { imm, ...rest } = f;
    return this.emit({ ...NO_DEPS, ...zero, ...rest, reset_reg: 0, alu_opcode: op, use_imm: imm === undefined ? 0 : 1, imm: imm ?? 0, opcode: 'ALU', ...flags });
  }

  finish(flags: Partial<DepFlags> = {}): number {
    return this.emit({ ...NO_DEPS, opcode: 'FINISH', ...flags });
  }

  /** Appends an instruction (inserting tokens in auto-sync mode); returns its index. */
  emit(insn: Insn): number {
    const idx = this.insns.length;
    const m = MODULES.indexOf(moduleOf(insn));
    const { reads, writes } = this.footprint(insn);
    if (this.autoSync) {
      const need = [-1, -1, -1];
      const note = (mod: number, at: number) => {
        if (mod >= 0 && mod !== m && at > need[mod]!) need[mod] = at;
      };
      for (const a of [...reads, ...writes]) {
        for (let e = a.lo; e < a.hi; e++) note(this.lastWriter[a.buf][e]!, this.lastWrite[a.buf][e]!);
      }
      for (const a of writes) {
        for (let e = a.lo; e < a.hi; e++) for (let mod = 0; mod < 3; mod++) note(mod, this.lastRead[a.buf][mod]![e]!);
      }
      if (insn.opcode === 'FINISH') {
        note(0, this.lastOf[0]!);
        note(2, this.lastOf[2]!);
      }
      for (let mx = 0; mx < 3; mx++) {
        if (need[mx]! >= 0 && this.clock[m]![mx]! < need[mx]!) this.sync(mx, m, insn);
      }
    }
    this.insns.push(insn);
    this.clock[m]![m] = idx;
    this.clockAfter[idx] = this.clock[m]!.slice();
    this.lastOf[m] = idx;
    for (const a of reads) for (let e = a.lo; e < a.hi; e++) this.lastRead[a.buf][m]![e] = idx;
    for (const a of writes) {
      for (let e = a.lo; e < a.hi; e++) {
        this.lastWrite[a.buf][e] = idx;
        this.lastWriter[a.buf][e] = m;
      }
    }
    if (insn.opcode === 'LOAD' && insn.memory_type === 'UOP' && insn.x_size > 0) this.modelUopLoad(insn);
    return idx;
  }

  /** Orders module `from`'s latest instruction before `insn` (on module `to`) with one token. */
  private sync(from: number, to: number, insn: Insn): void {
    const last = this.lastOf[from]!;
    const producer = this.insns[last]!;
    const toNext = to > from;
    const push = toNext ? 'push_next_dep' : 'push_prev_dep';
    const pop = toNext ? 'pop_prev_dep' : 'pop_next_dep';
    if (producer[push] || insn[pop]) throw new Error(`builder: cannot add a ${push} to instruction ${last} / ${pop} to the next`);
    producer[push] = 1;
    insn[pop] = 1;
    const c = this.clockAfter[last]!;
    const mine = this.clock[to]!;
    for (let k = 0; k < 3; k++) if (c[k]! > mine[k]!) mine[k] = c[k]!;
  }

  private modelUopLoad(insn: MemInsn): void {
    for (let r = 0; r < insn.y_size; r++) {
      const addr = (insn.dram_base + r * insn.x_stride) * 4;
      const seg = this.segments.find((s) => addr >= s.addr && addr + insn.x_size * 4 <= s.addr + s.bytes.length);
      if (!seg) throw new Error(`builder: UOP load from ${addr} is outside every region`);
      const words = new Uint32Array(seg.bytes.slice(addr - seg.addr, addr - seg.addr + insn.x_size * 4).buffer);
      this.uopModel.set(words, insn.sram_base + r * insn.x_size);
    }
  }

  private loopRange(insn: GemmInsn | AluInsn, field: 'dst_idx' | 'src_idx' | 'wgt_idx', fo: number, fi: number): [number, number] {
    let lo = Infinity;
    let hi = -Infinity;
    for (let k = insn.uop_bgn; k < insn.uop_end; k++) {
      const v = decodeUop(this.cfg, this.uopModel[k]!)[field];
      lo = Math.min(lo, v);
      hi = Math.max(hi, v + (insn.iter_out - 1) * fo + (insn.iter_in - 1) * fi + 1);
    }
    return [lo, hi];
  }

  private footprint(insn: Insn): { reads: Access[]; writes: Access[] } {
    const reads: Access[] = [];
    const writes: Access[] = [];
    const empty = (i: GemmInsn | AluInsn) => i.uop_bgn >= i.uop_end || i.iter_out === 0 || i.iter_in === 0;
    switch (insn.opcode) {
      case 'LOAD': {
        if (insn.x_size === 0) break;
        const buf: Buf = insn.memory_type === 'UOP' ? 'uop' : insn.memory_type === 'INP' ? 'inp' : insn.memory_type === 'WGT' ? 'wgt' : 'acc';
        writes.push({ buf, lo: insn.sram_base, hi: insn.sram_base + sramExtent(insn) });
        break;
      }
      case 'STORE':
        if (insn.x_size > 0) reads.push({ buf: 'acc', lo: insn.sram_base, hi: insn.sram_base + sramExtent(insn) });
        break;
      case 'GEMM': {
        if (empty(insn)) break;
        reads.push({ buf: 'uop', lo: insn.uop_bgn, hi: insn.uop_end });
        const [dl, dh] = this.loopRange(insn, 'dst_idx', insn.dst_factor_out, insn.dst_factor_in);
        writes.push({ buf: 'acc', lo: dl, hi: dh });
        if (!insn.reset_reg) {
          reads.push({ buf: 'acc', lo: dl, hi: dh });
          const [sl, sh] = this.loopRange(insn, 'src_idx', insn.src_factor_out, insn.src_factor_in);
          const [wl, wh] = this.loopRange(insn, 'wgt_idx', insn.wgt_factor_out, insn.wgt_factor_in);
          reads.push({ buf: 'inp', lo: sl, hi: sh }, { buf: 'wgt', lo: wl, hi: wh });
        }
        break;
      }
      case 'ALU': {
        if (empty(insn)) break;
        reads.push({ buf: 'uop', lo: insn.uop_bgn, hi: insn.uop_end });
        const [dl, dh] = this.loopRange(insn, 'dst_idx', insn.dst_factor_out, insn.dst_factor_in);
        writes.push({ buf: 'acc', lo: dl, hi: dh });
        reads.push({ buf: 'acc', lo: dl, hi: dh });
        if (!insn.use_imm) {
          const [sl, sh] = this.loopRange(insn, 'src_idx', insn.src_factor_out, insn.src_factor_in);
          reads.push({ buf: 'acc', lo: sl, hi: sh });
        }
        break;
      }
      case 'FINISH':
        break;
    }
    return { reads, writes };
  }

  image(): ProgramImage {
    const insnAddr = Math.ceil(this.cursor / this.align) * this.align;
    return {
      fingerprint: this.cfg.fingerprint,
      insns: this.insns,
      segments: this.segments,
      memBytes: insnAddr + this.insns.length * 16,
      insnAddr,
    };
  }
}

/** The corpus's random choices (mulberry32), so every backend builds the same corpus. */
export function rng(seed: number): { int(lo: number, hi: number): number; pick<T>(xs: readonly T[]): T; chance(p: number): boolean } {
  const next = uniform(seed);
  return {
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (xs) => xs[Math.floor(next() * xs.length)]!,
    chance: (p) => next() < p,
  };
}
