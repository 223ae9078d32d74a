// Where a dense goes: on VTA after a VTA group (its flatten becomes addressing, the weights follow
// the packed feature order), on the CPU when it is one GEMV fed by a CPU op that reads VTA's output
// (a second device run for little work), and on VTA again when it is a GEMM over several rows.
// The placed and packed graphs must give the integer graph's values exactly.
import { describe, expect, it } from 'vitest';
import { call, constant, topoOrder, variable, type IRFunction, type Value } from '../../compiler/ir/graph.ts';
import { annotateDevices } from '../../compiler/passes/annotate.ts';
import { insertDeviceCopies, propagateDevices } from '../../compiler/passes/devices.ts';
import { findKernelGroups } from '../../compiler/passes/fuse.ts';
import { packLayouts } from '../../compiler/passes/pack.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { checkEdges, checkGroupsBitExact, checkSameOutputs } from './helpers.ts';

function int8(shape: number[], seed: number): Tensor {
  let s = seed;
  const t = Tensor.zeros('int8', shape);
  (t.data as Int8Array).forEach((_, i, a) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    a[i] = ((s >>> 16) % 64) - 32;
  });
  return t;
}

const requant = (v: Value): Value => call('cast', [call('clip', [call('right_shift', [v, constant('k', Tensor.from('int32', [], [6]))])], { a_min: -128, a_max: 127 })], { dtype: 'int8' });

/** int8 conv (20 channels, 5x5) -> between -> dense (37) -> dense (10), all int8 with shift requantization. */
function net(between: 'flatten' | 'pool', rows: number): IRFunction {
  const x = variable('x', { shape: [rows, 3, 5, 5], dtype: 'int8' });
  const conv = requant(call('nn.conv2d', [x, constant('cw', int8([20, 3, 3, 3], 1))], { padding: [1, 1, 1, 1], out_dtype: 'int32' }));
  const flat =
    between === 'flatten'
      ? call('reshape', [conv], { newshape: [rows, 500] }, { name: 'flatten' })
      : call('reshape', [call('cast', [call('nn.max_pool2d', [call('cast', [conv], { dtype: 'int32' })], { pool_size: [5, 5] })], { dtype: 'int8' })], { newshape: [rows, 20] }, { name: 'flatten' });
  const k = flat.type.shape[1]!;
  const d1 = requant(call('nn.dense', [flat, constant('w1', int8([37, k], 2))], { out_dtype: 'int32' }, { name: 'fc1' }));
  const d2 = call('nn.dense', [d1, constant('w2', int8([10, 37], 3))], { out_dtype: 'int32' }, { name: 'fc2' });
  return { params: [x], results: [d2] };
}

const deviceOf = (fn: IRFunction, name: string) => topoOrder(fn).find((c) => c.name === name)?.device;

describe('dense placement', () => {
  it.each([
    { between: 'flatten' as const, rows: 1, fc: 'vta', flatten: 'vta' },
    // The pool runs on the CPU in int32 here (a max pool of int32 is no VTA rule): a GEMV after it stays on the CPU.
    { between: 'pool' as const, rows: 1, fc: 'cpu', flatten: 'cpu' },
    { between: 'pool' as const, rows: 4, fc: 'vta', flatten: 'cpu' },
    // A flatten of several rows is no packed-layout reshape: it runs on the CPU, the denses still on VTA.
    { between: 'flatten' as const, rows: 4, fc: 'vta', flatten: 'cpu' },
  ])('$between, $rows row(s): fc1 on $fc, flatten on $flatten, bit-exact', ({ between, rows, fc, flatten }) => {
    const quantized = annotateDevices(net(between, rows));
    expect(deviceOf(quantized, 'fc1')).toBe(fc);
    expect(deviceOf(quantized, 'flatten')).toBe(flatten);
    const placed = insertDeviceCopies(packLayouts(quantized));
    propagateDevices(placed);
    checkEdges(placed);
    const groups = findKernelGroups(placed).filter((g) => g.calls.every((c) => c.device === 'vta'));
    const x = int8([rows, 3, 5, 5], 9);
    checkGroupsBitExact(placed, groups, x);
    checkSameOutputs(placed, quantized, [x, int8([rows, 3, 5, 5], 10)]);
  });
});
