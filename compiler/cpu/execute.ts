/**
 * The CPU reference executor: runs an IR function node by node with the
 * registered kernels. It is the fallback for CPU-placed ops and the oracle for
 * the VTA path, so it checks its inputs and every kernel result against the
 * inferred types.
 */
import { formatType, topoOrder, type IRFunction, type TensorType, type Value } from '../ir/graph.ts';
import { Tensor } from '../tensor/tensor.ts';
import { ExecutionError } from './errors.ts';
import { kernelFor } from './registry.ts';
import './kernels/index.ts';

function sameType(t: Tensor, type: TensorType): boolean {
  return t.dtype === type.dtype && t.shape.length === type.shape.length && t.shape.every((d, i) => d === type.shape[i]);
}

/** Runs `fn` on inputs given in parameter order or by parameter name; returns the results in order. */
export function execute(fn: IRFunction, inputs: readonly Tensor[] | Readonly<Record<string, Tensor>>): Tensor[] {
  const env = new Map<Value, Tensor>();
  fn.params.forEach((p, i) => {
    const t = Array.isArray(inputs) ? (inputs as readonly Tensor[])[i] : (inputs as Record<string, Tensor>)[p.name];
    if (!t) throw new ExecutionError('input', `missing input '${p.name}' (${formatType(p.type)})`);
    if (!sameType(t, p.type)) {
      throw new ExecutionError('input', `input '${p.name}' is ${formatType(t)}, the model expects ${formatType(p.type)}`);
    }
    env.set(p, t);
  });
  return run(fn, env);
}

/** Evaluates a value whose leaves are all constants (import-time folding). */
export function evaluate(value: Value): Tensor {
  return run({ params: [], results: [value] }, new Map())[0]!;
}

function run(fn: IRFunction, env: Map<Value, Tensor>): Tensor[] {
  const order = topoOrder(fn);
  // Last use of each value, so intermediate tensors can be dropped as soon as possible.
  const lastUse = new Map<Value, number>();
  order.forEach((c, i) => c.args.forEach((a) => lastUse.set(a, i)));
  for (const r of fn.results) lastUse.set(r, Infinity);
  const read = (v: Value): Tensor => {
    if (v.kind === 'constant') return v.value;
    const t = env.get(v);
    if (!t) throw new ExecutionError(v.kind === 'var' ? 'input' : v.op, `value ${v.kind === 'var' ? `'${v.name}'` : ''} is not available (free variable?)`);
    return t;
  };
  order.forEach((c, i) => {
    const kernel = kernelFor(c.op);
    if (!kernel) throw new ExecutionError(c.op, 'no CPU kernel for this operator');
    const result = kernel(c.args.map(read), c.attrs, c.type, c.op);
    if (!sameType(result, c.type)) throw new ExecutionError(c.op, `kernel produced ${formatType(result)}, expected ${formatType(c.type)}`);
    env.set(c, result);
    for (const a of c.args) if (a.kind === 'call' && lastUse.get(a) === i) env.delete(a);
  });
  return fn.results.map(read);
}
