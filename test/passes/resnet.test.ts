// ResNet-18, float and onnxruntime's QDQ: every conv of layer1..layer4 and every residual add on
// VTA with at most two device copies; the QDQ model's integer graph against onnxruntime's output
// (within 2 output quantization steps for >= 99 % of the logits); every VTA group replayed
// bit-exactly from its description.
import * as ort from 'onnxruntime-node';
import { expect, it } from 'vitest';
import { execute } from '../../compiler/cpu/execute.ts';
import { topoOrder, type IRFunction } from '../../compiler/ir/graph.ts';
import { compileForVta } from '../../compiler/passes/pipeline.ts';
import { scalarValue } from '../../compiler/quant/realize.ts';
import { modelFile } from '../data/index.ts';
import { describeWithLargeModels } from '../data/large-models.ts';
import { checkEdges, checkGroupsBitExact, loadModel, npy } from './helpers.ts';

function checkPlacement(fn: IRFunction, copies: number): void {
  checkEdges(fn);
  const calls = topoOrder(fn);
  const convs = calls.filter((c) => c.op === 'nn.conv2d' && c.name?.startsWith('/layer'));
  const adds = calls.filter((c) => c.op === 'add' && /\/layer\d\/layer\d\.\d\/Add$/.test(c.name ?? ''));
  expect(convs).toHaveLength(19);
  expect(adds).toHaveLength(8);
  for (const c of [...convs, ...adds]) expect(c.device, c.name).toBe('vta');
  expect(copies).toBeLessThanOrEqual(2);
  expect(calls.filter((c) => c.op === 'device_copy')).toHaveLength(copies);
}

describeWithLargeModels('resnet18_int8_qdq', () => {
  it('places layer1..layer4 on VTA and stays within 2 steps of onnxruntime (first conv on the CPU when asked)', async () => {
    const fn = loadModel('resnet18_int8_qdq');
    const r = compileForVta(fn, { firstConv: 'cpu' });
    checkPlacement(r.fn, r.copies);
    const conv1 = topoOrder(r.fn).find((c) => c.op === 'nn.conv2d')!;
    expect(conv1.device).toBe('cpu');
    const x = npy('resnet18_int8_qdq.ref_in.npy');
    const [ours] = checkGroupsBitExact(r.fn, r.groups, x);
    expect(Array.from(ours!.data as Float32Array)).toEqual(Array.from(execute(r.quantized, [x])[0]!.data as Float32Array));

    const session = await ort.InferenceSession.create(modelFile('resnet18_int8_qdq.onnx'));
    const out = await session.run({ [fn.params[0]!.name]: new ort.Tensor('float32', x.data as Float32Array, [...x.shape]) });
    await session.release();
    const theirs = Object.values(out)[0]!.data as Float32Array;
    const last = topoOrder(r.fn).filter((c) => c.op === 'qnn.dequantize').pop()!;
    const step = scalarValue(last.args[1]!)!;
    const o = ours!.data as Float32Array;
    let within = 0;
    let exact = 0;
    let worst = 0;
    for (let i = 0; i < theirs.length; i++) {
      const steps = Math.abs(o[i]! - theirs[i]!) / step;
      worst = Math.max(worst, steps);
      if (steps <= 2 + 1e-4) within++;
      if (steps < 1e-4) exact++;
    }
    console.log(`resnet18_int8_qdq: ${((within / theirs.length) * 100).toFixed(1)} % of logits within 2 steps of onnxruntime, ${((exact / theirs.length) * 100).toFixed(1)} % identical, worst ${worst.toFixed(2)} steps; ${r.groups.length} VTA groups, ${r.copies} copies`);
    expect(within / theirs.length).toBeGreaterThanOrEqual(0.99);
  });

  it('runs the first conv on VTA by default (its input rearranged on the host), still with two copies, bit-exact', () => {
    const r = compileForVta(loadModel('resnet18_int8_qdq'));
    checkPlacement(r.fn, r.copies);
    const conv1 = topoOrder(r.fn).find((c) => c.op === 'nn.conv2d')!;
    expect(conv1.device).toBe('vta');
    // Every tap of the 7x7 window packed into channels: 147 channels in 10 blocks, 1x1 (space-to-depth + columns would take 12 block-taps).
    expect(conv1.args[1]!.type.shape).toEqual([4, 10, 1, 1, 16, 16]);
    // The rearranged conv sums the same products: the placed graph equals the integer graph bit for bit.
    const x = npy('resnet18_int8_qdq.ref_in.npy');
    const [ours] = checkGroupsBitExact(r.fn, r.groups, x);
    expect(Array.from(ours!.data as Float32Array)).toEqual(Array.from(execute(r.quantized, [x])[0]!.data as Float32Array));
  });
});

describeWithLargeModels('resnet18 (float, calibrated on its reference input)', () => {
  it('places layer1..layer4 on VTA with the first conv in float on the CPU when asked', () => {
    const r = compileForVta(loadModel('resnet18'), { calibration: [npy('resnet18.ref_in.npy')], firstConv: 'cpu' });
    checkPlacement(r.fn, r.copies);
    const conv1 = topoOrder(r.fn).find((c) => c.op === 'nn.conv2d')!;
    expect([conv1.device, conv1.type.dtype]).toEqual(['cpu', 'float32']);
  });
});
