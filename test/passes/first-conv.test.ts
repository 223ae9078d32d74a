// The first conv's input rearranged on the host (space-to-depth by the stride, then the kernel's
// columns packed into channels, or every tap of the window packed into channels, whichever takes
// fewer block-taps): the rewritten int8 conv must give exactly the original conv's int32 sums, for
// strides, paddings and sizes around ResNet-18's 7x7/2 conv1, and leave alone the convs it cannot
// help (wide inputs, inputs computed on VTA or read elsewhere).
import { describe, expect, it } from 'vitest';
import { execute } from '../../compiler/cpu/execute.ts';
import { call, constant, topoOrder, variable, type IRFunction } from '../../compiler/ir/graph.ts';
import '../../compiler/ir/ops/index.ts';
import { rearrangeFirstConv } from '../../compiler/passes/first-conv.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';

function int8(shape: number[], seed: number): Tensor {
  let s = seed;
  const t = Tensor.zeros('int8', shape);
  (t.data as Int8Array).forEach((_, i, a) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = (s >>> 16) % 256 - 128;
  });
  return t;
}

interface Case {
  C: number;
  H: number;
  W: number;
  k: [number, number];
  s: number;
  pad: [number, number, number, number];
}

function convNet({ C, H, W, k, s, pad }: Case, inputOnVta = false): IRFunction {
  const x = variable('x', { shape: [1, C, H, W], dtype: 'int8' });
  const src = inputOnVta ? call('cast', [call('cast', [x], { dtype: 'int32' }, { device: 'vta' })], { dtype: 'int8' }, { device: 'vta' }) : x;
  const w = constant('w', int8([20, C, k[0], k[1]], 7));
  const conv = call('nn.conv2d', [src, w], { strides: [s, s], padding: pad, out_dtype: 'int32' }, { name: 'conv1', device: 'vta' });
  return { params: [x], results: [conv] };
}

const convOf = (fn: IRFunction) => topoOrder(fn).find((c) => c.op === 'nn.conv2d')!;

describe('rearrangeFirstConv', () => {
  it.each<Case & { weights: number[] }>([
    // ResNet-18's conv1, smaller image: all 147 taps in 10 blocks (space-to-depth + 4 columns: 48 channels x 4 rows, 12).
    { C: 3, H: 32, W: 32, k: [7, 7], s: 2, pad: [3, 3, 3, 3], weights: [20, 147, 1, 1] },
    // The digits CNN's conv1: 9 taps of one channel, one block (columns alone: 3 rows of one block).
    { C: 1, H: 16, W: 16, k: [3, 3], s: 1, pad: [1, 1, 1, 1], weights: [20, 9, 1, 1] },
    // 75 taps in 5 blocks, against 9 block-taps of space-to-depth alone.
    { C: 3, H: 18, W: 14, k: [5, 5], s: 2, pad: [2, 2, 2, 2], weights: [20, 75, 1, 1] },
    // 24 taps take 2 blocks, as space-to-depth + 2 columns do: the tie keeps the latter (fewer host bytes).
    { C: 2, H: 12, W: 20, k: [3, 4], s: 2, pad: [1, 0, 0, 1], weights: [20, 16, 2, 1] },
    { C: 4, H: 12, W: 12, k: [3, 3], s: 3, pad: [0, 0, 0, 0], weights: [20, 36, 1, 1] },
    // A stride that does not divide the size: no space-to-depth, but every tap packs (27 channels, 2 blocks).
    { C: 3, H: 15, W: 15, k: [3, 3], s: 2, pad: [1, 1, 1, 1], weights: [20, 27, 1, 1] },
  ])('$C x $H x $W, $k.0 x $k.1 stride $s pad $pad: weights $weights, bit-exact', (c) => {
    const fn = convNet(c);
    const out = rearrangeFirstConv(fn);
    expect(convOf(out).args[1]!.type.shape).toEqual(c.weights);
    expect(convOf(out).attrs['strides']).toEqual([1, 1]);
    for (const seed of [1, 2]) {
      const x = int8([1, c.C, c.H, c.W], seed);
      expect(Array.from(execute(out, [x])[0]!.data as Int32Array)).toEqual(Array.from(execute(fn, [x])[0]!.data as Int32Array));
    }
    // The rearrangement runs on the host, before the copy to VTA.
    for (const n of topoOrder(out)) if (n !== convOf(out)) expect(n.device).toBe('cpu');
  });

  it('leaves alone a conv with a whole block of channels, one fed by VTA, and one whose input is read elsewhere too', () => {
    const shared = convNet({ C: 3, H: 8, W: 8, k: [3, 3], s: 1, pad: [1, 1, 1, 1] });
    const both: IRFunction = { params: shared.params, results: [shared.results[0]!, call('cast', [shared.params[0]!], { dtype: 'int32' }, { device: 'vta' })] };
    expect(convOf(rearrangeFirstConv(both))).toBe(convOf(both));
    for (const fn of [
      convNet({ C: 16, H: 8, W: 8, k: [3, 3], s: 1, pad: [1, 1, 1, 1] }),
      convNet({ C: 3, H: 8, W: 8, k: [3, 3], s: 1, pad: [1, 1, 1, 1] }, true),
    ]) {
      expect(convOf(rearrangeFirstConv(fn))).toBe(convOf(fn));
    }
  });
});
