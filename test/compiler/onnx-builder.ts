/** Builds small ONNX models in tests with the generated schema. */
import { create, toBinary } from '@bufbuild/protobuf';
import {
  AttributeProto_AttributeType as AT, ModelProtoSchema, NodeProtoSchema, TensorProtoSchema, type AttributeProto, type NodeProto, type TensorProto,
} from '../../compiler/onnx/gen/onnx_pb.ts';
import { onnxDTypeCode } from '../../compiler/onnx/tensor-proto.ts';
import type { DType } from '../../compiler/tensor/dtype.ts';
import type { Tensor } from '../../compiler/tensor/tensor.ts';

export type AttrSpec = number | number[] | string | { float: number } | { floats: number[] } | Tensor;

function attribute(name: string, v: AttrSpec): AttributeProto {
  const a = { name } as Record<string, unknown>;
  if (typeof v === 'number') Object.assign(a, { type: AT.INT, i: BigInt(v) });
  else if (typeof v === 'string') Object.assign(a, { type: AT.STRING, s: new TextEncoder().encode(v) });
  else if (Array.isArray(v)) Object.assign(a, { type: AT.INTS, ints: v.map(BigInt) });
  else if ('float' in v) Object.assign(a, { type: AT.FLOAT, f: v.float });
  else if ('floats' in v) Object.assign(a, { type: AT.FLOATS, floats: v.floats });
  else Object.assign(a, { type: AT.TENSOR, t: tensorProto('value', v) });
  return a as unknown as AttributeProto;
}

export function node(op: string, inputs: string[], outputs: string[], attrs: Record<string, AttrSpec> = {}, extra: { domain?: string; name?: string } = {}): NodeProto {
  return create(NodeProtoSchema, {
    opType: op, input: inputs, output: outputs, name: `${op}_${outputs[0]}`,
    attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)), ...extra,
  });
}

/** A TensorProto with raw_data (the common encoding); tests of the typed fields build theirs by hand. */
export function tensorProto(name: string, t: Tensor): TensorProto {
  return create(TensorProtoSchema, {
    name, dataType: onnxDTypeCode(t.dtype), dims: t.shape.map(BigInt),
    rawData: new Uint8Array(t.data.buffer.slice(t.data.byteOffset, t.data.byteOffset + t.data.byteLength)),
  });
}

export interface ValueSpec {
  name: string;
  dtype: DType;
  shape: readonly number[];
}

export function model(spec: {
  nodes: NodeProto[];
  inputs: ValueSpec[];
  outputs: (ValueSpec | string)[];
  initializers?: TensorProto[];
  opset?: number;
  extraOpsets?: { domain: string; version: number }[];
}): Uint8Array {
  const info = (v: ValueSpec | string) => {
    if (typeof v === 'string') return { name: v };
    return {
      name: v.name,
      type: { value: { case: 'tensorType' as const, value: { elemType: onnxDTypeCode(v.dtype), shape: { dim: v.shape.map((d) => ({ value: { case: 'dimValue' as const, value: BigInt(d) } })) } } } },
    };
  };
  return toBinary(ModelProtoSchema, create(ModelProtoSchema, {
    irVersion: 8n,
    producerName: 'vta-toolchain tests',
    opsetImport: [{ domain: '', version: BigInt(spec.opset ?? 17) }, ...(spec.extraOpsets ?? []).map((o) => ({ domain: o.domain, version: BigInt(o.version) }))],
    graph: {
      name: 'test', node: spec.nodes, input: spec.inputs.map(info), output: spec.outputs.map(info), initializer: spec.initializers ?? [],
    },
  }));
}
