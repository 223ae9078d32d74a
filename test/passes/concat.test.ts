// Channel concatenation: one calibrated scale the inputs share, int8 on VTA by addressing, and a
// requantization (on VTA) for an input another concatenation already tied to its scale. Oracles:
// the float graph on the executor (within quantization error) and the group replay, bit for bit.
import { describe, expect, it } from 'vitest';
import { execute } from '../../compiler/cpu/execute.ts';
import { call, constant, topoOrder, variable, type IRFunction, type Value } from '../../compiler/ir/graph.ts';
import { compileForVta } from '../../compiler/passes/pipeline.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { checkEdges, checkGroupsBitExact, checkSameOutputs } from './helpers.ts';

function filled(shape: number[], f: (i: number) => number): Tensor {
  const t = Tensor.zeros('float32', shape);
  (t.data as Float32Array).forEach((_, i, a) => (a[i] = f(i)));
  return t;
}

const convRelu = (x: Value, cin: number, cout: number, seed: number) =>
  call('nn.relu', [call('nn.conv2d', [x, constant(`w${seed}`, filled([cout, cin, 3, 3], (i) => Math.sin(i * 0.7 + seed) * 0.25))], { padding: [1, 1, 1, 1] })]);

/** x -> a, b (convs); c = concat(a, b); d = concat(b, c-conv) reads b again; two convs read c and d. */
function graph(): IRFunction {
  const x = variable('x', { shape: [1, 16, 6, 6], dtype: 'float32' });
  const stem = convRelu(x, 16, 16, 0);
  const a = convRelu(stem, 16, 16, 1);
  const b = convRelu(stem, 16, 32, 2);
  const c = call('concatenate', [a, b], { axis: 1 });
  const e = convRelu(c, 48, 16, 3);
  const d = call('concatenate', [e, b], { axis: 1 });
  return { params: [x], results: [convRelu(d, 48, 16, 4)] };
}

const inputs = [0, 1, 2].map((s) => filled([1, 16, 6, 6], (i) => Math.cos(i * 0.37 + s) * 2));

describe('channel concatenation', () => {
  it('runs on VTA between VTA layers, requantizing only the input a second concat shares', () => {
    const fn = graph();
    const r = compileForVta(fn, { calibration: inputs, firstConv: 'vta' });
    const concats = topoOrder(r.fn).filter((c) => c.op === 'concatenate');
    // b is read by both concats: the first ties b's scale, so the second cannot and reads b
    // requantized, a value of its own that VTA writes into the second concat's buffer.
    expect(concats.map((c) => c.device)).toEqual(['vta', 'vta']);
    expect(r.copies).toBe(2);
    const requant = r.groups.filter((g) => g.anchor === 'add');
    expect(requant).toHaveLength(1);
    expect(requant[0]!.epilogue.every((s) => s.kind === 'alu')).toBe(true);
    checkEdges(r.fn);
    checkSameOutputs(r.fn, r.quantized, inputs);
    checkGroupsBitExact(r.fn, r.groups, inputs[1]!);
    const [want] = execute(fn, [inputs[2]!]);
    const [got] = execute(r.fn, [inputs[2]!]);
    const w = want!.data as Float32Array;
    const max = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    (got!.data as Float32Array).forEach((v, i) => expect(Math.abs(v - w[i]!)).toBeLessThan(0.05 * max));
  });

  it('keeps every concat on VTA when each input is read by one concat only', () => {
    const x = variable('x', { shape: [1, 16, 6, 6], dtype: 'float32' });
    const a = convRelu(x, 16, 16, 5);
    const b = convRelu(x, 16, 16, 6);
    const c = call('concatenate', [a, b], { axis: 1 });
    const e = convRelu(c, 32, 16, 7);
    const d = call('concatenate', [c, e], { axis: 1 });
    const fn: IRFunction = { params: [x], results: [convRelu(d, 48, 16, 8)] };
    const r = compileForVta(fn, { calibration: inputs, firstConv: 'vta' });
    expect(topoOrder(r.fn).filter((n) => n.op === 'concatenate').map((n) => n.device)).toEqual(['vta', 'vta']);
    expect(r.copies).toBe(2);
    // One scale for all: no requantizing group.
    expect(r.groups.filter((g) => g.anchor === 'add')).toHaveLength(0);
    checkGroupsBitExact(r.fn, r.groups, inputs[0]!);
  });
});
