/**
 * The OpenCL core (hw-opencl/src/vta.cl) on POCL against hand-checked programs: each expected
 * value is computed here by a naive reference of the one operation under test (isa/SPEC.md).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assemble } from '../../isa/asm.ts';
import type { IntelFoclDriver } from '../../hw-opencl/driver.ts';
import { cfg, dumpAcc, fromPlanes, list, openPocl, runAsm, runImage } from './util.ts';

const LANES = cfg.BATCH * cfg.BLOCK_OUT;
const BI = cfg.BLOCK_IN;

/** Deterministic 32-bit values (an LCG), so failures reproduce. */
function values(n: number, seed: number): Int32Array {
  const out = new Int32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s | 0;
  }
  return out;
}
const int8s = (n: number, seed: number) => Int8Array.from(values(n, seed), (v) => v >> 24);

type AluOp = 'min' | 'max' | 'add' | 'shr' | 'mul';
const aluRef: Record<AluOp, (x: number, y: number) => number> = {
  min: (x, y) => Math.min(x, y),
  max: (x, y) => Math.max(x, y),
  add: (x, y) => (x + y) | 0,
  mul: (x, y) => Math.imul(x, y),
  shr: (x, y) => (y >= 0 ? x >> Math.min(y, 31) : -y >= 32 ? 0 : (x << -y) | 0),
};

// Depth 0 is the CPU build; 8 is the FPGA build's accumulator forwarding, exercised here too.
describe.each([0, 8])('intelfocl core on POCL, VTA_ACC_FORWARD_DEPTH=%i', (accForwardDepth) => {
  let drv: IntelFoclDriver;
  beforeAll(async () => {
    drv = await openPocl({ accForwardDepth });
  });
  afterAll(async () => {
    await drv?.close();
  });

  it('runs examples/matmul-relu.s like a naive int8 matmul + shift + ReLU + clip', async () => {
    const image = assemble(cfg, readFileSync(new URL('../../examples/matmul-relu.s', import.meta.url), 'utf8'), 'matmul-relu.s');
    const ran = await runImage(drv, image);
    const x = new Int8Array(image.segments.find((s) => s.name === 'x')!.bytes.slice().buffer);
    const w = new Int8Array(image.segments.find((s) => s.name === 'w')!.bytes.slice().buffer);
    const expected: number[] = [];
    for (let r = 0; r < 4; r++) {
      for (let o = 0; o < 32; o++) {
        let sum = 0;
        // weight block (o / 16) * 2 + c / 16 holds row o % 16, column c % 16
        for (let c = 0; c < 32; c++) sum += x[r * 32 + c]! * w[((o >> 4) * 2 + (c >> 4)) * 256 + (o & 15) * 16 + (c & 15)]!;
        expected.push(Math.min(127, Math.max(0, sum >> 6)));
      }
    }
    expect(Array.from(await ran.i8('y'))).toEqual(expected);
    // VTA fsim's profiler definitions: bytes moved without padding, uop iterations of non-reset GEMMs.
    expect(ran.result.counters).toMatchObject({
      inp_load_nbytes: 8 * 16,
      wgt_load_nbytes: 4 * 256,
      acc_load_nbytes: 0,
      uop_load_nbytes: 7 * 4,
      out_store_nbytes: 8 * 16,
      gemm_counter: 4 * 4,
      alu_counter: 3 * 8,
    });
  });

  it('computes every ALU opcode per SPEC (tensor and immediate; SHR both ways; wrapping ADD/MUL)', async () => {
    const rows = 4;
    const a = values(rows * LANES, 1);
    // Operand rows: shift amounts around the edges, extremes, and random values.
    const b = Int32Array.from([
      ...[0, 1, 31, 32, 33, 100, -1, -31, -32, -33, -100, 2 ** 31 - 1, -(2 ** 31), 7, -7, 16],
      ...values(LANES, 2),
      ...Int32Array.from(values(LANES, 3), (v) => v >> 26),
      ...values(LANES, 4),
    ]);
    a.set([2 ** 31 - 1, -(2 ** 31), -1, 1, 0, 0x40000000, -0x40000000, 12345], 0);
    const tensorOps: AluOp[] = ['min', 'max', 'add', 'shr', 'mul'];
    const immCases: [AluOp, number][] = [
      ['min', -5], ['max', 100], ['add', -32768], ['add', 32767], ['shr', 3], ['shr', 40], ['shr', -3],
      ['shr', -31], ['shr', -32], ['shr', -40], ['mul', -1234], ['mul', 32767],
    ];
    const cases = [...tensorOps.map((op) => ({ op, imm: null as number | null })), ...immCases.map(([op, imm]) => ({ op, imm }))];
    const base = (t: number) => 8 + rows * t;
    const lines = [
      `.data a i32 ${list(a)}`,
      `.data b i32 ${list(b)}`,
      `.uops u ${cases.map((_, t) => `${base(t)},0,0`).join(' ')}`,
      `load uop sram_base=0 dram_base=u y_size=1 x_size=${cases.length} x_stride=${cases.length}`,
      `load acc sram_base=0 dram_base=b y_size=1 x_size=${rows} x_stride=${rows}`,
    ];
    cases.forEach(({ op, imm }, t) => {
      lines.push(`load acc sram_base=${base(t)} dram_base=a y_size=1 x_size=${rows} x_stride=${rows}`);
      const loop = `uop_bgn=${t} uop_end=${t + 1} iter_out=${rows} iter_in=1 dst_factor_out=1`;
      lines.push(imm === null ? `alu ${op} ${loop} src_factor_out=1` : `alu ${op} ${loop} use_imm imm=${imm}`);
    });
    const total = cases.length * rows;
    lines.push(dumpAcc(8, total, 8 + total));
    const ran = await runAsm(drv, lines.join('\n'), 'alu.s');
    const got = fromPlanes(await ran.bytes('dump'), total);
    cases.forEach(({ op, imm }, t) => {
      const want = Array.from(a, (x, i) => aluRef[op](x, imm === null ? b[i]! : imm));
      expect(Array.from(got.subarray(t * rows * LANES, (t + 1) * rows * LANES)), `${op} ${imm ?? 'tensor'}`).toEqual(want);
    });
  });

  it('pads INP, WGT, ACC and ACC_8BIT loads and sign-extends ACC_8BIT', async () => {
    const inp = int8s(9 * BI, 5);
    const wgt = int8s(3 * BI * BI, 6);
    const acc = values(4 * LANES, 7);
    const a8 = int8s(2 * LANES, 8);
    const identity = Array.from({ length: BI * BI }, (_, i) => (i % (BI + 1) === 0 ? 1 : 0));
    const oneHot = identity; // inp row c = e_c
    // acc rows: [0, 20) INP window through an identity weight; [20, 148) the padded weights,
    // column by column; [148, 154) the padded ACC load; [154, 157) the ACC_8BIT load.
    const text = [
      `.data xin i8 ${list(inp)}`,
      `.data win i8 ${list(wgt)}`,
      `.data ident i8 ${list(identity)}`,
      `.data onehot i8 ${list(oneHot)}`,
      `.data accd i32 ${list(acc)}`,
      `.data a8 i8 ${list(a8)}`,
      `.uops u 0,10,0 20,40,1`,
      'load uop sram_base=0 dram_base=u y_size=1 x_size=2 x_stride=2',
      'load inp sram_base=10 dram_base=xin+1 y_size=2 x_size=2 x_stride=4 y_pad_0=1 y_pad_1=1 x_pad_0=1 x_pad_1=2',
      'load inp sram_base=40 dram_base=onehot y_size=1 x_size=16 x_stride=16',
      'load wgt sram_base=0 dram_base=ident y_size=1 x_size=1 x_stride=1',
      'load wgt sram_base=1 dram_base=win+1 y_size=1 x_size=2 x_stride=2 x_pad_0=1 x_pad_1=1 y_pad_1=1 push_next_dep',
      'load acc sram_base=148 dram_base=accd+1 y_size=2 x_size=1 x_stride=2 x_pad_0=1 y_pad_0=1',
      'load acc_8bit sram_base=154 dram_base=a8 y_size=1 x_size=2 x_stride=2 x_pad_1=1',
      'gemm reset_reg uop_bgn=0 uop_end=1 iter_out=148 iter_in=1 dst_factor_out=1 pop_prev_dep',
      'gemm uop_bgn=0 uop_end=1 iter_out=20 iter_in=1 dst_factor_out=1 src_factor_out=1',
      'gemm uop_bgn=1 uop_end=2 iter_out=8 iter_in=16 dst_factor_out=16 dst_factor_in=1 src_factor_in=1 wgt_factor_out=1',
      dumpAcc(0, 157, 200),
    ].join('\n');
    const ran = await runAsm(drv, text, 'pad.s');
    const got = fromPlanes(await ran.bytes('dump'), 157);
    const row = (r: number) => Array.from(got.subarray(r * LANES, (r + 1) * LANES));
    const zeros = new Array(LANES).fill(0);
    // INP window: 4 rows of 5 elements, data at rows 1..2, columns 1..2, from element 1 + (r-1)*4 + (c-1).
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 5; c++) {
        const data = r >= 1 && r <= 2 && c >= 1 && c <= 2;
        const e = 1 + (r - 1) * 4 + (c - 1);
        expect(row(r * 5 + c), `inp row ${r} col ${c}`).toEqual(data ? Array.from(inp.subarray(e * BI, (e + 1) * BI)) : zeros);
      }
    }
    // WGT: 2 rows of 4 elements from sram 1: [0, win1, win2, 0], [0, 0, 0, 0]; acc row 20 + 16w + c = column c.
    for (let w = 0; w < 8; w++) {
      const src = w === 1 ? 1 : w === 2 ? 2 : -1;
      for (let c = 0; c < BI; c++) {
        const want = src < 0 ? zeros : Array.from({ length: LANES }, (_, o) => wgt[src * BI * BI + o * BI + c]!);
        expect(row(20 + 16 * w + c), `wgt element ${w} column ${c}`).toEqual(want);
      }
    }
    // ACC: 3 rows of 2 elements: [0, 0], [0, acc1], [0, acc3].
    const accRow = (e: number) => Array.from(acc.subarray(e * LANES, (e + 1) * LANES));
    expect([148, 149, 150, 151, 152, 153].map(row)).toEqual([zeros, zeros, zeros, accRow(1), zeros, accRow(3)]);
    // ACC_8BIT: [a8_0, a8_1, 0], each int8 sign-extended into an int32 lane.
    expect([154, 155, 156].map(row)).toEqual([Array.from(a8.subarray(0, LANES)), Array.from(a8.subarray(LANES)), zeros]);
  });

  it('loads with x_stride 0 (a broadcast row) and with overlapping rows', async () => {
    const acc = values(3 * LANES, 15);
    const text = [
      `.data accd i32 ${list(acc)}`,
      // rows of 2 elements: stride 0 repeats elements 0..1 three times; stride 1 overlaps them
      'load acc sram_base=0 dram_base=accd y_size=3 x_size=2 x_stride=0',
      'load acc sram_base=6 dram_base=accd y_size=2 x_size=2 x_stride=1',
      dumpAcc(0, 10, 20),
    ].join('\n');
    const got = fromPlanes(await (await runAsm(drv, text, 'stride.s')).bytes('dump'), 10);
    const elem = (e: number) => Array.from(acc.subarray(e * LANES, (e + 1) * LANES));
    const rows = [0, 1, 0, 1, 0, 1, 0, 1, 1, 2];
    expect(Array.from(got)).toEqual(rows.flatMap(elem));
  });

  it('accumulates GEMM in wrapping int32, in uop order with repeated destinations, and resets', async () => {
    const inp = int8s(4 * BI, 9);
    inp.fill(127, 0, BI); // row 0 at the int8 extreme, to push sums past 2^31
    inp.fill(-128, BI, 2 * BI);
    const wgt = int8s(2 * BI * BI, 10);
    wgt.fill(127, 0, BI * BI);
    const init = values(3 * LANES, 11);
    init.fill(2 ** 31 - 1000, 0, LANES);
    // uops 0..2 all write acc 0 (repeated destination); uop 3 is a 2x2 loop on rows 1..
    const text = [
      `.data xin i8 ${list(inp)}`,
      `.data win i8 ${list(wgt)}`,
      `.data init i32 ${list(init)}`,
      '.uops u 0,0,0 0,1,1 0,2,0 1,0,0 2,3,0',
      'load uop sram_base=0 dram_base=u y_size=1 x_size=5 x_stride=5',
      'load inp sram_base=0 dram_base=xin y_size=1 x_size=4 x_stride=4',
      'load wgt sram_base=0 dram_base=win y_size=1 x_size=2 x_stride=2 push_next_dep',
      'load acc sram_base=0 dram_base=init y_size=1 x_size=3 x_stride=3',
      'gemm uop_bgn=0 uop_end=3 iter_out=1 iter_in=1 pop_prev_dep',
      // rows 1 + i: acc += inp[0 + 2i + j] . wgt[0 + j] for i < 2, j < 2 (row 2 first reset)
      'gemm reset_reg uop_bgn=4 uop_end=5 iter_out=1 iter_in=1',
      'gemm uop_bgn=3 uop_end=4 iter_out=2 iter_in=2 dst_factor_out=1 src_factor_out=2 src_factor_in=1 wgt_factor_in=1',
      dumpAcc(0, 3, 100),
    ].join('\n');
    const ran = await runAsm(drv, text, 'gemm.s');
    const got = fromPlanes(await ran.bytes('dump'), 3);
    const dot = (s: number, w: number, o: number) => {
      let sum = 0;
      for (let c = 0; c < BI; c++) sum += inp[s * BI + c]! * wgt[w * BI * BI + o * BI + c]!;
      return sum;
    };
    const want = Array.from(init);
    for (const [s, w] of [[0, 0], [1, 1], [2, 0]]) for (let o = 0; o < LANES; o++) want[o] = (want[o]! + dot(s!, w!, o)) | 0;
    for (let o = 0; o < LANES; o++) want[2 * LANES + o] = 0;
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 2; j++) {
        for (let o = 0; o < LANES; o++) want[(1 + i) * LANES + o] = (want[(1 + i) * LANES + o]! + dot(2 * i + j, j, o)) | 0;
      }
    }
    expect(want[0]).toBeLessThan(0); // the first row did wrap
    expect(Array.from(got)).toEqual(want);
  });

  it('follows the dependency tokens rather than stream order', async () => {
    // Load B overwrites the input buffer but sits before the GEMM that must read load A's data:
    // only the tokens (B pops what that GEMM pushes) give the ordering.
    const xa = int8s(BI, 12);
    const xb = int8s(BI, 13);
    const w = int8s(BI * BI, 14);
    const text = [
      `.data xa i8 ${list(xa)}`,
      `.data xb i8 ${list(xb)}`,
      `.data w i8 ${list(w)}`,
      '.uops u 0,0,0 1,0,0',
      'load wgt sram_base=0 dram_base=w y_size=1 x_size=1 x_stride=1',
      'load inp sram_base=0 dram_base=xa y_size=1 x_size=1 x_stride=1 push_next_dep',
      'load inp sram_base=0 dram_base=xb y_size=1 x_size=1 x_stride=1 pop_next_dep push_next_dep',
      'load uop sram_base=0 dram_base=u y_size=1 x_size=2 x_stride=2',
      'gemm reset_reg uop_bgn=0 uop_end=2 iter_out=1 iter_in=1',
      'gemm uop_bgn=0 uop_end=1 iter_out=1 iter_in=1 pop_prev_dep push_prev_dep',
      'gemm uop_bgn=1 uop_end=2 iter_out=1 iter_in=1 pop_prev_dep',
      dumpAcc(0, 2, 10),
    ].join('\n');
    const ran = await runAsm(drv, text, 'tokens.s');
    const got = fromPlanes(await ran.bytes('dump'), 2);
    const want = [xa, xb].flatMap((x) =>
      Array.from({ length: LANES }, (_, o) => x.reduce((s, v, c) => s + v * w[o * BI + c]!, 0)),
    );
    expect(Array.from(got)).toEqual(want);
  });
});
