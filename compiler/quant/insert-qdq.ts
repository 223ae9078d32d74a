/**
 * Float model -> QDQ graph, the form realizeQdq turns into integer ops. The
 * quantization points follow VTA's flow (reference §3): the input of every
 * quantized conv or dense, the end of every quantized conv or dense (after its bias and ReLU),
 * every residual add whose operands are quantized, max pools of quantized
 * values (which keep their input's scale), and average pools of quantized
 * values (with their own scale), and concatenations of quantized values (one
 * scale, which the inputs share unless another concat already tied them). Scales are per tensor and
 * symmetric (zero point 0), from calibration; weights use max|w| / 127. In
 * 'pow2' mode every scale is rounded up to a power of two, so each
 * requantization is a plain rounding shift, as VTA's own quantizer does.
 */
import { call, constant, topoOrder, type Call, type IRFunction, type Value } from '../ir/graph.ts';
import { Tensor } from '../tensor/tensor.ts';
import { consumers, rewrite } from '../passes/rewrite.ts';
import { chooseThreshold, observe, type CalibrationOptions } from './calibrate.ts';

export type ScaleMode = 'float' | 'pow2';

export interface QuantizeOptions extends CalibrationOptions {
  scaleMode: ScaleMode;
  /** 'cpu': the first conv stays in float (VTA's choice); 'vta': it is quantized like the others. */
  firstConv: 'cpu' | 'vta';
}

function roundScale(s: number, mode: ScaleMode): number {
  return mode === 'pow2' ? 2 ** Math.ceil(Math.log2(s)) : Math.fround(s);
}

/** The last value of a conv's bias/ReLU chain, following single consumers. */
function endOf(v: Value, readers: Map<Value, Call[]>): Value {
  let end = v;
  for (;;) {
    const next = readers.get(end);
    if (next?.length !== 1) return end;
    const c = next[0]!;
    const biasLike = (c.op === 'nn.bias_add' || c.op === 'add') && c.args[1]!.kind === 'constant';
    if (!biasLike && c.op !== 'nn.relu' && c.op !== 'clip') return end;
    end = c;
  }
}

interface Point {
  /** A calibrated point, or the point whose parameters this one shares. */
  sameAs?: Value;
}

/** Where the float graph gets quantize/dequantize pairs, and which convs get int8 weights. */
function planPoints(fn: IRFunction, opts: QuantizeOptions): { points: Map<Value, Point>; convs: Set<Call> } {
  const readers = consumers(fn);
  const points = new Map<Value, Point>();
  const convs = new Set<Call>();
  let first = true;
  for (const c of topoOrder(fn)) {
    if (c.op === 'nn.conv2d' && c.type.dtype === 'float32' && c.args[1]!.kind === 'constant' && c.type.shape.length === 4) {
      const skip = first && opts.firstConv === 'cpu';
      first = false;
      if (skip) continue;
      convs.add(c);
      if (!points.has(c.args[0]!)) points.set(c.args[0]!, {});
      points.set(endOf(c, readers), {});
    } else if (c.op === 'nn.dense' && c.type.dtype === 'float32' && c.args[1]!.kind === 'constant' && denseInputQuantized(c.args[0]!, points)) {
      // A flatten of a quantized tensor keeps its scale. A classifier after a float global pool
      // stays float, as TVM's skip_dense_layer keeps it, until the pool itself is quantized.
      convs.add(c);
      quantizeView(c.args[0]!, points);
      points.set(endOf(c, readers), {});
    } else if (c.op === 'nn.dense' && c.type.dtype === 'float32' && c.args[1]!.kind !== 'constant') {
      // Two activations (attention): both operands quantized, like a conv's input.
      for (const a of c.args) quantizeView(a, points);
      points.set(endOf(c, readers), {});
    } else if (c.op === 'add' && c.args.every((a) => points.has(a)) && c.args[0]!.type.shape.join() === c.args[1]!.type.shape.join()) {
      points.set(endOf(c, readers), {});
    } else if (c.op === 'concatenate' && c.type.shape.length === 4 && channelAxis(c) && c.args.every((a) => points.has(a))) {
      // One scale for the concatenated tensor; inputs not tied to another concat already share it,
      // so their producers write it directly (the others are requantized).
      points.set(c, {});
      for (const a of c.args) {
        const p = points.get(a)!;
        if (!p.sameAs && a.kind === 'call' && c.args.filter((b) => b === a).length === 1) points.set(a, { sameAs: c });
      }
    } else if ((c.op === 'nn.avg_pool2d' || c.op === 'nn.global_avg_pool2d') && points.has(c.args[0]!) && c.type.shape.length === 4) {
      // Averaging narrows the range (a global pool much more): its own calibrated scale, after a ReLU that follows.
      points.set(endOf(c, readers), {});
    } else if (c.op === 'nn.max_pool2d' && points.has(c.args[0]!)) {
      points.set(c, { sameAs: rootOf(c.args[0]!, points) });
    }
  }
  return { points, convs };
}

/** A concatenation along the channels of an NCHW tensor. */
const channelAxis = (c: Call): boolean => Number(c.attrs['axis']) === 1 || Number(c.attrs['axis']) === -3;

const POOLS = new Set(['nn.global_avg_pool2d', 'nn.global_max_pool2d', 'nn.avg_pool2d', 'mean']);

function denseInputQuantized(x: Value, points: Map<Value, Point>): boolean {
  const base = x.kind === 'call' && x.op === 'reshape' ? x.args[0]! : x;
  return points.has(base) || !(base.kind === 'call' && POOLS.has(base.op));
}

const rootOf = (v: Value, points: Map<Value, Point>): Value => points.get(v)!.sameAs ?? v;

/**
 * A quantization point at `v`. Reshapes and transposes of a quantized tensor keep its scale (each
 * gets the same parameters, so realizeQdq moves the int8 values themselves); anything else is
 * calibrated.
 */
function quantizeView(v: Value, points: Map<Value, Point>): void {
  const chain: Value[] = [];
  let base = v;
  while (!points.has(base) && base.kind === 'call' && (base.op === 'reshape' || base.op === 'transpose')) {
    chain.push(base);
    base = base.args[0]!;
  }
  if (points.has(base)) for (const c of chain) points.set(c, { sameAs: rootOf(base, points) });
  else if (!points.has(v)) points.set(v, {});
}

function qdq(v: Value, scale: number, name: string): Value {
  const s = constant(`${name}_scale`, Tensor.from('float32', [], [scale]));
  const zp = constant(`${name}_zero_point`, Tensor.from('int8', [], [0]));
  const q = call('qnn.quantize', [v, s, zp], { axis: 1, out_dtype: 'int8' }, { name });
  return call('qnn.dequantize', [q, s, zp], { axis: 1 }, { name });
}

function quantizedWeights(w: Tensor, mode: ScaleMode, name: string): Value {
  const d = w.data as Float32Array;
  let max = 0;
  for (let i = 0; i < d.length; i++) max = Math.max(max, Math.abs(d[i]!));
  const scale = roundScale(max > 0 ? max / 127 : 1, mode);
  const q = new Int8Array(d.length);
  for (let i = 0; i < d.length; i++) {
    const r = Math.round(d[i]! / scale);
    q[i] = r > 127 ? 127 : r < -127 ? -127 : r;
  }
  const s = constant(`${name}_scale`, Tensor.from('float32', [], [scale]));
  return call('qnn.dequantize', [constant(`${name}_quantized`, new Tensor('int8', w.shape, q)), s, constant(`${name}_zero_point`, Tensor.from('int8', [], [0]))], { axis: 1 });
}

/** Calibrates `fn` on `samples` and returns the QDQ graph. */
export function insertQdq(fn: IRFunction, samples: readonly Tensor[], opts: QuantizeOptions): IRFunction {
  const { points, convs } = planPoints(fn, opts);
  const calibrated = [...points].filter(([, p]) => !p.sameAs).map(([v]) => v);
  const stats = observe(fn, calibrated, samples);
  const scales = new Map<Value, number>();
  calibrated.forEach((v, i) => scales.set(v, roundScale(chooseThreshold(stats[i]!, opts) / 127, opts.scaleMode)));
  // sameAs chains (a max pool of a concat input, nested concats) end at a calibrated point.
  const root = (v: Value): Value => {
    for (let p = points.get(v); p?.sameAs; p = points.get(v)) v = p.sameAs;
    return v;
  };
  for (const [v, p] of points) if (p.sameAs) scales.set(v, scales.get(root(v))!);
  const nameOf = (v: Value) => (v.kind === 'call' ? v.name ?? v.op : v.name);
  // Parameters are replaced first so that the rewrite below sees their QDQ form as arguments.
  const quantizedParams = new Map<Value, Value>();
  for (const p of fn.params) if (scales.has(p)) quantizedParams.set(p, qdq(p, scales.get(p)!, p.name));
  const out = rewrite(fn, (node, args) => {
    const mapped = args.map((a, i) => quantizedParams.get(node.args[i]!) ?? a);
    const rebuilt = convs.has(node)
      ? call(node.op, [mapped[0]!, quantizedWeights((node.args[1] as { value: Tensor }).value, opts.scaleMode, nameOf(node))], node.attrs, { name: node.name })
      : mapped.some((a, i) => a !== node.args[i]) ? call(node.op, mapped, node.attrs, { name: node.name }) : node;
    return scales.has(node) ? qdq(rebuilt, scales.get(node)!, nameOf(node)) : rebuilt;
  });
  return { params: out.params, results: out.results.map((r) => quantizedParams.get(r) ?? r) };
}
