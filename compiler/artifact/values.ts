/** Conversions between the compiled-model messages and the executor's tensors and attributes. */
import type { AttrValue, Attrs } from '../ir/graph.ts';
import { create } from '@bufbuild/protobuf';
import {
  AttrSchema,
  DType as ProtoDType,
  FloatsSchema,
  IntsSchema,
  TensorDataSchema,
  ValueInfoSchema,
  type Attr,
  type TensorData,
  type ValueInfo,
} from './format.ts';
import { viewBytes, type DType } from '../tensor/dtype.ts';
import { Tensor, sizeOf } from '../tensor/tensor.ts';
import { VtaError } from '../../isa/errors.ts';

const FROM_PROTO: Partial<Record<ProtoDType, DType>> = {
  [ProtoDType.FLOAT32]: 'float32',
  [ProtoDType.INT8]: 'int8',
  [ProtoDType.UINT8]: 'uint8',
  [ProtoDType.INT32]: 'int32',
  [ProtoDType.INT64]: 'int64',
};

export function dtypeFromProto(d: ProtoDType, what: string): DType {
  const t = FROM_PROTO[d];
  if (!t) throw new VtaError('VTA_MODEL_FORMAT', `${what}: unknown dtype ${d}`);
  return t;
}

export function dtypeToProto(d: DType): ProtoDType {
  const entry = Object.entries(FROM_PROTO).find(([, v]) => v === d)!;
  return Number(entry[0]) as ProtoDType;
}

export function shapeOf(info: { shape: readonly bigint[] }): number[] {
  return info.shape.map(Number);
}

export function tensorFromData(t: TensorData): Tensor {
  const dtype = dtypeFromProto(t.dtype, `constant ${t.name}`);
  const shape = shapeOf(t);
  return new Tensor(dtype, shape, viewBytes(dtype, t.data, sizeOf(shape)));
}

export function tensorBytes(t: Tensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

export function tensorFromBytes(info: ValueInfo, bytes: Uint8Array): Tensor {
  const dtype = dtypeFromProto(info.dtype, info.name);
  const shape = shapeOf(info);
  return new Tensor(dtype, shape, viewBytes(dtype, bytes, sizeOf(shape)));
}

export function attrsFromProto(attrs: { [key: string]: Attr }): Attrs {
  const out: Record<string, AttrValue> = {};
  for (const [k, a] of Object.entries(attrs)) {
    const v = a.value;
    switch (v.case) {
      case 'i':
        out[k] = Number(v.value);
        break;
      case 'f':
        out[k] = v.value;
        break;
      case 's':
        out[k] = v.value;
        break;
      case 'ints':
        out[k] = v.value.values.map(Number);
        break;
      case 'floats':
        out[k] = v.value.values;
        break;
      default:
        throw new VtaError('VTA_MODEL_FORMAT', `attribute ${k} has no value`);
    }
  }
  return out;
}

export function attrsToProto(attrs: Attrs): { [key: string]: Attr } {
  const out: { [key: string]: Attr } = {};
  for (const [k, v] of Object.entries(attrs)) {
    let value: Attr['value'];
    if (typeof v === 'string') value = { case: 's', value: v };
    else if (typeof v === 'number') value = Number.isInteger(v) ? { case: 'i', value: BigInt(v) } : { case: 'f', value: v };
    else if (v.every(Number.isInteger)) value = { case: 'ints', value: create(IntsSchema, { values: v.map((x) => BigInt(x)) }) };
    else value = { case: 'floats', value: create(FloatsSchema, { values: [...v] }) };
    out[k] = create(AttrSchema, { value });
  }
  return out;
}

export function valueInfo(name: string, shape: readonly number[], dtype: DType, quant?: { scale: number; zeroPoint: number }): ValueInfo {
  return create(ValueInfoSchema, {
    name,
    shape: shape.map((d) => BigInt(d)),
    dtype: dtypeToProto(dtype),
    scale: quant?.scale ?? 0,
    zeroPoint: quant?.zeroPoint ?? 0,
  });
}

export function tensorToData(name: string, t: Tensor): TensorData {
  return create(TensorDataSchema, { name, shape: t.shape.map((d) => BigInt(d)), dtype: dtypeToProto(t.dtype), data: tensorBytes(t).slice() });
}
