/**
 * The graph IR: a Relay-like dataflow function. Values are parameters (Var),
 * constants, or calls of named operators with static attributes; every value
 * carries its tensor type, inferred when a call is built. Calls are
 * single-output (multi-output ONNX ops are split at import), which keeps the
 * passes that follow free of tuples.
 */
import type { Tensor } from '../tensor/tensor.ts';
import { formatShape } from '../tensor/tensor.ts';
import { inferType } from './ops/registry.ts';
import type { Attrs, TensorType } from './types.ts';

export type { AttrValue, Attrs, TensorType } from './types.ts';

/** Where a value lives or an operator runs; placement passes set it, the CPU is assumed when absent. */
export type Device = 'cpu' | 'vta' | (string & {});

export interface Var {
  readonly kind: 'var';
  readonly name: string;
  readonly type: TensorType;
  device?: Device;
}

export interface Constant {
  readonly kind: 'constant';
  readonly name: string;
  readonly value: Tensor;
  readonly type: TensorType;
  device?: Device;
}

export interface Call {
  readonly kind: 'call';
  readonly op: string;
  readonly args: readonly Value[];
  readonly attrs: Attrs;
  readonly type: TensorType;
  /** The source node's name (e.g. the ONNX node), for messages and printing. */
  readonly name?: string;
  device?: Device;
}

export type Value = Var | Constant | Call;

export interface IRFunction {
  readonly params: readonly Var[];
  readonly results: readonly Value[];
}

export function variable(name: string, type: TensorType): Var {
  return { kind: 'var', name, type };
}

export function constant(name: string, value: Tensor): Constant {
  return { kind: 'constant', name, value, type: { shape: value.shape, dtype: value.dtype } };
}

/** Builds a call and infers its type; throws TypeInferenceError when operands or attributes do not fit. */
export function call(op: string, args: readonly Value[], attrs: Attrs = {}, opts: { name?: string; device?: Device } = {}): Call {
  const type = inferType(op, args.map((a) => a.type), attrs);
  const node: Call = { kind: 'call', op, args, attrs, type };
  if (opts.name !== undefined) (node as { name?: string }).name = opts.name;
  if (opts.device !== undefined) node.device = opts.device;
  return node;
}

/** Every call reachable from the results, each after its arguments (iterative: graphs can be deep). */
export function topoOrder(fn: IRFunction): Call[] {
  const order: Call[] = [];
  const state = new Map<Value, 1 | 2>();
  for (const root of fn.results) {
    const stack: Value[] = [root];
    while (stack.length) {
      const v = stack[stack.length - 1]!;
      const s = state.get(v);
      if (s === 2 || v.kind !== 'call') {
        stack.pop();
        continue;
      }
      if (s === 1) {
        stack.pop();
        state.set(v, 2);
        order.push(v);
        continue;
      }
      state.set(v, 1);
      for (let i = v.args.length - 1; i >= 0; i--) if (!state.has(v.args[i]!)) stack.push(v.args[i]!);
    }
  }
  return order;
}

export function formatType(t: TensorType): string {
  return `Tensor[${formatShape(t.shape)}, ${t.dtype}]`;
}
