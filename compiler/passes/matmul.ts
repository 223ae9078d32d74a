/**
 * MatMul with constant weights as a dense (Relay's nn.dense, which VTA runs as a GEMM): x[..., K]
 * times W[K, N] becomes dense(x as [rows, K], Wᵀ), reshaped back when x has more than two axes
 * (a transformer's [batch, tokens, features]); a following add of an [N] constant moves inside the
 * reshape, so it becomes the dense's bias. MatMul of two activations A[M, K] B[K, N] (one batch,
 * 2-D or [1, ., .]: attention's Q·Kᵀ and P·V) becomes dense(A, Bᵀ) too, with Bᵀ an activation: a
 * transpose on the CPU, or none when B is itself the transpose of a tensor (Kᵀ).
 */
import { call, constant, type Call, type IRFunction, type Value } from '../ir/graph.ts';
import { Tensor } from '../tensor/tensor.ts';
import { rewrite } from './rewrite.ts';

function transposed(w: Tensor): Tensor {
  const [K, N] = w.shape as [number, number];
  const src = w.data as Float32Array;
  const out = new Float32Array(K * N);
  for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) out[n * K + k] = src[k * N + n]!;
  return new Tensor('float32', [N, K], out);
}

/** [1, R, C] or [R, C] as [R, C]. */
function as2d(v: Value): Value | undefined {
  const s = v.type.shape;
  if (s.length === 2) return v;
  if (s.length === 3 && s[0] === 1) return call('reshape', [v], { newshape: [s[1]!, s[2]!] });
  return undefined;
}

function activationMatmul(node: Call, [a, b]: [Value, Value]): Value | undefined {
  if (a.type.dtype !== 'float32' || b.type.dtype !== 'float32' || a.type.shape.length !== b.type.shape.length) return undefined;
  const rank = b.type.shape.length;
  const swapsLast = (v: Value): v is Call => v.kind === 'call' && v.op === 'transpose' && (v.attrs['axes'] as number[]).join() === (rank === 2 ? '1,0' : '0,2,1');
  const a2 = as2d(a);
  const bt = swapsLast(b) ? as2d(b.args[0]!) : as2d(call('transpose', [b], { axes: rank === 2 ? [1, 0] : [0, 2, 1] }));
  if (!a2 || !bt) return undefined;
  const dense = call('nn.dense', [a2, bt], {}, { name: node.name });
  return rank === 2 ? dense : call('reshape', [dense], { newshape: node.type.shape }, { name: node.name });
}

export function matmulToDense(fn: IRFunction): IRFunction {
  // The reshapes back to x's leading axes this pass made, by the dense they wrap.
  const restored = new Map<Value, Call>();
  // One [rows, K] view per input, so projections of one tensor (Q, K, V) share its quantization and packing.
  const flat = new Map<Value, Value>();
  return rewrite(fn, (node, args) => {
    if (node.op === 'nn.matmul' && args[1]!.kind !== 'constant') return activationMatmul(node, args as [Value, Value]);
    if (node.op === 'nn.matmul') {
      const [x, w] = args as [Value, Value];
      if (w.kind !== 'constant' || w.type.dtype !== 'float32' || w.type.shape.length !== 2 || x.type.dtype !== 'float32' || x.type.shape.length < 2) return undefined;
      const [K, N] = w.type.shape as [number, number];
      const lead = x.type.shape.slice(0, -1);
      const rows = lead.reduce((a, b) => a * b, 1);
      let x2 = lead.length === 1 ? x : flat.get(x);
      if (!x2) flat.set(x, (x2 = call('reshape', [x], { newshape: [rows, K] })));
      const dense = call('nn.dense', [x2, constant(`${w.name}_t`, transposed(w.value))], {}, { name: node.name });
      if (lead.length === 1) return dense;
      const back = call('reshape', [dense], { newshape: [...lead, N] }, { name: node.name });
      restored.set(back, dense);
      return back;
    }
    if (node.op === 'add') {
      const [y, b] = args as [Value, Value];
      const dense = restored.get(y);
      if (!dense || b.kind !== 'constant' || b.type.shape.length !== 1 || b.type.shape[0] !== dense.type.shape[1]) return undefined;
      return call('reshape', [call('add', [dense, b], {}, { name: node.name })], { newshape: y.type.shape }, { name: node.name });
    }
    return undefined;
  });
}
