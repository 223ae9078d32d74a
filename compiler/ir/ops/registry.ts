/** Operator definitions keyed by op name: how many operands each takes and how its result type is inferred. */
import type { Attrs, TensorType } from '../types.ts';
import { TypeInferenceError } from '../errors.ts';

export interface OpDef {
  readonly name: string;
  /** Operand count, as [min, max]; max is Infinity for variadic ops. */
  readonly arity: readonly [number, number];
  infer(args: readonly TensorType[], attrs: Attrs, op: string): TensorType;
}

const defs = new Map<string, OpDef>();

export function registerOp(def: OpDef): void {
  if (defs.has(def.name)) throw new Error(`op ${def.name} is registered twice`);
  defs.set(def.name, def);
}

export function opDef(name: string): OpDef | undefined {
  return defs.get(name);
}

export function registeredOps(): string[] {
  return [...defs.keys()];
}

export function inferType(op: string, args: readonly TensorType[], attrs: Attrs): TensorType {
  const def = defs.get(op);
  if (!def) {
    // The graph does not import the op set, so an entry point that forgot it gets told, not misled.
    if (defs.size === 0) throw new TypeInferenceError(op, 'unknown operator: no operator is registered (import compiler/ir/ops/index.ts)');
    throw new TypeInferenceError(op, 'unknown operator');
  }
  const [min, max] = def.arity;
  if (args.length < min || args.length > max) {
    throw new TypeInferenceError(op, `takes ${min === max ? min : `${min} to ${max}`} operands, got ${args.length}`);
  }
  return def.infer(args, attrs, op);
}
