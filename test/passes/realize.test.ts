// realizeQdq against the QDQ graph itself: the executor runs DequantizeLinear -> float op ->
// QuantizeLinear with ONNX's semantics (float32 sums, round half to even), and the integer rewrite
// (exact sums, rounding shifts) must land within one output step, for asymmetric zero points,
// padding, strides, groups and residual adds with different scales.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { execute } from '../../compiler/cpu/execute.ts';
import { call, constant, topoOrder, variable, type IRFunction, type Value } from '../../compiler/ir/graph.ts';
import '../../compiler/ir/ops/index.ts';
import { realizeQdq } from '../../compiler/quant/realize.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';

const scalar = (dtype: 'float32' | 'int8' | 'int32', v: number) => constant(`${dtype}_${v}`, Tensor.from(dtype, [], [v]));
const q = (v: Value, s: number, z: number) => call('qnn.quantize', [v, scalar('float32', s), scalar('int8', z)], { axis: 1, out_dtype: 'int8' });
const dq = (v: Value, s: number, z: number) => call('qnn.dequantize', [v, scalar('float32', s), scalar(v.type.dtype as 'int8' | 'int32', z)], { axis: 1 });

interface Case {
  seed: number;
  zx: number;
  zy: number;
  zr: number;
  stride: number;
  groups: number;
  relu: boolean;
  sx: number;
  sy: number;
  sr: number;
}

function qdqGraph(c: Case): IRFunction {
  let s = c.seed;
  const rand = (n: number) => Math.floor(((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * n);
  const C = 16;
  const O = 16;
  const x = variable('x', { shape: [1, C, 7, 7], dtype: 'float32' });
  const w = Tensor.zeros('int8', [O, C / c.groups, 3, 3]);
  (w.data as Int8Array).forEach((_, i, a) => (a[i] = rand(255) - 127));
  const b = Tensor.zeros('int32', [O]);
  (b.data as Int32Array).forEach((_, i, a) => (a[i] = rand(20001) - 10000));
  const sw = 0.003;
  const xq = dq(q(x, c.sx, c.zx), c.sx, c.zx);
  const conv = call('nn.conv2d', [xq, dq(constant('w', w), sw, 0)], { strides: [c.stride, c.stride], padding: [1, 1, 1, 1], groups: c.groups });
  const biased = call('nn.bias_add', [conv, dq(constant('b', b), c.sx * sw, 0)], { axis: 1 });
  const y = dq(q(c.relu ? call('nn.relu', [biased]) : biased, c.sy, c.zy), c.sy, c.zy);
  // A residual from the input, pooled to the conv's size, with its own scale and zero point.
  const skip = dq(q(call('nn.max_pool2d', [xq], { pool_size: [1, 1], strides: [c.stride, c.stride] }), c.sx, c.zx), c.sx, c.zx);
  const sum = dq(q(call('nn.relu', [call('add', [y, skip])]), c.sr, c.zr), c.sr, c.zr);
  return { params: [x], results: [y, sum] };
}

describe('realizeQdq', () => {
  it('stays within one quantization step of the QDQ graph', () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.nat(),
          zx: fc.constantFrom(-128, -7, 0, 5),
          zy: fc.constantFrom(-128, 0, 11),
          zr: fc.constantFrom(-128, -3),
          stride: fc.constantFrom(1, 2),
          groups: fc.constantFrom(1, 4, 16),
          relu: fc.boolean(),
          sx: fc.double({ min: 0.005, max: 0.05, noNaN: true }),
          sy: fc.double({ min: 0.02, max: 0.5, noNaN: true }),
          sr: fc.double({ min: 0.02, max: 0.5, noNaN: true }),
        }),
        (c) => {
          const fn = qdqGraph(c);
          const int = realizeQdq(fn);
          // Everything but the input's quantize and the outputs' dequantize became integer ops.
          expect(topoOrder(int).filter((n) => n.op === 'nn.conv2d').map((n) => n.type.dtype)).toEqual(['int32']);
          const x = Tensor.zeros('float32', [1, 16, 7, 7]);
          (x.data as Float32Array).forEach((_, i, a) => (a[i] = Math.sin(i * 0.61 + c.seed) * 2));
          const want = execute(fn, [x]);
          const got = execute(int, [x]);
          // The conv within one step. The add within one step, plus what a one-step difference of
          // its conv operand (sy) is worth at its output scale (sr), plus the rescaling of its
          // coarser operand into the finer one's units (half a fine step).
          [[c.sy, 1], [c.sr, 1 + (c.sy + 0.5 * Math.min(c.sx, c.sy)) / c.sr]].forEach(([step, tolerance], k) => {
            const a = got[k]!.data as Float32Array;
            const e = want[k]!.data as Float32Array;
            for (let i = 0; i < e.length; i++) expect(Math.abs(a[i]! - e[i]!) / step!).toBeLessThanOrEqual(tolerance! + 1e-3);
          });
        },
      ),
      { numRuns: 40 },
    );
  });
});
