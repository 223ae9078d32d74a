import { VtaError } from '../../isa/errors.ts';
import { allocate, type DType, type NumberData, type TensorData } from './dtype.ts';

/** A shape, data or dtype that does not fit a tensor. */
export class TensorError extends VtaError {
  constructor(message: string) {
    super('VTA_TENSOR', message);
  }
}

/** A dense row-major tensor. The data array is never longer than the shape says. */
export class Tensor {
  constructor(
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly data: TensorData,
  ) {
    const n = sizeOf(shape);
    if (data.length !== n) throw new TensorError(`shape (${shape.join(', ')}) needs ${n} elements, data has ${data.length}`);
  }

  static zeros(dtype: DType, shape: readonly number[]): Tensor {
    return new Tensor(dtype, shape, allocate(dtype, sizeOf(shape)));
  }

  /** A tensor from plain numbers (bigint for int64 is converted). */
  static from(dtype: DType, shape: readonly number[], values: ArrayLike<number>): Tensor {
    const t = Tensor.zeros(dtype, shape);
    if (t.data instanceof BigInt64Array) for (let i = 0; i < values.length; i++) t.data[i] = BigInt(values[i]!);
    else t.data.set(values);
    return t;
  }

  get size(): number {
    return this.data.length;
  }

  /** The elements as numbers; int64 values beyond 2^53 lose precision, so only shape-like data should use this. */
  toNumbers(): number[] {
    return Array.from(this.data as ArrayLike<number | bigint>, Number);
  }

  /** The data as a number array; int64 tensors must be converted by the caller. */
  numbers(): NumberData {
    if (this.data instanceof BigInt64Array) throw new TensorError('int64 data has no number view');
    return this.data;
  }

  reshape(shape: readonly number[]): Tensor {
    return new Tensor(this.dtype, shape, this.data);
  }
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides in elements. */
export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function formatShape(shape: readonly number[]): string {
  return `(${shape.join(', ')}${shape.length === 1 ? ',' : ''})`;
}
