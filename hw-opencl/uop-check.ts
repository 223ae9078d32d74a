/**
 * The host-side check of SRAM indices computed from micro-ops (SPEC.md section 6: "the host-side
 * validators check them from the uop loads"). It replays the stream's UOP loads in execution order
 * over a model of the uop buffer, with the micro-op words read from device memory beforehand, and
 * checks every GEMM/ALU against the micro-ops it will see. Indices only grow with i and j (the
 * factors are unsigned), so the last iteration bounds them.
 */
import type { VtaConfig } from '../isa/config.ts';
import { UOP_BYTES } from '../isa/codec.ts';
import { ProgramError } from '../isa/errors.ts';
import type { Insn } from '../isa/types.ts';

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

export function checkUopIndices(cfg: VtaConfig, insns: readonly Insn[], order: Int32Array, mem: MemorySnapshot): void {
  const field = (name: string): [number, number] => {
    const f = cfg.layout.uop.byName[name]!;
    return [f.offset, 2 ** f.width - 1];
  };
  const [dstShift, dstMask] = field('dst_idx');
  const [srcShift, srcMask] = field('src_idx');
  const [wgtShift, wgtMask] = field('wgt_idx');
  const uopWords = new Uint32Array(cfg.UOP_DEPTH);
  const written = new Uint8Array(cfg.UOP_DEPTH);
  for (const idx of order) {
    const insn = insns[idx]!;
    if (insn.opcode === 'LOAD' && insn.memory_type === 'UOP' && insn.x_size > 0) {
      // The validator has rejected padded UOP loads, so each row lands right after the previous.
      for (let y = 0; y < insn.y_size; y++) {
        const at = insn.sram_base + y * insn.x_size;
        uopWords.set(mem.words((insn.dram_base + y * insn.x_stride) * UOP_BYTES, insn.x_size), at);
        written.fill(1, at, at + insn.x_size);
      }
      continue;
    }
    if (insn.opcode !== 'GEMM' && insn.opcode !== 'ALU') continue;
    if (insn.iter_out === 0 || insn.iter_in === 0 || insn.uop_end <= insn.uop_bgn) continue;
    const reset = insn.opcode === 'GEMM' && insn.reset_reg === 1;
    const readsSrc = insn.opcode === 'GEMM' ? !reset : insn.use_imm === 0;
    const readsWgt = insn.opcode === 'GEMM' && !reset;
    // The factors are unsigned, so the largest index of each operand comes from its largest micro-op field.
    let maxDst = 0;
    let maxSrc = 0;
    let maxWgt = 0;
    for (let k = insn.uop_bgn; k < insn.uop_end; k++) {
      if (!written[k]) {
        throw new ProgramError(idx, `${insn.opcode} uses micro-op ${k}, which no UOP load of this stream has written before it`);
      }
      const u = uopWords[k]!;
      maxDst = Math.max(maxDst, (u >>> dstShift) & dstMask);
      maxSrc = Math.max(maxSrc, (u >>> srcShift) & srcMask);
      maxWgt = Math.max(maxWgt, (u >>> wgtShift) & wgtMask);
    }
    const io = insn.iter_out - 1;
    const ii = insn.iter_in - 1;
    const check = (name: string, base: number, fo: number, fi: number, depth: number) => {
      const last = base + io * fo + ii * fi;
      if (last >= depth) {
        throw new ProgramError(idx, `${insn.opcode}: the ${name} index reaches ${last} (micro-op field ${base} + loops), past the ${name} buffer depth ${depth}`);
      }
    };
    check('acc', maxDst, insn.dst_factor_out, insn.dst_factor_in, cfg.ACC_DEPTH);
    if (readsSrc) {
      check(insn.opcode === 'GEMM' ? 'inp' : 'acc', maxSrc, insn.src_factor_out, insn.src_factor_in, insn.opcode === 'GEMM' ? cfg.INP_DEPTH : cfg.ACC_DEPTH);
    }
    if (readsWgt) check('wgt', maxWgt, insn.wgt_factor_out, insn.wgt_factor_in, cfg.WGT_DEPTH);
  }
}
