// The CPU kernels against naive references written here: integer paths bit-exact, over random
// geometries (fast-check).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { execute } from '../../compiler/cpu/execute.ts';
import { roundHalfEven } from '../../compiler/cpu/kernels/quantize.ts';
import { call, constant, variable } from '../../compiler/ir/graph.ts';
import '../../compiler/ir/ops/index.ts';
import type { DType } from '../../compiler/tensor/dtype.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { closeness, rng } from './helpers.ts';

function randomTensor(dtype: DType, shape: number[], seed: number): Tensor {
  const next = rng(seed);
  const t = Tensor.zeros(dtype, shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = dtype === 'float32' ? next() * 2 - 1 : dtype === 'uint8' ? Math.floor(next() * 256) : Math.floor(next() * 256) - 128;
  return t;
}

/** Direct 2-D convolution by definition, accumulating exactly and wrapping to the output dtype. */
function naiveConv(x: Tensor, w: Tensor, g: { stride: number[]; pad: number[]; dil: number[]; groups: number }, outDType: DType): Tensor {
  const [N, C, H, W] = x.shape as number[];
  const [O, Cg, KH, KW] = w.shape as number[];
  const OH = Math.floor((H! + g.pad[0]! + g.pad[2]! - g.dil[0]! * (KH! - 1) - 1) / g.stride[0]!) + 1;
  const OW = Math.floor((W! + g.pad[1]! + g.pad[3]! - g.dil[1]! * (KW! - 1) - 1) / g.stride[1]!) + 1;
  const out = Tensor.zeros(outDType, [N!, O!, OH, OW]);
  const xd = x.toNumbers();
  const wd = w.toNumbers();
  const Og = O! / g.groups;
  for (let n = 0; n < N!; n++) for (let o = 0; o < O!; o++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    let acc = 0;
    const grp = Math.floor(o / Og);
    for (let c = 0; c < Cg!; c++) for (let ky = 0; ky < KH!; ky++) for (let kx = 0; kx < KW!; kx++) {
      const iy = oy * g.stride[0]! - g.pad[0]! + ky * g.dil[0]!;
      const ix = ox * g.stride[1]! - g.pad[1]! + kx * g.dil[1]!;
      if (iy < 0 || iy >= H! || ix < 0 || ix >= W!) continue;
      acc += xd[((n * C! + grp * Cg! + c) * H! + iy) * W! + ix]! * wd[((o * Cg! + c) * KH! + ky) * KW! + kx]!;
    }
    (out.data as Float32Array)[((n * O! + o) * OH + oy) * OW + ox] = acc;
  }
  return out;
}

const geometry = fc.record({
  n: fc.integer({ min: 1, max: 2 }),
  groups: fc.constantFrom(1, 2, 3),
  cg: fc.integer({ min: 1, max: 5 }),
  og: fc.integer({ min: 1, max: 6 }),
  h: fc.integer({ min: 1, max: 9 }),
  w: fc.integer({ min: 1, max: 9 }),
  kh: fc.integer({ min: 1, max: 3 }),
  kw: fc.integer({ min: 1, max: 3 }),
  stride: fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
  dil: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
  pad: fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 2 })),
  seed: fc.integer(),
}).filter((g) => g.h + g.pad[0] + g.pad[2] >= g.dil[0] * (g.kh - 1) + 1 && g.w + g.pad[1] + g.pad[3] >= g.dil[1] * (g.kw - 1) + 1);

describe('nn.conv2d against a direct convolution', () => {
  for (const [inDType, outDType] of [['int8', 'int32'], ['uint8', 'int32'], ['int8', 'int8'], ['int32', 'int32'], ['float32', 'float32']] as [DType, DType][]) {
    it(`${inDType} -> ${outDType}${outDType === 'float32' ? '' : ', bit-exact'}`, () => {
      fc.assert(fc.property(geometry, (g) => {
        const x = randomTensor(inDType, [g.n, g.cg * g.groups, g.h, g.w], g.seed);
        const wt = randomTensor(inDType === 'uint8' ? 'int8' : inDType, [g.og * g.groups, g.cg, g.kh, g.kw], g.seed + 1);
        const w = inDType === 'uint8' ? new Tensor('uint8', wt.shape, Uint8Array.from(wt.data as Int8Array, (v) => v & 0x7f)) : wt;
        const attrs = { strides: g.stride, padding: g.pad, dilation: g.dil, groups: g.groups, out_dtype: outDType };
        const xv = variable('x', { shape: x.shape, dtype: inDType });
        const [ours] = execute({ params: [xv], results: [call('nn.conv2d', [xv, constant('w', w)], attrs)] }, [x]);
        const ref = naiveConv(x, w, { stride: g.stride, pad: g.pad, dil: g.dil, groups: g.groups }, outDType);
        if (outDType === 'float32') expect(closeness(ours!, ref, 1e-5, 1e-5).worst).toBeLessThanOrEqual(0);
        else expect(ours!.toNumbers()).toEqual(ref.toNumbers());
      }), { numRuns: 60 });
    });
  }
});

describe('nn.dense and nn.matmul', () => {
  it('int8 x int8 -> int32 dense is exact at any batch size', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 9 }), fc.integer(), (m, k, n, seed) => {
      const x = randomTensor('int8', [m, k], seed);
      const w = randomTensor('int8', [n, k], seed + 1);
      const xv = variable('x', { shape: [m, k], dtype: 'int8' });
      const [ours] = execute({ params: [xv], results: [call('nn.dense', [xv, constant('w', w)], { out_dtype: 'int32' })] }, [x]);
      const xs = x.toNumbers();
      const ws = w.toNumbers();
      const ref = Array.from({ length: m * n }, (_, i) => {
        let acc = 0;
        for (let j = 0; j < k; j++) acc += xs[Math.floor(i / n) * k + j]! * ws[(i % n) * k + j]!;
        return acc;
      });
      expect(ours!.toNumbers()).toEqual(ref);
    }), { numRuns: 50 });
  });
});

describe('quantization arithmetic', () => {
  it('rounds half to even', () => {
    expect([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.4999, -3.5000001].map(roundHalfEven)).toEqual([-2, -2, -0, 0, 2, 2, 2, -4]);
  });

  it('quantize saturates and dequantize inverts within half a step', () => {
    const x = variable('x', { shape: [7], dtype: 'float32' });
    const scale = constant('s', Tensor.from('float32', [], [0.5]));
    const zp = constant('z', Tensor.from('int8', [], [-10]));
    const q = call('qnn.quantize', [x, scale, zp], { out_dtype: 'int8' });
    const dq = call('qnn.dequantize', [q, scale, zp]);
    const [qv, dv] = execute({ params: [x], results: [q, dq] }, [Tensor.from('float32', [7], [0, 0.25, 0.75, -1.25, 100, -100, 3.3])]);
    expect(qv!.toNumbers()).toEqual([-10, -10, -8, -12, 127, -128, -3]);
    expect(dv!.toNumbers()).toEqual([0, 0, 1, -1, 68.5, -59, 3.5]);
  });
});
