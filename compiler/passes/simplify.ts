/**
 * Graph clean-up before quantization (Relay's FoldConstant + SimplifyInference
 * + FoldScaleAxis + the bias canonicalization graph_pack expects), in this order:
 * - foldConstants: calls whose operands are all constant are evaluated by the
 *   CPU executor's kernels, except dequantize, whose int8 operand the QDQ
 *   rewrite needs; weights built by ConstantFill/ConstantOfShape (`full`),
 *   Expand, Cast, Unsqueeze... become the constants the quantizer sees;
 * - matmulToDense (matmul.ts): MatMul with constant weights becomes nn.dense;
 * - foldBatchNorm: batch_norm after a conv that nothing else reads (with or
 *   without bias) scales the conv's weights and becomes its bias; any other
 *   batch_norm becomes a per-channel multiply and add;
 * - foldChannelScale: a per-channel multiply by a constant after such a conv
 *   (a batch norm an exporter decomposed) scales the weights and the bias;
 * - canonicalizeBias: a per-channel constant added to a conv or dense output
 *   becomes nn.bias_add, and consecutive bias_adds merge;
 * - foldChannelShuffle: a Reshape-Transpose-Reshape channel shuffle after a
 *   conv permutes the conv's output channels instead (a layout-only op done by
 *   the weights' addressing, so no tensor moves);
 * - pushReluIntoConcat: a ReLU of a concatenation becomes a ReLU of each input.
 * Each folding can expose another (a folded scale leaves constants to fold), so
 * `simplify` repeats them until nothing changes. The importer already drops
 * Identity and Dropout.
 */
import { evaluate } from '../cpu/execute.ts';
import { call, constant, type Call, type Constant, type IRFunction, type Value } from '../ir/graph.ts';
import { Tensor } from '../tensor/tensor.ts';
import { matmulToDense } from './matmul.ts';
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
  /** Channel shuffles (Reshape-Transpose-Reshape) folded into the conv before them. */
  shuffles: number;
  /** ReLUs of a concatenation moved onto its inputs. */
  relus: number;
}

export const emptyStats = (): SimplifyStats => ({ folded: 0, batchNorms: 0, scales: 0, biases: 0, shuffles: 0, relus: 0 });

const changes = (s: SimplifyStats): number => s.folded + s.batchNorms + s.scales + s.biases + s.shuffles + s.relus;

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

/** Whether a value is read by one call only and is not a result of the function. */
function singleReader(fn: IRFunction): (v: Value) => boolean {
  const readers = consumers(fn);
  const results = new Set(fn.results);
  return (v) => readers.get(v)?.length === 1 && !results.has(v);
}

/** The conv (through an optional bias_add) whose output only `v`'s consumer reads, with that bias. */
function soleConv(v: Value, single: (v: Value) => boolean, C: number): { conv: Call; bias?: Float32Array } | undefined {
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
  const single = singleReader(fn);
  return rewrite(fn, (node, args) => {
    if (node.op !== 'nn.batch_norm' || Number(node.attrs['axis'] ?? 1) !== 1) return undefined;
    const [x, gamma, beta, mean, variance] = args.map(floats) as (Float32Array | undefined)[];
    if (!gamma || !beta || !mean || !variance) return undefined;
    const eps = Number(node.attrs['epsilon'] ?? 1e-5);
    const C = gamma.length;
    const k = gamma.map((g, c) => g / Math.sqrt(variance[c]! + eps));
    const name = node.name ?? 'bn';
    // The readers are those of the graph before this walk; args[0] is its rewrite of node.args[0].
    const sole = x === undefined && args[0] === node.args[0] ? soleConv(args[0]!, single, C) : undefined;
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
  const single = singleReader(fn);
  return rewrite(fn, (node, args) => {
    if (node.op !== 'multiply' || args[0] !== node.args[0] || node.type.shape.length !== 4) return undefined;
    const C = node.type.shape[1]!;
    const k = perChannel(args[1]!, C);
    const sole = k ? soleConv(args[0]!, single, C) : undefined;
    if (!k || !sole || node.type.shape.join() !== args[0]!.type.shape.join()) return undefined;
    stats.scales++;
    const bias = sole.bias ?? new Float32Array(C);
    return scaledConv(sole.conv, k, bias.map((b, c) => b * k[c]!), node.name ?? 'scale');
  });
}

/**
 * The channel permutation a Reshape-Transpose-Reshape (ShuffleNet's channel shuffle) makes of an
 * NCHW tensor: output channel j is input channel perm[j]. Undefined for any other pattern.
 */
export function channelShuffle(node: Call): { x: Value; perm: number[] } | undefined {
  const t = node.args[0];
  const r = t?.kind === 'call' && t.op === 'transpose' ? t.args[0] : undefined;
  if (node.op !== 'reshape' || !r || r.kind !== 'call' || r.op !== 'reshape' || t?.kind !== 'call') return undefined;
  const x = r.args[0]!;
  const [N, C, H, W] = x.type.shape as [number, number, number, number];
  const [n, g, cg, h, w] = r.type.shape as [number, number, number, number, number];
  const axes = (t.attrs['axes'] as number[] | undefined)?.map(Number);
  if (x.type.shape.length !== 4 || r.type.shape.length !== 5 || node.type.shape.join() !== x.type.shape.join()) return undefined;
  if (n !== N || g * cg !== C || h !== H || w !== W || axes?.join() !== '0,2,1,3,4') return undefined;
  // After the transpose the channels run (a, b), a < cg, b < g: output j = a·g + b is input b·cg + a.
  return { x, perm: Array.from({ length: C }, (_, j) => (j % g) * cg + Math.floor(j / g)) };
}

/**
 * A channel shuffle after a conv (+ bias_add, + relu), each read only by the next, folds into the
 * conv: its output channels permuted, as a groups = 1 conv (zeros between the original groups)
 * when it was grouped, since the permutation mixes groups. A depthwise producer is left alone
 * (its dense form would multiply the work by its channel count).
 */
export function foldChannelShuffle(fn: IRFunction, stats: SimplifyStats = emptyStats()): IRFunction {
  const single = singleReader(fn);
  return rewrite(fn, (node, args) => {
    const shuffle = args[0] === node.args[0] ? channelShuffle(node) : undefined;
    if (!shuffle) return undefined;
    const chain: Call[] = [];
    let cur = shuffle.x;
    while (cur.kind === 'call' && (cur.op === 'nn.relu' || cur.op === 'nn.bias_add') && single(cur)) {
      chain.unshift(cur);
      cur = cur.args[0]!;
    }
    const w = cur.kind === 'call' && cur.op === 'nn.conv2d' && single(cur) ? floats(cur.args[1]!) : undefined;
    if (!w || cur.kind !== 'call' || cur.attrs['data_layout'] !== undefined) return undefined;
    const groups = Number(cur.attrs['groups'] ?? 1);
    const [O, Cg, KH, KW] = cur.args[1]!.type.shape as [number, number, number, number];
    if (groups > 1 && Cg === 1) return undefined;
    const I = Cg * groups;
    const taps = KH * KW;
    const Og = O / groups;
    const dense = new Float32Array(O * I * taps);
    for (let j = 0; j < O; j++) {
      const o = shuffle.perm[j]!;
      const g = Math.floor(o / Og);
      dense.set(w.subarray(o * Cg * taps, (o + 1) * Cg * taps), (j * I + g * Cg) * taps);
    }
    let y: Value = call('nn.conv2d', [cur.args[0]!, constant(`${cur.name ?? 'conv'}_shuffled`, new Tensor('float32', [O, I, KH, KW], dense))], { ...cur.attrs, groups: 1 }, { name: cur.name });
    for (const c of chain) {
      if (c.op === 'nn.relu') y = call(c.op, [y], c.attrs, { name: c.name });
      else {
        const b = floats(c.args[1]!);
        if (!b || b.length !== O) return undefined;
        y = call('nn.bias_add', [y, vector(`${c.name ?? 'bias'}_shuffled`, shuffle.perm.map((o) => b[o]!))], c.attrs, { name: c.name });
      }
    }
    stats.shuffles++;
    return y;
  });
}

/**
 * A ReLU of a concatenation that nothing else reads applies to each input instead (an elementwise
 * op commutes with concatenation), when each input is read by the concatenation alone: the ReLU
 * then ends each producer (a conv's epilogue, a pool's clip) and the concatenation stays one of
 * quantized values, which VTA does by addressing (ShuffleNet's units end this way).
 */
export function pushReluIntoConcat(fn: IRFunction, stats: SimplifyStats = emptyStats()): IRFunction {
  const single = singleReader(fn);
  return rewrite(fn, (node, args) => {
    const cat = node.args[0]!;
    if (node.op !== 'nn.relu' || cat.kind !== 'call' || cat.op !== 'concatenate' || !single(cat) || !cat.args.every(single)) return undefined;
    const inputs = (args[0] as Call).args;
    stats.relus++;
    return call('concatenate', inputs.map((a, i) => call('nn.relu', [a], node.attrs, { name: `${node.name ?? 'relu'}_${i}` })), cat.attrs, { name: node.name ?? cat.name });
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
    cur = pushReluIntoConcat(foldChannelShuffle(canonicalizeBias(foldChannelScale(foldBatchNorm(matmulToDense(foldConstants(cur, stats)), stats), stats), stats), stats), stats);
  }
  return cur;
}
