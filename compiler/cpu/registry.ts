/** CPU kernels keyed by IR op name. */
import type { Attrs, TensorType } from '../ir/graph.ts';
import type { Tensor } from '../tensor/tensor.ts';

/** Computes one op; `type` is the result type already inferred for the node. */
export type Kernel = (args: readonly Tensor[], attrs: Attrs, type: TensorType, op: string) => Tensor;

const kernels = new Map<string, Kernel>();

export function registerKernel(op: string, kernel: Kernel): void {
  if (kernels.has(op)) throw new Error(`kernel ${op} is registered twice`);
  kernels.set(op, kernel);
}

export function kernelFor(op: string): Kernel | undefined {
  return kernels.get(op);
}

export function kernelOps(): string[] {
  return [...kernels.keys()];
}
