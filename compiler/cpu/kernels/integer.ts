import { registerKernel } from '../registry.ts';
import { binary } from './elementwise.ts';

/**
 * VTA's SHR (isa/SPEC.md §4 ALU): a non-negative amount shifts arithmetically
 * right by min(amount, 31); a negative one shifts left by -amount keeping the
 * low 32 bits, so -amount >= 32 gives 0.
 */
export function shiftRightVta(x: number, amount: number): number {
  if (amount >= 0) return x >> Math.min(amount, 31);
  return -amount >= 32 ? 0 : (x << -amount) | 0;
}

const unsupported = (): never => {
  throw new Error('right_shift is int32-only (type inference rejects other dtypes)');
};

registerKernel('right_shift', ([x, amount], _attrs, type) => binary(x!, amount!, type, { float: unsupported, int: shiftRightVta, big: unsupported }));
