/**
 * Chains of data-movement CPU operators (reshape, transpose, pad, slices, concatenation, layout
 * changes) run as one gather per inference. ResNet-18's input goes through dozens of them after
 * its quantize (the 49 taps of the first conv side by side, then the NCHW16c packing); each
 * generic kernel walks the tensor again, and together they cost more than the quantize itself.
 *
 * At load the chain's own kernels run once on element indices instead of data: twice, on 0..n-1
 * and on n..2n-1. An output element that differs by n between the two runs is the source element
 * of that index; one equal in both is a constant the chain wrote (a pad value); anything else
 * means the chain computes, and it is left to its kernels. So the gather is exactly what the
 * kernels do, without a second description of any operator.
 */
import type { CpuOp } from '../compiler/artifact/format.ts';
import { attrsFromProto, dtypeFromProto, shapeOf } from '../compiler/artifact/values.ts';
import { kernelFor } from '../compiler/cpu/registry.ts';
import type { DType } from '../compiler/tensor/dtype.ts';
import { Tensor, sizeOf } from '../compiler/tensor/tensor.ts';

/** The operators that only move elements (or write constants) of one dtype. */
const MOVES = new Set(['reshape', 'squeeze', 'expand_dims', 'device_copy', 'transpose', 'concatenate', 'strided_slice', 'nn.pad', 'layout_transform', 'broadcast_to']);

/** Element types whose values survive a round trip through int32 (the index runs' dtype). */
const INDEXABLE: ReadonlySet<DType> = new Set<DType>(['int8', 'uint8', 'int32']);

/** One chain of moves as a gather: out[i] = from[i] >= 0 ? x[from[i]] : fill[i]. */
export interface Gather {
  source: string;
  /** Elements the source holds. */
  sourceSize: number;
  output: string;
  /** The chain's operator names, for the profile and errors. */
  ops: string[];
  from: Int32Array;
  /** The output with the constants in place (zeros where `from` names a source element). */
  fill: Tensor;
}

/** A step of the plan as the fusion sees it: a CPU operator, or anything else reading `reads`. */
export type PlanStep = { kind: 'cpu'; op: CpuOp } | { kind: 'other'; reads: readonly string[] };

/**
 * Finds maximal runs of consecutive move operators that read one outside value (the chain's
 * source) and whose intermediate values nothing else reads, and turns each run of two or more into
 * a Gather. Returns, per step index where a chain starts, the gather and how many steps it spans.
 */
export function gatherChains(
  steps: readonly PlanStep[],
  outputs: readonly string[],
  typeOf: (value: string) => { shape: number[]; dtype: DType } | undefined,
): Map<number, { gather: Gather; length: number }> {
  const readers = new Map<string, number[]>();
  const note = (name: string, at: number) => readers.set(name, [...(readers.get(name) ?? []), at]);
  steps.forEach((s, at) => (s.kind === 'cpu' ? s.op.inputs : s.reads).forEach((n) => note(n, at)));
  for (const o of outputs) note(o, steps.length);
  const found = new Map<number, { gather: Gather; length: number }>();
  let at = 0;
  while (at < steps.length) {
    const end = chainEnd(steps, at, readers);
    const gather = end - at >= 2 ? indexChain(steps.slice(at, end).map((s) => (s as { op: CpuOp }).op), typeOf) : null;
    if (gather) found.set(at, { gather, length: end - at });
    at = Math.max(end, at + 1);
  }
  return found;
}

/** The end (exclusive) of the longest chain of moves starting at `first`. */
function chainEnd(steps: readonly PlanStep[], first: number, readers: Map<string, number[]>): number {
  const isMove = (s: PlanStep | undefined): s is { kind: 'cpu'; op: CpuOp } => s?.kind === 'cpu' && MOVES.has(s.op.op);
  const head = steps[first];
  if (!isMove(head) || new Set(head.op.inputs).size !== 1) return first;
  const source = head.op.inputs[0]!;
  const inside = new Set<string>([head.op.output]);
  let end = first + 1;
  for (; end < steps.length; end++) {
    const s = steps[end];
    if (!isMove(s) || !s.op.inputs.every((n) => n === source || inside.has(n)) || !s.op.inputs.some((n) => inside.has(n))) break;
    inside.add(s.op.output);
  }
  // Drop trailing operators until every value but the last is read only inside the chain.
  for (; end > first; end--) {
    const last = (steps[end - 1] as { op: CpuOp }).op.output;
    const escapes = steps.slice(first, end - 1).some((s) => {
      const out = (s as { op: CpuOp }).op.output;
      return out !== last && (readers.get(out) ?? []).some((r) => r < first || r >= end);
    });
    if (!escapes) return end;
  }
  return first;
}

/** Runs a chain's kernels on element indices; null if the chain does more than move elements. */
function indexChain(ops: readonly CpuOp[], typeOf: (value: string) => { shape: number[]; dtype: DType } | undefined): Gather | null {
  const source = ops[0]!.inputs[0]!;
  const last = ops[ops.length - 1]!.outputInfo;
  const sourceType = typeOf(source);
  if (!last || !sourceType) return null;
  const dtype = sourceType.dtype;
  if (!INDEXABLE.has(dtype)) return null;
  if (ops.some((op) => !op.outputInfo || dtypeFromProto(op.outputInfo.dtype, op.output) !== dtype)) return null;
  const sourceShape = sourceType.shape;
  const n = sizeOf(sourceShape);
  if (2 * n >= 2 ** 31) return null;
  const run = (offset: number): Int32Array | null => {
    const values = new Map<string, Tensor>([[source, Tensor.from('int32', sourceShape, Int32Array.from({ length: n }, (_, i) => i + offset))]]);
    for (const op of ops) {
      const kernel = kernelFor(op.op)!;
      const out = kernel(op.inputs.map((v) => values.get(v)!), attrsFromProto(op.attrs), { shape: shapeOf(op.outputInfo!), dtype: 'int32' }, op.op);
      if (!(out.data instanceof Int32Array)) return null;
      values.set(op.output, out);
    }
    return values.get(ops[ops.length - 1]!.output)!.data as Int32Array;
  };
  const a = run(0);
  const b = run(n);
  if (!a || !b) return null;
  const from = new Int32Array(a.length);
  const fill = Tensor.zeros(dtype, shapeOf(last));
  const constants = fill.data as Int8Array | Uint8Array | Int32Array;
  for (let i = 0; i < a.length; i++) {
    if (b[i] === a[i]! + n && a[i]! >= 0 && a[i]! < n) from[i] = a[i]!;
    else if (b[i] === a[i]) {
      from[i] = -1;
      constants[i] = a[i]!;
    } else return null;
  }
  return { source, sourceSize: n, output: ops[ops.length - 1]!.output, ops: ops.map((op) => op.op), from, fill };
}

/** Applies a gather to the chain's source. */
export function applyGather(g: Gather, x: Tensor): Tensor {
  const out = new Tensor(g.fill.dtype, g.fill.shape, g.fill.data.slice());
  const o = out.data as Int8Array;
  const s = x.data as Int8Array;
  const from = g.from;
  for (let i = 0; i < from.length; i++) {
    const f = from[i]!;
    if (f >= 0) o[i] = s[f]!;
  }
  return out;
}
