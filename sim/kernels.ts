/**
 * The micro-op loops of GEMM (SPEC.md §4: both levels of loops, and the reset form) and ALU, in two
 * implementations over the same SRAM storage: a WebAssembly SIMD kernel specialised to the
 * configuration, and a plain JS one for configurations the SIMD kernel does not cover (BLOCK < 4)
 * or hosts without WebAssembly SIMD. Both assume every index is in range: the caller checks the
 * micro-ops against the buffer depths first.
 *
 * The SIMD kernel keeps, beside the int8 weight buffer, a copy of each weight block widened to
 * int16 and reordered so that one `i32x4.dot_i16x8_s` of an input pair (c, c+1) broadcast to all
 * lanes yields the partial sums of four outputs at once: lane r of vector (p, g) holds
 * w[4g + r][2p], w[4g + r][2p + 1]. Summing over p then gives four finished outputs per vector,
 * with no horizontal additions. `SramState.wgtWritten` refreshes that copy after a WGT load.
 */
import type { VtaConfig } from '../isa/config.ts';
import type { AluOpName } from '../isa/types.ts';
import { buildModule, Code, I32, V128, webAssembly, type WasmMemory } from './wasm.ts';

export interface ComputeKernel {
  readonly kind: 'wasm' | 'js';
  gemm(bgn: number, end: number, iterOut: number, iterIn: number, dfo: number, dfi: number, sfo: number, sfi: number, wfo: number, wfi: number): void;
  reset(bgn: number, end: number, iterOut: number, iterIn: number, dfo: number, dfi: number): void;
  /** An ALU instruction: the operand is `imm` with `useImm`, else acc[src] (SPEC §4 ALU). */
  alu(op: AluOpName, useImm: boolean, imm: number, bgn: number, end: number, iterOut: number, iterIn: number, dfo: number, dfi: number, sfo: number, sfi: number): void;
  /** Brings the kernel's private weight layout up to date for weight elements [first, end). */
  wgtWritten(first: number, end: number): void;
}

/** Byte offsets of the SRAMs in the kernel's memory; all 64-byte aligned. */
export interface SramLayout {
  uop: number;
  inp: number;
  wgt: number;
  acc: number;
  /** The widened, reordered weights (SIMD kernel only), else -1. */
  wgt16: number;
  bytes: number;
}

const align64 = (v: number) => Math.ceil(v / 64) * 64;

export function sramLayout(cfg: VtaConfig, withWgt16: boolean): SramLayout {
  let at = 0;
  const take = (bytes: number) => {
    const off = at;
    at = align64(at + bytes);
    return off;
  };
  const uop = take(cfg.UOP_DEPTH * cfg.UOP_ELEM_BYTES);
  const inp = take(cfg.INP_DEPTH * cfg.INP_ELEM_BYTES);
  const wgt = take(cfg.WGT_DEPTH * cfg.WGT_ELEM_BYTES);
  const acc = take(cfg.ACC_DEPTH * cfg.ACC_ELEM_BYTES);
  const wgt16 = withWgt16 ? take(cfg.WGT_DEPTH * cfg.WGT_ELEM_BYTES * 2) : -1;
  return { uop, inp, wgt, acc, wgt16, bytes: at };
}

/** Whether the SIMD kernel handles this configuration: four outputs per vector, input pairs. */
export function simdKernelFits(cfg: VtaConfig): boolean {
  return cfg.BLOCK_OUT % 4 === 0 && cfg.BLOCK_IN % 2 === 0 && cfg.ACC_ELEM_BYTES % 16 === 0;
}

interface UopFields {
  dstMask: number;
  srcShift: number;
  srcMask: number;
  wgtShift: number;
  wgtMask: number;
}

function uopFields(cfg: VtaConfig): UopFields {
  const f = cfg.layout.uop.byName;
  const mask = (w: number) => (w >= 32 ? -1 : (1 << w) - 1);
  return {
    dstMask: mask(f.dst_idx!.width),
    srcShift: f.src_idx!.offset,
    srcMask: mask(f.src_idx!.width),
    wgtShift: f.wgt_idx!.offset,
    wgtMask: mask(f.wgt_idx!.width),
  };
}

/**
 * Emits the i/j/k loop nest shared by the kernels. Parameters 0-3 are uop_bgn, uop_end, iter_out,
 * iter_in, followed by (factor_out, factor_in) for each index the body uses (dst, then src, then
 * wgt). `body` receives, per index, a local holding its element index.
 */
function emitLoopNest(
  code: Code,
  u: UopFields,
  indices: ('dst' | 'src' | 'wgt')[],
  body: (idx: number[]) => void,
): void {
  const [bgn, end, iterOut, iterIn] = [0, 1, 2, 3];
  const i = code.local(I32);
  const j = code.local(I32);
  const k = code.local(I32);
  const word = code.local(I32);
  const outer = indices.map(() => code.local(I32));
  const inner = indices.map(() => code.local(I32));
  const idx = indices.map(() => code.local(I32));
  const fo = (n: number) => 4 + 2 * n;
  const fi = (n: number) => 5 + 2 * n;

  code.i32(0).set(i);
  for (const o of outer) code.i32(0).set(o);
  code.loopBegin();
  code.get(i).get(iterOut).geU().brIf(1);
  code.i32(0).set(j);
  indices.forEach((_, n) => code.get(outer[n]!).set(inner[n]!));
  code.loopBegin();
  code.get(j).get(iterIn).geU().brIf(1);
  code.get(bgn).set(k);
  code.loopBegin();
  code.get(k).get(end).geU().brIf(1);
  code.get(k).i32(2).shl().load32(0).set(word);
  indices.forEach((which, n) => {
    code.get(word);
    if (which === 'dst') code.i32(u.dstMask).and();
    else if (which === 'src') code.i32(u.srcShift).shrU().i32(u.srcMask).and();
    else code.i32(u.wgtShift).shrU().i32(u.wgtMask).and();
    code.get(inner[n]!).add().set(idx[n]!);
  });
  body(idx);
  code.get(k).i32(1).add().set(k).br(0);
  code.loopEnd();
  code.get(j).i32(1).add().set(j);
  indices.forEach((_, n) => code.get(inner[n]!).get(fi(n)).add().set(inner[n]!));
  code.br(0);
  code.loopEnd();
  code.get(i).i32(1).add().set(i);
  indices.forEach((_, n) => code.get(outer[n]!).get(fo(n)).add().set(outer[n]!));
  code.br(0);
  code.loopEnd();
}

function gemmFunction(cfg: VtaConfig, layout: SramLayout, u: UopFields): Code {
  const code = new Code(new Array(10).fill(I32));
  const accAddr = code.local(I32);
  const inpAddr = code.local(I32);
  const wgtAddr = code.local(I32);
  const x = code.local(V128);
  const groups = cfg.BLOCK_OUT / 4;
  const pairs = cfg.BLOCK_IN / 2;
  const sums = Array.from({ length: groups }, () => code.local(V128));
  // Input pairs broadcast to every lane: with whole 16-byte rows, one load and two widenings serve
  // eight pairs, each then one 32-bit lane shuffle; shorter rows splat each pair from memory.
  const wide = cfg.BLOCK_IN % 16 === 0 ? code.local(V128) : null;
  const halves = [code.local(V128), code.local(V128)];
  emitLoopNest(code, u, ['dst', 'src', 'wgt'], ([d, s, w]) => {
    code.get(d!).i32(Math.log2(cfg.ACC_ELEM_BYTES)).shl().set(accAddr);
    code.get(s!).i32(Math.log2(cfg.INP_ELEM_BYTES)).shl().set(inpAddr);
    code.get(w!).i32(Math.log2(cfg.WGT_ELEM_BYTES * 2)).shl().set(wgtAddr);
    for (let b = 0; b < cfg.BATCH; b++) {
      for (let p = 0; p < pairs; p++) {
        const at = layout.inp + b * cfg.BLOCK_IN + 2 * p;
        if (wide) {
          if (p % 8 === 0) {
            code.get(inpAddr).v128Load(at).set(wide);
            code.get(wide).i16x8ExtendLowI8x16S().set(halves[0]!);
            code.get(wide).i16x8ExtendHighI8x16S().set(halves[1]!);
          }
          const h = halves[(p % 8) >> 2]!;
          code.get(h).get(h).i8x16Shuffle(Array.from({ length: 16 }, (_, i) => 4 * (p % 4) + (i % 4))).set(x);
        } else {
          code.get(inpAddr).v128Load16Splat(at).i16x8ExtendLowI8x16S().set(x);
        }
        for (let g = 0; g < groups; g++) {
          if (p > 0) code.get(sums[g]!);
          code.get(x).get(wgtAddr).v128Load(layout.wgt16 + (p * groups + g) * 16).i32x4DotI16x8S();
          if (p > 0) code.i32x4Add();
          code.set(sums[g]!);
        }
      }
      for (let g = 0; g < groups; g++) {
        const off = layout.acc + b * cfg.BLOCK_OUT * 4 + g * 16;
        code.get(accAddr).get(accAddr).v128Load(off).get(sums[g]!).i32x4Add().v128Store(off);
      }
    }
  });
  return code;
}

function resetFunction(cfg: VtaConfig, layout: SramLayout, u: UopFields): Code {
  const code = new Code(new Array(6).fill(I32));
  const accAddr = code.local(I32);
  emitLoopNest(code, u, ['dst'], ([d]) => {
    code.get(d!).i32(Math.log2(cfg.ACC_ELEM_BYTES)).shl().set(accAddr);
    for (let off = 0; off < cfg.ACC_ELEM_BYTES; off += 16) code.get(accAddr).v128Zero().v128Store(layout.acc + off);
  });
  return code;
}

/**
 * Widens and reorders weight elements [first, end) into the layout the GEMM kernel reads (see the
 * header): for each group of four rows, 16-bit pairs of the rows are interleaved by two rounds of
 * shuffles, so one 16-byte vector holds pair p of rows 4g..4g+3 in its low half and pair p + 1 in
 * its high half, and the two sign-extensions give vectors (p, g) and (p + 1, g).
 */
function wgt16Function(cfg: VtaConfig, layout: SramLayout): Code {
  const code = new Code([I32, I32]);
  const [first, end] = [0, 1];
  const src = code.local(I32);
  const dst = code.local(I32);
  const rows = [0, 1, 2, 3].map(() => code.local(V128));
  const t = [code.local(V128), code.local(V128)];
  const mixed = code.local(V128);
  const bi = cfg.BLOCK_IN;
  const groups = cfg.BLOCK_OUT / 4;
  const pairsPerChunk = Math.min(8, bi / 2);
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  // Interleave the 16-bit pairs h..h+3 of two vectors; then the 32-bit results of two of those.
  const pairs16 = (h: number) => range(4).flatMap((i) => [2 * (h + i), 2 * (h + i) + 1, 16 + 2 * (h + i), 16 + 2 * (h + i) + 1]);
  const pairs32 = (h: number) => range(2).flatMap((i) => [...range(4).map((b) => 4 * (h + i) + b), ...range(4).map((b) => 16 + 4 * (h + i) + b)]);
  code.loopBegin();
  code.get(first).get(end).geU().brIf(1);
  code.get(first).i32(Math.log2(cfg.WGT_ELEM_BYTES)).shl().set(src);
  code.get(first).i32(Math.log2(cfg.WGT_ELEM_BYTES * 2)).shl().set(dst);
  for (let g = 0; g < groups; g++) {
    for (let q = 0; q * 16 < bi; q++) {
      rows.forEach((r, i) => code.get(src).v128Load(layout.wgt + (4 * g + i) * bi + 16 * q).set(r));
      for (let half = 0; half * 4 < pairsPerChunk; half++) {
        code.get(rows[0]!).get(rows[1]!).i8x16Shuffle(pairs16(4 * half)).set(t[0]!);
        code.get(rows[2]!).get(rows[3]!).i8x16Shuffle(pairs16(4 * half)).set(t[1]!);
        for (let h = 0; h < 4 && 4 * half + h < pairsPerChunk; h += 2) {
          code.get(t[0]!).get(t[1]!).i8x16Shuffle(pairs32(h)).set(mixed);
          const p = 8 * q + 4 * half + h;
          code.get(dst).get(mixed).i16x8ExtendLowI8x16S().v128Store(layout.wgt16 + (p * groups + g) * 16);
          code.get(dst).get(mixed).i16x8ExtendHighI8x16S().v128Store(layout.wgt16 + ((p + 1) * groups + g) * 16);
        }
      }
    }
  }
  code.get(first).i32(1).add().set(first).br(0);
  code.loopEnd();
  return code;
}

/** ALU operations with a vector form: the immediate ones take a scalar parameter (6), tensor ones acc[src]. */
const SIMD_IMM_OPS = ['min', 'max', 'add', 'mul', 'shl', 'shr'] as const;
const SIMD_TENSOR_OPS = ['min', 'max', 'add', 'mul'] as const;
type SimdOp = (typeof SIMD_IMM_OPS)[number];

function simdOp(code: Code, op: SimdOp): void {
  switch (op) {
    case 'min':
      code.i32x4MinS();
      return;
    case 'max':
      code.i32x4MaxS();
      return;
    case 'add':
      code.i32x4Add();
      return;
    case 'mul':
      code.i32x4Mul();
      return;
    case 'shl':
      code.i32x4Shl();
      return;
    case 'shr':
      code.i32x4ShrS();
      return;
  }
}

/** acc[d] = op(acc[d], y): parameters uop_bgn, uop_end, iter_out, iter_in, dst factors, y. */
function aluImmFunction(cfg: VtaConfig, layout: SramLayout, u: UopFields, op: SimdOp): Code {
  const code = new Code(new Array(7).fill(I32));
  const y = 6;
  const addr = code.local(I32);
  const ySplat = code.local(V128);
  const shift = op === 'shl' || op === 'shr';
  if (!shift) code.get(y).i32x4Splat().set(ySplat);
  emitLoopNest(code, u, ['dst'], ([d]) => {
    code.get(d!).i32(Math.log2(cfg.ACC_ELEM_BYTES)).shl().set(addr);
    for (let off = 0; off < cfg.ACC_ELEM_BYTES; off += 16) {
      code.get(addr).get(addr).v128Load(layout.acc + off).get(shift ? y : ySplat);
      simdOp(code, op);
      code.v128Store(layout.acc + off);
    }
  });
  return code;
}

/** acc[d] = op(acc[d], acc[s]): parameters uop_bgn, uop_end, iter_out, iter_in, dst and src factors. */
function aluTensorFunction(cfg: VtaConfig, layout: SramLayout, u: UopFields, op: SimdOp): Code {
  const code = new Code(new Array(8).fill(I32));
  const dAddr = code.local(I32);
  const sAddr = code.local(I32);
  const accShift = Math.log2(cfg.ACC_ELEM_BYTES);
  emitLoopNest(code, u, ['dst', 'src'], ([d, s]) => {
    code.get(d!).i32(accShift).shl().set(dAddr);
    code.get(s!).i32(accShift).shl().set(sAddr);
    for (let off = 0; off < cfg.ACC_ELEM_BYTES; off += 16) {
      code.get(dAddr).get(dAddr).v128Load(layout.acc + off).get(sAddr).v128Load(layout.acc + off);
      simdOp(code, op);
      code.v128Store(layout.acc + off);
    }
  });
  return code;
}

type Loop6 = (bgn: number, end: number, iterOut: number, iterIn: number, dfo: number, dfi: number, y: number) => void;
type Loop8 = (bgn: number, end: number, iterOut: number, iterIn: number, dfo: number, dfi: number, sfo: number, sfi: number) => void;

/**
 * Compiled modules by configuration fingerprint (which fixes the SRAM layout); null where the host
 * rejected the module. Building and compiling takes tens of milliseconds, instantiating almost none.
 */
const compiled = new Map<string, object | null>();

/** Compiles the SIMD kernel over `memory` (which holds the SRAMs at `layout`); null if the host lacks WebAssembly SIMD. */
export function wasmKernel(cfg: VtaConfig, layout: SramLayout, memory: WasmMemory, views: SramViews): ComputeKernel | null {
  if (!webAssembly) return null;
  let module = compiled.get(cfg.fingerprint);
  if (module === undefined) {
    const u = uopFields(cfg);
    const bytes = buildModule(memory.buffer.byteLength / 65536, [
      { name: 'gemm', code: gemmFunction(cfg, layout, u) },
      { name: 'reset', code: resetFunction(cfg, layout, u) },
      { name: 'wgt16', code: wgt16Function(cfg, layout) },
      ...SIMD_IMM_OPS.map((op) => ({ name: `imm_${op}`, code: aluImmFunction(cfg, layout, u, op) })),
      ...SIMD_TENSOR_OPS.map((op) => ({ name: `tensor_${op}`, code: aluTensorFunction(cfg, layout, u, op) })),
    ]);
    module = webAssembly.validate(bytes) ? new webAssembly.Module(bytes) : null;
    compiled.set(cfg.fingerprint, module);
  }
  if (module === null) return null;
  const instance = new webAssembly.Instance(module, { env: { memory } });
  const ex = instance.exports as unknown as Pick<ComputeKernel, 'gemm' | 'reset'> & Record<string, Loop6 & Loop8 & ComputeKernel['wgtWritten']>;
  // SHR with a tensor operand shifts each lane by its own amount, which SIMD cannot: JS does it.
  const scalar = jsKernel(cfg, views);
  const imm: Record<AluOpName, Loop6> = { MIN: ex.imm_min!, MAX: ex.imm_max!, ADD: ex.imm_add!, MUL: ex.imm_mul!, SHR: ex.imm_shr! };
  const tensor: Partial<Record<AluOpName, Loop8>> = { MIN: ex.tensor_min!, MAX: ex.tensor_max!, ADD: ex.tensor_add!, MUL: ex.tensor_mul! };
  return {
    kind: 'wasm',
    gemm: ex.gemm,
    reset: ex.reset,
    alu(op, useImm, y, bgn, end, io, ii, dfo, dfi, sfo, sfi) {
      if (useImm) {
        if (op !== 'SHR') imm[op](bgn, end, io, ii, dfo, dfi, y);
        // SHR by y: right by min(y, 31), left by -y, or zero once -y >= 32 (SPEC §4 ALU).
        else if (y >= 0) ex.imm_shr!(bgn, end, io, ii, dfo, dfi, Math.min(y, 31));
        else if (y > -32) ex.imm_shl!(bgn, end, io, ii, dfo, dfi, -y);
        else ex.imm_mul!(bgn, end, io, ii, dfo, dfi, 0);
        return;
      }
      const f = tensor[op];
      if (f) f(bgn, end, io, ii, dfo, dfi, sfo, sfi);
      else scalar.alu(op, useImm, y, bgn, end, io, ii, dfo, dfi, sfo, sfi);
    },
    wgtWritten: ex.wgt16!,
  };
}

export interface SramViews {
  uop: Uint32Array;
  inp: Int8Array;
  wgt: Int8Array;
  acc: Int32Array;
}

/** SHR with the spec's signed amount: right (arithmetic, capped at 31) when y >= 0, else left by -y. */
function shr(x: number, y: number): number {
  if (y >= 0) return x >> (y > 31 ? 31 : y);
  return y <= -32 ? 0 : x << -y;
}

/** One ALU micro-op on `lanes` lanes of acc at `d`; the operand is `imm` (with use_imm) or the lanes at `s`. */
function aluLanes(acc: Int32Array, op: AluOpName, d: number, s: number, useImm: boolean, imm: number, lanes: number): void {
  const end = d + lanes;
  if (useImm) {
    switch (op) {
      case 'MIN':
        for (let a = d; a < end; a++) if (acc[a]! > imm) acc[a] = imm;
        return;
      case 'MAX':
        for (let a = d; a < end; a++) if (acc[a]! < imm) acc[a] = imm;
        return;
      case 'ADD':
        for (let a = d; a < end; a++) acc[a] = acc[a]! + imm;
        return;
      case 'SHR':
        for (let a = d; a < end; a++) acc[a] = shr(acc[a]!, imm);
        return;
      case 'MUL':
        for (let a = d; a < end; a++) acc[a] = Math.imul(acc[a]!, imm);
        return;
    }
  }
  const off = s - d;
  switch (op) {
    case 'MIN':
      for (let a = d; a < end; a++) acc[a] = Math.min(acc[a]!, acc[a + off]!);
      return;
    case 'MAX':
      for (let a = d; a < end; a++) acc[a] = Math.max(acc[a]!, acc[a + off]!);
      return;
    case 'ADD':
      for (let a = d; a < end; a++) acc[a] = acc[a]! + acc[a + off]!;
      return;
    case 'SHR':
      for (let a = d; a < end; a++) acc[a] = shr(acc[a]!, acc[a + off]!);
      return;
    case 'MUL':
      for (let a = d; a < end; a++) acc[a] = Math.imul(acc[a]!, acc[a + off]!);
      return;
  }
}

export function jsKernel(cfg: VtaConfig, s: SramViews): ComputeKernel {
  const u = uopFields(cfg);
  const { BATCH: batch, BLOCK_IN: bi, BLOCK_OUT: bo } = cfg;
  const { uop, inp, wgt, acc } = s;
  const accElem = batch * bo;
  return {
    kind: 'js',
    gemm(bgn, end, iterOut, iterIn, dfo, dfi, sfo, sfi, wfo, wfi) {
      for (let i = 0; i < iterOut; i++) {
        for (let j = 0; j < iterIn; j++) {
          const d0 = i * dfo + j * dfi;
          const s0 = i * sfo + j * sfi;
          const w0 = i * wfo + j * wfi;
          for (let k = bgn; k < end; k++) {
            const word = uop[k]!;
            const a = ((word & u.dstMask) + d0) * accElem;
            const x = (((word >>> u.srcShift) & u.srcMask) + s0) * batch * bi;
            const w = (((word >>> u.wgtShift) & u.wgtMask) + w0) * bo * bi;
            for (let b = 0; b < batch; b++) {
              for (let o = 0; o < bo; o++) {
                let sum = 0;
                const row = w + o * bi;
                const xr = x + b * bi;
                for (let c = 0; c < bi; c++) sum += inp[xr + c]! * wgt[row + c]!;
                const at = a + b * bo + o;
                acc[at] = (acc[at]! + sum) | 0;
              }
            }
          }
        }
      }
    },
    reset(bgn, end, iterOut, iterIn, dfo, dfi) {
      for (let i = 0; i < iterOut; i++) {
        for (let j = 0; j < iterIn; j++) {
          for (let k = bgn; k < end; k++) {
            const a = ((uop[k]! & u.dstMask) + i * dfo + j * dfi) * accElem;
            acc.fill(0, a, a + accElem);
          }
        }
      }
    },
    alu(op, useImm, imm, bgn, end, iterOut, iterIn, dfo, dfi, sfo, sfi) {
      for (let i = 0; i < iterOut; i++) {
        for (let j = 0; j < iterIn; j++) {
          const d0 = i * dfo + j * dfi;
          const s0 = i * sfo + j * sfi;
          for (let k = bgn; k < end; k++) {
            const word = uop[k]!;
            const d = ((word & u.dstMask) + d0) * accElem;
            const x = (((word >>> u.srcShift) & u.srcMask) + s0) * accElem;
            aluLanes(acc, op, d, x, useImm, imm, accElem);
          }
        }
      }
    },
    wgtWritten() {},
  };
}
