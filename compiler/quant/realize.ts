/**
 * QDQ -> integer graph. Walks a graph of qnn.dequantize -> float op ->
 * qnn.quantize patterns (onnxruntime's QDQ format, or the one insertQdq makes
 * from calibration) and replaces each pattern it can express in VTA's integer
 * arithmetic with int8/int32 ops that follow the pattern's own scales and zero
 * points:
 *
 * - conv2d / dense (+ bias, + ReLU/Clip): int8 x int8 -> int32, an int32 bias
 *   that also absorbs the input zero point, fixed-point requantization, the
 *   output zero point, clip, narrow to int8;
 * - add (+ ReLU): one int8 operand rescaled to the other's scale, the other
 *   added as it is (VTA's residual step), the sum requantized, clipped, narrowed;
 * - max_pool2d and reshape with unchanged scale and zero point: the same op on int8;
 * - concatenate: on int8, inputs whose scale or zero point differ from the output's requantized;
 * - avg_pool2d / global_avg_pool2d: a depthwise conv of the int8 input with weights of 1 (the
 *   window sum on VTA's GEMM), the input zero point removed over the taps inside the image, then
 *   requantized by 1/count: one fixed-point multiply and shift where every window has the same
 *   count, else a per-position int32 multiplier tensor and a rounding shift (count_include_pad 0
 *   with padding);
 * - a per-channel multiply (and add) of a quantized value, a batch norm with no conv before it:
 *   widened, multiplied by a per-channel int32 multiplier, the per-channel offset added at the
 *   same fixed point, one rounding shift, clip, int8 (VTA's ALU: MUL, ADD, SHR).
 *
 * Anything else keeps its float form (dequantize -> op -> quantize) and runs on
 * the CPU. The integer ops are the ALU's (add and multiply wrap in int32,
 * right_shift is SHR, clip is MAX then MIN, cast to int8 wraps after the clip),
 * so the CPU executor and VTA agree bit for bit.
 */
import { windowAttrs } from '../ir/ops/nn.ts';
import { call, constant, type Call, type Constant, type IRFunction, type Value } from '../ir/graph.ts';
import { Tensor, sizeOf } from '../tensor/tensor.ts';
import { rewrite, withArgs } from '../passes/rewrite.ts';
import { applyFixedPoint, chooseFixedPoint, int32Scalar, MAX_ROUNDING_SHIFT, narrowToInt8, roundingShift } from './fixed-point.ts';

/** What a float value is the dequantization of. */
export interface QInfo {
  readonly q: Value;
  readonly scale: number;
  readonly zp: number;
}

const INT8_MIN = -128;
const INT8_MAX = 127;
const INT32_MAX = 2 ** 31 - 1;

/** The number in a one-element constant, else undefined. */
export function scalarValue(v: Value): number | undefined {
  if (v.kind !== 'constant' || v.value.size !== 1) return undefined;
  return Number(v.value.data[0]);
}

function roundHalfAway(v: number): number {
  return Math.sign(v) * Math.round(Math.abs(v));
}

interface Bounds {
  lo: number;
  hi: number;
}

/** Peels a ReLU or Clip off a float value: the int8 range it leaves for output (scale, zp). */
function peelActivation(v: Value, scale: number, zp: number): { inner: Value; bounds: Bounds } {
  const bounds = { lo: INT8_MIN, hi: INT8_MAX };
  if (v.kind !== 'call') return { inner: v, bounds };
  if (v.op === 'nn.relu') return { inner: v.args[0]!, bounds: { lo: Math.max(INT8_MIN, zp), hi: INT8_MAX } };
  if (v.op === 'clip') {
    const lo = Number(v.attrs['a_min'] ?? -Infinity);
    const hi = Number(v.attrs['a_max'] ?? Infinity);
    return {
      inner: v.args[0]!,
      bounds: {
        lo: Math.max(INT8_MIN, Number.isFinite(lo) ? Math.round(lo / scale) + zp : INT8_MIN),
        hi: Math.min(INT8_MAX, Number.isFinite(hi) ? Math.round(hi / scale) + zp : INT8_MAX),
      },
    };
  }
  return { inner: v, bounds };
}

/** For each output position along one axis, the taps [from, to) whose input index is inside [0, size). */
function insideTaps(outSize: number, size: number, taps: number, stride: number, pad: number, dilation: number): Int32Array {
  const ranges = new Int32Array(2 * outSize);
  for (let o = 0; o < outSize; o++) {
    let from = 0;
    while (from < taps && o * stride - pad + from * dilation < 0) from++;
    let to = taps;
    while (to > from && o * stride - pad + (to - 1) * dilation >= size) to--;
    ranges[2 * o] = from;
    ranges[2 * o + 1] = to;
  }
  return ranges;
}

/**
 * For each output channel and position of a conv, the sum of the weights whose
 * taps fall inside the input (not in the padding): what a constant input of 1
 * would give. The inside taps of a position form a rectangle, summed from the
 * 2-D prefix sums of the channel's taps (integers, so exactly).
 */
function insideTapSums(conv: Call, w: Int8Array, O: number): Float64Array {
  const [, , H, W] = conv.args[0]!.type.shape as [number, number, number, number];
  const [, Cg, KH, KW] = conv.args[1]!.type.shape as [number, number, number, number];
  const [, , OH, OW] = conv.type.shape as [number, number, number, number];
  const win = windowAttrs(conv.op, conv.attrs, 2);
  const [sh, sw] = win.strides as [number, number];
  const [dh, dw] = win.dilation as [number, number];
  const [ph, pw] = win.padding as [number, number];
  const rows = insideTaps(OH, H, KH, sh, ph, dh);
  const cols = insideTaps(OW, W, KW, sw, pw, dw);
  const out = new Float64Array(O * OH * OW);
  // prefix[ky * (KW + 1) + kx]: the sum of the taps above and left of (ky, kx).
  const P = KW + 1;
  const prefix = new Float64Array((KH + 1) * P);
  const taps = KH * KW;
  for (let o = 0; o < O; o++) {
    for (let ky = 0; ky < KH; ky++) {
      for (let kx = 0; kx < KW; kx++) {
        let tap = 0;
        for (let c = 0; c < Cg; c++) tap += w[(o * Cg + c) * taps + ky * KW + kx]!;
        prefix[(ky + 1) * P + kx + 1] = tap + prefix[ky * P + kx + 1]! + prefix[(ky + 1) * P + kx]! - prefix[ky * P + kx]!;
      }
    }
    for (let oy = 0; oy < OH; oy++) {
      const y0 = rows[2 * oy]! * P;
      const y1 = rows[2 * oy + 1]! * P;
      for (let ox = 0; ox < OW; ox++) {
        const x0 = cols[2 * ox]!;
        const x1 = cols[2 * ox + 1]!;
        out[(o * OH + oy) * OW + ox] = prefix[y1 + x1]! - prefix[y0 + x1]! - prefix[y1 + x0]! + prefix[y0 + x0]!;
      }
    }
  }
  return out;
}

class Realizer {
  readonly info = new Map<Value, QInfo>();

  /** Per-tensor (scalar) quantization parameters of a quantize/dequantize node, else undefined. */
  params(node: Call, args: readonly Value[]): { scale: number; zp: number } | undefined {
    const scale = scalarValue(args[1]!);
    const zp = scalarValue(args[2]!);
    return scale !== undefined && zp !== undefined && scale > 0 ? { scale, zp } : undefined;
  }

  /** A constant, or the dequantization of one. */
  isConstant(v: Value): boolean {
    return v.kind === 'constant' || this.info.get(v)?.q.kind === 'constant';
  }

  /** int8 weights with zero point 0, as an anchor's second operand. */
  weights(v: Value): { q: Constant; scale: number } | undefined {
    const i = this.info.get(v);
    if (!i || i.zp !== 0 || i.q.kind !== 'constant' || i.q.type.dtype !== 'int8') return undefined;
    return { q: i.q, scale: i.scale };
  }

  /** The bias as int32 at the accumulator's scale, from a float constant or a dequantized int32 constant. */
  bias(v: Value, accScale: number, channels: number): Int32Array | undefined {
    const i = this.info.get(v);
    let values: number[];
    if (i && i.q.kind === 'constant' && i.zp === 0) {
      const q = i.q.value.toNumbers();
      const same = Math.abs(i.scale / accScale - 1) < 1e-6;
      values = q.map((x) => (same ? x : roundHalfAway((x * i.scale) / accScale)));
    } else if (v.kind === 'constant' && v.type.dtype === 'float32') {
      values = v.value.toNumbers().map((x) => roundHalfAway(x / accScale));
    } else {
      return undefined;
    }
    if (values.length !== channels) return undefined;
    return Int32Array.from(values);
  }

  constructor(private readonly symmetricClip: boolean) {}

  /** `range`: the int8 codes the graph's own quantize allowed, when realize uses other parameters. */
  realize(v: Value, scale: number, zp: number, name?: string, range?: Bounds): Value | undefined {
    const { inner, bounds } = peelActivation(v, scale, zp);
    if (range) {
      bounds.lo = Math.max(bounds.lo, range.lo);
      bounds.hi = Math.min(bounds.hi, range.hi);
    }
    // VTA's own flow clips symmetric values to [-127, 127], keeping -x representable for every x.
    if (this.symmetricClip && zp === 0) bounds.lo = Math.max(bounds.lo, -INT8_MAX);
    if (inner.kind !== 'call') return undefined;
    const anchor = inner.args[0];
    if ((inner.op === 'nn.bias_add' || inner.op === 'add') && anchor?.kind === 'call' && (anchor.op === 'nn.conv2d' || anchor.op === 'nn.dense') && this.isConstant(inner.args[1]!)) {
      return this.linear(anchor, inner.args[1]!, scale, zp, bounds, name);
    }
    if (inner.op === 'nn.conv2d' || inner.op === 'nn.dense') return this.linear(inner, undefined, scale, zp, bounds, name);
    const affine = this.channelAffine(inner);
    if (affine) return this.affine(affine, scale, zp, bounds, name);
    if (inner.op === 'add') return this.add(inner, scale, zp, bounds, name);
    if (inner.op === 'nn.avg_pool2d' || inner.op === 'nn.global_avg_pool2d') return this.avgPool(inner, scale, zp, bounds, name);
    if (inner.op === 'concatenate' && inner === v) return this.concat(inner, scale, zp, bounds, name);
    if ((inner.op === 'nn.max_pool2d' || inner.op === 'reshape' || inner.op === 'transpose') && inner === v) {
      const x = this.info.get(inner.args[0]!);
      if (x && x.scale === scale && x.zp === zp && x.q.type.dtype === 'int8') return call(inner.op, [x.q], inner.attrs, { name: inner.name ?? name });
    }
    return undefined;
  }

  /**
   * A concatenation on int8: inputs at the output's scale and zero point as they are, the others
   * requantized to it first (widen, remove the zero point, fixed-point rescale, narrow).
   */
  concat(node: Call, sy: number, zy: number, bounds: Bounds, name?: string): Value | undefined {
    const inputs = node.args.map((a) => this.info.get(a));
    if (inputs.some((i) => !i || i.q.type.dtype !== 'int8')) return undefined;
    const parts = (inputs as QInfo[]).map((i) => {
      if (i.scale === sy && i.zp === zy) return i.q;
      let t: Value = call('cast', [i.q], { dtype: 'int32' }, { name });
      if (i.zp !== 0) t = call('add', [t, int32Scalar(-i.zp)], {}, { name });
      return narrowToInt8(applyFixedPoint(t, chooseFixedPoint(i.scale / sy, INT8_MAX - INT8_MIN), name), zy, bounds.lo, bounds.hi, name);
    });
    return call('concatenate', parts, node.attrs, { name: node.name ?? name });
  }

  /** `x·k + b` with per-channel float constants k (and b) and x a quantized int8 value, else undefined. */
  channelAffine(v: Call): { x: QInfo; k: Float32Array; b?: Float32Array } | undefined {
    const perChannel = (c: Value, C: number): Float32Array | undefined => {
      const s = c.type.shape;
      if (c.kind !== 'constant' || c.type.dtype !== 'float32' || c.value.size !== C) return undefined;
      return s.length === 4 && s[0] === 1 && s[2] === 1 && s[3] === 1 ? (c.value.data as Float32Array) : undefined;
    };
    let mul: Value = v;
    let b: Float32Array | undefined;
    if (v.op === 'add' && v.args[0]!.kind === 'call') {
      b = perChannel(v.args[1]!, v.type.shape[1]!);
      if (!b) return undefined;
      mul = v.args[0]!;
    }
    if (mul.kind !== 'call' || mul.op !== 'multiply' || mul.type.shape.length !== 4) return undefined;
    const x = this.info.get(mul.args[0]!);
    const k = perChannel(mul.args[1]!, mul.type.shape[1]!);
    if (!x || !k || x.q.kind === 'constant' || x.q.type.dtype !== 'int8' || x.q.type.shape.join() !== mul.type.shape.join()) return undefined;
    return { x, k, b };
  }

  /**
   * y = k·sx·(q - zx) + b in units of sy: acc = (q - zx)·M_c + B_c, then a rounding shift by s,
   * with M_c = 2^s·k·sx/sy and B_c = 2^s·b/sy as int32 per-channel constants (operands, so no
   * 16-bit limit): s as large as the rounding immediate and int32 allow.
   */
  affine(a: { x: QInfo; k: Float32Array; b?: Float32Array }, sy: number, zy: number, bounds: Bounds, name?: string): Value | undefined {
    const C = a.k.length;
    const maxX = Math.max(INT8_MAX - a.x.zp, a.x.zp - INT8_MIN);
    const ratio = (c: number) => (a.k[c]! * a.x.scale) / sy;
    const offset = (c: number) => (a.b ? a.b[c]! / sy : 0);
    const worst = (s: number) => Math.max(...Array.from({ length: C }, (_, c) => maxX * Math.abs(Math.round(2 ** s * ratio(c))) + Math.abs(Math.round(2 ** s * offset(c))))) + 2 ** s;
    let s = MAX_ROUNDING_SHIFT;
    while (s > 0 && worst(s) > INT32_MAX) s--;
    if (worst(s) > INT32_MAX) return undefined;
    const vec = (label: string, f: (c: number) => number) => constant(`${name ?? 'affine'}_${label}`, Tensor.from('int32', [1, C, 1, 1], Array.from({ length: C }, (_, c) => Math.round(2 ** s * f(c)))));
    let t: Value = call('cast', [a.x.q], { dtype: 'int32' }, { name });
    if (a.x.zp !== 0) t = call('add', [t, int32Scalar(-a.x.zp)], {}, { name });
    t = call('multiply', [t, vec('multiplier', ratio)], {}, { name });
    if (a.b) t = call('add', [t, vec('offset', offset)], {}, { name });
    return narrowToInt8(roundingShift(t, s, name), zy, bounds.lo, bounds.hi, name);
  }

  /**
   * An average pool as the conv that sums its windows (weights of 1, one group per channel), with
   * the divisor in the weights' scale when every window counts the same, else per output position.
   */
  avgPool(node: Call, sy: number, zy: number, bounds: Bounds, name?: string): Value | undefined {
    const xf = node.args[0]!;
    const x = this.info.get(xf);
    if (!x || x.q.type.dtype !== 'int8' || xf.type.shape.length !== 4) return undefined;
    const [, C, H, W] = xf.type.shape as [number, number, number, number];
    let kernel: readonly number[] = [H, W];
    let strides: readonly number[] = [1, 1];
    let padding: readonly number[] = [0, 0, 0, 0];
    let includePad = true;
    if (node.op === 'nn.avg_pool2d') {
      if (Number(node.attrs['ceil_mode'] ?? 0) !== 0 || node.attrs['layout'] !== undefined) return undefined;
      const win = windowAttrs(node.op, node.attrs, 2);
      if (win.dilation.some((d) => d !== 1)) return undefined;
      kernel = (node.attrs['pool_size'] as number[]).map(Number);
      strides = win.strides;
      padding = win.padding;
      includePad = Number(node.attrs['count_include_pad'] ?? 0) === 1;
    }
    const taps = kernel[0]! * kernel[1]!;
    const attrs = { strides: [...strides], padding: [...padding], groups: C };
    const ones = Tensor.zeros('int8', [C, 1, kernel[0]!, kernel[1]!]);
    (ones.data as Int8Array).fill(1);
    const q = constant(`${name ?? 'pool'}_ones`, ones);
    // The float conv this pool equals (weights 1/count): what linear() reads shapes and attributes from.
    const uniform = includePad || padding.every((p) => p === 0);
    const scale = uniform ? 1 / taps : 1;
    const w = constant(`${name ?? 'pool'}_window`, Tensor.from('float32', ones.shape, new Array(ones.size).fill(scale)));
    this.info.set(w, { q, scale, zp: 0 });
    const anchor = call('nn.conv2d', [xf, w], attrs, { name: node.name ?? name });
    if (uniform) return this.linear(anchor, undefined, sy, zy, bounds, name);
    // Taps inside the image per output position: the divisor with count_include_pad 0.
    const [, , OH, OW] = anchor.type.shape as [number, number, number, number];
    const rows = insideTaps(OH, H, kernel[0]!, strides[0]!, padding[0]!, 1);
    const cols = insideTaps(OW, W, kernel[1]!, strides[1]!, padding[1]!, 1);
    const counts = new Float64Array(OH * OW);
    for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) counts[oy * OW + ox] = (rows[2 * oy + 1]! - rows[2 * oy]!) * (cols[2 * ox + 1]! - cols[2 * ox]!);
    return this.linear(anchor, undefined, sy, zy, bounds, name, counts);
  }

  /**
   * A dense of two int8 activations with zero point 0 (attention): int8 x int8 -> int32 and the
   * requantization; the bound on the sum is K·127·127.
   */
  activationDense(anchor: Call, sy: number, zy: number, bounds: Bounds, name?: string): Value | undefined {
    const [x, w] = anchor.args.map((a) => this.info.get(a));
    if (!x || !w || x.zp !== 0 || w.zp !== 0 || x.q.type.dtype !== 'int8' || w.q.type.dtype !== 'int8' || w.q.kind === 'constant') return undefined;
    const acc = call('nn.dense', [x.q, w.q], { out_dtype: 'int32' }, { name: anchor.name ?? name });
    const bound = anchor.args[0]!.type.shape[1]! * INT8_MAX * INT8_MAX;
    return narrowToInt8(applyFixedPoint(acc, chooseFixedPoint((x.scale * w.scale) / sy, bound), name), zy, bounds.lo, bounds.hi, name);
  }

  /** `divisors`: per output position (H·W), the accumulator is also divided by these (an average pool's window counts). */
  linear(anchor: Call, biasValue: Value | undefined, sy: number, zy: number, bounds: Bounds, name?: string, divisors?: Float64Array): Value | undefined {
    if (anchor.op === 'nn.dense' && !this.isConstant(anchor.args[1]!)) return biasValue ? undefined : this.activationDense(anchor, sy, zy, bounds, name);
    const x = this.info.get(anchor.args[0]!);
    const w = this.weights(anchor.args[1]!);
    if (!x || !w || x.q.type.dtype !== 'int8') return undefined;
    const conv = anchor.op === 'nn.conv2d';
    if (conv && anchor.type.shape.length !== 4) return undefined;
    const O = w.q.type.shape[0]!;
    const accScale = x.scale * w.scale;
    const b = biasValue ? this.bias(biasValue, accScale, O) : new Int32Array(O);
    if (!b) return undefined;
    const acc = call(anchor.op, [x.q, w.q], { ...anchor.attrs, out_dtype: 'int32' }, { name: anchor.name ?? name });
    // The input zero point: Σ (x - zx)·w = Σ x·w - zx·Σ w, where the sum runs over the taps
    // inside the input. VTA (and the conv) pad with 0, so where padding reaches a window the
    // correction differs per position, and the bias becomes a full [1, O, OH, OW] tensor.
    let bias: Tensor;
    const wAbs = new Float64Array(O);
    const wq = w.q.value.data as Int8Array;
    const per = wq.length / O;
    for (let o = 0; o < O; o++) {
      let sum = 0;
      for (let k = o * per; k < (o + 1) * per; k++) sum += Math.abs(wq[k]!);
      wAbs[o] = sum;
    }
    if (x.zp === 0) {
      bias = Tensor.from('int32', conv ? [1, O, 1, 1] : [1, O], b);
    } else {
      const spatial = acc.type.shape.slice(2);
      const inner = sizeOf(spatial);
      const t = conv ? insideTapSums(anchor, wq, O) : new Float64Array(O).map((_, o) => wq.subarray(o * per, (o + 1) * per).reduce((s, v) => s + v, 0));
      const full = new Int32Array(O * inner);
      for (let o = 0; o < O; o++) for (let p = 0; p < inner; p++) full[o * inner + p] = b[o]! - x.zp * t[o * inner + p]!;
      const uniform = full.every((v, i) => v === full[Math.floor(i / inner) * inner]);
      bias = uniform
        ? Tensor.from('int32', conv ? [1, O, 1, 1] : [1, O], Array.from({ length: O }, (_, o) => full[o * inner]!))
        : new Tensor('int32', [1, O, ...spatial], full);
    }
    const biased = call('add', [acc, constant(`${name ?? anchor.op}_bias`, bias)], {}, { name });
    const maxX = Math.max(INT8_MAX - x.zp, x.zp - INT8_MIN);
    let bound = 0;
    const bv = bias.data as Int32Array;
    let maxBias = 0;
    for (const v of bv) maxBias = Math.max(maxBias, Math.abs(v));
    for (let o = 0; o < O; o++) bound = Math.max(bound, wAbs[o]! * maxX);
    bound += maxBias;
    if (!divisors) return narrowToInt8(applyFixedPoint(biased, chooseFixedPoint(accScale / sy, bound), name), zy, bounds.lo, bounds.hi, name);
    // y = (acc·M_p + 2^(k-1)) >> k with M_p = 2^k·ratio/divisor_p, an int32 operand per element (no
    // 16-bit limit): k as large as the rounding immediate and int32 allow.
    const ratio = accScale / sy;
    const largest = ratio / Math.min(...divisors);
    let k = MAX_ROUNDING_SHIFT;
    while (k > 0 && bound * Math.round(2 ** k * largest) + 2 ** k > INT32_MAX) k--;
    const inner = divisors.length;
    const m = new Int32Array(O * inner);
    for (let o = 0; o < O; o++) for (let p = 0; p < inner; p++) m[o * inner + p] = Math.round((2 ** k * ratio) / divisors[p]!);
    if (m.some((v) => v < 1) || bound * Math.round(2 ** k * largest) > INT32_MAX) return undefined;
    const scaled = call('multiply', [biased, constant(`${name ?? anchor.op}_divisor`, new Tensor('int32', [1, O, ...acc.type.shape.slice(2)], m))], {}, { name });
    return narrowToInt8(roundingShift(scaled, k, name), zy, bounds.lo, bounds.hi, name);
  }

  /**
   * Requantized add, in the shape VTA's epilogue runs it: the main operand is rescaled to the
   * residual's scale (ADD -za, fixed-point multiply, rounding shift), the residual is added as it
   * is (sign-extended int8), its zero point removed, and the sum requantized to the output. The
   * main operand is the coarser one: rescaling it into the finer scale rounds by at most half a
   * fine step. (Its producer's conv group absorbs the add when only the add reads it.)
   */
  add(node: Call, sy: number, zy: number, bounds: Bounds, name?: string): Value | undefined {
    const [x, y] = node.args as [Value, Value];
    const ix = this.info.get(x);
    const iy = this.info.get(y);
    if (!ix || !iy || ix.q.kind === 'constant' || iy.q.kind === 'constant') return undefined;
    if (ix.q.type.dtype !== 'int8' || iy.q.type.dtype !== 'int8') return undefined;
    if (ix.q.type.shape.join() !== iy.q.type.shape.join()) return undefined;
    const [a, b] = ix.scale >= iy.scale ? [ix, iy] : [iy, ix];
    let t: Value = call('cast', [a.q], { dtype: 'int32' }, { name });
    if (a.zp !== 0) t = call('add', [t, int32Scalar(-a.zp)], {}, { name });
    t = applyFixedPoint(t, chooseFixedPoint(a.scale / b.scale, INT8_MAX - INT8_MIN), name);
    t = call('add', [t, call('cast', [b.q], { dtype: 'int32' }, { name })], {}, { name: node.name ?? name });
    if (b.zp !== 0) t = call('add', [t, int32Scalar(-b.zp)], {}, { name });
    const bound = Math.ceil(((INT8_MAX - INT8_MIN) * a.scale) / b.scale) + (INT8_MAX - INT8_MIN) + 1;
    return narrowToInt8(applyFixedPoint(t, chooseFixedPoint(b.scale / sy, bound), name), zy, bounds.lo, bounds.hi, name);
  }
}

/** Rewrites every QDQ pattern the integer ALU can run; see the module comment. */
export interface RealizeOptions {
  /** Clip outputs with zero point 0 to [-127, 127] (VTA's symmetric convention) instead of QuantizeLinear's [-128, 127]. */
  symmetricClip?: boolean;
  /**
   * Re-quantize every int8 tensor with a nonzero zero point symmetrically (zero point 0, the scale
   * widened to cover the same range, e.g. about 2x for onnxruntime's ReLU outputs), trading one bit
   * of those activations for per-channel biases only. Off by default: the model's own zero points
   * are followed exactly.
   */
  symmetricActivations?: boolean;
}

/** The symmetric (zero point 0) parameters covering the range of int8 (scale, zp). */
function symmetricParams(scale: number, zp: number): { scale: number; zp: number } {
  return { scale: Math.fround((scale * Math.max(INT8_MAX - zp, zp - INT8_MIN)) / INT8_MAX), zp: 0 };
}

export function realizeQdq(fn: IRFunction, opts: RealizeOptions = {}): IRFunction {
  const r = new Realizer(opts.symmetricClip ?? false);
  // With symmetricActivations, the parameters each int8 value really has, where they differ from its graph's.
  const actual = new Map<Value, { scale: number; zp: number }>();
  const scalars = (name: string, p: { scale: number; zp: number }, zpType: Value): [Value, Value] => [
    constant(`${name}_scale`, Tensor.from('float32', [], [p.scale])),
    constant(`${name}_zero_point`, Tensor.from(zpType.type.dtype, [], [p.zp])),
  ];
  return rewrite(fn, (node, args) => {
    if (node.op === 'qnn.dequantize') {
      const p = actual.get(args[0]!);
      const built = p ? call(node.op, [args[0]!, ...scalars(node.name ?? 'dq', p, args[2]!)], node.attrs, { name: node.name, device: node.device }) : withArgs(node, args);
      const params = p ?? r.params(node, args);
      if (params) r.info.set(built, { q: args[0]!, ...params });
      return built;
    }
    if (node.op === 'qnn.quantize' && node.type.dtype === 'int8') {
      const given = r.params(node, args);
      if (!given) return undefined;
      if (!opts.symmetricActivations || given.zp === 0) return r.realize(args[0]!, given.scale, given.zp, node.name);
      // The graph's quantize also clipped to its range (a zero point of -128 is an implied ReLU): keep that.
      const p = symmetricParams(given.scale, given.zp);
      const lo = given.scale * (INT8_MIN - given.zp);
      const hi = given.scale * (INT8_MAX - given.zp);
      const range = { lo: Math.round(lo / p.scale), hi: Math.min(INT8_MAX, Math.round(hi / p.scale)) };
      const out = r.realize(args[0]!, p.scale, p.zp, node.name, range) ??
        call(node.op, [call('clip', [args[0]!], { a_min: lo, a_max: hi }, { name: node.name }), ...scalars(node.name ?? 'q', p, args[2]!)], node.attrs, { name: node.name, device: node.device });
      actual.set(out, p);
      return out;
    }
    return undefined;
  });
}
