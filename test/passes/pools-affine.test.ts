// Average pools and standalone per-channel multiply-adds (a batch norm with no conv before it) in
// integer form: realizeQdq against the QDQ graph itself on the executor (ONNX's AveragePool and
// float multiply-add, then QuantizeLinear), within one output step; and the placed graph's VTA
// groups replayed bit for bit from their description.
import { describe, expect, it } from 'vitest';
import { execute } from '../../compiler/cpu/execute.ts';
import { call, constant, topoOrder, variable, type IRFunction, type Value } from '../../compiler/ir/graph.ts';
import { compileForVta } from '../../compiler/passes/pipeline.ts';
import { realizeQdq } from '../../compiler/quant/realize.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { checkGroupsBitExact } from './helpers.ts';

const scalar = (dtype: 'float32' | 'int8', v: number) => constant(`${dtype}_${v}`, Tensor.from(dtype, [], [v]));
const q = (v: Value, s: number, z: number) => call('qnn.quantize', [v, scalar('float32', s), scalar('int8', z)], { axis: 1, out_dtype: 'int8' });
const dq = (v: Value, s: number, z: number) => call('qnn.dequantize', [v, scalar('float32', s), scalar('int8', z)], { axis: 1 });

function input(shape: number[], seed: number): Tensor {
  const t = Tensor.zeros('float32', shape);
  (t.data as Float32Array).forEach((_, i, a) => (a[i] = Math.sin(i * 0.91 + seed) * 3 + Math.cos(i * 0.13) * 2));
  return t;
}

/** Output steps between the QDQ graph and its integer rewrite, at most. */
function worstSteps(fn: IRFunction, x: Tensor, scale: number): number {
  const realized = realizeQdq(fn);
  const ops = topoOrder(realized).map((c) => c.op);
  expect(ops).not.toContain('nn.avg_pool2d');
  expect(ops).not.toContain('nn.global_avg_pool2d');
  const [a] = execute(fn, [x]);
  const [b] = execute(realized, [x]);
  let worst = 0;
  (a!.data as Float32Array).forEach((v, i) => (worst = Math.max(worst, Math.abs(v - (b!.data as Float32Array)[i]!) / scale)));
  return worst;
}

const C = 24;
const shape = [1, C, 9, 9];

describe('average pools in integer form', () => {
  const cases = [
    { name: '3x3 s1 pad 1, count_include_pad 1', attrs: { pool_size: [3, 3], strides: [1, 1], padding: [1, 1, 1, 1], count_include_pad: 1 } },
    { name: '3x3 s2 pad 1, count_include_pad 0', attrs: { pool_size: [3, 3], strides: [2, 2], padding: [1, 1, 1, 1], count_include_pad: 0 } },
    { name: '2x2 s2 no pad', attrs: { pool_size: [2, 2], strides: [2, 2], padding: [0, 0, 0, 0], count_include_pad: 0 } },
  ];
  for (const zx of [0, -20]) {
    for (const c of cases) {
      it(`${c.name}, input zero point ${zx}: within one step of AveragePool + QuantizeLinear`, () => {
        const x = variable('x', { shape, dtype: 'float32' });
        const pool = call('nn.avg_pool2d', [dq(q(x, 0.05, zx), 0.05, zx)], c.attrs);
        const fn: IRFunction = { params: [x], results: [dq(q(pool, 0.03, 0), 0.03, 0)] };
        expect(worstSteps(fn, input(shape, zx), 0.03)).toBeLessThanOrEqual(1.001);
      });
    }
    it(`global average pool, input zero point ${zx}: within one step`, () => {
      const x = variable('x', { shape, dtype: 'float32' });
      const pool = call('nn.global_avg_pool2d', [dq(q(x, 0.05, zx), 0.05, zx)], {});
      const fn: IRFunction = { params: [x], results: [dq(q(pool, 0.01, 0), 0.01, 0)] };
      expect(worstSteps(fn, input(shape, 1 + zx), 0.01)).toBeLessThanOrEqual(1.001);
    });
  }

  it('a per-channel multiply then add (a batch norm with no conv before it): within one step', () => {
    const x = variable('x', { shape, dtype: 'float32' });
    const k = constant('k', Tensor.from('float32', [1, C, 1, 1], Array.from({ length: C }, (_, c) => (c % 3 === 0 ? -0.7 : 0.4 + c / 10))));
    const b = constant('b', Tensor.from('float32', [1, C, 1, 1], Array.from({ length: C }, (_, c) => c / 7 - 1)));
    const y = call('nn.relu', [call('add', [call('multiply', [dq(q(x, 0.05, 0), 0.05, 0), k]), b])]);
    const fn: IRFunction = { params: [x], results: [dq(q(y, 0.04, 0), 0.04, 0)] };
    expect(worstSteps(fn, input(shape, 2), 0.04)).toBeLessThanOrEqual(1.001);
  });
});

describe('pools and per-channel multiply-adds placed on VTA', () => {
  it('a calibrated float graph puts every pool and the multiply-add on VTA, each group bit-exact', () => {
    const x = variable('x', { shape: [1, 16, 9, 9], dtype: 'float32' });
    const w = Tensor.zeros('float32', [C, 16, 3, 3]);
    (w.data as Float32Array).forEach((_, i, a) => (a[i] = Math.sin(i * 1.7) * 0.2));
    const conv = call('nn.relu', [call('nn.conv2d', [x, constant('w', w)], { padding: [1, 1, 1, 1] })]);
    const p1 = call('nn.avg_pool2d', [conv], { pool_size: [3, 3], strides: [1, 1], padding: [1, 1, 1, 1], count_include_pad: 0 });
    const k = constant('k', Tensor.from('float32', [1, C, 1, 1], Array.from({ length: C }, (_, c) => 0.5 + c / 20)));
    const bn = call('nn.relu', [call('add', [call('multiply', [p1, k]), constant('b', Tensor.from('float32', [1, C, 1, 1], Array.from({ length: C }, (_, c) => c / 30)))])]);
    const w2 = Tensor.zeros('float32', [16, C, 1, 1]);
    (w2.data as Float32Array).forEach((_, i, a) => (a[i] = Math.cos(i * 0.3) * 0.3));
    const conv2 = call('nn.relu', [call('nn.conv2d', [bn, constant('w2', w2)], {})]);
    const fn: IRFunction = { params: [x], results: [call('nn.global_avg_pool2d', [conv2], {})] };
    const r = compileForVta(fn, { calibration: [input([1, 16, 9, 9], 0), input([1, 16, 9, 9], 5)], firstConv: 'vta' });
    // conv, avg pool (a depthwise conv of ones), the multiply-add (elementwise), conv, global pool.
    expect(r.groups.map((g) => g.anchor)).toEqual(['conv2d', 'conv2d', 'add', 'conv2d', 'conv2d']);
    expect(r.groups.find((g) => g.anchor === 'add')!.epilogue.map((s) => s.kind)).toContain('scale');
    checkGroupsBitExact(r.fn, r.groups, input([1, 16, 9, 9], 9));
  });
});
