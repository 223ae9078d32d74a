// Simplification passes against the executor running the graph before them (batch_norm, add and
// bias_add kernels are the oracle), and the Graphviz writer against the IR's own devices.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { execute } from '../../compiler/cpu/execute.ts';
import { call, constant, topoOrder, variable, type IRFunction } from '../../compiler/ir/graph.ts';
import { DEVICE_COLORS, toDot } from '../../compiler/passes/dot.ts';
import { compileForVta } from '../../compiler/passes/pipeline.ts';
import { canonicalizeBias, channelShuffle, emptyStats, foldBatchNorm, foldChannelScale, foldChannelShuffle, foldConstants, pushReluIntoConcat, simplify } from '../../compiler/passes/simplify.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { modelFile } from '../data/index.ts';
import { loadModel, repoRoot } from './helpers.ts';

function filled(shape: number[], f: (i: number) => number): Tensor {
  const t = Tensor.zeros('float32', shape);
  (t.data as Float32Array).forEach((_, i, a) => (a[i] = f(i)));
  return t;
}

function convBnNet(): IRFunction {
  const x = variable('x', { shape: [1, 3, 6, 6], dtype: 'float32' });
  const conv = call('nn.conv2d', [x, constant('w', filled([4, 3, 3, 3], (i) => Math.sin(i)))], { padding: [1, 1, 1, 1] });
  const biased = call('add', [conv, constant('b', filled([1, 4, 1, 1], (i) => i - 1.5))]);
  const c = (name: string, f: (i: number) => number) => constant(name, filled([4], f));
  const bn = call('nn.batch_norm', [biased, c('gamma', (i) => 1 + i / 4), c('beta', (i) => -i), c('mean', (i) => i / 3), c('var', (i) => 0.5 + i)], { epsilon: 1e-5, axis: 1 });
  const other = call('nn.batch_norm', [x, ...['g2', 'b2', 'm2', 'v2'].map((n, k) => constant(n, filled([3], (i) => 0.5 + i + k)))], { epsilon: 1e-5, axis: 1 });
  return { params: [x], results: [call('nn.relu', [bn]), other] };
}

describe('simplify', () => {
  it('folds batch_norm into the conv and canonicalizes its bias without changing the outputs', () => {
    const fn = convBnNet();
    const folded = simplify(fn);
    const ops = topoOrder(folded).map((c) => c.op);
    expect(ops).not.toContain('nn.batch_norm');
    expect(ops.filter((o) => o === 'nn.bias_add')).toHaveLength(1);
    const x = filled([1, 3, 6, 6], (i) => Math.cos(i * 0.7));
    const before = execute(fn, [x]);
    const after = execute(folded, [x]);
    before.forEach((t, k) => (t.data as Float32Array).forEach((v, i) => expect(Math.abs(v - (after[k]!.data as Float32Array)[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(v)))));
    expect(topoOrder(canonicalizeBias(foldBatchNorm(fn))).filter((c) => c.op === 'nn.bias_add')).toHaveLength(1);
  });
});

/** Outputs of `a` and `b` agree within float rounding on one input. */
function expectSameOutputs(a: IRFunction, b: IRFunction, x: Tensor): void {
  const before = execute(a, [x]);
  const after = execute(b, [x]);
  before.forEach((t, k) => (t.data as Float32Array).forEach((v, i) => expect(Math.abs(v - (after[k]!.data as Float32Array)[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(v)))));
}

describe('constant and batch-norm folding', () => {
  const x = variable('x', { shape: [1, 3, 6, 6], dtype: 'float32' });
  const input = filled([1, 3, 6, 6], (i) => Math.cos(i * 0.3));

  it('folds weights built from full (ConstantFill / ConstantOfShape) and counts every folded call', () => {
    // w = full(0) + c, reshaped: two calls, then the conv's weight is a constant the quantizer sees.
    const zeros = call('full', [], { shape: [4, 27], fill_value: 0, dtype: 'float32' });
    const w = call('reshape', [call('add', [zeros, constant('c', filled([4, 27], (i) => Math.sin(i)))])], { newshape: [4, 3, 3, 3] });
    const fn: IRFunction = { params: [x], results: [call('nn.conv2d', [x, w], { padding: [1, 1, 1, 1] })] };
    const stats = emptyStats();
    const folded = foldConstants(fn, stats);
    expect(stats.folded).toBe(3);
    const conv = topoOrder(folded).find((c) => c.op === 'nn.conv2d')!;
    expect(conv.args[1]!.kind).toBe('constant');
    expect(topoOrder(folded)).toHaveLength(1);
    expectSameOutputs(fn, folded, input);
  });

  it('folds a decomposed batch norm (per-channel multiply then add) into the conv', () => {
    const conv = call('nn.conv2d', [x, constant('w', filled([4, 3, 3, 3], (i) => Math.sin(i)))], { padding: [1, 1, 1, 1] });
    const scaled = call('multiply', [conv, constant('k', filled([4, 1, 1], (i) => 0.5 + i))]);
    const fn: IRFunction = { params: [x], results: [call('add', [scaled, constant('s', filled([4, 1, 1], (i) => i - 2))])] };
    const stats = emptyStats();
    const folded = simplify(fn, stats);
    expect(topoOrder(folded).map((c) => c.op)).toEqual(['nn.conv2d', 'nn.bias_add']);
    expect(stats.scales).toBe(1);
    expectSameOutputs(fn, folded, input);
    expect(topoOrder(foldChannelScale(fn)).map((c) => c.op)).toEqual(['nn.conv2d', 'nn.bias_add', 'add']);
  });

  it('moves a ReLU of a concatenation onto its inputs, only when each input is read by the concatenation alone', () => {
    const a = call('nn.conv2d', [x, constant('wa', filled([4, 3, 3, 3], (i) => Math.sin(i)))], { padding: [1, 1, 1, 1] });
    const b = call('nn.avg_pool2d', [x], { pool_size: [3, 3], strides: [1, 1], padding: [1, 1, 1, 1] });
    const relu = call('nn.relu', [call('concatenate', [a, b], { axis: 1 })]);
    const fn: IRFunction = { params: [x], results: [relu] };
    const stats = emptyStats();
    const moved = pushReluIntoConcat(fn, stats);
    expect(stats.relus).toBe(1);
    expect(topoOrder(moved).map((c) => c.op).sort()).toEqual(['concatenate', 'nn.avg_pool2d', 'nn.conv2d', 'nn.relu', 'nn.relu']);
    expect(topoOrder(moved).at(-1)!.op).toBe('concatenate');
    expectSameOutputs(fn, moved, input);
    // A second reader of an input keeps the ReLU after the concatenation.
    const kept: IRFunction = { params: [x], results: [relu, a] };
    expect(topoOrder(pushReluIntoConcat(kept)).at(-1)!.op).not.toBe('concatenate');
  });

  it('folds a Reshape-Transpose-Reshape channel shuffle after a grouped conv into its weights', () => {
    const w = constant('wg', filled([8, 3, 3, 3], (i) => Math.sin(i * 0.9)));
    const x6 = variable('x6', { shape: [1, 6, 5, 5], dtype: 'float32' });
    const conv = call('nn.conv2d', [x6, w], { padding: [1, 1, 1, 1], groups: 2 });
    const biased = call('nn.bias_add', [conv, constant('bg', filled([8], (i) => i / 3 - 1))], { axis: 1 });
    const r1 = call('reshape', [call('nn.relu', [biased])], { newshape: [1, 2, 4, 5, 5] });
    const shuffled = call('reshape', [call('transpose', [r1], { axes: [0, 2, 1, 3, 4] })], { newshape: [1, 8, 5, 5] });
    const fn: IRFunction = { params: [x6], results: [shuffled] };
    expect(channelShuffle(shuffled)!.perm).toEqual([0, 4, 1, 5, 2, 6, 3, 7]);
    const stats = emptyStats();
    const folded = foldChannelShuffle(fn, stats);
    expect(stats.shuffles).toBe(1);
    expect(topoOrder(folded).map((c) => c.op)).toEqual(['nn.conv2d', 'nn.bias_add', 'nn.relu']);
    expect(topoOrder(folded)[0]!.attrs['groups']).toBe(1);
    expectSameOutputs(fn, folded, filled([1, 6, 5, 5], (i) => Math.cos(i * 0.21)));
    // A second reader of the conv keeps the shuffle as it is.
    const kept: IRFunction = { params: [x6], results: [shuffled, conv] };
    expect(topoOrder(foldChannelShuffle(kept)).map((c) => c.op)).toContain('transpose');
  });

  it('leaves a batch norm whose conv has another reader as a multiply-add (no second conv)', () => {
    const conv = call('nn.conv2d', [x, constant('w', filled([4, 3, 1, 1], (i) => Math.sin(i)))]);
    const c = (name: string, f: (i: number) => number) => constant(name, filled([4], f));
    const bn = call('nn.batch_norm', [conv, c('g', (i) => 1 + i), c('b', (i) => -i), c('m', (i) => i / 3), c('v', (i) => 1 + i)], { epsilon: 1e-5, axis: 1 });
    const fn: IRFunction = { params: [x], results: [call('concatenate', [conv, bn], { axis: 1 })] };
    const folded = simplify(fn);
    expect(topoOrder(folded).filter((n) => n.op === 'nn.conv2d')).toHaveLength(1);
    expect(topoOrder(folded).map((n) => n.op)).not.toContain('nn.batch_norm');
    expectSameOutputs(fn, folded, input);
  });
});

describe('--emit dot', () => {
  it('colours every node by its device, draws each copy as a diamond and boxes each VTA group', () => {
    const r = compileForVta(loadModel('digits_cnn_int8_qdq'));
    const dot = toDot(r.fn, r.groups);
    const calls = topoOrder(r.fn);
    calls.forEach((c, i) => {
      const line = dot.split('\n').find((l) => l.trim().startsWith(`n${i} [`))!;
      expect(line, c.op).toBeDefined();
      if (c.op === 'device_copy') expect(line).toContain('shape=diamond');
      else expect(line).toContain(`fillcolor="${DEVICE_COLORS[c.device!]}"`);
    });
    expect(dot.match(/shape=diamond/g)).toHaveLength(r.copies);
    expect(dot.match(/subgraph cluster_/g)).toHaveLength(r.groups.length);
    expect(dot.trim().endsWith('}')).toBe(true);
  });
});

describe('the CLI', () => {
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'compiler/passes/cli.ts'), ...args], { encoding: 'utf8', cwd: repoRoot });

  it('writes Graphviz for a QDQ model and refuses a float model without calibration', () => {
    const ok = cli(modelFile('digits_cnn_int8_qdq.onnx'), '--emit', 'dot');
    expect(ok.status).toBe(0);
    expect(ok.stdout.startsWith('digraph vta {')).toBe(true);
    const bad = cli(modelFile('digits_cnn.onnx'));
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim()).toBe('error: a float model needs calibration inputs (--calib) to be quantized');
  });
});
