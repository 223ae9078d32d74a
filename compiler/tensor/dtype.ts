/**
 * Element types the IR and the CPU executor know. int64 is kept exact
 * (BigInt64Array); float64 exists for models that compute in double.
 */
export type DType = 'float32' | 'float64' | 'int8' | 'uint8' | 'int32' | 'int64';

export type Float32Data = Float32Array;
export type NumberData = Float32Array | Float64Array | Int8Array | Uint8Array | Int32Array;
export type TensorData = NumberData | BigInt64Array;

export const DTYPES: readonly DType[] = ['float32', 'float64', 'int8', 'uint8', 'int32', 'int64'];

const BYTES: Record<DType, number> = { float32: 4, float64: 8, int8: 1, uint8: 1, int32: 4, int64: 8 };

export function isDType(s: string): s is DType {
  return (DTYPES as readonly string[]).includes(s);
}

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

export function bytesPerElement(dtype: DType): number {
  return BYTES[dtype];
}

/** The inclusive value range of an integer dtype (int64 as the nearest doubles). */
export function integerRange(dtype: DType): [number, number] {
  switch (dtype) {
    case 'int8': return [-128, 127];
    case 'uint8': return [0, 255];
    case 'int32': return [-2147483648, 2147483647];
    case 'int64': return [-(2 ** 63), 2 ** 63 - 1];
    case 'float32':
    case 'float64': return [-Infinity, Infinity];
  }
}

export function allocate(dtype: DType, size: number): TensorData {
  switch (dtype) {
    case 'float32': return new Float32Array(size);
    case 'float64': return new Float64Array(size);
    case 'int8': return new Int8Array(size);
    case 'uint8': return new Uint8Array(size);
    case 'int32': return new Int32Array(size);
    case 'int64': return new BigInt64Array(size);
  }
}

/** A typed array of `dtype` viewing `bytes` (copied first when misaligned). */
export function viewBytes(dtype: DType, bytes: Uint8Array, size: number): TensorData {
  const width = BYTES[dtype];
  // A fresh copy, not bytes.slice(): Node's Buffer.slice returns a view at the same misaligned offset.
  const aligned = bytes.byteOffset % width === 0 ? bytes : new Uint8Array(bytes);
  const { buffer, byteOffset } = aligned;
  switch (dtype) {
    case 'float32': return new Float32Array(buffer, byteOffset, size);
    case 'float64': return new Float64Array(buffer, byteOffset, size);
    case 'int8': return new Int8Array(buffer, byteOffset, size);
    case 'uint8': return new Uint8Array(buffer, byteOffset, size);
    case 'int32': return new Int32Array(buffer, byteOffset, size);
    case 'int64': return new BigInt64Array(buffer, byteOffset, size);
  }
}
