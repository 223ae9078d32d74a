/**
 * The instruction-queue builder: instructions are appended per stage (load, compute, store) and
 * dependency tokens are requested as `depPop(from, to)` / `depPush(from, to)`, as VTA's runtime
 * InsnQueue does (reference §1.2): a pop is held pending and absorbed by the next instruction of the
 * popping stage; a push goes on the last instruction of the pushing stage, or on a flag-only
 * instruction (x_size = 0) when that one cannot carry it. Micro-op kernels are deduplicated into one
 * table and kept resident in a ring over uop SRAM, loaded again only when evicted.
 */
import type { MemoryTypeName, VtaConfig } from '../../isa/config.ts';
import { moduleOf, NO_DEPS, type AluInsn, type DepFlags, type GemmInsn, type Insn, type MemInsn, type Uop } from '../../isa/types.ts';

export const LOAD = 0;
export const COMPUTE = 1;
export const STORE = 2;
export type Stage = typeof LOAD | typeof COMPUTE | typeof STORE;

/**
 * The logical DRAM buffers a layer's instructions refer to. `residual` is the second int8 operand,
 * `tensor` the per-element int32 constants of the epilogue.
 */
export const BUFFER_NAMES = ['input', 'output', 'weights', 'bias', 'residual', 'tensor', 'uops'] as const;
export type BufferName = (typeof BUFFER_NAMES)[number];

/** Instruction `index` reads or writes `buffer` at element `offset` (in its memory type's elements). */
export interface Reloc {
  index: number;
  buffer: BufferName;
  offset: number;
}

function stageOf(insn: Insn): Stage {
  const m = moduleOf(insn);
  return m === 'load' ? LOAD : m === 'compute' ? COMPUTE : STORE;
}

interface Resident {
  bgn: number;
  end: number;
}

export class InsnQueue {
  readonly insns: Insn[] = [];
  readonly relocs: Reloc[] = [];
  /** The layer's micro-op table (the `uops` buffer), every kernel once. */
  readonly uops: Uop[] = [];
  private readonly last: number[] = [-1, -1, -1];
  /** Pending pops per stage: [pop_prev, pop_next]. */
  private readonly pending: [boolean, boolean][] = [
    [false, false],
    [false, false],
    [false, false],
  ];
  private readonly kernelOffset = new Map<string, number>();
  private readonly kernelLength = new Map<string, number>();
  private readonly resident = new Map<string, Resident>();
  private uopHead = 0;

  constructor(readonly cfg: VtaConfig) {}

  private emit(insn: Insn): number {
    const s = stageOf(insn);
    const p = this.pending[s]!;
    if (p[0]) insn.pop_prev_dep = 1;
    if (p[1]) insn.pop_next_dep = 1;
    p[0] = p[1] = false;
    this.insns.push(insn);
    this.last[s] = this.insns.length - 1;
    return this.insns.length - 1;
  }

  private nop(stage: Stage): number {
    const base = { ...NO_DEPS, sram_base: 0, dram_base: 0, y_size: 0, x_size: 0, x_stride: 0, y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0 };
    if (stage === STORE) return this.emit({ opcode: 'STORE', memory_type: 'OUT', ...base });
    return this.emit({ opcode: 'LOAD', memory_type: stage === LOAD ? 'INP' : 'UOP', ...base });
  }

  depPop(from: Stage, to: Stage): void {
    const slot = from < to ? 0 : 1;
    if (this.pending[to]![slot]) this.nop(to);
    this.pending[to]![slot] = true;
  }

  depPush(from: Stage, to: Stage): void {
    const flag: keyof DepFlags = from < to ? 'push_next_dep' : 'push_prev_dep';
    const p = this.pending[from]!;
    let i = this.last[from]!;
    if (p[0] || p[1] || i < 0 || this.insns[i]![flag]) i = this.nop(from);
    this.insns[i]![flag] = 1;
  }

  /** Commits pending pops (as flag-only instructions) so nothing is left hanging at the end. */
  flush(): void {
    for (const s of [LOAD, COMPUTE, STORE] as Stage[]) if (this.pending[s]![0] || this.pending[s]![1]) this.nop(s);
  }

  mem(
    opcode: 'LOAD' | 'STORE',
    memory_type: MemoryTypeName,
    buffer: BufferName,
    offset: number,
    f: { sram: number; y: number; x: number; stride: number; pad?: [number, number, number, number] },
  ): void {
    const pad = f.pad ?? [0, 0, 0, 0];
    const insn: MemInsn = {
      opcode,
      ...NO_DEPS,
      memory_type,
      sram_base: f.sram,
      dram_base: offset,
      y_size: f.y,
      x_size: f.x,
      x_stride: f.stride,
      y_pad_0: pad[0],
      x_pad_0: pad[1],
      y_pad_1: pad[2],
      x_pad_1: pad[3],
    };
    const index = this.emit(insn);
    this.relocs.push({ index, buffer, offset });
  }

  /**
   * Makes the kernel `key` resident in uop SRAM (building it with `build` the first time it is
   * seen) and returns its [bgn, end). Loads run on the compute stage, in order with their users, so
   * evicting a kernel a previous instruction used is safe.
   */
  kernel(key: string, build: () => Uop[]): [number, number] {
    const r = this.resident.get(key);
    if (r) return [r.bgn, r.end];
    let off = this.kernelOffset.get(key);
    let len = this.kernelLength.get(key);
    if (off === undefined || len === undefined) {
      const uops = build();
      off = this.uops.length;
      len = uops.length;
      this.uops.push(...uops);
      this.kernelOffset.set(key, off);
      this.kernelLength.set(key, len);
    }
    if (len > this.cfg.UOP_DEPTH) throw new RangeError(`a micro-op kernel of ${len} uops exceeds the uop buffer (${this.cfg.UOP_DEPTH})`);
    if (this.uopHead + len > this.cfg.UOP_DEPTH) this.uopHead = 0;
    const bgn = this.uopHead;
    const end = bgn + len;
    for (const [k, v] of this.resident) if (v.bgn < end && bgn < v.end) this.resident.delete(k);
    this.resident.set(key, { bgn, end });
    this.uopHead = end;
    this.mem('LOAD', 'UOP', 'uops', off, { sram: bgn, y: 1, x: len, stride: len });
    return [bgn, end];
  }

  gemm(
    range: [number, number],
    reset: boolean,
    outer: [number, number, number, number],
    inner: [number, number, number, number],
  ): void {
    const insn: GemmInsn = {
      opcode: 'GEMM',
      ...NO_DEPS,
      reset_reg: reset ? 1 : 0,
      uop_bgn: range[0],
      uop_end: range[1],
      iter_out: outer[0],
      dst_factor_out: outer[1],
      src_factor_out: outer[2],
      wgt_factor_out: outer[3],
      iter_in: inner[0],
      dst_factor_in: inner[1],
      src_factor_in: inner[2],
      wgt_factor_in: inner[3],
    };
    this.emit(insn);
  }

  alu(
    range: [number, number],
    op: AluInsn['alu_opcode'],
    imm: number | null,
    outer: [number, number, number],
    inner: [number, number, number],
  ): void {
    const insn: AluInsn = {
      opcode: 'ALU',
      ...NO_DEPS,
      reset_reg: 0,
      uop_bgn: range[0],
      uop_end: range[1],
      iter_out: outer[0],
      dst_factor_out: outer[1],
      src_factor_out: outer[2],
      iter_in: inner[0],
      dst_factor_in: inner[1],
      src_factor_in: inner[2],
      alu_opcode: op,
      use_imm: imm === null ? 0 : 1,
      imm: imm ?? 0,
    };
    this.emit(insn);
  }
}

/**
 * The accumulator's tile regions used in rotation: `begin` before a tile's first write to its region
 * (waiting, from the second round on, for the store that read it), `store` around a tile's STOREs,
 * `finish` at the end of the stream (compute pops what the last stores pushed).
 */
export class AccRing {
  private tile = 0;
  private tokens = 0;
  constructor(private readonly q: InsnQueue, readonly buffers: number) {}
  begin(): number {
    if (this.tile >= this.buffers) {
      this.q.depPop(STORE, COMPUTE);
      this.tokens--;
    }
    return this.tile % this.buffers;
  }
  store(emit: () => void): void {
    this.q.depPush(COMPUTE, STORE);
    this.q.depPop(COMPUTE, STORE);
    emit();
    this.q.depPush(STORE, COMPUTE);
    this.tokens++;
    this.tile++;
  }
  finish(): void {
    for (; this.tokens > 0; this.tokens--) this.q.depPop(STORE, COMPUTE);
    this.q.flush();
  }
}
