/**
 * The scheduler of webgpu/schedule.ts (no GPU needed), on random instruction mixes. Oracle: a
 * symbolic replay. Every element (and DRAM word) holds the stream index of the instruction that
 * last wrote it; running the instructions one by one in stream order gives, for every read, the
 * writer it must see. The schedule is replayed level by level, each member in the copy its record
 * names, copy units moving elements between copies: no two units of a level may touch the same
 * element of the same copy where one writes, every read must see the same writer as in stream
 * order, and after the last level copy 0 must hold the stream-order state.
 */
import { describe, expect, it } from 'vitest';
import { preset } from '../../isa/config.ts';
import { BUF, type Access, type PlannedInsn } from '../../webgpu/plan.ts';
import { Scheduler, sramGeometry, type Schedule } from '../../webgpu/schedule.ts';
import { F, KIND_CODE, REC_WORDS, type Kind } from '../../webgpu/shaders.ts';

const cfg = preset('default');
const geo = sramGeometry(cfg);
const geoOf = (buf: number) => geo.find((g) => g.buf === buf)!;

/** Units (elements, or DRAM words) an access covers. */
function cells(a: Access): [number, number] {
  const size = a.buf === BUF.dram ? 4 : geoOf(a.buf).unitBytes;
  return [Math.floor(a.lo / size), Math.ceil(a.hi / size)];
}

/** A write that covers its first or last unit only in part keeps the rest of it: it reads too. */
function modeOf(a: Access): Access['mode'] {
  const size = a.buf === BUF.dram ? 4 : geoOf(a.buf).unitBytes;
  return a.mode === 'write' && (a.lo % size !== 0 || a.hi % size !== 0) ? 'update' : a.mode;
}

/** The copy an access of `p` uses, from its record. */
function copyOf(p: PlannedInsn, a: Access): number {
  if (a.buf === BUF.dram) return 0;
  const g = geoOf(a.buf);
  const field = a.buf === BUF.acc && p.kind === 'alu' && a !== p.accesses[0] ? F.OFF_SRC : g.field;
  return p.rec[field]! / g.stride;
}

/** A planned instruction as the scheduler sees it (its record matters only for the copies it is given). */
function insn(kind: Kind, accesses: Access[], threads: number, dstMap?: Int32Array): PlannedInsn {
  const rec = new Uint32Array(REC_WORDS);
  rec[F.KIND] = KIND_CODE[kind];
  return { kind, rec, threads, accesses, ...(dstMap ? { dstMap } : {}) };
}

function randomProgram(seed: number, n: number): PlannedInsn[] {
  let s = seed >>> 0;
  const next = (k: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % k;
  };
  const span = (buf: number, units: number, mode: Access['mode'], ragged = false): Access => {
    const size = buf === BUF.dram ? 4 : geoOf(buf).unitBytes;
    const a = next(units);
    const b = a + 1 + next(Math.min(6, units - a));
    // Sometimes a range that covers its first or last unit only in part.
    const cut = ragged && size > 4 && next(4) === 0 ? 4 : 0;
    return { buf, lo: a * size + cut, hi: b * size, mode };
  };
  const maps = new Map<string, Int32Array>();
  const out: PlannedInsn[] = [];
  for (let i = 0; i < n; i++) {
    switch (next(6)) {
      case 0:
        out.push(insn('load_inp', [span(BUF.dram, 24, 'read'), span(BUF.inp, 12, 'write', true)], 4));
        break;
      case 1:
        out.push(insn(next(2) ? 'load_wgt' : 'load_acc', [span(BUF.dram, 24, 'read'), next(2) ? span(BUF.wgt, 12, 'write') : span(BUF.acc, 12, 'write')], 4));
        break;
      case 2:
        out.push(insn('store', [span(BUF.dram, 24, 'write'), span(BUF.acc, 12, 'read')], 4));
        break;
      default: {
        const gemm = next(2) === 0;
        const dst = span(BUF.acc, 12, gemm && next(3) === 0 ? 'write' : 'update');
        // Equal destination spans get the same thread map (so they may fuse), sometimes none.
        const key = `${dst.lo},${dst.hi}`;
        if (!maps.has(key)) maps.set(key, Int32Array.from({ length: cells(dst)[1] - cells(dst)[0] }, (_, k) => cells(dst)[0] + k));
        const reads = gemm ? [span(BUF.inp, 12, 'read'), span(BUF.wgt, 12, 'read')] : next(2) ? [span(BUF.acc, 12, 'read')] : [];
        out.push(insn(gemm ? 'gemm' : 'alu', [dst, ...reads], (cells(dst)[1] - cells(dst)[0]) * 16, next(5) ? maps.get(key) : undefined));
      }
    }
  }
  return out;
}

const keyOf = (buf: number, copy: number, cell: number) => `${buf}:${copy}:${cell}`;

/** The element keys a `copy` unit writes and reads, pair by pair. */
function copyPairs(p: PlannedInsn): [string, string][] {
  const buf = [BUF.inp, BUF.wgt, BUF.acc][p.rec[F.AUX]!]!;
  const g = geoOf(buf);
  const wpu = p.rec[F.WPU]!;
  const key = (word: number) => keyOf(buf, Math.floor(word / g.stride), (word % g.stride) / wpu);
  const pairs: [string, string][] = [];
  for (let k = 0; k < p.uops!.length; k += 2) pairs.push([key(p.uops![k]!), key(p.uops![k + 1]!)]);
  return pairs;
}

/** Replays `schedule`; returns the problems found (empty when it is right). */
function replay(program: PlannedInsn[], schedule: Schedule, copies: number): string[] {
  const problems: string[] = [];
  const index = new Map(program.map((p, i) => [p, i]));
  // Stream order: the writer each read must see, and the final state.
  const logical = new Map<string, number>();
  const expected = new Map<string, number>();
  program.forEach((p, i) => {
    for (const a of p.accesses) {
      const [c0, c1] = cells(a);
      for (let c = c0; c < c1; c++) {
        const k = `${a.buf}:${c}`;
        if (modeOf(a) !== 'write') expected.set(`${i}:${k}`, logical.get(k) ?? -1);
      }
    }
    for (const a of p.accesses) {
      const [c0, c1] = cells(a);
      if (a.mode !== 'read') for (let c = c0; c < c1; c++) logical.set(`${a.buf}:${c}`, i);
    }
  });
  const state = new Map<string, number>();
  const seen = new Set<PlannedInsn>();
  schedule.levels.forEach((level, l) => {
    // Conflicts inside the level.
    const owner = new Map<string, { unit: number; write: boolean }>();
    level.forEach((unit, u) => {
      for (const p of unit.members) {
        const list: [string, boolean][] = [];
        if (p.kind === 'copy') {
          for (const [to, from] of copyPairs(p)) list.push([to, true], [from, false]);
        } else {
          for (const a of p.accesses) {
            const [c0, c1] = cells(a);
            for (let c = c0; c < c1; c++) list.push([keyOf(a.buf, copyOf(p, a), c), a.mode !== 'read']);
          }
        }
        for (const [k, write] of list) {
          const o = owner.get(k);
          if (o && o.unit !== u && (o.write || write)) problems.push(`level ${l}: units ${o.unit} and ${u} both touch ${k}`);
          if (!o || write) owner.set(k, { unit: u, write: write || (o?.unit === u && o.write) });
        }
      }
    });
    // Run it.
    for (const unit of level) {
      for (const p of unit.members) {
        if (p.kind === 'copy') {
          // The pairs run side by side on the GPU: every source is read before any destination is written.
          const values = copyPairs(p).map(([to, from]) => [to, state.get(from) ?? -1] as const);
          for (const [to, v] of values) state.set(to, v);
          continue;
        }
        const i = index.get(p)!;
        seen.add(p);
        for (const a of p.accesses) {
          if (a.buf !== BUF.dram && copyOf(p, a) >= copies) problems.push(`insn ${i}: copy ${copyOf(p, a)} of ${copies}`);
          const [c0, c1] = cells(a);
          for (let c = c0; c < c1; c++) {
            if (modeOf(a) === 'write') continue;
            const got = state.get(keyOf(a.buf, copyOf(p, a), c)) ?? -1;
            const want = expected.get(`${i}:${a.buf}:${c}`);
            if (got !== want) problems.push(`insn ${i} (${p.kind}) reads ${a.buf}:${c} written by ${got}, not ${want}`);
          }
        }
        for (const a of p.accesses) {
          const [c0, c1] = cells(a);
          if (a.mode !== 'read') for (let c = c0; c < c1; c++) state.set(keyOf(a.buf, copyOf(p, a), c), i);
        }
      }
    }
  });
  if (seen.size !== program.length) problems.push(`${program.length - seen.size} instructions never ran`);
  for (const [k, v] of logical) {
    const [buf, cell] = k.split(':');
    const got = state.get(keyOf(Number(buf), 0, Number(cell))) ?? -1;
    if (got !== v) problems.push(`at the end ${k} holds ${got}, not ${v}`);
  }
  return problems;
}

describe('scheduler', () => {
  it.each([1, 2, 3, 8])('gives, with %i copies, a schedule equal to stream order on random programs', (copies) => {
    const s = new Scheduler(cfg, copies);
    let fused = 0;
    let gathered = 0;
    let levels = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const program = randomProgram(seed * 7919 + copies, 60);
      for (const p of program) s.add(p);
      const schedule = s.finish();
      const problems = replay(program, schedule, copies);
      expect(problems.slice(0, 5), `seed ${seed}`).toEqual([]);
      fused += schedule.fused;
      gathered += schedule.copies;
      levels += schedule.levels.length;
    }
    // The mixes exercise fusion and (with several copies) gathering, and levels are fewer than instructions.
    expect(fused).toBeGreaterThan(0);
    if (copies > 1) expect(gathered).toBeGreaterThan(0);
    expect(levels).toBeLessThan(150 * 60);
  });

  it('runs independent tiles side by side once the SRAM has copies', () => {
    // A double-buffered tile loop: load inp and wgt, reset + accumulate + ALU into one of two acc
    // regions, store. With one copy a tile waits for the tile before it in the same buffers.
    const tiles = (copies: number) => {
      const s = new Scheduler(cfg, copies);
      const acc = geoOf(BUF.acc).unitBytes;
      const maps = [Int32Array.from([0, 1, 2, 3]), Int32Array.from([4, 5, 6, 7])];
      for (let t = 0; t < 16; t++) {
        const r = t % 2;
        const dst = (mode: Access['mode']): Access => ({ buf: BUF.acc, lo: r * 4 * acc, hi: (r + 1) * 4 * acc, mode });
        s.add(insn('load_inp', [{ buf: BUF.dram, lo: t * 64, hi: t * 64 + 64, mode: 'read' }, { buf: BUF.inp, lo: r * 64, hi: r * 64 + 64, mode: 'write' }], 16));
        s.add(insn('gemm', [dst('write')], 64, maps[r]));
        s.add(insn('gemm', [dst('update'), { buf: BUF.inp, lo: r * 64, hi: r * 64 + 64, mode: 'read' }, { buf: BUF.wgt, lo: 0, hi: 256, mode: 'read' }], 64, maps[r]));
        s.add(insn('alu', [dst('update')], 64, maps[r]));
        s.add(insn('store', [{ buf: BUF.dram, lo: 4096 + t * 64, hi: 4096 + t * 64 + 64, mode: 'write' }, dst('read')], 16));
      }
      return s.finish();
    };
    const one = tiles(1);
    const many = tiles(32);
    // Fused: reset, GEMM and ALU of a tile are one unit.
    expect(many.fused).toBe(32);
    // load -> compute -> store, and the gather back into copy 0.
    expect(many.levels.length).toBe(4);
    expect(one.levels.length).toBeGreaterThan(16);
  });
});
