/**
 * Host-side planning of a run: turns each instruction into one shader record (shaders.ts) and
 * decides, for GEMM and ALU, how the loops i (iter_out), j (iter_in) and k (micro-ops) are spread
 * over threads: i and j each either parallel or run in order inside each thread; the micro-ops
 * split into groups, one group per thread, each run in order (one group per micro-op, one group
 * per distinct dst_idx, or a single group).
 *
 * A choice is safe when threads cannot interact: no two threads write the same acc element, and
 * (ALU with a register operand) no thread reads an element another thread writes. Each thread
 * then runs its own iterations in the stream's order, so the result equals the sequential loop
 * nest exactly, whatever the interleaving of threads. The check enumerates the destinations of
 * the instruction with the micro-ops it will really use (the host keeps the uop SRAM, and hands
 * each instruction its micro-op words grouped by thread); choices are tried from the most parallel
 * down to the fully serial one, which is always safe. Lanes (BATCH x BLOCK_OUT) are always
 * parallel: an instruction never mixes lanes.
 *
 * For the scheduler (schedule.ts) each planned instruction also says what it reads and writes
 * (`Access`) and, where every thread writes a single acc element, which one (`dstMap`).
 */
import { elemBytes, type VtaConfig } from '../isa/config.ts';
import { countInsn, type Counters } from '../isa/counters.ts';
import { dramRange } from '../isa/validate.ts';
import { ProgramError } from '../isa/errors.ts';
import { LoopIndexCheck, uopFieldReaders, type UopFieldName } from '../isa/uop-check.ts';
import { ALU_OPCODES, type AluInsn, type GemmInsn, type MemInsn } from '../isa/types.ts';
import { F, KIND_CODE, REC_WORDS, type Kind } from './shaders.ts';

/** How a loop nest is spread over threads. */
export interface LoopSplit {
  /** Whether i and j run in parallel threads. */
  parallel: readonly [boolean, boolean];
  /** The micro-op group of each micro-op of the range, groups numbered from 0. */
  group: Int32Array;
  groups: number;
  /**
   * Where every thread (per lane) writes a single acc element: that element for each thread, in
   * thread order. Instructions with equal maps can run one after the other in the same threads
   * (schedule.ts fuses them).
   */
  dstMap?: Int32Array;
  /** Distinct acc elements written. */
  distinct: number;
}

/** Buffers an instruction touches, as the scheduler (schedule.ts) tracks them. */
export const BUF = { dram: 0, inp: 1, wgt: 2, acc: 3 } as const;

/**
 * How an instruction uses a byte range [lo, hi) of a buffer: `read`; `write`, every byte
 * overwritten without being read (a LOAD, a GEMM reset covering every element of its span), so
 * the scheduler may give the write a fresh copy of the SRAM; `update`, read and written (or
 * written only in part).
 */
export interface Access {
  buf: number;
  lo: number;
  hi: number;
  mode: 'read' | 'write' | 'update';
}

/** One instruction as the shaders run it. */
export interface PlannedInsn {
  kind: Kind;
  /** The record (REC_WORDS words). */
  rec: Uint32Array;
  /** Threads. */
  threads: number;
  /** GEMM/ALU: group offsets then micro-op words; copy: (destination, source) word pairs. The executor places them in the `uops` buffer at rec[F.UOPS]. */
  uops?: Uint32Array;
  /** Everything it reads and writes. */
  accesses: Access[];
  /** GEMM/ALU: the split's dstMap (see LoopSplit). */
  dstMap?: Int32Array;
}

/** Every subset of {i, j}, as parallel flags. */
const SUBSETS: readonly (readonly [boolean, boolean])[] = [[true, true], [true, false], [false, true], [false, false]];

export class Planner {
  private readonly lanes: number;
  private readonly fields: Record<UopFieldName, (word: number) => number>;
  private readonly loopCheck: LoopIndexCheck;
  /** Per acc element: the thread that writes it, valid where `stamp` equals `gen`. */
  private readonly owner: Int32Array;
  private readonly stamp: Uint32Array;
  private gen = 0;
  private readonly cache = new Map<string, LoopSplit>();
  private readonly dstSrcMask: number;

  constructor(readonly cfg: VtaConfig) {
    this.lanes = cfg.BATCH * cfg.BLOCK_OUT;
    this.fields = uopFieldReaders(cfg);
    this.loopCheck = new LoopIndexCheck(cfg);
    const f = cfg.layout.uop.byName;
    this.dstSrcMask = ['dst_idx', 'src_idx'].reduce((m, n) => m | ((2 ** f[n]!.width - 1) * 2 ** f[n]!.offset), 0);
    this.owner = new Int32Array(cfg.ACC_DEPTH);
    this.stamp = new Uint32Array(cfg.ACC_DEPTH);
  }

  /**
   * The record of a GEMM or ALU instruction with the micro-ops `uop` (the uop SRAM as it will be
   * when the instruction runs), or null when its loop is empty. Throws ProgramError for an index
   * outside its buffer, naming the micro-op and iteration.
   */
  loop(insn: GemmInsn | AluInsn, index: number, uop: Uint32Array, counters: Counters): PlannedInsn | null {
    const { cfg } = this;
    const spans = this.loopCheck.check(insn, index, uop);
    if (!spans) return null;
    const nk = insn.uop_end - insn.uop_bgn;
    const gemm = insn.opcode === 'GEMM';
    const accBytes = this.lanes * 4;
    const split = this.split(insn, uop, !gemm && spans.src !== undefined);
    const [d0, d1] = spans.dst;
    // A reset that zeroes every element of its span overwrites it; anything else reads it.
    const dstMode = gemm && insn.reset_reg === 1 && split.distinct === d1 - d0 ? 'write' : 'update';
    const accesses: Access[] = [{ buf: BUF.acc, lo: d0 * accBytes, hi: d1 * accBytes, mode: dstMode }];
    if (spans.src) {
      const [s0, s1] = spans.src;
      accesses.push(gemm ? { buf: BUF.inp, lo: s0 * cfg.INP_ELEM_BYTES, hi: s1 * cfg.INP_ELEM_BYTES, mode: 'read' } : { buf: BUF.acc, lo: s0 * accBytes, hi: s1 * accBytes, mode: 'read' });
    }
    if (spans.wgt) accesses.push({ buf: BUF.wgt, lo: spans.wgt[0] * cfg.WGT_ELEM_BYTES, hi: spans.wgt[1] * cfg.WGT_ELEM_BYTES, mode: 'read' });

    const ei = split.parallel[0] ? insn.iter_out : 1;
    const ej = split.parallel[1] ? insn.iter_in : 1;
    const ek = split.groups;
    // Group offsets, then the words in group order (stream order inside each group).
    const words = new Uint32Array(ek + 1 + nk);
    for (let k = 0; k < nk; k++) words[split.group[k]! + 1]!++;
    for (let g = 0; g < ek; g++) {
      words[g + 1] = words[g + 1]! + words[g]!;
    }
    const fill = words.slice(0, ek);
    for (let k = 0; k < nk; k++) words[ek + 1 + fill[split.group[k]!]!++] = uop[insn.uop_bgn + k]!;
    const rec = new Uint32Array(REC_WORDS);
    const threads = ei * ej * ek * this.lanes;
    rec[F.N] = threads;
    rec[F.KIND] = KIND_CODE[gemm ? 'gemm' : 'alu'];
    rec[F.EI] = ei;
    rec[F.EJ] = ej;
    rec[F.EK] = ek;
    rec[F.NI] = insn.iter_out / ei;
    rec[F.NJ] = insn.iter_in / ej;
    rec[F.DST_FO] = insn.dst_factor_out;
    rec[F.DST_FI] = insn.dst_factor_in;
    rec[F.SRC_FO] = insn.src_factor_out;
    rec[F.SRC_FI] = insn.src_factor_in;
    if (gemm) {
      rec[F.WGT_FO] = insn.wgt_factor_out;
      rec[F.WGT_FI] = insn.wgt_factor_in;
      rec[F.OP] = insn.reset_reg;
    } else {
      rec[F.OP] = ALU_OPCODES[insn.alu_opcode];
      rec[F.USE_IMM] = insn.use_imm;
      rec[F.IMM] = insn.imm >>> 0;
    }
    countInsn(cfg, counters, insn);
    return { kind: gemm ? 'gemm' : 'alu', rec, threads, uops: words, accesses, dstMap: split.dstMap };
  }

  /** The most parallel safe split of the loops of `insn` (see the file comment). */
  split(insn: GemmInsn | AluInsn, uop: Uint32Array, readsAcc: boolean): LoopSplit {
    const { dst, src } = this.fields;
    const nk = insn.uop_end - insn.uop_bgn;
    const words = uop.subarray(insn.uop_bgn, insn.uop_end);
    // The split depends on the loop fields and on the dst (and, read from acc, src) fields only.
    let key = `${readsAcc ? 1 : 0},${insn.iter_out},${insn.iter_in},${insn.dst_factor_out},${insn.dst_factor_in}`;
    if (readsAcc) key += `,${insn.src_factor_out},${insn.src_factor_in}`;
    for (let k = 0; k < nk; k++) key += `,${readsAcc ? (words[k]! & this.dstSrcMask) >>> 0 : dst(words[k]!)}`;
    const hit = this.cache.get(key);
    if (hit) return hit;

    const dsts = Int32Array.from(words, dst);
    const srcs = readsAcc ? Int32Array.from(words, src) : null;
    // Micro-op groupings, most parallel first: one per micro-op, one per distinct dst_idx, one.
    const byDst = new Map<number, number>();
    const perDst = Int32Array.from(dsts, (d) => {
      if (!byDst.has(d)) byDst.set(d, byDst.size);
      return byDst.get(d)!;
    });
    const groupings: { group: Int32Array; groups: number }[] = [];
    if (byDst.size === nk) groupings.push({ group: Int32Array.from({ length: nk }, (_, k) => k), groups: nk });
    else if (byDst.size > 1) groupings.push({ group: perDst, groups: byDst.size });
    groupings.push({ group: new Int32Array(nk), groups: 1 });

    const sizes = [insn.iter_out, insn.iter_in] as const;
    const dstFactor = [insn.dst_factor_out, insn.dst_factor_in] as const;
    const candidates = SUBSETS.flatMap((parallel) => groupings.map((g) => ({ parallel, ...g })))
      .map((c) => ({ ...c, extent: (c.parallel[0] ? sizes[0] : 1) * (c.parallel[1] ? sizes[1] : 1) * c.groups }))
      // Two threads that differ only along a loop whose destinations do not move write the same
      // element; a loop of one iteration is left serial (the same split).
      .filter((c) => c.extent <= this.cfg.ACC_DEPTH && !c.parallel.some((p, d) => p && (sizes[d] === 1 || dstFactor[d] === 0)))
      .sort((a, b) => b.extent - a.extent);
    let best: Omit<LoopSplit, 'distinct'> = { parallel: [false, false], group: new Int32Array(nk), groups: 1 };
    for (const c of candidates) {
      if (c.extent === 1 || this.safe(insn, c, dsts, srcs)) {
        best = { parallel: c.parallel, group: c.group, groups: c.groups };
        break;
      }
    }
    const chosen = { ...best, ...this.destinations(insn, best, dsts) };
    if (this.cache.size >= 65536) this.cache.clear();
    this.cache.set(key, chosen);
    return chosen;
  }

  /** The split's dstMap (when every thread writes one element) and the number of distinct elements written. */
  private destinations(insn: GemmInsn | AluInsn, split: Omit<LoopSplit, 'distinct'>, dsts: Int32Array): Pick<LoopSplit, 'dstMap' | 'distinct'> {
    const { stamp } = this;
    const g = this.nextGen();
    const [pi, pj] = split.parallel;
    const ej = pj ? insn.iter_in : 1;
    const { group, groups } = split;
    const map = new Int32Array((pi ? insn.iter_out : 1) * ej * groups).fill(-1);
    let single = true;
    let distinct = 0;
    for (let i = 0; i < insn.iter_out; i++) {
      for (let j = 0; j < insn.iter_in; j++) {
        const base = i * insn.dst_factor_out + j * insn.dst_factor_in;
        const t0 = ((pi ? i : 0) * ej + (pj ? j : 0)) * groups;
        for (let k = 0; k < dsts.length; k++) {
          const d = dsts[k]! + base;
          if (stamp[d] !== g) {
            stamp[d] = g;
            distinct++;
          }
          const t = t0 + group[k]!;
          if (map[t] === -1) map[t] = d;
          else if (map[t] !== d) single = false;
        }
      }
    }
    return single ? { dstMap: map, distinct } : { distinct };
  }

  private nextGen(): number {
    if (++this.gen === 0xffffffff) {
      this.stamp.fill(0);
      this.gen = 1;
    }
    return this.gen;
  }

  private safe(insn: GemmInsn | AluInsn, split: Omit<LoopSplit, 'distinct'>, dsts: Int32Array, srcs: Int32Array | null): boolean {
    const { owner, stamp } = this;
    const g = this.nextGen();
    const nk = dsts.length;
    const [pi, pj] = split.parallel;
    const ej = pj ? insn.iter_in : 1;
    const { group, groups } = split;
    for (let i = 0; i < insn.iter_out; i++) {
      for (let j = 0; j < insn.iter_in; j++) {
        const base = i * insn.dst_factor_out + j * insn.dst_factor_in;
        const t0 = ((pi ? i : 0) * ej + (pj ? j : 0)) * groups;
        for (let k = 0; k < nk; k++) {
          const d = dsts[k]! + base;
          const t = t0 + group[k]!;
          if (stamp[d] !== g) {
            stamp[d] = g;
            owner[d] = t;
          } else if (owner[d] !== t) {
            return false;
          }
        }
      }
    }
    if (!srcs) return true;
    for (let i = 0; i < insn.iter_out; i++) {
      for (let j = 0; j < insn.iter_in; j++) {
        const base = i * insn.src_factor_out + j * insn.src_factor_in;
        const t0 = ((pi ? i : 0) * ej + (pj ? j : 0)) * groups;
        for (let k = 0; k < nk; k++) {
          const s = srcs[k]! + base;
          if (stamp[s] === g && owner[s] !== t0 + group[k]!) return false;
        }
      }
    }
    return true;
  }

  /**
   * The record of a LOAD or STORE, or null for a no-op (x_size = 0, or nothing to move). Ranges
   * were checked by validateProgram.
   */
  memory(insn: MemInsn, counters: Counters): PlannedInsn | null {
    const { cfg, lanes } = this;
    if (insn.x_size === 0) return null;
    countInsn(cfg, counters, insn);
    const eb = elemBytes(cfg, insn.memory_type);
    const rec = new Uint32Array(REC_WORDS);
    rec[F.SRAM_BASE] = insn.sram_base;
    rec[F.DRAM_BASE] = insn.dram_base;
    rec[F.Y_SIZE] = insn.y_size;
    rec[F.X_SIZE] = insn.x_size;
    rec[F.X_STRIDE] = insn.x_stride;
    rec[F.Y_PAD_0] = insn.y_pad_0;
    rec[F.X_PAD_0] = insn.x_pad_0;
    const row = insn.x_pad_0 + insn.x_size + insn.x_pad_1;
    const elems = (insn.y_pad_0 + insn.y_size + insn.y_pad_1) * row;
    rec[F.ROW] = row;
    rec[F.ELEMS] = elems;
    const moved = insn.x_size * insn.y_size;
    const range = dramRange(cfg, insn);
    const accesses: Access[] = range ? [{ buf: BUF.dram, lo: range[0], hi: range[1], mode: insn.opcode === 'STORE' ? 'write' : 'read' }] : [];
    const accBytes = lanes * 4;
    let kind: Kind;
    let threads: number;
    if (insn.opcode === 'STORE') {
      kind = 'store';
      // Rows of whole words, or (sub-word elements) every word a row touches; see shaders.ts.
      const wordsPerRow = eb % 4 === 0 ? (insn.x_size * eb) / 4 : Math.ceil((insn.x_size * eb) / 4) + 1;
      rec[F.AUX] = wordsPerRow;
      threads = insn.y_size * wordsPerRow;
      accesses.push({ buf: BUF.acc, lo: insn.sram_base * accBytes, hi: (insn.sram_base + moved) * accBytes, mode: 'read' });
    } else {
      switch (insn.memory_type) {
        case 'INP':
        case 'WGT': {
          kind = insn.memory_type === 'INP' ? 'load_inp' : 'load_wgt';
          const first = Math.floor((insn.sram_base * eb) / 4);
          rec[F.AUX] = first;
          threads = Math.ceil(((insn.sram_base + elems) * eb) / 4) - first;
          accesses.push({ buf: insn.memory_type === 'INP' ? BUF.inp : BUF.wgt, lo: insn.sram_base * eb, hi: (insn.sram_base + elems) * eb, mode: 'write' });
          break;
        }
        case 'ACC':
        case 'ACC_8BIT':
          kind = 'load_acc';
          rec[F.AUX] = insn.memory_type === 'ACC_8BIT' ? 1 : 0;
          threads = elems * lanes;
          accesses.push({ buf: BUF.acc, lo: insn.sram_base * accBytes, hi: (insn.sram_base + elems) * accBytes, mode: 'write' });
          break;
        case 'UOP':
          // The host keeps the uop SRAM (see the driver): nothing to run on the GPU.
          return null;
        case 'OUT':
          throw new ProgramError(-1, 'LOAD: memory_type OUT cannot be loaded');
      }
    }
    if (threads === 0) return null;
    rec[F.N] = threads;
    rec[F.KIND] = KIND_CODE[kind];
    return { kind, rec, threads, accesses };
  }
}
