// The IR: type inference (including VTA's packed 6-D layouts), devices, device_copy, the printer.
import { describe, expect, it } from 'vitest';
import { execute } from '../../compiler/cpu/execute.ts';
import { TypeInferenceError } from '../../compiler/ir/errors.ts';
import { call, constant, topoOrder, variable, type IRFunction } from '../../compiler/ir/graph.ts';
import '../../compiler/ir/ops/index.ts';
import { printFunction } from '../../compiler/ir/printer.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { rng } from './helpers.ts';

const f32 = (...shape: number[]) => ({ shape, dtype: 'float32' as const });
const i8 = (...shape: number[]) => ({ shape, dtype: 'int8' as const });

function randomInt8(shape: number[], seed: number): Tensor {
  const next = rng(seed);
  const t = Tensor.zeros('int8', shape);
  (t.data as Int8Array).forEach((_, i, a) => (a[i] = Math.floor(next() * 256) - 128));
  return t;
}

describe('type inference', () => {
  it('infers conv2d, pools, dense and broadcasting', () => {
    const x = variable('x', f32(1, 3, 224, 224));
    const w = constant('w', Tensor.zeros('float32', [64, 3, 7, 7]));
    const c = call('nn.conv2d', [x, w], { strides: [2, 2], padding: [3, 3, 3, 3] });
    expect(c.type).toEqual(f32(1, 64, 112, 112));
    const p = call('nn.max_pool2d', [c], { pool_size: [3, 3], strides: [2, 2], padding: [1, 1, 1, 1] });
    expect(p.type.shape).toEqual([1, 64, 56, 56]);
    const g = call('nn.global_avg_pool2d', [p]);
    const d = call('nn.dense', [call('reshape', [g], { newshape: [1, 64] }), constant('fc', Tensor.zeros('float32', [10, 64]))]);
    expect(d.type).toEqual(f32(1, 10));
    expect(call('add', [variable('a', f32(4, 1, 3)), variable('b', f32(5, 1))]).type.shape).toEqual([4, 5, 3]);
  });

  it('int8 conv2d with an int32 accumulator', () => {
    const c = call('nn.conv2d', [variable('x', i8(1, 16, 14, 14)), variable('w', i8(32, 16, 3, 3))], { padding: [1, 1, 1, 1], out_dtype: 'int32' });
    expect(c.type).toEqual({ shape: [1, 32, 14, 14], dtype: 'int32' });
  });

  it('packed NCHW{b}n{c}c data and OIHW{c}o{c}i weights (6-D)', () => {
    // VTA's graph_pack: BATCH=1, BLOCK=16: data (N/1, C/16, H, W, 1, 16), weight (O/16, I/16, kh, kw, 16, 16).
    const x = variable('x', i8(1, 4, 14, 14, 1, 16));
    const w = variable('w', i8(8, 4, 3, 3, 16, 16));
    const c = call('nn.conv2d', [x, w], {
      padding: [1, 1, 1, 1], data_layout: 'NCHW1n16c', kernel_layout: 'OIHW16o16i', out_dtype: 'int32',
    });
    expect(c.type).toEqual({ shape: [1, 8, 14, 14, 1, 16], dtype: 'int32' });
    // Element-wise ops work on any rank, so the packed residual add and clip type-check as is.
    const r = call('clip', [call('add', [c, c])], { a_min: -127, a_max: 127 });
    expect(r.type.shape).toHaveLength(6);
    expect(call('layout_transform', [x], { src_layout: 'NCHW1n16c', dst_layout: 'NCHW' }).type.shape).toEqual([1, 64, 14, 14]);
    expect(() => call('nn.conv2d', [x, variable('w2', i8(8, 4, 3, 3, 16, 8))], { data_layout: 'NCHW1n16c', kernel_layout: 'OIHW16o16i' })).toThrow(TypeInferenceError);
  });

  it('refuses ill-typed calls with the op named', () => {
    expect(() => call('add', [variable('a', f32(2, 3)), variable('b', f32(4))])).toThrow(/^add: shapes \(2, 3\) and \(4,\) do not broadcast/);
    expect(() => call('add', [variable('a', f32(2)), variable('b', i8(2))])).toThrow(/dtypes differ/);
    expect(() => call('nn.conv2d', [variable('x', f32(1, 3, 8, 8)), variable('w', f32(4, 2, 3, 3))])).toThrow(/groups=1/);
    expect(() => call('reshape', [variable('x', f32(6))], { newshape: [4, 2] })).toThrow(TypeInferenceError);
    expect(() => call('no.such_op', [])).toThrow(/unknown operator/);
  });
});

describe('devices', () => {
  it('carries a device per node and runs device_copy as the identity on the CPU', () => {
    const x = variable('x', f32(2, 2));
    const a = call('nn.relu', [x], {}, { device: 'cpu' });
    const toVta = call('device_copy', [a], { src_device: 'cpu', dst_device: 'vta' }, { device: 'vta' });
    const b = call('add', [toVta, toVta], {}, { device: 'vta' });
    const back = call('device_copy', [b], { src_device: 'vta', dst_device: 'cpu' }, { device: 'cpu' });
    const fn: IRFunction = { params: [x], results: [back] };
    expect(topoOrder(fn).map((c) => c.device)).toEqual(['cpu', 'vta', 'vta', 'cpu']);
    expect(execute(fn, [Tensor.from('float32', [2, 2], [-1, 2, -3, 4])])[0]!.toNumbers()).toEqual([0, 4, 0, 8]);
    expect(printFunction(fn)).toContain('device_copy(%2, src_device="vta", dst_device="cpu") /* ty=Tensor[(2, 2), float32], device=cpu */');
  });
});

describe('printer', () => {
  it('prints Relay-style text', () => {
    const x = variable('data', f32(1, 3, 8, 8));
    const w = constant('w0', Tensor.zeros('float32', [4, 3, 3, 3]));
    const c = call('nn.conv2d', [x, w], { strides: [2, 2], padding: [1, 1, 1, 1] });
    const r = call('nn.relu', [c]);
    expect(printFunction({ params: [x], results: [r] })).toBe(
      [
        'fn (%data: Tensor[(1, 3, 8, 8), float32]) -> Tensor[(1, 4, 4, 4), float32] {',
        '  %0 = nn.conv2d(%data, meta[w0], strides=[2, 2], padding=[1, 1, 1, 1]) /* ty=Tensor[(1, 4, 4, 4), float32] */;',
        '  %1 = nn.relu(%0) /* ty=Tensor[(1, 4, 4, 4), float32] */;',
        '  %1',
        '}',
      ].join('\n'),
    );
  });
});

describe('packed layouts on the CPU', () => {
  it('layout_transform round-trips and packs the way graph_pack does', () => {
    const x = variable('x', i8(2, 32, 3, 5));
    const packed = call('layout_transform', [x], { src_layout: 'NCHW', dst_layout: 'NCHW2n16c' });
    const back = call('layout_transform', [packed], { src_layout: 'NCHW2n16c', dst_layout: 'NCHW' });
    const input = randomInt8([2, 32, 3, 5], 1);
    const [p, b] = execute({ params: [x], results: [packed, back] }, [input]);
    expect(p!.shape).toEqual([1, 2, 3, 5, 2, 16]);
    expect(b!.toNumbers()).toEqual(input.toNumbers());
    // graph_pack: reshape (N/b, b, C/c, c, H, W) then transpose (0, 2, 4, 5, 1, 3).
    const at = (n: number, c: number, h: number, w: number) => input.toNumbers()[((n * 32 + c) * 3 + h) * 5 + w];
    const pv = p!.toNumbers();
    const idx = (n0: number, c0: number, h: number, w: number, n1: number, c1: number) => ((((n0 * 2 + c0) * 3 + h) * 5 + w) * 2 + n1) * 16 + c1;
    expect(pv[idx(0, 1, 2, 4, 1, 3)]).toBe(at(1, 19, 2, 4));
    expect(pv[idx(0, 0, 1, 0, 0, 15)]).toBe(at(0, 15, 1, 0));
  });

  it('a packed int8 conv2d equals the unpacked one, bit for bit', () => {
    const data = randomInt8([1, 32, 6, 6], 2);
    const weight = randomInt8([16, 32, 3, 3], 3);
    const x = variable('x', i8(1, 32, 6, 6));
    const w = constant('w', weight);
    const plain = call('nn.conv2d', [x, w], { padding: [1, 1, 1, 1], out_dtype: 'int32' });
    const px = call('layout_transform', [x], { src_layout: 'NCHW', dst_layout: 'NCHW1n16c' });
    const pw = call('layout_transform', [w], { src_layout: 'OIHW', dst_layout: 'OIHW16o16i' });
    const pc = call('nn.conv2d', [px, pw], { padding: [1, 1, 1, 1], data_layout: 'NCHW1n16c', kernel_layout: 'OIHW16o16i', out_dtype: 'int32' });
    const unpacked = call('layout_transform', [pc], { src_layout: 'NCHW1n16c', dst_layout: 'NCHW' });
    const [a, b] = execute({ params: [x], results: [plain, unpacked] }, [data]);
    expect(b!.toNumbers()).toEqual(a!.toNumbers());
  });
});
