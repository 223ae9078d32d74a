/** Padding of Conv, ConvTranspose and the pools, from pads or auto_pad. */
import type { NodeContext } from '../context.ts';

export interface WindowSpec {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Begin pads then end pads. */
  pads: number[];
}

/** Reads kernel/strides/dilations/pads for `n` spatial dims of input `spatial`, resolving auto_pad SAME_* and VALID. */
export function windowSpec(ctx: NodeContext, spatial: readonly number[], kernel: readonly number[]): WindowSpec {
  const n = spatial.length;
  const ones = new Array<number>(n).fill(1);
  const strides = ctx.attrs.ints('strides', ones);
  const dilations = ctx.attrs.ints('dilations', ones);
  if (strides.length !== n || dilations.length !== n) ctx.fail(`strides and dilations need ${n} entries`);
  const autoPad = ctx.attrs.string('auto_pad', 'NOTSET');
  let pads = ctx.attrs.ints('pads', new Array<number>(2 * n).fill(0));
  if (pads.length !== 2 * n) ctx.fail(`pads need ${2 * n} entries`);
  if (autoPad === 'VALID') pads = new Array<number>(2 * n).fill(0);
  else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    pads = new Array<number>(2 * n).fill(0);
    for (let i = 0; i < n; i++) {
      const out = Math.ceil(spatial[i]! / strides[i]!);
      const total = Math.max(0, (out - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - spatial[i]!);
      const small = Math.floor(total / 2);
      // SAME_UPPER puts the odd pixel at the end, SAME_LOWER at the beginning.
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[n + i] = total - pads[i]!;
    }
  } else if (autoPad !== 'NOTSET') ctx.fail(`unknown auto_pad ${autoPad}`);
  return { kernel: [...kernel], strides, dilations, pads };
}
