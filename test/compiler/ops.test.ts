// Single-op models built in the test, across opsets where the op's definition changed, run by
// the importer + CPU executor and by onnxruntime-node on the same random inputs. Integer results
// must match bit for bit.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { execute } from '../../compiler/cpu/execute.ts';
import { importOnnx } from '../../compiler/onnx/import.ts';
import { isFloat } from '../../compiler/tensor/dtype.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { closeness, rng } from './helpers.ts';
import { model, node, tensorProto, type AttrSpec, type ValueSpec } from './onnx-builder.ts';

interface Case {
  name: string;
  op: string;
  opset: number;
  inputs: (ValueSpec & { range?: [number, number] })[];
  /** Constant operands as initializers, after the fed inputs. */
  consts?: Record<string, Tensor>;
  attrs?: Record<string, AttrSpec>;
  outputs?: number;
}

const f = (name: string, ...shape: number[]): ValueSpec => ({ name, dtype: 'float32', shape });
const i64 = (...v: number[]) => Tensor.from('int64', [v.length], v);
const scalar = (dtype: 'float32' | 'int8' | 'uint8', v: number) => Tensor.from(dtype, [], [v]);

const cases: Case[] = [
  { name: 'Conv SAME_UPPER stride 2', op: 'Conv', opset: 11, inputs: [f('x', 1, 3, 9, 8), f('w', 4, 3, 3, 3)], attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] } },
  { name: 'Conv SAME_LOWER even kernel', op: 'Conv', opset: 17, inputs: [f('x', 1, 2, 7, 7), f('w', 2, 2, 2, 4)], attrs: { auto_pad: 'SAME_LOWER', strides: [1, 2] } },
  { name: 'Conv dilated, asymmetric pads', op: 'Conv', opset: 17, inputs: [f('x', 1, 2, 9, 7), f('w', 3, 2, 2, 3)], attrs: { dilations: [3, 2], pads: [2, 0, 1, 3] } },
  { name: 'Conv 1-D grouped', op: 'Conv', opset: 13, inputs: [f('x', 2, 4, 11), f('w', 6, 2, 3), f('b', 6)], attrs: { group: 2, pads: [1, 2], strides: [2] } },
  { name: 'Conv 1x1 direct path', op: 'Conv', opset: 13, inputs: [f('x', 1, 8, 5, 6), f('w', 5, 8, 1, 1)] },
  { name: 'ConvTranspose output_shape', op: 'ConvTranspose', opset: 13, inputs: [f('x', 1, 2, 4, 4), f('w', 2, 3, 3, 3)], attrs: { strides: [2, 2], output_shape: [9, 10] } },
  { name: 'ConvTranspose grouped dilated', op: 'ConvTranspose', opset: 11, inputs: [f('x', 1, 4, 3, 5), f('w', 4, 1, 2, 3), f('b', 2)], attrs: { group: 2, dilations: [2, 1], pads: [1, 0, 0, 1] } },
  { name: 'MaxPool ceil_mode', op: 'MaxPool', opset: 12, inputs: [f('x', 1, 2, 7, 8)], attrs: { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 } },
  { name: 'AveragePool count_include_pad', op: 'AveragePool', opset: 11, inputs: [f('x', 1, 2, 6, 5)], attrs: { kernel_shape: [3, 2], pads: [1, 1, 1, 0], count_include_pad: 1 } },
  { name: 'AveragePool excluding pad, ceil', op: 'AveragePool', opset: 19, inputs: [f('x', 1, 1, 7, 7)], attrs: { kernel_shape: [2, 2], strides: [2, 2], pads: [1, 1, 0, 0], ceil_mode: 1 } },
  { name: 'GlobalMaxPool', op: 'GlobalMaxPool', opset: 13, inputs: [f('x', 2, 3, 4, 5)] },
  { name: 'LRN', op: 'LRN', opset: 13, inputs: [f('x', 1, 6, 3, 3)], attrs: { size: 5, alpha: { float: 0.01 }, beta: { float: 0.6 }, bias: { float: 2 } } },
  { name: 'BatchNormalization', op: 'BatchNormalization', opset: 15, inputs: [f('x', 2, 3, 4), f('s', 3), f('b', 3), f('m', 3), { ...f('v', 3), range: [0.5, 2] }] },
  { name: 'Gemm transA alpha beta', op: 'Gemm', opset: 13, inputs: [f('a', 5, 3), f('b', 5, 4), f('c', 1, 4)], attrs: { transA: 1, alpha: { float: 0.5 }, beta: { float: 2 } } },
  { name: 'MatMul batched broadcast', op: 'MatMul', opset: 13, inputs: [f('a', 2, 1, 3, 5), f('b', 3, 5, 4)] },
  { name: 'MatMul 1-D', op: 'MatMul', opset: 13, inputs: [f('a', 5), f('b', 2, 5, 3)] },
  { name: 'MatMul int32 wraps', op: 'MatMul', opset: 13, inputs: [{ name: 'a', dtype: 'int32', shape: [3, 4], range: [-2e9, 2e9] }, { name: 'b', dtype: 'int32', shape: [4, 2], range: [-2e9, 2e9] }] },
  { name: 'Softmax opset 11 coerced to 2-D', op: 'Softmax', opset: 11, inputs: [f('x', 2, 3, 4)], attrs: { axis: 1 } },
  { name: 'Softmax opset 13 axis', op: 'Softmax', opset: 13, inputs: [f('x', 2, 3, 4)], attrs: { axis: 1 } },
  { name: 'ReduceMean opset 13', op: 'ReduceMean', opset: 13, inputs: [f('x', 2, 3, 4)], attrs: { axes: [0, 2], keepdims: 0 } },
  { name: 'ReduceMean opset 18 axes input', op: 'ReduceMean', opset: 18, inputs: [f('x', 2, 3, 4)], consts: { axes: i64(-1) } },
  { name: 'Clip opset 6 attributes', op: 'Clip', opset: 6, inputs: [f('x', 3, 4)], attrs: { min: { float: -0.2 }, max: { float: 0.3 } } },
  { name: 'Clip opset 13 inputs', op: 'Clip', opset: 13, inputs: [f('x', 3, 4)], consts: { lo: scalar('float32', -0.1), hi: scalar('float32', 0.4) } },
  { name: 'Clip int8', op: 'Clip', opset: 13, inputs: [{ name: 'x', dtype: 'int8', shape: [10], range: [-128, 127] }], consts: { lo: scalar('int8', -5), hi: scalar('int8', 9) } },
  { name: 'Squeeze opset 11', op: 'Squeeze', opset: 11, inputs: [f('x', 1, 3, 1, 2)], attrs: { axes: [0, -2] } },
  { name: 'Squeeze opset 13', op: 'Squeeze', opset: 13, inputs: [f('x', 1, 3, 1, 2)], consts: { axes: i64(2) } },
  { name: 'Unsqueeze opset 11', op: 'Unsqueeze', opset: 11, inputs: [f('x', 3, 2)], attrs: { axes: [0, 3] } },
  { name: 'Unsqueeze opset 13', op: 'Unsqueeze', opset: 13, inputs: [f('x', 3, 2)], consts: { axes: i64(-1, 1) } },
  { name: 'Split opset 11 sizes', op: 'Split', opset: 11, inputs: [f('x', 2, 7)], attrs: { axis: 1, split: [2, 5] }, outputs: 2 },
  { name: 'Split opset 13 equal', op: 'Split', opset: 13, inputs: [f('x', 6, 2)], outputs: 3 },
  { name: 'Split opset 18 num_outputs', op: 'Split', opset: 18, inputs: [f('x', 7, 2)], attrs: { num_outputs: 3 }, outputs: 3 },
  { name: 'Slice opset 9 attributes', op: 'Slice', opset: 9, inputs: [f('x', 5, 6)], attrs: { starts: [1, -4], ends: [100, -1], axes: [0, 1] } },
  { name: 'Slice opset 13 negative step', op: 'Slice', opset: 13, inputs: [f('x', 5, 6)], consts: { s: i64(-1, 4), e: i64(-100, 0), a: i64(1, 0), st: i64(-2, -1) } },
  { name: 'Pad opset 2 reflect', op: 'Pad', opset: 9, inputs: [f('x', 1, 2, 4, 5)], attrs: { mode: 'reflect', pads: [0, 0, 2, 3, 0, 0, 1, 2] } },
  { name: 'Pad opset 13 edge', op: 'Pad', opset: 13, inputs: [f('x', 2, 3)], consts: { p: i64(1, 2, 2, 0) }, attrs: { mode: 'edge' } },
  { name: 'Pad opset 18 constant axes', op: 'Pad', opset: 18, inputs: [f('x', 2, 3)], consts: { p: i64(1, 2), v: scalar('float32', 5), axes: i64(1) } },
  { name: 'Gather negative indices', op: 'Gather', opset: 13, inputs: [f('x', 4, 3)], consts: { i: Tensor.from('int64', [2, 2], [-1, 0, 2, 1]) }, attrs: { axis: 0 } },
  { name: 'Transpose', op: 'Transpose', opset: 13, inputs: [f('x', 2, 3, 4)], attrs: { perm: [2, 0, 1] } },
  { name: 'Concat', op: 'Concat', opset: 13, inputs: [f('a', 2, 3), f('b', 2, 1)], attrs: { axis: -1 } },
  { name: 'Flatten axis 2', op: 'Flatten', opset: 13, inputs: [f('x', 2, 3, 4, 5)], attrs: { axis: 2 } },
  { name: 'Reshape 0 and -1', op: 'Reshape', opset: 13, inputs: [f('x', 2, 3, 4)], consts: { s: i64(0, -1, 2) } },
  { name: 'Expand', op: 'Expand', opset: 13, inputs: [f('x', 3, 1)], consts: { s: i64(2, 1, 4) } },
  { name: 'Cast float to int8', op: 'Cast', opset: 13, inputs: [{ ...f('x', 12), range: [-100, 100] }], attrs: { to: 3 } },
  { name: 'Cast int32 to float', op: 'Cast', opset: 13, inputs: [{ name: 'x', dtype: 'int32', shape: [6], range: [-1e6, 1e6] }], attrs: { to: 1 } },
  { name: 'Add int8 wraps', op: 'Add', opset: 14, inputs: [{ name: 'a', dtype: 'int8', shape: [2, 5], range: [-128, 127] }, { name: 'b', dtype: 'int8', shape: [5], range: [-128, 127] }] },
  { name: 'Mul int32 wraps', op: 'Mul', opset: 14, inputs: [{ name: 'a', dtype: 'int32', shape: [8], range: [-2e9, 2e9] }, { name: 'b', dtype: 'int32', shape: [8], range: [-2e9, 2e9] }] },
  { name: 'Div int32 truncates', op: 'Div', opset: 14, inputs: [{ name: 'a', dtype: 'int32', shape: [8], range: [-1000, 1000] }, { name: 'b', dtype: 'int32', shape: [8], range: [1, 30] }] },
  { name: 'Sub int64 broadcast', op: 'Sub', opset: 14, inputs: [{ name: 'a', dtype: 'int64', shape: [3, 1], range: [-1e6, 1e6] }, { name: 'b', dtype: 'int64', shape: [4], range: [-1e6, 1e6] }] },
  { name: 'Sum of three', op: 'Sum', opset: 13, inputs: [f('a', 2, 3), f('b', 3), f('c', 2, 1)] },
  { name: 'Max of two', op: 'Max', opset: 13, inputs: [f('a', 2, 3), f('b', 3)] },
  { name: 'Min of two', op: 'Min', opset: 13, inputs: [f('a', 4), f('b', 4)] },
  { name: 'PRelu broadcast slope', op: 'PRelu', opset: 16, inputs: [f('x', 2, 3, 2, 2), f('s', 3, 1, 1)] },
  { name: 'LeakyRelu', op: 'LeakyRelu', opset: 16, inputs: [f('x', 10)], attrs: { alpha: { float: 0.2 } } },
  { name: 'Tanh', op: 'Tanh', opset: 13, inputs: [f('x', 10)] },
  { name: 'Sqrt', op: 'Sqrt', opset: 13, inputs: [{ ...f('x', 10), range: [0, 9] }] },
  { name: 'Neg int32', op: 'Neg', opset: 13, inputs: [{ name: 'x', dtype: 'int32', shape: [5], range: [-100, 100] }] },
  { name: 'Identity', op: 'Identity', opset: 13, inputs: [f('x', 3)] },
  { name: 'Dropout opset 13', op: 'Dropout', opset: 13, inputs: [f('x', 3, 2)] },
  { name: 'Shape opset 15 start', op: 'Shape', opset: 15, inputs: [f('x', 2, 3, 4)], attrs: { start: 1 } },
  { name: 'ConstantOfShape int32', op: 'ConstantOfShape', opset: 13, inputs: [], consts: { s: i64(2, 3) }, attrs: { value: Tensor.from('int32', [1], [7]) } },
  { name: 'QuantizeLinear int8 half-even', op: 'QuantizeLinear', opset: 13, inputs: [{ ...f('x', 64), range: [-40, 40] }], consts: { s: scalar('float32', 0.25), z: scalar('int8', 3) } },
  { name: 'QuantizeLinear uint8 default zero point', op: 'QuantizeLinear', opset: 13, inputs: [{ ...f('x', 32), range: [-10, 80] }], consts: { s: scalar('float32', 0.3) } },
  { name: 'QuantizeLinear per axis', op: 'QuantizeLinear', opset: 13, inputs: [f('x', 2, 3, 4)], consts: { s: Tensor.from('float32', [3], [0.01, 0.02, 0.05]), z: Tensor.from('uint8', [3], [0, 128, 255]) } },
  { name: 'DequantizeLinear per axis', op: 'DequantizeLinear', opset: 13, inputs: [{ name: 'x', dtype: 'int8', shape: [3, 4], range: [-128, 127] }], consts: { s: Tensor.from('float32', [4], [0.1, 0.2, 0.3, 0.4]), z: Tensor.from('int8', [4], [0, -3, 5, 127]) }, attrs: { axis: 1 } },
  { name: 'DequantizeLinear int32', op: 'DequantizeLinear', opset: 13, inputs: [{ name: 'x', dtype: 'int32', shape: [5], range: [-1e8, 1e8] }], consts: { s: scalar('float32', 0.001) } },
];

function randomTensor(spec: ValueSpec & { range?: [number, number] }, next: () => number): Tensor {
  const [lo, hi] = spec.range ?? [-1, 1];
  const t = Tensor.zeros(spec.dtype, spec.shape);
  for (let i = 0; i < t.size; i++) {
    const v = lo + (hi - lo) * next();
    if (t.data instanceof BigInt64Array) t.data[i] = BigInt(Math.round(v));
    else t.data[i] = isFloat(spec.dtype) ? v : Math.round(v);
  }
  return t;
}

describe('single ops against onnxruntime', () => {
  for (const c of cases) {
    it(`${c.name} (opset ${c.opset})`, async () => {
      const next = rng(c.name.length * 7919);
      const feeds = c.inputs.map((s) => randomTensor(s, next));
      const consts = Object.entries(c.consts ?? {});
      const outputs = Array.from({ length: c.outputs ?? 1 }, (_, i) => `y${i}`);
      const bytes = model({
        opset: c.opset,
        nodes: [node(c.op, [...c.inputs.map((s) => s.name), ...consts.map(([n]) => n)], outputs, c.attrs)],
        inputs: c.inputs,
        outputs,
        initializers: consts.map(([n, t]) => tensorProto(n, t)),
      });
      const ours = execute(importOnnx(bytes).fn, feeds);
      const session = await ort.InferenceSession.create(bytes);
      const theirs = await session.run(Object.fromEntries(c.inputs.map((s, i) => [s.name, new ort.Tensor(s.dtype, feeds[i]!.data, [...s.shape])])));
      outputs.forEach((name, i) => {
        const ref = theirs[name]!;
        const expected = new Tensor(ours[i]!.dtype, ref.dims.map(Number), ref.data as Float32Array);
        expect(ref.type).toBe(ours[i]!.dtype);
        if (isFloat(expected.dtype)) {
          const { worst, index } = closeness(ours[i]!, expected, 1e-4, 1e-5);
          expect(worst, `${name} element ${index}`).toBeLessThanOrEqual(0);
        } else {
          expect(ours[i]!.shape).toEqual(expected.shape);
          expect(ours[i]!.toNumbers()).toEqual(expected.toNumbers());
        }
      });
      await session.release();
    });
  }
});
