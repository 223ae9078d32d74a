// Grouped and depthwise int8 convs on VTA: packed as block-diagonal GEMM groups, they must give
// exactly what the executor's grouped conv gives on the unpacked integer graph.
import { describe, expect, it } from 'vitest';
import { call, constant, topoOrder, variable, type IRFunction, type Value } from '../../compiler/ir/graph.ts';
import { compileForVta } from '../../compiler/passes/pipeline.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { checkGroupsBitExact, checkSameOutputs } from './helpers.ts';

function filled(shape: number[], f: (i: number) => number): Tensor {
  const t = Tensor.zeros('float32', shape);
  (t.data as Float32Array).forEach((_, i, a) => (a[i] = f(i)));
  return t;
}

function net(): IRFunction {
  const x = variable('x', { shape: [1, 16, 8, 8], dtype: 'float32' });
  let seed = 3;
  const rand = () => ((seed = (seed * 69069 + 1) % 2 ** 32) / 2 ** 32) - 0.5;
  const conv = (v: Value, o: number, k: number, groups: number, name: string) => {
    const w = constant(`${name}_w`, filled([o, v.type.shape[1]! / groups, k, k], rand));
    const c = call('nn.conv2d', [v, w], { padding: new Array(4).fill((k - 1) / 2), groups }, { name });
    return call('nn.relu', [call('nn.bias_add', [c, constant(`${name}_b`, filled([o], rand))], { axis: 1 })], {}, { name: `${name}_relu` });
  };
  const a = conv(x, 32, 3, 1, 'stem');
  const dw = conv(a, 32, 3, 32, 'depthwise');
  const dw2 = conv(dw, 64, 3, 32, 'depthwise_x2');
  const g = conv(dw2, 32, 1, 2, 'grouped');
  return { params: [x], results: [call('nn.global_avg_pool2d', [g], {}, { name: 'gap' })] };
}

describe('grouped and depthwise convs', () => {
  it('run on VTA as block-diagonal groups, bit-identical to the grouped conv', () => {
    const inputs = [0, 1, 2].map((k) => filled([1, 16, 8, 8], (i) => Math.sin(i * 0.13 + k)));
    const r = compileForVta(net(), { calibration: inputs.slice(0, 2), firstConv: 'vta' });
    const convs = new Map(topoOrder(r.fn).filter((c) => c.op === 'nn.conv2d').map((c) => [c.name!, c]));
    for (const c of convs.values()) expect(c.device).toBe('vta');
    // 32 depthwise groups -> 2 block-diagonal groups of 16; the multiplier-2 depthwise -> 2 groups of 16 in, 32 out.
    expect(convs.get('depthwise')!.attrs['groups']).toBe(2);
    expect(convs.get('depthwise_x2')!.attrs['groups']).toBe(2);
    expect(convs.get('grouped')!.attrs['groups']).toBe(2);
    expect(r.copies).toBe(2);
    checkGroupsBitExact(r.fn, r.groups, inputs[2]!);
    checkSameOutputs(r.fn, r.quantized, inputs);
  });
});
