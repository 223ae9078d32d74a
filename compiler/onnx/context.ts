/** What a converter sees of one ONNX node: its inputs as IR values, its attributes, and helpers to emit IR. */
import { evaluate } from '../cpu/execute.ts';
import { call, constant, type Attrs, type Value } from '../ir/graph.ts';
import { isFloat, type DType } from '../tensor/dtype.ts';
import { Tensor, sizeOf } from '../tensor/tensor.ts';
import { VtaError } from '../../isa/errors.ts';
import type { Attributes } from './attributes.ts';
import { OnnxImportError } from './errors.ts';
import type { NodeProto } from './gen/onnx_pb.ts';

/**
 * Ops folded at import when all operands are constants: shape arithmetic and
 * data movement, so that Reshape/Slice/Pad/... operands become static
 * attributes. Quantize/dequantize stay in the graph for the quantization passes,
 * and `full` stays lazy (ConstantOfShape can stand for large weights).
 */
const FOLDABLE = new Set([
  'reshape', 'transpose', 'squeeze', 'expand_dims', 'concatenate', 'strided_slice', 'take', 'broadcast_to', 'cast',
  'add', 'subtract', 'multiply', 'divide', 'maximum', 'minimum', 'negative', 'clip',
]);

/** Largest tensor (elements) evaluated at import, so a malformed model cannot make the importer allocate without bound. */
const FOLD_LIMIT = 1 << 24;

export type Converter = (ctx: NodeContext) => Value | readonly Value[];

export class NodeContext {
  constructor(
    readonly node: NodeProto,
    readonly opset: number,
    readonly file: string,
    private readonly inputs: readonly (Value | undefined)[],
    readonly attrs: Attributes,
  ) {}

  get name(): string {
    return this.node.name || this.node.output[0] || this.node.opType;
  }

  get op(): string {
    return this.node.opType;
  }

  get inputCount(): number {
    return this.inputs.length;
  }

  get outputCount(): number {
    return this.node.output.length;
  }

  fail(message: string): never {
    throw new OnnxImportError(this.file, message, this.name, this.node.opType);
  }

  input(i: number): Value {
    return this.inputs[i] ?? this.fail(`input ${i} is required`);
  }

  optional(i: number): Value | undefined {
    return this.inputs[i];
  }

  /** The value of input `i`, which must be computable at import (a constant, or folded shape arithmetic). */
  constant(i: number): Tensor {
    const v = this.input(i);
    if (v.kind === 'constant') return v.value;
    if (!foldable(v)) this.fail(`input ${i} must be a constant (static shapes and parameters are required)`);
    return this.evaluate(v);
  }

  optionalConstant(i: number): Tensor | undefined {
    return this.inputs[i] ? this.constant(i) : undefined;
  }

  /** A constant integer list input (shapes, axes, pads), as numbers. */
  ints(i: number): number[] {
    const t = this.constant(i);
    if (isFloat(t.dtype)) this.fail(`input ${i} must hold integers`);
    return t.toNumbers();
  }

  scalar(dtype: DType, value: number): Value {
    return constant(`${this.name}_scalar`, Tensor.from(dtype, [], [value]));
  }

  /** Builds a call (type-checked) and folds it at once when every operand is constant. */
  emit(op: string, args: readonly Value[], attrs: Attrs = {}): Value {
    let node;
    try {
      node = call(op, args, attrs, { name: this.name });
    } catch (e) {
      if (e instanceof VtaError) this.fail(e.message);
      throw e;
    }
    const foldNow = FOLDABLE.has(op) && args.every((a) => a.kind === 'constant');
    if (foldNow && sizeOf(node.type.shape) <= FOLD_LIMIT) return constant(this.node.output[0] || this.name, this.evaluate(node));
    return node;
  }

  private evaluate(v: Value): Tensor {
    try {
      return evaluate(v);
    } catch (e) {
      if (e instanceof VtaError) this.fail(e.message);
      throw e;
    }
  }
}

/** True when `v` depends only on constants through foldable ops of bounded size. */
function foldable(v: Value): boolean {
  if (v.kind === 'constant') return true;
  if (v.kind === 'var') return false;
  if (sizeOf(v.type.shape) > FOLD_LIMIT) return false;
  return (FOLDABLE.has(v.op) || v.op === 'full') && v.args.every(foldable);
}
