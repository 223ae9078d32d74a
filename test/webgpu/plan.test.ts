/**
 * The loop split of webgpu/plan.ts (no GPU needed): which loops of a GEMM/ALU run in parallel.
 * Oracle: hand-derived splits for typical loops, and for random loops a brute-force check of the
 * definition (no element written by two threads; no ALU operand read by a thread that does not
 * write it while another does) plus maximality against every more parallel split; and the
 * destination map the scheduler fuses by, against the elements each thread writes, brute force.
 */
import { describe, expect, it } from 'vitest';
import { encodeUop } from '../../isa/codec.ts';
import { preset } from '../../isa/config.ts';
import { NO_DEPS, type AluInsn, type GemmInsn, type Uop } from '../../isa/types.ts';
import { zeroCounters } from '../../isa/counters.ts';
import { Planner } from '../../webgpu/plan.ts';

const cfg = preset('default');

function uopSram(uops: Uop[]): Uint32Array {
  const s = new Uint32Array(cfg.UOP_DEPTH);
  uops.forEach((u, i) => (s[i] = encodeUop(cfg, u)));
  return s;
}

const gemm = (n: number, f: Partial<GemmInsn>): GemmInsn => ({
  ...NO_DEPS, opcode: 'GEMM', reset_reg: 0, uop_bgn: 0, uop_end: n, iter_out: 1, iter_in: 1,
  dst_factor_out: 0, dst_factor_in: 0, src_factor_out: 0, src_factor_in: 0, wgt_factor_out: 0, wgt_factor_in: 0, ...f,
});
const alu = (n: number, f: Partial<AluInsn>): AluInsn => ({
  ...NO_DEPS, opcode: 'ALU', reset_reg: 0, uop_bgn: 0, uop_end: n, iter_out: 1, iter_in: 1,
  dst_factor_out: 0, dst_factor_in: 0, src_factor_out: 0, src_factor_in: 0, alu_opcode: 'ADD', use_imm: 0, imm: 0, ...f,
});

const u = (dst: number, src = 0, wgt = 0): Uop => ({ dst_idx: dst, src_idx: src, wgt_idx: wgt });

describe('loop split', () => {
  const shape = (s: ReturnType<Planner['split']>) => ({ parallel: s.parallel, group: Array.from(s.group) });

  it('runs a loop with distinct destinations fully in parallel', () => {
    const p = new Planner(cfg);
    const insn = gemm(2, { iter_out: 4, iter_in: 3, dst_factor_out: 6, dst_factor_in: 2 });
    expect(shape(p.split(insn, uopSram([u(0), u(1)]), false))).toEqual({ parallel: [true, true], group: [0, 1] });
  });

  it('keeps a reduction loop (destination factor 0) and micro-ops onto one destination in one thread', () => {
    const p = new Planner(cfg);
    // Conv-like: j is the reduction over input blocks, i walks outputs, and the micro-ops sum taps
    // onto two output blocks (2 and 0): one group per block.
    const insn = gemm(4, { iter_out: 4, iter_in: 5, dst_factor_out: 3, dst_factor_in: 0, src_factor_in: 1, wgt_factor_in: 1 });
    expect(shape(p.split(insn, uopSram([u(2, 0, 0), u(0, 1, 1), u(2, 2, 2), u(0, 3, 3)]), false))).toEqual({ parallel: [true, false], group: [0, 1, 0, 1] });
  });

  it('falls back to one thread per lane for a sliding destination', () => {
    const p = new Planner(cfg);
    const insn = gemm(3, { iter_out: 4, dst_factor_out: 1 });
    expect(shape(p.split(insn, uopSram([u(0), u(1), u(2)]), false))).toEqual({ parallel: [false, false], group: [0, 0, 0] });
  });

  it('does not run an ALU in parallel when a thread reads what another writes', () => {
    const p = new Planner(cfg);
    // acc[i + 1] = acc[i + 1] + acc[i]: a prefix sum; each iteration reads the previous one's result.
    const chain = alu(1, { iter_out: 8, dst_factor_out: 1, src_factor_out: 1 });
    expect(p.split(chain, uopSram([u(1, 0)]), true).parallel).toEqual([false, false]);
    // With an immediate nothing is read, and with disjoint sources the loop is parallel.
    expect(p.split({ ...chain, use_imm: 1 }, uopSram([u(1, 0)]), false).parallel).toEqual([true, false]);
    expect(p.split(chain, uopSram([u(100, 0)]), true).parallel).toEqual([true, false]);
  });

  it('records counters as VTA does', () => {
    const p = new Planner(cfg);
    const c = zeroCounters();
    const uops = uopSram([u(0), u(1)]);
    p.loop(gemm(2, { iter_out: 3, dst_factor_out: 2 }), 0, uops, c);
    p.loop(gemm(2, { iter_out: 3, dst_factor_out: 2, reset_reg: 1 }), 1, uops, c);
    p.loop(alu(2, { iter_in: 2, dst_factor_in: 2, use_imm: 1 }), 2, uops, c);
    expect(c.gemm_counter).toBe(6);
    expect(c.alu_counter).toBe(4);
  });

  it('chooses, on random loops, a split that is safe and as parallel as any safe split', () => {
    let seed = 12345;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const p = new Planner(cfg);
    for (let trial = 0; trial < 400; trial++) {
      const nk = 1 + next(4);
      const uops = Array.from({ length: nk }, () => u(next(6), next(6), 0));
      const f = { iter_out: 1 + next(4), iter_in: 1 + next(4), dst_factor_out: next(4), dst_factor_in: next(4), src_factor_out: next(4), src_factor_in: next(4) };
      const isAlu = next(2) === 1;
      const insn = isAlu ? alu(nk, f) : gemm(nk, f);
      const split = p.split(insn, uopSram(uops), isAlu);
      // A thread: its i and j where parallel, and its micro-op group.
      type Split = { par: readonly boolean[]; group: (k: number) => number; groups: number };
      const chosen: Split = { par: split.parallel, group: (k) => split.group[k]!, groups: split.groups };
      const safe = ({ par, group }: Split) => {
        const writer = new Map<number, string>();
        const iters: [string, number, number][] = [];
        for (let i = 0; i < f.iter_out; i++)
          for (let j = 0; j < f.iter_in; j++)
            for (let k = 0; k < nk; k++) {
              const t = `${par[0] ? i : '-'},${par[1] ? j : '-'},${group(k)}`;
              iters.push([t, uops[k]!.dst_idx + i * f.dst_factor_out + j * f.dst_factor_in, uops[k]!.src_idx + i * f.src_factor_out + j * f.src_factor_in]);
            }
        for (const [t, d] of iters) {
          if (writer.has(d) && writer.get(d) !== t) return false;
          writer.set(d, t);
        }
        return !isAlu || iters.every(([t, , s]) => !writer.has(s) || writer.get(s) === t);
      };
      const extent = ({ par, groups }: Split) => (par[0] ? f.iter_out : 1) * (par[1] ? f.iter_in : 1) * groups;
      expect(safe(chosen), JSON.stringify({ f, uops, isAlu, split })).toBe(true);
      // Every grouping the planner knows: per micro-op (when dsts are distinct), per dst_idx, one.
      const dstIds = [...new Set(uops.map((x) => x.dst_idx))];
      const groupings: Split['group'][] = [(k) => dstIds.indexOf(uops[k]!.dst_idx), () => 0];
      for (let m = 0; m < 4; m++) {
        for (const group of groupings) {
          const other: Split = { par: [!!(m & 2), !!(m & 1)], group, groups: new Set(uops.map((_, k) => group(k))).size };
          if (safe(other)) expect(extent(chosen), JSON.stringify({ f, uops, isAlu, split, other: other.par })).toBeGreaterThanOrEqual(extent(other));
        }
      }
    }
  });

  it('maps each thread to its one destination exactly when every thread writes one element', () => {
    let seed = 777;
    const next = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    const p = new Planner(cfg);
    let mapped = 0;
    for (let trial = 0; trial < 400; trial++) {
      const nk = 1 + next(4);
      const uops = Array.from({ length: nk }, () => u(next(6), next(6), 0));
      const f = { iter_out: 1 + next(4), iter_in: 1 + next(4), dst_factor_out: next(4), dst_factor_in: next(4), src_factor_out: next(4), src_factor_in: next(4) };
      const insn = next(2) ? alu(nk, f) : gemm(nk, f);
      const split = p.split(insn, uopSram(uops), insn.opcode === 'ALU');
      // Brute force: the elements each thread (per lane) writes, threads numbered as the shader does.
      const ej = split.parallel[1] ? f.iter_in : 1;
      const byThread = new Map<number, Set<number>>();
      const all = new Set<number>();
      for (let i = 0; i < f.iter_out; i++)
        for (let j = 0; j < f.iter_in; j++)
          for (let k = 0; k < nk; k++) {
            const t = ((split.parallel[0] ? i : 0) * ej + (split.parallel[1] ? j : 0)) * split.groups + split.group[k]!;
            const d = uops[k]!.dst_idx + i * f.dst_factor_out + j * f.dst_factor_in;
            if (!byThread.has(t)) byThread.set(t, new Set());
            byThread.get(t)!.add(d);
            all.add(d);
          }
      expect(split.distinct).toBe(all.size);
      const single = [...byThread.values()].every((set) => set.size === 1);
      if (single) {
        mapped++;
        expect(Array.from(split.dstMap!)).toEqual([...byThread.keys()].sort((a, b) => a - b).map((t) => [...byThread.get(t)!][0]));
      } else {
        expect(split.dstMap).toBeUndefined();
      }
    }
    expect(mapped).toBeGreaterThan(50);
  });
});
