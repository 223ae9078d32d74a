/** TensorProto -> Tensor: raw_data, the typed data fields, and external data files beside the model. */
import fs from 'node:fs';
import path from 'node:path';
import { bytesPerElement, viewBytes, type DType } from '../tensor/dtype.ts';
import { Tensor } from '../tensor/tensor.ts';
import { OnnxImportError } from './errors.ts';
import { TensorProto_DataLocation, type TensorProto } from './gen/onnx_pb.ts';

/** ONNX TensorProto.DataType numbers of the dtypes the IR has. */
const ONNX_DTYPES: Record<number, DType> = { 1: 'float32', 2: 'uint8', 3: 'int8', 6: 'int32', 7: 'int64', 11: 'float64' };
const ONNX_DTYPE_NAMES: Record<number, string> = {
  0: 'UNDEFINED', 4: 'UINT16', 5: 'INT16', 8: 'STRING', 9: 'BOOL', 10: 'FLOAT16', 12: 'UINT32', 13: 'UINT64', 16: 'BFLOAT16',
};

export function dtypeOf(code: number, what: string, file: string): DType {
  const d = ONNX_DTYPES[code];
  if (!d) throw new OnnxImportError(file, `${what}: element type ${ONNX_DTYPE_NAMES[code] ?? code} is not supported (float32, float64, int8, uint8, int32, int64 are)`);
  return d;
}

export function onnxDTypeCode(dtype: DType): number {
  return Number(Object.entries(ONNX_DTYPES).find(([, d]) => d === dtype)![0]);
}

/** Converts ONNX int64 dims, refusing negative or unsafe values. */
export function dimsOf(dims: readonly bigint[], what: string, file: string): number[] {
  let size = 1;
  const out = dims.map((d) => {
    const n = Number(d);
    if (d < 0n || !Number.isSafeInteger(n)) throw new OnnxImportError(file, `${what}: invalid dimension ${d}`);
    size *= n;
    return n;
  });
  if (!Number.isSafeInteger(size)) throw new OnnxImportError(file, `${what}: shape [${out.join(', ')}] is too large`);
  return out;
}

export interface ExternalData {
  /** Folder of the model file; external data locations are relative to it. */
  baseDir?: string;
  /** Files already read, by absolute path. */
  cache: Map<string, Uint8Array>;
}

export function tensorFromProto(t: TensorProto, file: string, external: ExternalData): Tensor {
  const what = `tensor '${t.name}'`;
  const dtype = dtypeOf(t.dataType, what, file);
  const shape = dimsOf(t.dims, what, file);
  const size = shape.reduce((a, b) => a * b, 1);
  const byteLength = size * bytesPerElement(dtype);
  if (t.dataLocation === TensorProto_DataLocation.EXTERNAL) {
    return new Tensor(dtype, shape, viewBytes(dtype, readExternal(t, file, external, byteLength), size));
  }
  if (t.rawData.length > 0 || size === 0) {
    if (t.rawData.length !== byteLength) throw new OnnxImportError(file, `${what}: raw_data has ${t.rawData.length} bytes, shape [${shape}] of ${dtype} needs ${byteLength}`);
    return new Tensor(dtype, shape, viewBytes(dtype, t.rawData, size));
  }
  // Typed fields: float_data, double_data, int32_data (for int8/uint8/int32 too) and int64_data.
  const fields: Record<DType, { name: string; values: ArrayLike<number> | readonly bigint[] }> = {
    float32: { name: 'float_data', values: t.floatData },
    float64: { name: 'double_data', values: t.doubleData },
    int8: { name: 'int32_data', values: t.int32Data },
    uint8: { name: 'int32_data', values: t.int32Data },
    int32: { name: 'int32_data', values: t.int32Data },
    int64: { name: 'int64_data', values: t.int64Data },
  };
  const { name, values } = fields[dtype];
  if (values.length !== size) throw new OnnxImportError(file, `${what}: ${name} has ${values.length} values, shape [${shape}] needs ${size}`);
  const out = Tensor.zeros(dtype, shape);
  if (out.data instanceof BigInt64Array) out.data.set(values as readonly bigint[]);
  else out.data.set(values as ArrayLike<number>);
  return out;
}

function readExternal(t: TensorProto, file: string, external: ExternalData, byteLength: number): Uint8Array {
  const what = `tensor '${t.name}'`;
  const entry = (key: string) => t.externalData.find((e) => e.key === key)?.value;
  const location = entry('location');
  if (!location) throw new OnnxImportError(file, `${what}: external data without a location`);
  if (external.baseDir === undefined) throw new OnnxImportError(file, `${what}: external data '${location}' needs the model's folder (import from a file path)`);
  const full = path.resolve(external.baseDir, location);
  let bytes = external.cache.get(full);
  if (!bytes) {
    try {
      bytes = new Uint8Array(fs.readFileSync(full));
    } catch (e) {
      throw new OnnxImportError(file, `${what}: cannot read external data file ${full} (${(e as NodeJS.ErrnoException).code ?? e})`, undefined, undefined, { cause: e });
    }
    external.cache.set(full, bytes);
  }
  const offset = Number(entry('offset') ?? 0);
  const length = entry('length') !== undefined ? Number(entry('length')) : byteLength;
  if (!Number.isSafeInteger(offset) || offset < 0 || length !== byteLength || offset + length > bytes.length) {
    throw new OnnxImportError(file, `${what}: external data ${location} [offset ${offset}, length ${length}] does not hold the ${byteLength} bytes the shape needs (file has ${bytes.length})`);
  }
  return bytes.subarray(offset, offset + length);
}
