import type { Attrs, TensorType } from '../../ir/graph.ts';
import { floatAttr, stringAttr } from '../../ir/attrs.ts';
import { isDType, isFloat, type DType, type NumberData, type TensorData } from '../../tensor/dtype.ts';
import { Tensor, stridesOf } from '../../tensor/tensor.ts';
import { ExecutionError } from '../errors.ts';
import { registerKernel } from '../registry.ts';

type NumFn = (a: number, b: number) => number;
type BigFn = (a: bigint, b: bigint) => bigint;

/**
 * Integer results are computed exactly in doubles (or Math.imul) and wrap to the
 * dtype when stored in its typed array, as two's-complement hardware would.
 */
export const BINARY: Record<string, { float: NumFn; int: NumFn; big: BigFn }> = {
  add: { float: (a, b) => a + b, int: (a, b) => a + b, big: (a, b) => a + b },
  subtract: { float: (a, b) => a - b, int: (a, b) => a - b, big: (a, b) => a - b },
  multiply: { float: (a, b) => a * b, int: (a, b) => Math.imul(a, b), big: (a, b) => a * b },
  // Integer division truncates toward zero; dividing by zero gives 0 rather than an exception.
  divide: { float: (a, b) => a / b, int: (a, b) => (b === 0 ? 0 : Math.trunc(a / b)), big: (a, b) => (b === 0n ? 0n : a / b) },
  maximum: { float: (a, b) => (a !== a || b !== b ? NaN : a > b ? a : b), int: (a, b) => (a > b ? a : b), big: (a, b) => (a > b ? a : b) },
  minimum: { float: (a, b) => (a !== a || b !== b ? NaN : a < b ? a : b), int: (a, b) => (a < b ? a : b), big: (a, b) => (a < b ? a : b) },
};

/** Strides of `shape` broadcast into `outShape` (0 along broadcast axes). */
function broadcastStrides(shape: readonly number[], outShape: readonly number[]): number[] {
  const s = stridesOf(shape);
  const lead = outShape.length - shape.length;
  return outShape.map((_, i) => (i < lead || shape[i - lead] === 1 ? 0 : s[i - lead]!));
}

export function binary(a: Tensor, b: Tensor, type: TensorType, fns: { float: NumFn; int: NumFn; big: BigFn }): Tensor {
  const out = Tensor.zeros(type.dtype, type.shape);
  const n = out.size;
  if (out.data instanceof BigInt64Array) {
    const x = a.data as BigInt64Array, y = b.data as BigInt64Array, o = out.data;
    walkBroadcast(a.shape, b.shape, type.shape, (i, ia, ib) => { o[i] = fns.big(x[ia]!, y[ib]!); });
    return out;
  }
  const f = isFloat(type.dtype) ? fns.float : fns.int;
  const x = a.data as NumberData, y = b.data as NumberData, o = out.data as NumberData;
  if (a.size === n && b.size === n) {
    for (let i = 0; i < n; i++) o[i] = f(x[i]!, y[i]!);
  } else if (b.size === 1) {
    const v = y[0]!;
    for (let i = 0; i < n; i++) o[i] = f(x[i]!, v);
  } else {
    walkBroadcast(a.shape, b.shape, type.shape, (i, ia, ib) => { o[i] = f(x[ia]!, y[ib]!); });
  }
  return out;
}

function walkBroadcast(sa: readonly number[], sb: readonly number[], outShape: readonly number[], visit: (i: number, ia: number, ib: number) => void): void {
  const rank = outShape.length;
  const ta = broadcastStrides(sa, outShape);
  const tb = broadcastStrides(sb, outShape);
  const idx = new Array<number>(rank).fill(0);
  let ia = 0;
  let ib = 0;
  let total = 1;
  for (const d of outShape) total *= d;
  for (let i = 0; i < total; i++) {
    visit(i, ia, ib);
    for (let d = rank - 1; d >= 0; d--) {
      ia += ta[d]!;
      ib += tb[d]!;
      if (++idx[d]! < outShape[d]!) break;
      ia -= ta[d]! * outShape[d]!;
      ib -= tb[d]! * outShape[d]!;
      idx[d] = 0;
    }
  }
}

for (const [op, fns] of Object.entries(BINARY)) registerKernel(op, ([a, b], _attrs, type) => binary(a!, b!, type, fns));

registerKernel('nn.prelu', ([x, slope], _attrs, type) =>
  binary(x!, slope!, type, {
    float: (a, s) => (a < 0 ? a * s : a),
    int: (a, s) => (a < 0 ? Math.imul(a, s) : a),
    big: (a, s) => (a < 0n ? a * s : a),
  }));

function unary(x: Tensor, f: (v: number) => number, big?: (v: bigint) => bigint, op = ''): Tensor {
  const out = Tensor.zeros(x.dtype, x.shape);
  if (out.data instanceof BigInt64Array) {
    if (!big) throw new ExecutionError(op, 'int64 is not supported');
    const s = x.data as BigInt64Array;
    for (let i = 0; i < s.length; i++) out.data[i] = big(s[i]!);
    return out;
  }
  const s = x.data as NumberData;
  const o = out.data;
  for (let i = 0; i < s.length; i++) o[i] = f(s[i]!);
  return out;
}

function floatOnly(op: string, x: Tensor): void {
  if (!isFloat(x.dtype)) throw new ExecutionError(op, `needs a float input, got ${x.dtype}`);
}

registerKernel('nn.relu', ([x], _a, _t, op) => {
  // After every convolution: a plain loop rather than a call per element.
  if (x!.data instanceof Float32Array) {
    const src = x!.data;
    const out = Tensor.zeros('float32', x!.shape);
    const o = out.data as Float32Array;
    for (let i = 0; i < src.length; i++) o[i] = src[i]! > 0 ? src[i]! : src[i]! === src[i]! ? 0 : src[i]!;
    return out;
  }
  return unary(x!, (v) => (v > 0 ? v : v === v ? 0 : v), (v) => (v > 0n ? v : 0n), op);
});
registerKernel('negative', ([x], _a, _t, op) => unary(x!, (v) => -v, (v) => -v, op));
registerKernel('nn.leaky_relu', ([x], attrs, _t, op) => {
  floatOnly(op, x!);
  const alpha = floatAttr(op, attrs, 'alpha', 0.01);
  return unary(x!, (v) => (v < 0 ? v * alpha : v));
});
registerKernel('sigmoid', ([x], _a, _t, op) => {
  floatOnly(op, x!);
  return unary(x!, (v) => 1 / (1 + Math.exp(-v)));
});
registerKernel('tanh', ([x], _a, _t, op) => {
  floatOnly(op, x!);
  return unary(x!, Math.tanh);
});
registerKernel('sqrt', ([x], _a, _t, op) => {
  floatOnly(op, x!);
  return unary(x!, Math.sqrt);
});

registerKernel('clip', ([x], attrs: Attrs, _t, op) => {
  const lo = floatAttr(op, attrs, 'a_min', -Infinity);
  const hi = floatAttr(op, attrs, 'a_max', Infinity);
  const clamp = (v: number) => (v < lo ? lo : v > hi ? hi : v);
  return unary(x!, clamp, (v) => (Number(v) < lo ? BigInt(Math.ceil(lo)) : Number(v) > hi ? BigInt(Math.floor(hi)) : v), op);
});

/** Float to integer truncates toward zero and wraps; NaN and infinities give 0 (what the typed-array store does). */
export function castData(src: TensorData, dtype: DType, out: TensorData): void {
  if (out instanceof BigInt64Array) {
    if (src instanceof BigInt64Array) out.set(src);
    else for (let i = 0; i < src.length; i++) out[i] = BigInt(Number.isFinite(src[i]!) ? Math.trunc(src[i]!) : 0);
    return;
  }
  if (!(src instanceof BigInt64Array)) {
    out.set(src);
    return;
  }
  const narrow = isFloat(dtype) ? (v: bigint) => Number(v) : dtype === 'uint8' ? (v: bigint) => Number(BigInt.asUintN(8, v)) : (v: bigint) => Number(BigInt.asIntN(32, v));
  for (let i = 0; i < src.length; i++) out[i] = narrow(src[i]!);
}

registerKernel('cast', ([x], attrs, type, op) => {
  const dtype = stringAttr(op, attrs, 'dtype');
  if (!isDType(dtype)) throw new ExecutionError(op, `unknown dtype ${dtype}`);
  const out = Tensor.zeros(type.dtype, type.shape);
  castData(x!.data, dtype, out.data);
  return out;
});
