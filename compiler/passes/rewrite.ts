/**
 * The one graph-rewriting walk every pass uses: calls are visited after their
 * arguments, each sees its arguments already rewritten, and returns its
 * replacement (or undefined to keep the op with the new arguments).
 */
import { call, topoOrder, type Call, type IRFunction, type Value } from '../ir/graph.ts';

export type Rewriter = (node: Call, args: readonly Value[]) => Value | undefined;

/** Rebuilds `node` with `args`, keeping its op, attributes, name and device; returns it unchanged when no argument changed. */
export function withArgs(node: Call, args: readonly Value[]): Call {
  if (args.length === node.args.length && args.every((a, i) => a === node.args[i])) return node;
  return call(node.op, args, node.attrs, { name: node.name, device: node.device });
}

export function rewrite(fn: IRFunction, visit: Rewriter): IRFunction {
  const map = new Map<Value, Value>();
  const get = (v: Value): Value => map.get(v) ?? v;
  for (const node of topoOrder(fn)) {
    const args = node.args.map(get);
    map.set(node, visit(node, args) ?? withArgs(node, args));
  }
  return { params: fn.params, results: fn.results.map(get) };
}

/** The calls reading each value, in topological order. */
export function consumers(fn: IRFunction): Map<Value, Call[]> {
  const out = new Map<Value, Call[]>();
  for (const c of topoOrder(fn)) for (const a of c.args) (out.get(a) ?? out.set(a, []).get(a)!).push(c);
  return out;
}
