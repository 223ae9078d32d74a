/**
 * Integer-only operators the quantized graphs need beyond the generic
 * elementwise set. Their semantics are VTA's ALU (isa/SPEC.md §4 ALU), so a
 * graph built from them runs bit-identically on the CPU executor and on VTA.
 */
import type { TensorType } from '../types.ts';
import { TypeInferenceError } from '../errors.ts';
import { registerOp } from './registry.ts';
import { broadcastShapes } from './shape-utils.ts';

// right_shift(x, amount): the ALU's SHR on int32 lanes; a negative amount shifts left.
registerOp({
  name: 'right_shift',
  arity: [2, 2],
  infer: ([x, amount], _attrs, op): TensorType => {
    if (x!.dtype !== 'int32' || amount!.dtype !== 'int32') throw new TypeInferenceError(op, `needs int32 operands, got ${x!.dtype} and ${amount!.dtype}`);
    return { shape: broadcastShapes(op, x!.shape, amount!.shape), dtype: 'int32' };
  },
});
