/**
 * SRAM indices computed from micro-ops (SPEC.md section 6: "the simulator checks them as it runs;
 * the host-side validators check them from the uop loads"). One check serves the functional
 * simulator (before each GEMM/ALU), the webgpu planner (against its host copy of the uop SRAM) and
 * the host validation of the intelfocl driver, which replays the stream's UOP loads in execution
 * order over micro-op words read from device memory.
 */
import type { VtaConfig } from './config.ts';
import { UOP_BYTES } from './codec.ts';
import { ProgramError } from './errors.ts';
import type { AluInsn, GemmInsn, Insn, MemInsn } from './types.ts';

export type UopFieldName = 'dst' | 'src' | 'wgt';

/** Readers of the dst_idx, src_idx and wgt_idx fields of a micro-op word, for a configuration. */
export function uopFieldReaders(cfg: VtaConfig): Record<UopFieldName, (word: number) => number> {
  const f = cfg.layout.uop.byName;
  const reader = (name: string) => {
    const shift = f[name]!.offset;
    const mask = 2 ** f[name]!.width - 1;
    return (w: number) => (w >>> shift) & mask;
  };
  return { dst: reader('dst_idx'), src: reader('src_idx'), wgt: reader('wgt_idx') };
}

/** [first, end) of the elements of one SRAM that a GEMM/ALU loop can reach. */
export type IndexSpan = [number, number];

/** What a GEMM/ALU loop reaches: acc elements written, and the operands it reads. */
export interface LoopSpans {
  dst: IndexSpan;
  /** inp (GEMM) or acc (ALU) elements; absent for a GEMM with reset_reg and an ALU with use_imm. */
  src?: IndexSpan;
  /** Absent but for a GEMM without reset_reg. */
  wgt?: IndexSpan;
}

export class LoopIndexCheck {
  private readonly fields: Record<UopFieldName, (word: number) => number>;

  constructor(readonly cfg: VtaConfig) {
    this.fields = uopFieldReaders(cfg);
  }

  /**
   * Checks every index a GEMM or ALU computes from the micro-ops `uops` (the uop SRAM as the
   * instruction sees it) and returns the spans it reaches, or null when its loop is empty. Throws
   * ProgramError naming instruction `index` and the first micro-op and iteration, in loop order,
   * whose index leaves its buffer.
   */
  check(insn: GemmInsn | AluInsn, index: number, uops: Uint32Array): LoopSpans | null {
    const { cfg } = this;
    const { uop_bgn: bgn, uop_end: end } = insn;
    if (end > cfg.UOP_DEPTH || bgn > end) {
      throw new ProgramError(index, `${insn.opcode}: micro-op range [${bgn}, ${end}) is not inside the uop buffer of depth ${cfg.UOP_DEPTH}`);
    }
    if (bgn === end || insn.iter_out === 0 || insn.iter_in === 0) return null;
    const gemm = insn.opcode === 'GEMM';
    const reset = gemm && insn.reset_reg === 1;
    const spans: LoopSpans = { dst: this.span(insn, index, uops, 'dst', 'acc', cfg.ACC_DEPTH, insn.dst_factor_out, insn.dst_factor_in) };
    // With an immediate the ALU operand is acc[dst] (SPEC §4 Choice): src is not read.
    if (gemm ? !reset : insn.use_imm === 0) {
      spans.src = this.span(insn, index, uops, 'src', gemm ? 'inp' : 'acc', gemm ? cfg.INP_DEPTH : cfg.ACC_DEPTH, insn.src_factor_out, insn.src_factor_in);
    }
    if (gemm && !reset) spans.wgt = this.span(insn, index, uops, 'wgt', 'wgt', cfg.WGT_DEPTH, insn.wgt_factor_out, insn.wgt_factor_in);
    return spans;
  }

  private span(insn: GemmInsn | AluInsn, index: number, uops: Uint32Array, name: UopFieldName, buffer: string, depth: number, fo: number, fi: number): IndexSpan {
    const field = this.fields[name];
    const { uop_bgn: bgn, uop_end: end, iter_out: io, iter_in: ii } = insn;
    let min = Infinity;
    let max = 0;
    let argmax = bgn;
    for (let k = bgn; k < end; k++) {
      const v = field(uops[k]!);
      if (v < min) min = v;
      if (v > max) {
        max = v;
        argmax = k;
      }
    }
    // Factors are non-negative, so the largest index is the largest field plus the last iteration's offset.
    const top = max + (io - 1) * fo + (ii - 1) * fi;
    if (top < depth) return [min, top + 1];
    // Name the first iteration, in loop order, that leaves the buffer (the last one with the largest field does).
    let at = [io - 1, ii - 1, argmax] as const;
    search: for (let i = 0; i < io; i++) {
      for (let j = 0; j < ii; j++) {
        for (let k = bgn; k < end; k++) {
          if (field(uops[k]!) + i * fo + j * fi >= depth) {
            at = [i, j, k];
            break search;
          }
        }
      }
    }
    const [i, j, k] = at;
    const v = field(uops[k]!) + i * fo + j * fi;
    throw new ProgramError(index, `${insn.opcode}: micro-op ${k} at iteration i=${i}, j=${j} gives ${name} index ${v}, outside the ${buffer} buffer of depth ${depth}`);
  }
}

/**
 * Copies the micro-op words a UOP LOAD brings into the uop SRAM model `uops` and marks them in
 * `loaded`; `words(dramWord, count)` gives `count` words from device memory at word `dramWord`.
 * The validator has rejected padded UOP loads, so each row lands right after the previous.
 */
export function replayUopLoad(insn: MemInsn, uops: Uint32Array, loaded: Uint8Array, words: (dramWord: number, count: number) => Uint32Array): void {
  if (insn.x_size === 0) return;
  for (let y = 0; y < insn.y_size; y++) {
    const at = insn.sram_base + y * insn.x_size;
    uops.set(words(insn.dram_base + y * insn.x_stride, insn.x_size), at);
    loaded.fill(1, at, at + insn.x_size);
  }
}

/** Byte ranges [start, end) of device memory, sorted and disjoint. */
export type Ranges = [number, number][];

/** Ranges closer than this are read as one, to make fewer device reads. */
const MERGE_GAP = 4096;

/** The device memory every UOP load of the stream reads, merged into few ranges. */
export function uopLoadRanges(insns: readonly Insn[]): Ranges {
  const raw: Ranges = [];
  for (const insn of insns) {
    if (insn.opcode !== 'LOAD' || insn.memory_type !== 'UOP' || insn.x_size === 0 || insn.y_size === 0) continue;
    const start = insn.dram_base * UOP_BYTES;
    raw.push([start, start + ((insn.y_size - 1) * insn.x_stride + insn.x_size) * UOP_BYTES]);
  }
  raw.sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  for (const r of raw) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + MERGE_GAP) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

/** Device memory contents of some ranges, read before the check. */
export class MemorySnapshot {
  constructor(
    private readonly ranges: Ranges,
    private readonly data: readonly Uint8Array[],
  ) {}

  /** `count` little-endian 32-bit words at byte `offset`; the range must lie in one snapshot range. */
  words(offset: number, count: number): Uint32Array {
    const i = this.ranges.findIndex(([s, e]) => offset >= s && offset + count * 4 <= e);
    if (i < 0) throw new Error(`bytes at ${offset} were not read before the micro-op check`);
    const bytes = this.data[i]!.slice(offset - this.ranges[i]![0], offset - this.ranges[i]![0] + count * 4);
    return new Uint32Array(bytes.buffer, 0, count);
  }
}

/**
 * The host-side check of a whole stream on a target whose uop SRAM does not outlive a run: replays
 * the UOP loads in execution order `order` (the micro-op words from `mem`, read beforehand over
 * uopLoadRanges) and checks each GEMM/ALU against the micro-ops it will see, rejecting one that
 * uses micro-ops no UOP load of the stream has written before it.
 */
export function checkStreamUops(cfg: VtaConfig, insns: readonly Insn[], order: Int32Array, mem: MemorySnapshot): void {
  const loops = new LoopIndexCheck(cfg);
  const uops = new Uint32Array(cfg.UOP_DEPTH);
  const loaded = new Uint8Array(cfg.UOP_DEPTH);
  const words = (dramWord: number, count: number) => mem.words(dramWord * UOP_BYTES, count);
  for (const idx of order) {
    const insn = insns[idx]!;
    if (insn.opcode === 'LOAD' && insn.memory_type === 'UOP') replayUopLoad(insn, uops, loaded, words);
    if (insn.opcode !== 'GEMM' && insn.opcode !== 'ALU') continue;
    if (insn.iter_out === 0 || insn.iter_in === 0) continue;
    for (let k = insn.uop_bgn; k < insn.uop_end; k++) {
      if (!loaded[k]) throw new ProgramError(idx, `${insn.opcode} uses micro-op ${k}, which no UOP load of this stream has written before it`);
    }
    loops.check(insn, idx, uops);
  }
}
