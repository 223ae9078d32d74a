/**
 * Graph clean-up before quantization (Relay's SimplifyInference + FoldConstant
 * + the bias canonicalization graph_pack expects):
 * - foldBatchNorm: batch_norm after a conv (with or without bias) scales the
 *   conv's weights and becomes its bias; any other batch_norm becomes a
 *   per-channel multiply and add;
 * - canonicalizeBias: a per-channel constant added to a conv or dense output
 *   becomes nn.bias_add, and consecutive bias_adds merge;
 * - foldConstants: calls whose operands are all constant are evaluated, except
 *   dequantize, whose int8 operand the QDQ rewrite needs.
 * - matmulToDense (matmul.ts): MatMul with constant weights becomes nn.dense.
 * The importer already drops Identity and Dropout.
 */
import { evaluate } from '../cpu/execute.ts';
import { call, constant, type Call, type Constant, type IRFunction, type Value } from '../ir/graph.ts';
import { Tensor } from '../tensor/tensor.ts';
import { matmulToDense } from './matmul.ts';
import { rewrite } from './rewrite.ts';

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

export function foldBatchNorm(fn: IRFunction): IRFunction {
  return rewrite(fn, (node, args) => {
    if (node.op !== 'nn.batch_norm' || Number(node.attrs['axis'] ?? 1) !== 1) return undefined;
    const [x, gamma, beta, mean, variance] = args.map(floats) as (Float32Array | undefined)[];
    if (!gamma || !beta || !mean || !variance) return undefined;
    const eps = Number(node.attrs['epsilon'] ?? 1e-5);
    const C = gamma.length;
    const k = gamma.map((g, c) => g / Math.sqrt(variance[c]! + eps));
    let inner = args[0]!;
    let bias = new Float32Array(C);
    if (inner.kind === 'call' && inner.op === 'nn.bias_add' && perChannel(inner.args[1]!, C)) {
      bias = perChannel(inner.args[1]!, C)!.slice();
      inner = inner.args[0]!;
    }
    const shift = bias.map((b, c) => (b - mean[c]!) * k[c]! + beta[c]!);
    const name = node.name ?? 'bn';
    const w = inner.kind === 'call' && inner.op === 'nn.conv2d' ? floats(inner.args[1]!) : undefined;
    if (w && x === undefined && inner.kind === 'call' && inner.type.shape[1] === C) {
      const per = w.length / C;
      const scaled = w.map((v, i) => v * k[Math.floor(i / per)]!);
      const conv = call(inner.op, [inner.args[0]!, constant(`${name}_weight`, new Tensor('float32', inner.args[1]!.type.shape, scaled))], inner.attrs, { name: inner.name });
      return call('nn.bias_add', [conv, vector(`${name}_bias`, shift)], { axis: 1 }, { name });
    }
    const shape = args[0]!.type.shape.map((d, i) => (i === 1 ? d : 1));
    const scale = constant(`${name}_scale`, Tensor.from('float32', shape, k));
    const offset = constant(`${name}_shift`, Tensor.from('float32', shape, gamma.map((_, c) => beta[c]! - mean[c]! * k[c]!)));
    return call('add', [call('multiply', [args[0]!, scale], {}, { name }), offset], {}, { name });
  });
}

export function canonicalizeBias(fn: IRFunction): IRFunction {
  return rewrite(fn, (node, args) => {
    if (node.op !== 'add' && node.op !== 'nn.bias_add') return undefined;
    const [x, b] = args as [Value, Value];
    if (x.kind !== 'call' || x.type.shape.length < 2) return undefined;
    const C = x.type.shape[1]!;
    const values = node.op === 'add' ? perChannel(b, C) : floats(b);
    if (!values || node.type.shape.join() !== x.type.shape.join()) return undefined;
    if (x.op === 'nn.bias_add') {
      const prev = floats(x.args[1]!);
      if (prev) return call('nn.bias_add', [x.args[0]!, vector(`${node.name ?? 'bias'}_merged`, values.map((v, c) => v + prev[c]!))], { axis: 1 }, { name: node.name });
    }
    if (node.op === 'add' && (x.op === 'nn.conv2d' || x.op === 'nn.dense')) return call('nn.bias_add', [x, vector(`${node.name ?? 'bias'}_bias`, values)], { axis: 1 }, { name: node.name });
    return undefined;
  });
}

export function foldConstants(fn: IRFunction): IRFunction {
  return rewrite(fn, (node: Call, args) => {
    if (node.op === 'qnn.dequantize' || args.length === 0 || !args.every((a) => a.kind === 'constant')) return undefined;
    return constant(node.name ?? node.op, evaluate(call(node.op, args, node.attrs)));
  });
}

export function simplify(fn: IRFunction): IRFunction {
  return foldConstants(canonicalizeBias(foldBatchNorm(matmulToDense(fn))));
}
