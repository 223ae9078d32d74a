// Accuracy of the quantized digits CNN run by the CPU executor in integer arithmetic, on the 397
// held-out images (labels shipped with the data): calibrated from the float model with the first
// conv on the CPU in float or on VTA with padded channels, and from onnxruntime's QDQ model.
// Accuracy runs on the unpacked integer graph; the packed, placed graph must give bit-identical
// outputs (checked on a subset, since the executor's packed layouts are slower).
import { beforeAll, describe, expect, it } from 'vitest';
import type { Tensor } from '../../compiler/tensor/tensor.ts';
import { groupToLayer } from '../../compiler/group-layer.ts';
import { compileForVta } from '../../compiler/passes/pipeline.ts';
import { preset } from '../../isa/config.ts';
import { topoOrder } from '../../compiler/ir/graph.ts';
import { accuracy, checkEdges, checkGroupsBitExact, checkSameOutputs, digits, loadModel } from './helpers.ts';

let data: { x: Tensor[]; y: number[]; calibration: Tensor[] };
beforeAll(() => {
  data = digits();
});

describe('digits_cnn calibrated on digits_calib_x.npy', () => {
  for (const firstConv of ['cpu', 'vta'] as const) {
    it(`scores >= 99.0 % with the first conv on ${firstConv === 'cpu' ? 'the CPU in float' : 'VTA (its 9 taps packed into channels)'}`, () => {
      const r = compileForVta(loadModel('digits_cnn'), { calibration: data.calibration, firstConv });
      const convs = topoOrder(r.fn).filter((c) => c.op === 'nn.conv2d');
      // Four convs, the global average pool as the depthwise conv of ones that sums it, then the
      // dense as a 1x1 conv over the flattened (addressed) pool.
      expect(convs.map((c) => c.device)).toEqual([firstConv, 'vta', 'vta', 'vta', 'vta', 'vta']);
      expect(convs[4]!.name).toContain('GlobalAveragePool');
      expect(topoOrder(r.fn).filter((c) => c.op === 'nn.dense')).toEqual([]);
      expect(convs[0]!.type.dtype).toBe(firstConv === 'cpu' ? 'float32' : 'int32');
      expect(r.copies).toBe(2);
      checkEdges(r.fn);
      checkSameOutputs(r.fn, r.quantized, data.x.slice(0, 10));
      const acc = accuracy(r.quantized, data.x, data.y);
      console.log(`digits_cnn (first conv ${firstConv}): ${(acc * 100).toFixed(2)} %`);
      expect(acc).toBeGreaterThanOrEqual(0.99);
    });
  }

  it('scores >= 99.0 % with power-of-two scales (shift-only requantization)', () => {
    const r = compileForVta(loadModel('digits_cnn'), { calibration: data.calibration, quantize: { scaleMode: 'pow2' } });
    for (const g of r.groups) for (const s of g.epilogue) if (s.kind === 'alu') expect(s.op).not.toBe('MUL');
    const subset = 150;
    const acc = accuracy(r.quantized, data.x.slice(0, subset), data.y.slice(0, subset));
    console.log(`digits_cnn (pow2 scales, first ${subset} images): ${(acc * 100).toFixed(2)} %`);
    expect(acc).toBeGreaterThanOrEqual(0.99);
  });
});

describe('digits_cnn_int8_qdq', () => {
  it('scores >= 99.5 % and its VTA groups replay bit-exactly', () => {
    const r = compileForVta(loadModel('digits_cnn_int8_qdq'));
    expect(r.copies).toBe(2);
    // The first conv on VTA by default (its input rearranged on the host), then the rest; the last
    // two conv2d groups are the global average pool and the dense.
    expect(r.groups.map((g) => g.anchor)).toEqual(['conv2d', 'conv2d', 'max_pool2d', 'conv2d', 'conv2d', 'conv2d', 'conv2d']);
    checkGroupsBitExact(r.fn, r.groups, data.x[0]!);
    checkSameOutputs(r.fn, r.quantized, data.x.slice(0, 10));
    const acc = accuracy(r.quantized, data.x, data.y);
    console.log(`digits_cnn_int8_qdq: ${(acc * 100).toFixed(2)} %`);
    expect(acc).toBeGreaterThanOrEqual(0.995);
  });

  it('with symmetric zero points: >= 99.5 %, only per-channel biases, every group lowerable', () => {
    const r = compileForVta(loadModel('digits_cnn_int8_qdq'), { qdqZeroPoints: 'symmetric' });
    for (const g of r.groups) for (const s of g.epilogue) if (s.kind === 'bias') expect(s.perChannel).toBe(true);
    r.groups.forEach((g, i) => groupToLayer(preset('default'), g, `g${i}`));
    checkGroupsBitExact(r.fn, r.groups, data.x[1]!);
    const acc = accuracy(r.quantized, data.x, data.y);
    console.log(`digits_cnn_int8_qdq (symmetric zero points): ${(acc * 100).toFixed(2)} %`);
    expect(acc).toBeGreaterThanOrEqual(0.995);
  });
});
