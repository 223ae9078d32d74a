/**
 * Graph clean-up before quantization (Relay's FoldConstant + SimplifyInference
 * + FoldScaleAxis + the bias canonicalization graph_pack expects), in this order:
 * - foldConstants: calls whose operands are all constant are evaluated by the
 *   CPU executor's kernels, except dequantize, whose int8 operand the QDQ
 *   rewrite needs; weights built by ConstantFill/ConstantOfShape (`full`),
 *   Expand, Cast, Unsqueeze... become the constants the quantizer sees;
 * - foldBatchNorm: batch_norm after a conv that nothing else reads (with or
 *   without bias) scales the conv's weights and becomes its bias; any other
 *   batch_norm becomes a per-channel multiply and add;
 * - foldChannelScale: a per-channel multiply by a constant after such a conv
 *   (a batch norm an exporter decomposed) scales the weights and the bias;
 * - canonicalizeBias: a per-channel constant added to a conv or dense output
 *   becomes nn.bias_add, and consecutive bias_adds merge.
 * Each folding can expose another (a folded scale leaves constants to fold), so
 * `simplify` repeats them until nothing changes. The importer already drops
 * Identity and Dropout.
 */
import { evaluate } from '../cpu/execute.ts';
import { call, constant, type Call, type Constant, type IRFunction, type Value } from '../ir/graph.ts';
import { Tensor } from '../tensor/tensor.ts';
import { consumers, rewrite } from './rewrite.ts';

/** What simplify changed, for the compile summary. */
export interface SimplifyStats {
  /** Calls replaced by their constant value. */
  folded: number;
  /** batch_norms folded into a conv, and per-channel scales folded into a conv's weights. */
  batchNorms: number;
  scales: number;
  /** Per-channel adds made (or merged into) a conv's or dense's nn.bias_add. */
  biases: number;
}

export const emptyStats = (): SimplifyStats => ({ folded: 0, batchNorms: 0, scales: 0, biases: 0 });

const changes = (s: SimplifyStats): number => s.folded + s.batchNorms + s.scales + s.biases;

const floats = (v: Value): Float32Array | undefined => (v.kind === 'constant' && v.type.dtype === 'float32' ? (v.value.data as Float32Array) : undefined);

/** A float constant with one value per channel of an NCHW tensor ([C], [1, C, 1, 1] or [C, 1, 1]). */
function perChannel(v: Value, channels: number): Float32Array | undefined {
  const d = floats(v);
  if (!d || d.length !== channels) return undefined;
  const s = v.type.shape;
  const ok = s.length === 1 || (s.length === 3 && s[1] === 1 && s[2] === 1) || (s.length === 4 && s[0] === 1 && s[2] === 1 && s[3] === 1);
  return ok ? d : undefined;
}

function vector(name: string, values: ArrayLike<number>): Constant {
  return constant(name, Tensor.from('float32', [values.length], values));
}

/** The conv (through an optional bias_add) whose output only `v`'s consumer reads, with that bias. */
function soleConv(v: Value, readers: Map<Value, Call[]>, C: number): { conv: Call; bias?: Float32Array } | undefined {
  const single = (x: Value) => readers.get(x)?.length === 1;
  let inner = v;
  let bias: Float32Array | undefined;
  if (inner.kind === 'call' && inner.op === 'nn.bias_add' && perChannel(inner.args[1]!, C) && single(inner)) {
    bias = perChannel(inner.args[1]!, C)!;
    inner = inner.args[0]!;
  }
  if (inner.kind !== 'call' || inner.op !== 'nn.conv2d' || !single(inner) || inner.type.shape[1] !== C || !floats(inner.args[1]!)) return undefined;
  return { conv: inner, bias };
}

/** The conv with every output channel's weights scaled, then its bias (scaled and shifted). */
function scaledConv(conv: Call, k: ArrayLike<number>, bias: ArrayLike<number>, name: string): Value {
  const w = floats(conv.args[1]!)!;
  const C = k.length;
  const per = w.length / C;
  const scaled = w.map((v, i) => v * k[Math.floor(i / per)]!);
  const rebuilt = call(conv.op, [conv.args[0]!, constant(`${name}_weight`, new Tensor('float32', conv.args[1]!.type.shape, scaled))], conv.attrs, { name: conv.name });
  return call('nn.bias_add', [rebuilt, vector(`${name}_bias`, bias)], { axis: 1 }, { name });
}

export function foldBatchNorm(fn: IRFunction, stats: SimplifyStats = emptyStats()): IRFunction {
  const readers = consumers(fn);
  return rewrite(fn, (node, args) => {
    if (node.op !== 'nn.batch_norm' || Number(node.attrs['axis'] ?? 1) !== 1) return undefined;
    const [x, gamma, beta, mean, variance] = args.map(floats) as (Float32Array | undefined)[];
    if (!gamma || !beta || !mean || !variance) return undefined;
    const eps = Number(node.attrs['epsilon'] ?? 1e-5);
    const C = gamma.length;
    const k = gamma.map((g, c) => g / Math.sqrt(variance[c]! + eps));
    const name = node.name ?? 'bn';
    // The readers are those of the graph before this walk; args[0] is its rewrite of node.args[0].
    const sole = x === undefined && args[0] === node.args[0] ? soleConv(args[0]!, readers, C) : undefined;
    if (sole) {
      stats.batchNorms++;
      const bias = sole.bias ?? new Float32Array(C);
      return scaledConv(sole.conv, k, bias.map((b, c) => (b - mean[c]!) * k[c]! + beta[c]!), name);
    }
    const shape = args[0]!.type.shape.map((d, i) => (i === 1 ? d : 1));
    const scale = constant(`${name}_scale`, Tensor.from('float32', shape, k));
    const offset = constant(`${name}_shift`, Tensor.from('float32', shape, gamma.map((_, c) => beta[c]! - mean[c]! * k[c]!)));
    return call('add', [call('multiply', [args[0]!, scale], {}, { name }), offset], {}, { name });
  });
}

/** multiply(conv [+ bias_add], per-channel constant) -> the conv with scaled weights and bias. */
export function foldChannelScale(fn: IRFunction, stats: SimplifyStats = emptyStats()): IRFunction {
  const readers = consumers(fn);
  return rewrite(fn, (node, args) => {
    if (node.op !== 'multiply' || args[0] !== node.args[0] || node.type.shape.length !== 4) return undefined;
    const C = node.type.shape[1]!;
    const k = perChannel(args[1]!, C);
    const sole = k ? soleConv(args[0]!, readers, C) : undefined;
    if (!k || !sole || node.type.shape.join() !== args[0]!.type.shape.join()) return undefined;
    stats.scales++;
    const bias = sole.bias ?? new Float32Array(C);
    return scaledConv(sole.conv, k, bias.map((b, c) => b * k[c]!), node.name ?? 'scale');
  });
}

export function canonicalizeBias(fn: IRFunction, stats: SimplifyStats = emptyStats()): IRFunction {
  return rewrite(fn, (node, args) => {
    if (node.op !== 'add' && node.op !== 'nn.bias_add') return undefined;
    const [x, b] = args as [Value, Value];
    if (x.kind !== 'call' || x.type.shape.length < 2) return undefined;
    const C = x.type.shape[1]!;
    const values = node.op === 'add' ? perChannel(b, C) : floats(b);
    if (!values || node.type.shape.join() !== x.type.shape.join()) return undefined;
    if (x.op === 'nn.bias_add') {
      const prev = floats(x.args[1]!);
      if (prev) {
        stats.biases++;
        return call('nn.bias_add', [x.args[0]!, vector(`${node.name ?? 'bias'}_merged`, values.map((v, c) => v + prev[c]!))], { axis: 1 }, { name: node.name });
      }
    }
    if (node.op !== 'add' || (x.op !== 'nn.conv2d' && x.op !== 'nn.dense')) return undefined;
    stats.biases++;
    return call('nn.bias_add', [x, vector(`${node.name ?? 'bias'}_bias`, values)], { axis: 1 }, { name: node.name });
  });
}

export function foldConstants(fn: IRFunction, stats: SimplifyStats = emptyStats()): IRFunction {
  return rewrite(fn, (node: Call, args) => {
    if (node.op === 'qnn.dequantize' || !args.every((a) => a.kind === 'constant')) return undefined;
    stats.folded++;
    return constant(node.name ?? node.op, evaluate(call(node.op, args, node.attrs)));
  });
}

/** The passes above, repeated until a round changes nothing (each change removes a node or turns an add into a bias, so this ends). */
export function simplify(fn: IRFunction, stats: SimplifyStats = emptyStats()): IRFunction {
  let cur = fn;
  for (let before = -1; changes(stats) !== before; ) {
    before = changes(stats);
    cur = canonicalizeBias(foldChannelScale(foldBatchNorm(foldConstants(cur, stats), stats), stats), stats);
  }
  return cur;
}
