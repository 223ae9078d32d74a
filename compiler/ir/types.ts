/**
 * The value types of the graph IR. They sit below both the graph and the op registry, so an op
 * definition can name them without importing the graph that calls it.
 */
import type { DType } from '../tensor/dtype.ts';

export interface TensorType {
  readonly shape: readonly number[];
  readonly dtype: DType;
}

export type AttrValue = number | string | readonly number[];
export type Attrs = Readonly<Record<string, AttrValue>>;
