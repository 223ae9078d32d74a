/**
 * Orders the planned instructions of a run into levels: every unit of work in a level is
 * independent of the others in it, and a level runs after the one before (the executor gives each
 * level one dispatch). The result equals running the instructions one by one in stream order.
 *
 * Three things make levels few and wide:
 * - Copies of the SRAMs: the GPU holds `copies` copies of inp, wgt and acc. An instruction that
 *   overwrites a range without reading it (a LOAD, a GEMM reset covering its span) writes into a
 *   copy where nothing earlier still needs those elements, so it need not wait for the readers of
 *   the old contents (the next tile's LOAD into a double buffer, say). Every later access reads the
 *   copy that holds the element's current value. Where one access spans elements held in different
 *   copies, a `copy` unit first gathers them into one.
 * - Fusion: a GEMM or ALU whose threads each write a single acc element, the same elements in the
 *   same thread order as the unit that last wrote them (and nothing has read them since), joins
 *   that unit: each thread runs the members one after the other, so a reset, the GEMMs that
 *   accumulate over input blocks and the ALU epilogue of a tile are one unit.
 * - Levels: a unit goes to the first level after everything it depends on (the last writer of
 *   what it reads; for what it writes, in the copy it writes, the last reader and writer). DRAM
 *   is not copied: accesses conflict when their word ranges overlap and one writes.
 *
 * At the end of a schedule every element is gathered back into copy 0 (a last level of `copy`
 * units), so each run starts and ends with the SRAM contents in copy 0.
 */
import { elemBytes, type VtaConfig } from '../isa/config.ts';
import { BUF, type Access, type PlannedInsn } from './plan.ts';
import { F, KIND_CODE, REC_WORDS, UNIT_MAX } from './shaders.ts';

/** Instructions run by the same threads, members in order. */
export interface Unit {
  members: PlannedInsn[];
  threads: number;
}

export interface Schedule {
  /** Units by level. */
  levels: Unit[][];
  /** GEMM/ALU instructions that joined a unit started by an earlier one. */
  fused: number;
  /** `copy` units (gathering elements into one copy of an SRAM). */
  copies: number;
}

/** An SRAM as the scheduler tracks it: in units of max(element, 4) bytes. */
export interface SramGeometry {
  /** The BUF value. */
  buf: number;
  unitBytes: number;
  units: number;
  /** Words of one copy. */
  stride: number;
  /** The record field holding the word offset of the copy an instruction uses. */
  field: number;
}

export function sramGeometry(cfg: VtaConfig): SramGeometry[] {
  const lanes = cfg.BATCH * cfg.BLOCK_OUT;
  const one = (buf: number, elem: number, depth: number, field: number): SramGeometry => {
    const unitBytes = Math.max(elem, 4);
    const units = Math.ceil((depth * elem) / unitBytes);
    return { buf, unitBytes, units, stride: (units * unitBytes) / 4, field };
  };
  return [
    one(BUF.inp, elemBytes(cfg, 'INP'), cfg.INP_DEPTH, F.OFF_INP),
    one(BUF.wgt, elemBytes(cfg, 'WGT'), cfg.WGT_DEPTH, F.OFF_WGT),
    one(BUF.acc, lanes * 4, cfg.ACC_DEPTH, F.OFF_ACC),
  ];
}

/** The `copy` record's AUX: which SRAM (0 inp, 1 wgt, 2 acc). */
const COPY_TARGET: Record<number, number> = { [BUF.inp]: 0, [BUF.wgt]: 1, [BUF.acc]: 2 };

interface SramState extends SramGeometry {
  /** The copy holding each element's current value. */
  cur: Uint16Array;
  /** Level of the last write of each element. */
  ready: Int32Array;
  /** The unit that last wrote each element, and the last that touched it. */
  writer: Int32Array;
  touch: Int32Array;
  /** Per copy and element: the last level that read or wrote it there. */
  lastUse: Int32Array;
  /** Per copy: the largest of its lastUse. */
  copyMax: Int32Array;
  /** The copy the last overwrite went to (tried first, so neighbours land together). */
  prefer: number;
}

interface UnitState extends Unit {
  level: number;
  /** Its members only write their destinations (GEMM resets): the unit may still move to a later level. */
  writeOnly: boolean;
  /** GEMM/ALU units: the copy of acc written, and the thread -> element map (when fusable). */
  accCopy: number;
  dstMap?: Int32Array;
}

/** A resolved SRAM access: the state, element units [a, b), and the mode. */
interface Span {
  s: SramState;
  access: Access;
  a: number;
  b: number;
  mode: Access['mode'];
}

interface DramUse {
  lo: number;
  hi: number;
  level: number;
  write: boolean;
}

/** A DRAM access widened to whole words (a STORE of sub-word elements merges into its words). */
const dramUse = (access: Access, level: number): DramUse => ({
  lo: Math.floor(access.lo / 4) * 4,
  hi: Math.ceil(access.hi / 4) * 4,
  level,
  write: access.mode !== 'read',
});

/** DRAM accesses are bucketed by page for the overlap checks. */
const PAGE = 4096;

const sameMap = (x: Int32Array, y: Int32Array) => x === y || (x.length === y.length && x.every((v, i) => v === y[i]));

export class Scheduler {
  private readonly srams: SramState[];
  private readonly byBuf: (SramState | undefined)[] = [];
  private units: UnitState[] = [];
  private dram = new Map<number, DramUse[]>();
  private fused = 0;
  private copyUnits = 0;

  constructor(
    cfg: VtaConfig,
    /** Copies of each SRAM on the GPU (1: no renaming). */
    readonly copies: number,
  ) {
    this.srams = sramGeometry(cfg).map((g) => ({
      ...g,
      cur: new Uint16Array(g.units),
      ready: new Int32Array(g.units).fill(-1),
      writer: new Int32Array(g.units).fill(-1),
      touch: new Int32Array(g.units).fill(-1),
      lastUse: new Int32Array(g.units * copies).fill(-1),
      copyMax: new Int32Array(copies).fill(-1),
      prefer: 0,
    }));
    for (const s of this.srams) this.byBuf[s.buf] = s;
  }

  /** Places `p` (instructions must come in stream order). */
  add(p: PlannedInsn): void {
    const spans: Span[] = [];
    const dram: Access[] = [];
    for (const access of p.accesses) {
      const s = this.byBuf[access.buf];
      if (!s) {
        dram.push(access);
        continue;
      }
      const a = Math.floor(access.lo / s.unitBytes);
      const b = Math.ceil(access.hi / s.unitBytes);
      // An overwrite that covers its first or last unit only in part keeps the rest of it.
      const whole = access.lo % s.unitBytes === 0 && access.hi % s.unitBytes === 0;
      spans.push({ s, access, a, b, mode: access.mode === 'write' && !whole ? 'update' : access.mode });
    }
    if (p.dstMap && this.fuse(p, spans)) return;

    // Everything read (or updated) must sit in one copy per access.
    const kept = spans.filter((x) => x.mode !== 'write');
    for (const x of kept) this.gather(x.s, x.a, x.b);
    for (const x of kept) {
      if (this.uniform(x.s, x.a, x.b) < 0) {
        const same = kept.filter((y) => y.s === x.s);
        this.gather(x.s, Math.min(...same.map((y) => y.a)), Math.max(...same.map((y) => y.b)));
      }
    }
    let level = 0;
    for (const access of dram) level = Math.max(level, this.dramLevel(access));
    for (const x of kept) {
      const v = x.s.cur[x.a]!;
      for (let u = x.a; u < x.b; u++) {
        level = Math.max(level, x.s.ready[u]! + 1);
        if (x.mode === 'update') level = Math.max(level, x.s.lastUse[v * x.s.units + u]! + 1);
      }
    }
    const base = level;
    const chosen = spans.map((x) => {
      if (x.mode !== 'write') return x.s.cur[x.a]!;
      const [v, at] = this.pickCopy(x.s, x.a, x.b, base);
      level = Math.max(level, at);
      return v;
    });

    const id = this.units.length;
    const unit: UnitState = { members: [p], threads: p.threads, level, accCopy: -1, writeOnly: spans.length === 1 && dram.length === 0 && spans[0]!.mode === 'write' };
    spans.forEach((x, i) => {
      const v = chosen[i]!;
      const write = x.mode !== 'read';
      this.setOffset(p, x, v);
      if (write && x.s.buf === BUF.acc && unit.accCopy < 0) unit.accCopy = v;
      this.use(x.s, x.a, x.b, v, level, id, write);
    });
    if (p.dstMap && unit.accCopy >= 0) unit.dstMap = p.dstMap;
    for (const access of dram) this.addDram(access, level);
    this.units.push(unit);
  }

  /** Joins `p` to the unit that last wrote its destinations, when that is safe (file comment). */
  private fuse(p: PlannedInsn, spans: Span[]): boolean {
    const dst = spans[0];
    if (!dst || dst.s.buf !== BUF.acc || dst.mode === 'read') return false;
    const id = dst.s.writer[dst.a]!;
    const g = this.units[id];
    if (!g?.dstMap || g.members.length >= UNIT_MAX || g.threads !== p.threads || !sameMap(g.dstMap, p.dstMap!)) return false;
    for (let u = dst.a; u < dst.b; u++) {
      if (dst.s.writer[u] !== id || dst.s.touch[u] !== id || dst.s.cur[u] !== g.accCopy) return false;
    }
    const reads = spans.slice(1);
    let level = g.level;
    for (const x of reads) {
      if (this.uniform(x.s, x.a, x.b) < 0) return false;
      for (let u = x.a; u < x.b; u++) {
        if (x.s.writer[u] === id) return false;
        level = Math.max(level, x.s.ready[u]! + 1);
      }
    }
    if (level > g.level) {
      // Nothing has touched the unit's elements since it wrote them, and it read nothing, so no
      // later placement relied on its level: a reset may wait for the operands of what joins it.
      if (!g.writeOnly) return false;
      g.level = level;
      this.use(dst.s, dst.a, dst.b, g.accCopy, level, id, true);
    }
    if (reads.length > 0) g.writeOnly = false;
    g.members.push(p);
    this.setOffset(p, dst, g.accCopy);
    for (const x of reads) {
      const v = x.s.cur[x.a]!;
      this.setOffset(p, x, v);
      this.use(x.s, x.a, x.b, v, g.level, id, false);
    }
    this.fused++;
    return true;
  }

  /** The copy holding every element of [a, b), or -1 when they are spread over several. */
  private uniform(s: SramState, a: number, b: number): number {
    const v = s.cur[a]!;
    for (let u = a + 1; u < b; u++) if (s.cur[u] !== v) return -1;
    return v;
  }

  /** Makes one copy hold every element of [a, b) (a `copy` unit), if they are spread over several. */
  private gather(s: SramState, a: number, b: number): void {
    if (this.uniform(s, a, b) >= 0) return;
    const count = new Map<number, number>();
    for (let u = a; u < b; u++) count.set(s.cur[u]!, (count.get(s.cur[u]!) ?? 0) + 1);
    const target = [...count].reduce((x, y) => (y[1] > x[1] ? y : x))[0];
    const moved: number[] = [];
    let level = 0;
    for (let u = a; u < b; u++) {
      if (s.cur[u] === target) continue;
      moved.push(u);
      level = Math.max(level, s.ready[u]! + 1, s.lastUse[target * s.units + u]! + 1);
    }
    this.emitCopy(s, moved, target, level);
  }

  /** A `copy` unit at `level` moving elements `moved` of `s` into copy `target`. */
  private emitCopy(s: SramState, moved: number[], target: number, level: number): void {
    const wpu = s.unitBytes / 4;
    const pairs = new Uint32Array(moved.length * 2);
    moved.forEach((u, i) => {
      pairs[2 * i] = target * s.stride + u * wpu;
      pairs[2 * i + 1] = s.cur[u]! * s.stride + u * wpu;
    });
    const rec = new Uint32Array(REC_WORDS);
    const threads = moved.length * wpu;
    rec[F.N] = threads;
    rec[F.KIND] = KIND_CODE.copy;
    rec[F.AUX] = COPY_TARGET[s.buf]!;
    rec[F.WPU] = wpu;
    const id = this.units.length;
    this.units.push({ members: [{ kind: 'copy', rec, threads, uops: pairs, accesses: [] }], threads, level, accCopy: -1, writeOnly: false });
    for (const u of moved) {
      this.use(s, u, u + 1, s.cur[u]!, level, id, false);
      this.use(s, u, u + 1, target, level, id, true);
    }
    this.copyUnits++;
  }

  /** A copy to overwrite [a, b) in, and the level from which that is safe. */
  private pickCopy(s: SramState, a: number, b: number, base: number): [number, number] {
    let best = 0;
    let bestAt = Infinity;
    for (let n = 0; n < this.copies; n++) {
      const v = (s.prefer + n) % this.copies;
      let at = s.copyMax[v]! + 1;
      if (at > base) {
        at = 0;
        for (let u = a, k = v * s.units + a; u < b; u++, k++) at = Math.max(at, s.lastUse[k]! + 1);
      }
      if (at <= base) {
        best = v;
        bestAt = at;
        break;
      }
      if (at < bestAt) {
        best = v;
        bestAt = at;
      }
    }
    s.prefer = best;
    return [best, bestAt];
  }

  private setOffset(p: PlannedInsn, x: Span, v: number): void {
    // An ALU's second acc access is its source operand.
    const field = x.s.buf === BUF.acc && p.kind === 'alu' && x.access !== p.accesses[0] ? F.OFF_SRC : x.s.field;
    p.rec[field] = v * x.s.stride;
  }

  /** Records that unit `id` at `level` read (or wrote) elements [a, b) in copy `v`. */
  private use(s: SramState, a: number, b: number, v: number, level: number, id: number, write: boolean): void {
    for (let u = a, k = v * s.units + a; u < b; u++, k++) {
      if (s.lastUse[k]! < level) s.lastUse[k] = level;
      s.touch[u] = id;
      if (write) {
        s.cur[u] = v;
        s.ready[u] = level;
        s.writer[u] = id;
      }
    }
    if (s.copyMax[v]! < level) s.copyMax[v] = level;
  }

  private *pages(lo: number, hi: number): Generator<DramUse[]> {
    for (let pg = Math.floor(lo / PAGE); pg * PAGE < hi; pg++) {
      let list = this.dram.get(pg);
      if (!list) this.dram.set(pg, (list = []));
      yield list;
    }
  }

  /** The first level after every earlier conflicting DRAM access (DRAM has one copy). */
  private dramLevel(access: Access): number {
    const { lo, hi, write } = dramUse(access, 0);
    let level = 0;
    for (const list of this.pages(lo, hi)) {
      for (const d of list) if ((write || d.write) && d.hi > lo && hi > d.lo && d.level >= level) level = d.level + 1;
    }
    return level;
  }

  private addDram(access: Access, level: number): void {
    const use = dramUse(access, level);
    for (const list of this.pages(use.lo, use.hi)) list.push(use);
  }

  /**
   * The schedule of everything added, ending with a level that gathers every element back into
   * copy 0; the scheduler starts afresh (as if every earlier level had run).
   */
  finish(): Schedule {
    let last = -1;
    for (const u of this.units) last = Math.max(last, u.level);
    for (const s of this.srams) {
      const moved: number[] = [];
      for (let u = 0; u < s.units; u++) if (s.cur[u] !== 0) moved.push(u);
      if (moved.length > 0) this.emitCopy(s, moved, 0, last + 1);
    }
    const levels: Unit[][] = [];
    for (const u of this.units) (levels[u.level] ??= []).push(u);
    const schedule: Schedule = { levels: levels.filter((l) => l !== undefined), fused: this.fused, copies: this.copyUnits };
    this.reset();
    return schedule;
  }

  /** Forgets everything added (a run whose planning failed). */
  reset(): void {
    for (const s of this.srams) {
      s.cur.fill(0);
      s.ready.fill(-1);
      s.writer.fill(-1);
      s.touch.fill(-1);
      s.lastUse.fill(-1);
      s.copyMax.fill(-1);
      s.prefer = 0;
    }
    this.units = [];
    this.dram = new Map();
    this.fused = 0;
    this.copyUnits = 0;
  }
}
