/**
 * The shared corpus of simulator test programs. Every backend (functional and cycle-level
 * simulators, OpenCL, Chisel, WebGPU) runs `testPrograms(cfg)` and compares the `outputs` regions
 * with the functional simulator's, or with the naive reference in test/sim/. Programs are built
 * from the configuration (any BLOCK/BATCH whose buffers hold a few hundred elements) and are
 * deterministic: random ones come from fixed seeds. Programs never read SRAM they have not
 * written, and their tokens order every cross-module SRAM hazard, so any interleaving the tokens
 * allow gives the same outputs.
 */
import { readFileSync } from 'node:fs';
import { assemble, configJson, makeConfig, NO_DEPS, preset, type AluOpName, type Insn, type MemoryTypeName, type ProgramImage, type Segment, type Uop, type VtaConfig } from '../../isa/index.ts';
import { ProgramBuilder, rng } from './builder.ts';

export interface TestProgram {
  name: string;
  image: ProgramImage;
  /** Regions whose contents after the run are the program's result. */
  outputs: string[];
}

type Rng = ReturnType<typeof rng>;
const INT32_SPECIALS = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 0x7fff, -0x8000, 0x12345678, -0x789abcd, 255, -256, 1 << 24];

const int8s = (r: Rng, n: number) => Array.from({ length: n }, () => r.int(-128, 127));
const int32s = (r: Rng, n: number) =>
  Array.from({ length: n }, () => (r.chance(0.25) ? r.pick(INT32_SPECIALS) : r.int(-(2 ** 31), 2 ** 31 - 1)));

/** Per-configuration sizes. */
function dims(cfg: VtaConfig) {
  return { inpLanes: cfg.BATCH * cfg.BLOCK_IN, wgtLanes: cfg.BLOCK_OUT * cfg.BLOCK_IN, accLanes: cfg.BATCH * cfg.BLOCK_OUT };
}

/**
 * Stores all 32 bits of acc[lo, lo + n) into region `out` (4·n OUT elements: part k holds bits
 * 8k..8k+7): copy to scratch (MUL by 0, then ADD), shift right by 8k, store. `uop` is the index of
 * a loaded micro-op {dst: scratch, src: lo}.
 */
function expose32(b: ProgramBuilder, out: Segment, uop: number, n: number, scratch: number): void {
  const loop = { uop_bgn: uop, uop_end: uop + 1, iter_out: n, iter_in: 1, dst_factor_out: 1, src_factor_out: 1 };
  for (let k = 0; k < 4; k++) {
    b.alu('MUL', { ...loop, imm: 0 });
    b.alu('ADD', loop);
    b.alu('SHR', { ...loop, imm: 8 * k });
    b.store({ sram_base: scratch, dram_base: b.base(out, 'OUT') + k * n, y_size: 1, x_size: n, x_stride: n });
  }
}

function gemmTiles(cfg: VtaConfig): TestProgram {
  const r = rng(101);
  const { inpLanes, wgtLanes, accLanes } = dims(cfg);
  const [M, K, N] = [4, 3, 2];
  const b = new ProgramBuilder(cfg);
  const inp = b.data('inp', 'i8', int8s(r, M * K * inpLanes));
  const wgt = b.data('wgt', 'i8', int8s(r, N * K * wgtLanes));
  const scratch = 64;
  const uops: Uop[] = [{ dst_idx: 0, src_idx: 0, wgt_idx: 0 }];
  for (let k = 0; k < K; k++) uops.push({ dst_idx: 0, src_idx: k, wgt_idx: k });
  uops.push({ dst_idx: scratch, src_idx: 0, wgt_idx: 0 });
  const kern = b.uops('kern', uops);
  const out = b.zero('out', 4 * M * N * accLanes);
  b.load('UOP', { sram_base: 0, dram_base: b.base(kern, 'UOP'), y_size: 1, x_size: uops.length, x_stride: uops.length });
  b.load('INP', { sram_base: 0, dram_base: b.base(inp, 'INP'), y_size: M, x_size: K, x_stride: K });
  b.load('WGT', { sram_base: 0, dram_base: b.base(wgt, 'WGT'), y_size: N, x_size: K, x_stride: K });
  const tile = { iter_out: M, iter_in: N, dst_factor_out: N, dst_factor_in: 1 };
  b.gemm({ uop_bgn: 0, uop_end: 1, ...tile, reset_reg: 1 });
  // C[m][n] += sum_k A[m][k] W[n][k], twice: the second pass accumulates onto the first.
  for (let pass = 0; pass < 2; pass++) {
    b.gemm({ uop_bgn: 1, uop_end: 1 + K, ...tile, src_factor_out: K, wgt_factor_in: K });
  }
  expose32(b, out, 1 + K, M * N, scratch);
  b.finish();
  return { name: 'gemm-tiles', image: b.image(), outputs: ['out'] };
}

function aluChain(cfg: VtaConfig): TestProgram {
  const r = rng(202);
  const { accLanes } = dims(cfg);
  const E = 2;
  const b = new ProgramBuilder(cfg);
  const x = b.data('x', 'i32', int32s(r, E * accLanes));
  const y = b.data('y', 'i32', int32s(r, E * accLanes));
  const amountValues = [-(2 ** 31), 2 ** 31 - 1, 31, 32, 33, -31, -32, -33, 0, 1, -1, 100, -100, 7, -7, 16];
  const amounts = b.data('amounts', 'i32', Array.from({ length: E * accLanes }, (_, i) => amountValues[i] ?? r.int(-40, 40)));
  const ops: [AluOpName, number | undefined][] = [
    ['MIN', -5], ['MAX', 7], ['MIN', -32768], ['MAX', 32767], ['ADD', -32768], ['ADD', 32767],
    ['MUL', -32768], ['MUL', 12345], ['MUL', -1],
    ['SHR', 0], ['SHR', 5], ['SHR', 31], ['SHR', 40], ['SHR', 32767], ['SHR', -1], ['SHR', -8], ['SHR', -31], ['SHR', -32], ['SHR', -100], ['SHR', -32768],
    ['MIN', undefined], ['MAX', undefined], ['ADD', undefined], ['MUL', undefined], ['SHR', undefined],
  ];
  // acc: X at 0, Y at E, shift amounts at 2E, then one slot of E elements per op and one for a
  // chain of ops, then scratch for expose32.
  const [X, Y, AMT] = [0, E, 2 * E];
  const slot = (i: number) => 3 * E + i * E;
  const chain = slot(ops.length);
  const scratch = chain + E;
  const uops: Uop[] = [];
  const uop = (dst: number, src: number) => uops.push({ dst_idx: dst, src_idx: src, wgt_idx: 0 }) - 1;
  const copyUops = Array.from({ length: ops.length + 1 }, (_, i) => uop(slot(i), X));
  const operandUops = ops.map(([op], i) => uop(slot(i), op === 'SHR' ? AMT : Y));
  const chainY = uop(chain, Y);
  const chainAmt = uop(chain, AMT);
  const exposeUop = uop(scratch, slot(0));
  const kern = b.uops('kern', uops);
  const results = scratch - slot(0);
  const out = b.zero('out', 4 * results * accLanes);
  b.load('UOP', { sram_base: 0, dram_base: b.base(kern, 'UOP'), y_size: 1, x_size: uops.length, x_stride: uops.length });
  b.load('ACC', { sram_base: X, dram_base: b.base(x, 'ACC'), y_size: 1, x_size: E, x_stride: E });
  b.load('ACC', { sram_base: Y, dram_base: b.base(y, 'ACC'), y_size: 1, x_size: E, x_stride: E });
  b.load('ACC', { sram_base: AMT, dram_base: b.base(amounts, 'ACC'), y_size: 1, x_size: E, x_stride: E });
  const loop = (u: number) => ({ uop_bgn: u, uop_end: u + 1, iter_out: E, iter_in: 1, dst_factor_out: 1, src_factor_out: 1 });
  const copyX = (i: number) => {
    b.alu('MUL', { ...loop(copyUops[i]!), imm: 0 });
    b.alu('ADD', loop(copyUops[i]!));
  };
  ops.forEach(([op, imm], i) => {
    copyX(i);
    b.alu(op, imm === undefined ? loop(operandUops[i]!) : { ...loop(copyUops[i]!), imm });
  });
  // A chain on one slot: each op sees the previous result.
  const c = copyUops[ops.length]!;
  copyX(ops.length);
  b.alu('ADD', loop(chainY));
  b.alu('SHR', { ...loop(c), imm: -3 });
  b.alu('MUL', loop(chainY));
  b.alu('SHR', loop(chainAmt));
  b.alu('MAX', { ...loop(c), imm: -100 });
  b.alu('MIN', { ...loop(c), imm: 100 });
  expose32(b, out, exposeUop, results, scratch);
  b.finish();
  return { name: 'alu-chain', image: b.image(), outputs: ['out'] };
}

function padLoads(cfg: VtaConfig): TestProgram {
  const r = rng(303);
  const { inpLanes, wgtLanes, accLanes } = dims(cfg);
  const b = new ProgramBuilder(cfg);
  const inp = b.data('inp', 'i8', int8s(r, 32 * inpLanes));
  const wgt = b.data('wgt', 'i8', int8s(r, 8 * wgtLanes));
  const acc = b.data('acc', 'i32', int32s(r, 20 * accLanes));
  const acc8 = b.data('acc8', 'i8', int8s(r, 16 * accLanes));
  // Identity weights expose inputs through GEMM; unit inputs expose weights.
  const ident = b.data('ident', 'i8', Array.from({ length: wgtLanes }, (_, i) => (Math.floor(i / cfg.BLOCK_IN) === i % cfg.BLOCK_IN ? 1 : 0)));
  const units = b.data('units', 'i8', Array.from({ length: cfg.BLOCK_IN * inpLanes }, (_, i) => (Math.floor(i / inpLanes) === i % cfg.BLOCK_IN ? 1 : 0)));
  // Pads: y_pad_0 1, y_pad_1 2, x_pad_0 1, x_pad_1 2 around a 2x3 block: 5 rows of 6 = 30 elements;
  // weights (whose exposure costs BLOCK_IN acc elements each) get one of each around a 1x2 block.
  const pads = { y_pad_0: 1, y_pad_1: 2, x_pad_0: 1, x_pad_1: 2 };
  const INP_N = 30;
  const WGT_N = 3 * 4;
  const IDENT = WGT_N;
  const UNITS = INP_N;
  const ACC_IN = 0; // padded ACC load: 30 elements
  const ACC8_IN = 30; // padded ACC_8BIT load: 30 elements
  const INP_OUT = 60; // INP_N elements through the identity
  const WGT_OUT = INP_OUT + INP_N; // WGT_N x BLOCK_IN elements through the unit inputs
  const END = WGT_OUT + WGT_N * cfg.BLOCK_IN;
  const SCRATCH = END;
  const uops: Uop[] = [
    { dst_idx: INP_OUT, src_idx: 0, wgt_idx: IDENT },
    { dst_idx: WGT_OUT, src_idx: UNITS, wgt_idx: 0 },
    { dst_idx: SCRATCH, src_idx: 0, wgt_idx: 0 },
  ];
  const kern = b.uops('kern', uops);
  const out = b.zero('out', 4 * END * accLanes);
  b.load('UOP', { sram_base: 0, dram_base: b.base(kern, 'UOP'), y_size: 1, x_size: uops.length, x_stride: uops.length });
  // Fill with data first, so the padded loads visibly write zeros over it.
  b.load('INP', { sram_base: 0, dram_base: b.base(inp, 'INP'), y_size: 1, x_size: INP_N, x_stride: INP_N });
  b.load('WGT', { sram_base: 0, dram_base: b.base(wgt, 'WGT'), y_size: 4, x_size: 8, x_stride: 0 });
  b.load('INP', { sram_base: 0, dram_base: b.base(inp, 'INP') + 1, y_size: 2, x_size: 3, x_stride: 4, ...pads });
  b.load('WGT', { sram_base: 0, dram_base: b.base(wgt, 'WGT') + 1, y_size: 1, x_size: 2, x_stride: 2, y_pad_0: 1, y_pad_1: 1, x_pad_0: 1, x_pad_1: 1 });
  b.load('WGT', { sram_base: IDENT, dram_base: b.base(ident, 'WGT'), y_size: 1, x_size: 1, x_stride: 1 });
  b.load('INP', { sram_base: UNITS, dram_base: b.base(units, 'INP'), y_size: 1, x_size: cfg.BLOCK_IN, x_stride: cfg.BLOCK_IN });
  b.load('ACC', { sram_base: ACC_IN, dram_base: b.base(acc, 'ACC'), y_size: 1, x_size: 16, x_stride: 16 });
  b.load('ACC', { sram_base: ACC_IN, dram_base: b.base(acc, 'ACC') + 2, y_size: 2, x_size: 3, x_stride: 5, ...pads });
  b.load('ACC_8BIT', { sram_base: ACC8_IN, dram_base: b.base(acc8, 'ACC_8BIT') + 1, y_size: 2, x_size: 3, x_stride: 2, ...pads });
  b.gemm({ uop_bgn: 0, uop_end: 1, iter_out: INP_N, iter_in: 1, dst_factor_out: 1, reset_reg: 1 });
  b.gemm({ uop_bgn: 0, uop_end: 1, iter_out: INP_N, iter_in: 1, dst_factor_out: 1, src_factor_out: 1 });
  b.gemm({ uop_bgn: 1, uop_end: 2, iter_out: WGT_N, iter_in: cfg.BLOCK_IN, dst_factor_out: cfg.BLOCK_IN, dst_factor_in: 1, reset_reg: 1 });
  b.gemm({ uop_bgn: 1, uop_end: 2, iter_out: WGT_N, iter_in: cfg.BLOCK_IN, dst_factor_out: cfg.BLOCK_IN, dst_factor_in: 1, src_factor_in: 1, wgt_factor_out: 1 });
  expose32(b, out, 2, END, SCRATCH);
  b.finish();
  return { name: 'pad-loads', image: b.image(), outputs: ['out'] };
}

function acc8Loads(cfg: VtaConfig): TestProgram {
  const r = rng(404);
  const { accLanes } = dims(cfg);
  const b = new ProgramBuilder(cfg);
  const values = int8s(r, 12 * accLanes);
  values[0] = -128;
  values[1] = 127;
  values[2] = -1;
  const acc8 = b.data('acc8', 'i8', values);
  const accw = b.data('acc32', 'i32', int32s(r, 4 * accLanes));
  const N = 24;
  const kern = b.uops('kern', [{ dst_idx: N, src_idx: 0, wgt_idx: 0 }]);
  const out = b.zero('out', 4 * N * accLanes);
  b.load('UOP', { sram_base: 0, dram_base: b.base(kern, 'UOP'), y_size: 1, x_size: 1, x_stride: 1 });
  b.load('ACC_8BIT', { sram_base: 0, dram_base: b.base(acc8, 'ACC_8BIT'), y_size: 1, x_size: 12, x_stride: 12 });
  // x_stride 0 repeats one row; x_stride < x_size overlaps rows.
  b.load('ACC_8BIT', { sram_base: 12, dram_base: b.base(acc8, 'ACC_8BIT') + 3, y_size: 3, x_size: 2, x_stride: 0 });
  b.load('ACC_8BIT', { sram_base: 18, dram_base: b.base(acc8, 'ACC_8BIT') + 5, y_size: 2, x_size: 2, x_stride: 1 });
  b.load('ACC', { sram_base: 22, dram_base: b.base(accw, 'ACC') + 1, y_size: 2, x_size: 1, x_stride: 0 });
  expose32(b, out, 0, N, N);
  b.finish();
  return { name: 'acc8-loads', image: b.image(), outputs: ['out'] };
}

function stridedStores(cfg: VtaConfig): TestProgram {
  const r = rng(505);
  const { accLanes } = dims(cfg);
  const b = new ProgramBuilder(cfg);
  const acc = b.data('acc', 'i32', int32s(r, 20 * accLanes));
  const out = b.zero('out', 40 * accLanes);
  const out2 = b.zero('out2', 8 * accLanes);
  const o = b.base(out, 'OUT');
  b.load('ACC', { sram_base: 0, dram_base: b.base(acc, 'ACC'), y_size: 1, x_size: 20, x_stride: 20 });
  b.store({ sram_base: 0, dram_base: o, y_size: 3, x_size: 2, x_stride: 5 });
  b.store({ sram_base: 6, dram_base: o + 2, y_size: 2, x_size: 1, x_stride: 3 });
  b.store({ sram_base: 8, dram_base: o + 20, y_size: 4, x_size: 3, x_stride: 4 });
  // A later store overwrites part of an earlier one: the store module runs in order.
  b.store({ sram_base: 12, dram_base: o + 21, y_size: 2, x_size: 2, x_stride: 4 });
  b.store({ sram_base: 0, dram_base: o + 39, y_size: 1, x_size: 1, x_stride: 1 });
  b.store({ sram_base: 3, dram_base: o, y_size: 7, x_size: 0, x_stride: 0 });
  b.store({ sram_base: 9, dram_base: b.base(out2, 'OUT') + 1, y_size: 2, x_size: 3, x_stride: 3 });
  b.finish();
  return { name: 'strided-stores', image: b.image(), outputs: ['out', 'out2'] };
}

/**
 * A tiled matrix multiply with requantisation, software-pipelined as VTA's compiler does it: inputs
 * and weights of tile t go to buffer t % 2 and results to acc buffer t % 2, so the load of tile
 * t + 1 and the store of tile t - 1 overlap the compute of tile t. Tokens written by hand.
 */
function doubleBuffer(cfg: VtaConfig): TestProgram {
  const r = rng(606);
  const { inpLanes, wgtLanes, accLanes } = dims(cfg);
  const [T, M, K, N] = [5, 2, 2, 2];
  const b = new ProgramBuilder(cfg, false);
  const inp = b.data('inp', 'i8', int8s(r, T * M * K * inpLanes));
  const wgt = b.data('wgt', 'i8', int8s(r, T * N * K * wgtLanes));
  const tileAcc = M * N;
  // Per buffer: a reset micro-op, K GEMM micro-ops, an ALU micro-op, each offset to that buffer.
  const uops: Uop[] = [];
  for (let buf = 0; buf < 2; buf++) {
    uops.push({ dst_idx: buf * tileAcc, src_idx: 0, wgt_idx: 0 });
    for (let k = 0; k < K; k++) uops.push({ dst_idx: buf * tileAcc, src_idx: buf * M * K + k, wgt_idx: buf * N * K + k });
  }
  const per = K + 1;
  const kern = b.uops('kern', uops);
  const out = b.zero('out', T * tileAcc * accLanes);
  b.load('UOP', { sram_base: 0, dram_base: b.base(kern, 'UOP'), y_size: 1, x_size: uops.length, x_stride: uops.length });
  for (let t = 0; t < T; t++) {
    const buf = t % 2;
    const u = buf * per;
    b.load('INP', { sram_base: buf * M * K, dram_base: b.base(inp, 'INP') + t * M * K, y_size: M, x_size: K, x_stride: K }, { pop_next_dep: t >= 2 ? 1 : 0 });
    b.load('WGT', { sram_base: buf * N * K, dram_base: b.base(wgt, 'WGT') + t * N * K, y_size: N, x_size: K, x_stride: K }, { push_next_dep: 1 });
    const tile = { iter_out: M, iter_in: N, dst_factor_out: N, dst_factor_in: 1 };
    b.gemm({ uop_bgn: u, uop_end: u + 1, ...tile, reset_reg: 1 }, { pop_prev_dep: 1, pop_next_dep: t >= 2 ? 1 : 0 });
    b.gemm({ uop_bgn: u + 1, uop_end: u + per, ...tile, src_factor_out: K, wgt_factor_in: K });
    const whole = { uop_bgn: u, uop_end: u + 1, iter_out: tileAcc, iter_in: 1, dst_factor_out: 1 };
    b.alu('SHR', { ...whole, imm: 4 });
    b.alu('MAX', { ...whole, imm: -100 }, { push_prev_dep: t + 2 < T ? 1 : 0, push_next_dep: 1 });
    b.store({ sram_base: buf * tileAcc, dram_base: b.base(out, 'OUT') + t * tileAcc, y_size: 1, x_size: tileAcc, x_stride: tileAcc }, {
      pop_prev_dep: 1,
      // Frees the acc buffer for tile t + 2, or, for the last tile, lets FINISH wait for every store.
      push_prev_dep: t + 2 < T || t === T - 1 ? 1 : 0,
    });
  }
  b.finish({ pop_next_dep: 1 });
  return { name: 'double-buffer', image: b.image(), outputs: ['out'] };
}

/** More tokens in flight than a queue holds (depth 8): the load module must stall on a full queue. */
function tokenQueueFull(cfg: VtaConfig): TestProgram {
  const r = rng(707);
  const { inpLanes, wgtLanes, accLanes } = dims(cfg);
  const n = 12;
  const b = new ProgramBuilder(cfg, false);
  const inp = b.data('inp', 'i8', int8s(r, n * inpLanes));
  const wgt = b.data('wgt', 'i8', int8s(r, wgtLanes));
  const kern = b.uops('kern', Array.from({ length: n }, (_, t) => ({ dst_idx: t, src_idx: t, wgt_idx: 0 })));
  const out = b.zero('out', n * accLanes);
  b.load('UOP', { sram_base: 0, dram_base: b.base(kern, 'UOP'), y_size: 1, x_size: n, x_stride: n });
  b.gemm({ uop_bgn: 0, uop_end: n, iter_out: 1, iter_in: 1, reset_reg: 1 });
  b.load('WGT', { sram_base: 0, dram_base: b.base(wgt, 'WGT'), y_size: 1, x_size: 1, x_stride: 1 });
  for (let t = 0; t < n; t++) {
    b.load('INP', { sram_base: t, dram_base: b.base(inp, 'INP') + t, y_size: 1, x_size: 1, x_stride: 1 }, { push_next_dep: 1 });
  }
  for (let t = 0; t < n; t++) b.gemm({ uop_bgn: t, uop_end: t + 1, iter_out: 1, iter_in: 1 }, { pop_prev_dep: 1, push_next_dep: t === n - 1 ? 1 : 0 });
  b.store({ sram_base: 0, dram_base: b.base(out, 'OUT'), y_size: 1, x_size: n, x_stride: n }, { pop_prev_dep: 1, push_prev_dep: 1 });
  b.finish({ pop_next_dep: 1 });
  return { name: 'token-queue-full', image: b.image(), outputs: ['out'] };
}

/**
 * A random program: working sets of each SRAM are loaded first, then random loads (any pads and
 * strides), GEMMs (with and without reset), ALU ops and stores over them; tokens from the
 * builder's hazard tracking.
 */
function randomProgram(cfg: VtaConfig, seed: number): TestProgram {
  const r = rng(seed);
  const { inpLanes, wgtLanes, accLanes } = dims(cfg);
  const [INP_N, WGT_N, ACC_N, UOP_N] = [64, 32, 64, 32];
  const b = new ProgramBuilder(cfg);
  const inp = b.data('inp', 'i8', int8s(r, 96 * inpLanes));
  const wgt = b.data('wgt', 'i8', int8s(r, 48 * wgtLanes));
  const acc = b.data('acc', 'i32', int32s(r, 96 * accLanes));
  const acc8 = b.data('acc8', 'i8', int8s(r, 96 * accLanes));
  // Micro-op fields small enough that any loop below stays inside the working sets.
  const pool = Array.from({ length: 64 }, () => ({ dst_idx: r.int(0, 15), src_idx: r.int(0, 15), wgt_idx: r.int(0, 7) }));
  const kern = b.uops('kern', pool);
  const OUT_N = 256;
  const out = b.zero('out', OUT_N * accLanes);
  b.load('UOP', { sram_base: 0, dram_base: b.base(kern, 'UOP'), y_size: 1, x_size: UOP_N, x_stride: UOP_N });
  b.load('INP', { sram_base: 0, dram_base: b.base(inp, 'INP'), y_size: 1, x_size: INP_N, x_stride: INP_N });
  b.load('WGT', { sram_base: 0, dram_base: b.base(wgt, 'WGT'), y_size: 1, x_size: WGT_N, x_stride: WGT_N });
  b.load('ACC', { sram_base: 0, dram_base: b.base(acc, 'ACC'), y_size: 1, x_size: ACC_N, x_stride: ACC_N });
  const padded = (type: 'INP' | 'WGT' | 'ACC' | 'ACC_8BIT', depth: number, seg: Segment, segElems: number) => {
    // At most 4 rows of 6: the extent fits every working set.
    const f = { y_pad_0: r.int(0, 1), y_pad_1: r.int(0, 1), x_pad_0: r.int(0, 1), x_pad_1: r.int(0, 2), y_size: r.int(1, 2), x_size: r.int(1, 3) };
    const x_stride = r.int(0, f.x_size + 3);
    const extent = (f.y_pad_0 + f.y_size + f.y_pad_1) * (f.x_pad_0 + f.x_size + f.x_pad_1);
    const span = (f.y_size - 1) * x_stride + f.x_size;
    b.load(type, { ...f, x_stride, sram_base: r.int(0, depth - extent), dram_base: b.base(seg, type) + r.int(0, segElems - span) });
  };
  const loopFields = () => ({
    uop_bgn: 0,
    uop_end: 0,
    iter_out: r.int(1, 3),
    iter_in: r.int(1, 3),
    dst_factor_out: r.int(0, 8),
    dst_factor_in: r.int(0, 8),
    src_factor_out: r.int(0, 8),
    src_factor_in: r.int(0, 8),
  });
  const uopRange = () => {
    const bgn = r.int(0, UOP_N - 1);
    return { uop_bgn: bgn, uop_end: Math.min(UOP_N, bgn + r.int(1, 4)) };
  };
  const ALU_OPS: AluOpName[] = ['MIN', 'MAX', 'ADD', 'SHR', 'MUL'];
  const steps = r.int(30, 50);
  for (let s = 0; s < steps; s++) {
    const what = r.int(0, 99);
    if (what < 8) padded('INP', INP_N, inp, 96);
    else if (what < 14) padded('WGT', WGT_N, wgt, 48);
    else if (what < 19) padded('ACC', ACC_N, acc, 96);
    else if (what < 24) padded('ACC_8BIT', ACC_N, acc8, 96);
    else if (what < 27) {
      const n = r.int(1, 8);
      b.load('UOP', { sram_base: r.int(0, UOP_N - n), dram_base: b.base(kern, 'UOP') + r.int(0, 64 - n), y_size: 1, x_size: n, x_stride: n });
    } else if (what < 55) {
      b.gemm({ ...loopFields(), ...uopRange(), reset_reg: r.chance(0.15) ? 1 : 0, wgt_factor_out: r.int(0, 4), wgt_factor_in: r.int(0, 4) });
    } else if (what < 80) {
      const op = r.pick(ALU_OPS);
      const imm = r.chance(0.5) ? (op === 'SHR' ? r.int(-40, 40) : r.chance(0.3) ? r.pick([-32768, 32767, 0, -1]) : r.int(-300, 300)) : undefined;
      b.alu(op, { ...loopFields(), ...uopRange(), imm });
    } else {
      const y = r.int(1, 3);
      const x = r.int(1, 6);
      const stride = r.int(x, x + 4);
      b.store({ sram_base: r.int(0, ACC_N - x * y), dram_base: b.base(out, 'OUT') + r.int(0, OUT_N - ((y - 1) * stride + x)), y_size: y, x_size: x, x_stride: stride });
    }
  }
  // Make the final accumulators visible too.
  b.store({ sram_base: 0, dram_base: b.base(out, 'OUT') + OUT_N - ACC_N, y_size: 1, x_size: ACC_N, x_stride: ACC_N });
  b.finish();
  return { name: `random-${seed}`, image: b.image(), outputs: ['out'] };
}

/** The bundled example, when the configuration matches the one it was written for. */
function example(cfg: VtaConfig): TestProgram[] {
  if (cfg.BATCH !== 1 || cfg.BLOCK_IN !== 16) return [];
  const path = new URL('../../examples/matmul-relu.s', import.meta.url);
  return [{ name: 'example-matmul-relu', image: assemble(cfg, readFileSync(path, 'utf8'), 'examples/matmul-relu.s'), outputs: ['y'] }];
}

export const RANDOM_SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];

export function testPrograms(cfg: VtaConfig): TestProgram[] {
  return [
    gemmTiles(cfg),
    aluChain(cfg),
    padLoads(cfg),
    acc8Loads(cfg),
    stridedStores(cfg),
    doubleBuffer(cfg),
    tokenQueueFull(cfg),
    ...RANDOM_SEEDS.map((s) => randomProgram(cfg, s)),
    ...example(cfg),
  ];
}

/** The default configuration with another batch and block, buffers resized to keep its depths. */
export function configVariant(name: string, LOG_BATCH: number, LOG_BLOCK: number): VtaConfig {
  const d = 4 - LOG_BLOCK;
  return makeConfig({
    ...configJson(preset('default')),
    name,
    LOG_BATCH,
    LOG_BLOCK,
    LOG_INP_BUFF_SIZE: 15 - d + LOG_BATCH,
    LOG_WGT_BUFF_SIZE: 18 - 2 * d,
    LOG_ACC_BUFF_SIZE: 17 - d + LOG_BATCH,
  });
}

/** The alignment of `sramZeroLoads`' zero region: 256 bytes, or the largest element where that is more (BLOCK 32 and up). */
export function sramZeroAlign(cfg: VtaConfig): number {
  return Math.max(256, cfg.INP_ELEM_BYTES, cfg.WGT_ELEM_BYTES, cfg.ACC_ELEM_BYTES);
}

/** Bytes of the zero region `sramZeroLoads` reads: enough for the largest SRAM. */
export function sramZeroBytes(cfg: VtaConfig): number {
  return Math.max(cfg.UOP_DEPTH * 4, cfg.INP_DEPTH * cfg.INP_ELEM_BYTES, cfg.WGT_DEPTH * cfg.WGT_ELEM_BYTES, cfg.ACC_DEPTH * cfg.ACC_ELEM_BYTES);
}

/**
 * Loads that zero every SRAM from a zero region at byte `at` (aligned to `sramZeroAlign`), for backends whose SRAM
 * outlives a run: the last one pushes a load->compute token the caller's stream must pop.
 */
export function sramZeroLoads(cfg: VtaConfig, at: number): Insn[] {
  const load = (memory_type: MemoryTypeName, depth: number, elem: number, push: 0 | 1 = 0): Insn => ({
    ...NO_DEPS,
    push_next_dep: push,
    opcode: 'LOAD', memory_type, sram_base: 0, dram_base: at / elem, y_size: 1, x_size: depth, x_stride: depth,
    y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0,
  });
  return [
    load('UOP', cfg.UOP_DEPTH, 4),
    load('ACC', cfg.ACC_DEPTH, cfg.ACC_ELEM_BYTES),
    load('INP', cfg.INP_DEPTH, cfg.INP_ELEM_BYTES),
    load('WGT', cfg.WGT_DEPTH, cfg.WGT_ELEM_BYTES, 1),
  ];
}
