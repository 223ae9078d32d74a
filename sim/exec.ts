/**
 * The execution core: what each instruction does to the SRAMs and DRAM (SPEC.md §4), one
 * instruction at a time, with VTA's profiler counters. It knows nothing of tokens or ordering: the
 * functional simulator (fsim.ts) calls `exec` in the schedule's order, the cycle-level simulator at
 * each instruction's completion. Every range an instruction touches is checked before it changes
 * anything, so a failing instruction leaves the state as it was.
 */
import { elemBytes, sramDepth, type VtaConfig } from '../isa/config.ts';
import { countInsn, zeroCounters, type Counters } from '../isa/counters.ts';
import { ProgramError } from '../isa/errors.ts';
import type { AluInsn, GemmInsn, Insn, MemInsn } from '../isa/types.ts';
import { LoopIndexCheck } from '../isa/uop-check.ts';
import { dramRange, sramExtent } from '../isa/validate.ts';
import type { Dram } from './dram.ts';
import { SramState, type KernelChoice } from './state.ts';

export interface MachineOptions {
  /** GEMM kernel selection (default `auto`: WebAssembly SIMD where it fits). */
  kernel?: KernelChoice;
}

type Lanes = Uint8Array | Int8Array | Int32Array;

/**
 * dst[at, at + n) = src[from, from + n), converting element types as typed arrays do (int32 to
 * int8 keeps the low byte; int8 to int32 sign-extends). Short rows, the common case, are copied
 * in a loop: a subarray view per row costs more than the copy.
 */
function copy(dst: Lanes, at: number, src: Lanes, from: number, n: number): void {
  if (n > 256) {
    dst.set(src.subarray(from, from + n), at);
    return;
  }
  for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!;
}

/**
 * `copy` for bytes to bytes, which every LOAD but ACC_8BIT is: with one array type the loop's
 * element accesses stay monomorphic (the mixed-type loop above costs several times more per byte),
 * and rows past 64 bytes go through `set`.
 */
function copyBytes(dst: Uint8Array, at: number, src: Uint8Array, from: number, n: number): void {
  if (n > 64) {
    dst.set(src.subarray(from, from + n), at);
    return;
  }
  for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!;
}

export class VtaMachine {
  readonly sram: SramState;
  /** Accumulated since construction or the last `resetCounters`. */
  counters: Counters = zeroCounters();
  private readonly loopCheck: LoopIndexCheck;

  constructor(readonly cfg: VtaConfig, readonly dram: Dram, opts: MachineOptions = {}) {
    this.sram = new SramState(cfg, opts.kernel ?? 'auto');
    this.loopCheck = new LoopIndexCheck(cfg);
  }

  /** Which GEMM kernel runs: `wasm` (SIMD) or `js`. */
  get kernelKind(): 'wasm' | 'js' {
    return this.sram.kernel.kind;
  }

  resetCounters(): void {
    this.counters = zeroCounters();
  }

  /** Executes one instruction; `index` (its position in the stream) names it in errors. */
  exec(insn: Insn, index: number): void {
    switch (insn.opcode) {
      case 'LOAD':
        return this.load(insn, index);
      case 'STORE':
        return this.store(insn, index);
      case 'GEMM':
        return this.gemm(insn, index);
      case 'ALU':
        return this.alu(insn, index);
      case 'FINISH':
        return;
    }
  }

  private checkMemRanges(insn: MemInsn, index: number): void {
    const depth = sramDepth(this.cfg, insn.memory_type);
    const end = insn.sram_base + sramExtent(insn);
    if (end > depth) {
      throw new ProgramError(index, `${insn.opcode}: SRAM range [${insn.sram_base}, ${end}) of ${insn.memory_type} exceeds its depth ${depth}`);
    }
    const range = dramRange(this.cfg, insn);
    if (range && range[1] > this.dram.size) {
      throw new ProgramError(index, `${insn.opcode}: DRAM bytes [${range[0]}, ${range[1]}) fall outside the ${this.dram.size}-byte device memory`);
    }
  }

  load(insn: MemInsn, index: number): void {
    if (insn.x_size === 0) return;
    const { cfg, sram, dram, counters } = this;
    this.checkMemRanges(insn, index);
    const eb = elemBytes(cfg, insn.memory_type);
    // Destination bytes (lanes for ACC_8BIT) per element equal the source bytes per element.
    let dst: Uint8Array | Int32Array;
    switch (insn.memory_type) {
      case 'UOP':
        dst = sram.uopBytes;
        break;
      case 'INP':
        dst = sram.inpBytes;
        break;
      case 'WGT':
        dst = sram.wgtBytes;
        break;
      case 'ACC':
        dst = sram.accBytes;
        break;
      case 'ACC_8BIT':
        // int8 source into int32 lanes: the typed-array copy sign-extends.
        dst = sram.acc;
        break;
      case 'OUT':
        throw new ProgramError(index, 'LOAD: memory_type OUT cannot be loaded');
    }
    const rowLanes = (insn.x_pad_0 + insn.x_size + insn.x_pad_1) * eb;
    const pad0 = insn.x_pad_0 * eb;
    const data = insn.x_size * eb;
    const pad1 = insn.x_pad_1 * eb;
    let at = insn.sram_base * eb;
    if (insn.y_pad_0) dst.fill(0, at, (at += insn.y_pad_0 * rowLanes));
    for (let r = 0; r < insn.y_size; r++) {
      if (pad0) dst.fill(0, at, (at += pad0));
      const from = (insn.dram_base + r * insn.x_stride) * eb;
      if (dst instanceof Uint8Array) copyBytes(dst, at, dram.u8, from, data);
      else copy(dst, at, dram.i8, from, data);
      at += data;
      if (pad1) dst.fill(0, at, (at += pad1));
    }
    if (insn.y_pad_1) dst.fill(0, at, (at += insn.y_pad_1 * rowLanes));
    if (insn.memory_type === 'WGT') sram.wgtWritten(insn.sram_base, at / eb);
    countInsn(cfg, counters, insn);
  }

  store(insn: MemInsn, index: number): void {
    if (insn.memory_type !== 'OUT') throw new ProgramError(index, `STORE: memory_type must be OUT, got ${insn.memory_type}`);
    if (insn.x_size === 0) return;
    this.checkMemRanges(insn, index);
    const lanes = this.cfg.BATCH * this.cfg.BLOCK_OUT;
    const { acc } = this.sram;
    const out = this.dram.i8;
    const n = insn.x_size * lanes;
    for (let y = 0; y < insn.y_size; y++) {
      const from = (insn.sram_base + y * insn.x_size) * lanes;
      // int32 lanes into an Int8Array keep their low 8 bits (SPEC §3).
      copy(out, (insn.dram_base + y * insn.x_stride) * this.cfg.OUT_ELEM_BYTES, acc, from, n);
    }
    countInsn(this.cfg, this.counters, insn);
  }

  gemm(insn: GemmInsn, index: number): void {
    // Checks every index the loop computes; null for an empty loop.
    if (!this.loopCheck.check(insn, index, this.sram.uop)) return;
    const k = this.sram.kernel;
    if (insn.reset_reg) {
      k.reset(insn.uop_bgn, insn.uop_end, insn.iter_out, insn.iter_in, insn.dst_factor_out, insn.dst_factor_in);
      return;
    }
    k.gemm(
      insn.uop_bgn,
      insn.uop_end,
      insn.iter_out,
      insn.iter_in,
      insn.dst_factor_out,
      insn.dst_factor_in,
      insn.src_factor_out,
      insn.src_factor_in,
      insn.wgt_factor_out,
      insn.wgt_factor_in,
    );
    countInsn(this.cfg, this.counters, insn);
  }

  alu(insn: AluInsn, index: number): void {
    if (insn.reset_reg) throw new ProgramError(index, 'ALU: reset_reg must be 0 for ALU');
    // Checks every index the loop computes; null for an empty loop.
    if (!this.loopCheck.check(insn, index, this.sram.uop)) return;
    this.sram.kernel.alu(
      insn.alu_opcode,
      insn.use_imm === 1,
      insn.imm,
      insn.uop_bgn,
      insn.uop_end,
      insn.iter_out,
      insn.iter_in,
      insn.dst_factor_out,
      insn.dst_factor_in,
      insn.src_factor_out,
      insn.src_factor_in,
    );
    countInsn(this.cfg, this.counters, insn);
  }
}
