/**
 * The WGSL compute shader, generated per configuration so that block sizes, element sizes and
 * micro-op field positions are constants the compiler can fold.
 *
 * Every instruction kind is a function `exec_<kind>(t)` computing the work of thread `t` of one
 * instruction whose parameters are record `R` of the record buffer. One entry point, `run`, runs a
 * level of the schedule (schedule.ts): units of work side by side, each thread finding its unit
 * and running the unit's members in order (a fused chain of GEMM/ALU instructions, or one
 * instruction).
 *
 * Memory: DRAM and the byte-typed SRAMs (inp, wgt) are arrays of u32 words holding bytes in
 * little-endian order, as on the host; acc is i32 lanes. Each SRAM buffer holds several copies of
 * the SRAM (schedule.ts); a record gives the word offset of the copy each access uses (OFF_*).
 * There is no uop SRAM on the GPU: the host keeps it (it plans from it) and gives each GEMM/ALU its
 * micro-op words in `uops`, grouped by the thread that runs them (see plan.ts). WGSL has no 8-bit
 * type, so byte writes are done by the one thread that owns the whole word (LOAD: one thread per
 * SRAM word; STORE: one thread per DRAM word), never by read-modify-write races.
 */
import type { VtaConfig } from '../isa/config.ts';

/** Words per instruction record. */
export const REC_WORDS = 32;
export const REC_BYTES = REC_WORDS * 4;

/** Record fields (word indices). GEMM/ALU and LOAD/STORE share slots; see plan.ts for the values. */
export const F = {
  /** Threads the instruction needs. */
  N: 0,
  /** KIND value, read by `run`. */
  KIND: 1,
  // --- GEMM / ALU
  /**
   * Where the instruction's micro-ops start in `uops`: EK + 1 offsets, then the words. Thread
   * group c runs words [offset c, offset c + 1) in order.
   */
  UOPS: 2,
  /** Parallel extents of the i and j loops (1 when the loop runs serially inside each thread), and the number of micro-op groups. */
  EI: 3,
  EJ: 4,
  EK: 5,
  /** Serial extents of the i and j loops (1 when the loop is parallel). */
  NI: 6,
  NJ: 7,
  DST_FO: 9,
  DST_FI: 10,
  SRC_FO: 11,
  SRC_FI: 12,
  WGT_FO: 13,
  WGT_FI: 14,
  /** GEMM: reset_reg. ALU: the ALU opcode. */
  OP: 15,
  USE_IMM: 16,
  /** Sign-extended immediate, as the bits of an i32. */
  IMM: 17,
  // --- LOAD / STORE
  SRAM_BASE: 2,
  DRAM_BASE: 3,
  Y_SIZE: 4,
  X_SIZE: 5,
  X_STRIDE: 6,
  Y_PAD_0: 7,
  X_PAD_0: 8,
  /** Elements per SRAM row of a LOAD (x_pad_0 + x_size + x_pad_1). */
  ROW: 9,
  /** LOAD ACC: 1 for ACC_8BIT. LOAD INP/WGT: first SRAM word written. STORE: words per row. */
  AUX: 10,
  /** LOAD: SRAM elements written, padding included. */
  ELEMS: 11,
  // --- every kind: word offsets of the SRAM copies used (acc: in i32 lanes); OFF_SRC is an ALU's operand.
  OFF_INP: 18,
  OFF_WGT: 19,
  OFF_ACC: 20,
  OFF_SRC: 21,
  // --- COPY: words per element unit; AUX: the SRAM (0 inp, 1 wgt, 2 acc); UOPS: (destination word, source word) pairs.
  WPU: 22,
} as const;

export const KINDS = ['gemm', 'alu', 'load_inp', 'load_wgt', 'load_acc', 'store', 'copy'] as const;
export type Kind = (typeof KINDS)[number];
export const KIND_CODE: Record<Kind, number> = Object.fromEntries(KINDS.map((k, i) => [k, i])) as Record<Kind, number>;

/** Threads per workgroup. */
export const WG = 64;
/** Records one dispatch may read (the binding's window). */
export const WINDOW_RECS = 2048;
/** The most members a unit may have, so that a unit and its header always fit one window. */
export const UNIT_MAX = WINDOW_RECS / 2;

/**
 * Words of the header of a dispatch of `units` units: the count, the first thread of each unit and
 * the total, then each unit's first record and number of records. Records follow the header,
 * starting at a whole record.
 */
export const headerWords = (units: number) => 2 + 3 * units;

export interface ShaderOptions {
  /** Use WGSL's dot4I8Packed (language feature packed_4x8_integer_dot_product). */
  packedDot: boolean;
}

export function shaderSource(cfg: VtaConfig, opts: ShaderOptions): string {
  const lanes = cfg.BATCH * cfg.BLOCK_OUT;
  const inpEb = cfg.INP_ELEM_BYTES;
  const wgtEb = cfg.WGT_ELEM_BYTES;
  const outEb = cfg.OUT_ELEM_BYTES;
  const u = cfg.layout.uop.byName;
  const field = (name: string) => ({ shift: u[name]!.offset, mask: 2 ** u[name]!.width - 1 });
  const dst = field('dst_idx');
  const src = field('src_idx');
  const wgt = field('wgt_idx');
  const consts = Object.entries(F)
    .map(([k, v]) => `const F_${k} = ${v}u;`)
    .join('\n');
  const kinds = KINDS.map((k, i) => `const K_${k.toUpperCase()} = ${i}u;`).join('\n');

  // The dot product of one inp row (BLOCK_IN int8) with one wgt row.
  const dot =
    cfg.BLOCK_IN % 4 === 0
      ? `
fn dot4(a: u32, b: u32) -> i32 {
  ${opts.packedDot ? 'return dot4I8Packed(a, b);' : `let x = bitcast<i32>(a);
  let y = bitcast<i32>(b);
  return extractBits(x, 0u, 8u) * extractBits(y, 0u, 8u) + extractBits(x, 8u, 8u) * extractBits(y, 8u, 8u)
       + extractBits(x, 16u, 8u) * extractBits(y, 16u, 8u) + extractBits(x, 24u, 8u) * extractBits(y, 24u, 8u);`}
}
fn dot_row(oi: u32, ib: u32, ow: u32, wb: u32) -> i32 {
  let iw = oi + ib / 4u;
  let ww = ow + wb / 4u;
  var s = 0i;
  for (var c = 0u; c < ${cfg.BLOCK_IN / 4}u; c++) {
    s += dot4(inp[iw + c], wgt[ww + c]);
  }
  return s;
}`
      : `
fn dot_row(oi: u32, ib: u32, ow: u32, wb: u32) -> i32 {
  var s = 0i;
  for (var c = 0u; c < ${cfg.BLOCK_IN}u; c++) {
    let a = ib + c;
    let b = wb + c;
    s += extractBits(bitcast<i32>(inp[oi + a / 4u]), (a % 4u) * 8u, 8u) * extractBits(bitcast<i32>(wgt[ow + b / 4u]), (b % 4u) * 8u, 8u);
  }
  return s;
}`;

  return `// Generated by webgpu/shaders.ts for ${cfg.fingerprint}.
${consts}
${kinds}
const LANES = ${lanes}u;
const BLOCK_IN = ${cfg.BLOCK_IN}u;
const BLOCK_OUT = ${cfg.BLOCK_OUT}u;
const BATCH = ${cfg.BATCH}u;
const NONE = 0xffffffffu;

@group(0) @binding(0) var<storage, read> recs: array<u32>;
@group(0) @binding(1) var<storage, read_write> dram: array<u32>;
@group(0) @binding(2) var<storage, read_write> inp: array<u32>;
@group(0) @binding(3) var<storage, read_write> wgt: array<u32>;
@group(0) @binding(4) var<storage, read_write> acc: array<i32>;
@group(0) @binding(5) var<storage, read> uops: array<u32>;

// The record the current instruction reads.
var<private> R: u32;

fn P(i: u32) -> u32 { return recs[R * ${REC_WORDS}u + i]; }

fn byte_of(word: u32, b: u32) -> u32 { return (word >> (b * 8u)) & 0xffu; }
fn dram_byte(a: u32) -> u32 { return byte_of(dram[a / 4u], a % 4u); }
fn sext8(v: u32) -> i32 { return extractBits(bitcast<i32>(v), 0u, 8u); }
${dot}

// --- GEMM and ALU: the loop nest of SPEC §4, with the loops that plan.ts marked parallel spread
// over threads (extents EI, EJ, and EK micro-op groups) and the others run in order inside each
// thread (NI, NJ, and the words of the thread's group).
struct Loop { i0: u32, j0: u32, q0: u32, q1: u32, words: u32, lane: u32 }

fn loop_of(t: u32) -> Loop {
  var q = t / LANES;
  let ek = P(F_EK);
  let ej = P(F_EJ);
  let g = P(F_UOPS) + q % ek;
  q = q / ek;
  return Loop(q / ej, q % ej, uops[g], uops[g + 1u], P(F_UOPS) + ek + 1u, t % LANES);
}

fn uop_dst(w: u32) -> u32 { return (w >> ${dst.shift}u) & ${dst.mask}u; }
fn uop_src(w: u32) -> u32 { return (w >> ${src.shift}u) & ${src.mask}u; }
fn uop_wgt(w: u32) -> u32 { return (w >> ${wgt.shift}u) & ${wgt.mask}u; }

fn exec_gemm(t: u32) {
  let l = loop_of(t);
  let ni = P(F_NI);
  let nj = P(F_NJ);
  let dfo = P(F_DST_FO);
  let dfi = P(F_DST_FI);
  let oa = P(F_OFF_ACC) + l.lane;
  if (P(F_OP) != 0u) {
    for (var i = l.i0; i < l.i0 + ni; i++) {
      for (var j = l.j0; j < l.j0 + nj; j++) {
        for (var q = l.q0; q < l.q1; q++) {
          acc[oa + (uop_dst(uops[l.words + q]) + i * dfo + j * dfi) * LANES] = 0;
        }
      }
    }
    return;
  }
  let sfo = P(F_SRC_FO);
  let sfi = P(F_SRC_FI);
  let wfo = P(F_WGT_FO);
  let wfi = P(F_WGT_FI);
  let oi = P(F_OFF_INP);
  let ow = P(F_OFF_WGT);
  let b = l.lane / BLOCK_OUT;
  let o = l.lane % BLOCK_OUT;
  // Consecutive iterations with the same destination accumulate in a register; only this thread
  // writes its destinations (plan.ts), so the value is written back when the destination changes.
  var cur = NONE;
  var sum = 0i;
  for (var i = l.i0; i < l.i0 + ni; i++) {
    for (var j = l.j0; j < l.j0 + nj; j++) {
      for (var q = l.q0; q < l.q1; q++) {
        let w = uops[l.words + q];
        let d = uop_dst(w) + i * dfo + j * dfi;
        if (d != cur) {
          if (cur != NONE) {
            acc[oa + cur * LANES] = sum;
          }
          cur = d;
          sum = acc[oa + d * LANES];
        }
        let s = uop_src(w) + i * sfo + j * sfi;
        let g = uop_wgt(w) + i * wfo + j * wfi;
        sum += dot_row(oi, (s * BATCH + b) * BLOCK_IN, ow, (g * BLOCK_OUT + o) * BLOCK_IN);
      }
    }
  }
  if (cur != NONE) {
    acc[oa + cur * LANES] = sum;
  }
}

fn alu_op(op: u32, x: i32, y: i32) -> i32 {
  switch op {
    case 0u: { return min(x, y); }
    case 1u: { return max(x, y); }
    case 2u: { return x + y; }
    case 3u: {
      // SPEC §4 SHR: a right shift by min(y, 31) for y >= 0, a left shift by -y (0 from 32 on) below.
      if (y >= 0) { return x >> u32(min(y, 31)); }
      if (y <= -32) { return 0; }
      return x << u32(-y);
    }
    default: { return x * y; }
  }
}

fn exec_alu(t: u32) {
  let l = loop_of(t);
  let ni = P(F_NI);
  let nj = P(F_NJ);
  let dfo = P(F_DST_FO);
  let dfi = P(F_DST_FI);
  let sfo = P(F_SRC_FO);
  let sfi = P(F_SRC_FI);
  let op = P(F_OP);
  let use_imm = P(F_USE_IMM) != 0u;
  let imm = bitcast<i32>(P(F_IMM));
  let oa = P(F_OFF_ACC) + l.lane;
  let os = P(F_OFF_SRC) + l.lane;
  for (var i = l.i0; i < l.i0 + ni; i++) {
    for (var j = l.j0; j < l.j0 + nj; j++) {
      for (var q = l.q0; q < l.q1; q++) {
        let w = uops[l.words + q];
        let d = oa + (uop_dst(w) + i * dfo + j * dfi) * LANES;
        var y = imm;
        if (!use_imm) {
          y = acc[os + (uop_src(w) + i * sfo + j * sfi) * LANES];
        }
        acc[d] = alu_op(op, acc[d], y);
      }
    }
  }
}

// --- LOAD: element e of the written SRAM range comes from DRAM element load_src(e), or is padding.
fn load_src(e: u32) -> u32 {
  let row = P(F_ROW);
  let r = e / row;
  let c = e % row;
  let y0 = P(F_Y_PAD_0);
  let x0 = P(F_X_PAD_0);
  if (r < y0 || r >= y0 + P(F_Y_SIZE) || c < x0 || c >= x0 + P(F_X_SIZE)) {
    return NONE;
  }
  return P(F_DRAM_BASE) + (r - y0) * P(F_X_STRIDE) + (c - x0);
}
${(['inp', 'wgt'] as const)
  .map((name) => {
    const eb = name === 'inp' ? inpEb : wgtEb;
    // Thread t owns SRAM word AUX + t; bytes of the word outside the written range keep their value.
    return eb % 4 === 0
      ? `
fn exec_load_${name}(t: u32) {
  let w = P(F_AUX) + t;
  let e = (w * 4u) / ${eb}u - P(F_SRAM_BASE);
  let src = load_src(e);
  var v = 0u;
  if (src != NONE) {
    v = dram[(src * ${eb}u + (w * 4u) % ${eb}u) / 4u];
  }
  ${name}[P(F_OFF_${name.toUpperCase()}) + w] = v;
}`
      : `
fn exec_load_${name}(t: u32) {
  let w = P(F_AUX) + t;
  let first = P(F_SRAM_BASE) * ${eb}u;
  let end = first + P(F_ELEMS) * ${eb}u;
  let o = P(F_OFF_${name.toUpperCase()});
  var v = ${name}[o + w];
  for (var b = 0u; b < 4u; b++) {
    let a = w * 4u + b;
    if (a < first || a >= end) { continue; }
    let src = load_src((a - first) / ${eb}u);
    var x = 0u;
    if (src != NONE) {
      x = dram_byte(src * ${eb}u + (a - first) % ${eb}u);
    }
    v = insertBits(v, x, b * 8u, 8u);
  }
  ${name}[o + w] = v;
}`;
  })
  .join('\n')}

// Thread t writes acc lane SRAM_BASE * LANES + t; AUX = 1 reads int8 lanes (ACC_8BIT).
fn exec_load_acc(t: u32) {
  let src = load_src(t / LANES);
  let lane = t % LANES;
  var v = 0i;
  if (src != NONE) {
    if (P(F_AUX) != 0u) {
      v = sext8(dram_byte(src * LANES + lane));
    } else {
      v = bitcast<i32>(dram[src * LANES + lane]);
    }
  }
  acc[P(F_OFF_ACC) + P(F_SRAM_BASE) * LANES + t] = v;
}

// --- STORE: thread t = (row y, word of the row); each DRAM word has one owner (see plan.ts).
${
  outEb % 4 === 0
    ? `
fn exec_store(t: u32) {
  let wpr = P(F_AUX);
  let y = t / wpr;
  let wi = t % wpr;
  let rel = wi * 4u;
  let a = P(F_OFF_ACC) + (P(F_SRAM_BASE) + y * P(F_X_SIZE) + rel / ${outEb}u) * LANES + rel % ${outEb}u;
  let v = (u32(acc[a]) & 0xffu) | ((u32(acc[a + 1u]) & 0xffu) << 8u) | ((u32(acc[a + 2u]) & 0xffu) << 16u) | (u32(acc[a + 3u]) << 24u);
  dram[(P(F_DRAM_BASE) + y * P(F_X_STRIDE)) * ${outEb / 4}u + wi] = v;
}`
    : `
fn exec_store(t: u32) {
  let wpr = P(F_AUX);
  let y = t / wpr;
  let xs = P(F_X_SIZE);
  let stride = P(F_X_STRIDE);
  let base = P(F_DRAM_BASE) * ${outEb}u;
  let rs = base + y * stride * ${outEb}u;
  let re = rs + xs * ${outEb}u;
  let w = rs / 4u + t % wpr;
  // Past the row, or a word that an earlier row also touches: that row's thread owns it.
  if (w * 4u >= re || (y > 0u && rs - (stride - xs) * ${outEb}u > w * 4u)) {
    return;
  }
  var v = dram[w];
  for (var b = 0u; b < 4u; b++) {
    let a = w * 4u + b;
    if (a < base) { continue; }
    let e = (a - base) / ${outEb}u;
    let yy = e / stride;
    let xx = e % stride;
    if (yy < P(F_Y_SIZE) && xx < xs) {
      let lane = (a - base) % ${outEb}u;
      v = insertBits(v, u32(acc[P(F_OFF_ACC) + (P(F_SRAM_BASE) + yy * xs + xx) * LANES + lane]), b * 8u, 8u);
    }
  }
  dram[w] = v;
}`
}

// --- COPY: thread t copies word t % WPU of pair t / WPU (schedule.ts gathers elements into one copy).
fn exec_copy(t: u32) {
  let wpu = P(F_WPU);
  let p = P(F_UOPS) + 2u * (t / wpu);
  let dst = uops[p] + t % wpu;
  let src = uops[p + 1u] + t % wpu;
  switch P(F_AUX) {
    case 0u: { inp[dst] = inp[src]; }
    case 1u: { wgt[dst] = wgt[src]; }
    default: { acc[dst] = acc[src]; }
  }
}

// KINDS: the kinds a dispatch holds, one bit each (a pipeline per set, executor.ts), so that the
// compiler drops the others: on a CPU adapter such as SwiftShader a kind switch costs every kind.
override KINDS: u32 = ${2 ** KINDS.length - 1}u;

fn exec(kind: u32, t: u32) {
${KINDS.map((k, i) => `  if ((KINDS & ${2 ** i}u) != 0u && (KINDS == ${2 ** i}u || kind == K_${k.toUpperCase()})) {
    exec_${k}(t);
    return;
  }`).join('\n')}
}

// The header (headerWords): m units; thread offsets recs[1 .. m + 1]; then for unit u its first
// record recs[m + 2 + 2u] and its record count recs[m + 3 + 2u]. Units are independent
// (schedule.ts), so their threads run side by side; a thread runs its unit's records in order.
@compute @workgroup_size(${WG})
fn run(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.y * nwg.x * ${WG}u + gid.x;
  let m = recs[0];
  if (t >= recs[1u + m]) {
    return;
  }
  var lo = 0u;
  var hi = m - 1u;
  while (lo < hi) {
    let mid = (lo + hi + 1u) / 2u;
    if (recs[1u + mid] <= t) {
      lo = mid;
    } else {
      hi = mid - 1u;
    }
  }
  let first = recs[m + 2u + 2u * lo];
  let count = recs[m + 3u + 2u * lo];
  let tu = t - recs[1u + lo];
  for (var k = 0u; k < count; k++) {
    R = first + k;
    exec(P(F_KIND), tu);
  }
}
`;
}
