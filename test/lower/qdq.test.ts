import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { preset } from '../../isa/config.ts';
import { execute } from '../../compiler/cpu/execute.ts';
import { groupToLayer } from '../../compiler/group-layer.ts';
import type { Value } from '../../compiler/ir/graph.ts';
import { importOnnxFile } from '../../compiler/onnx/import.ts';
import { compileForVta } from '../../compiler/passes/pipeline.ts';
import { readNpy } from '../../compiler/tensor/npy.ts';
import type { Tensor } from '../../compiler/tensor/tensor.ts';
import { inputShape, lowerLayer, outputShape, packEpilogueTensors, planEpilogue, unpackActivation, type Layer } from '../../compiler/lower/index.ts';
import { modelFile } from '../data/index.ts';
import { describeWithLargeModels } from '../data/large-models.ts';
import { mismatches, runLowered, SAME } from './harness.ts';

const cfg = preset('default');
const compile = (name: string) => compileForVta(importOnnxFile(modelFile(`${name}.onnx`)).fn);

/**
 * Every per-element bias of the groups became a `tensor` step whose packed form is the IR constant
 * itself, and the conv's plan of it (a per-channel part and a sparse remainder) sums back to it.
 */
function checkTensors(layer: Layer, group: ReturnType<typeof compile>['groups'][number]): number {
  const steps = layer.kind === 'conv2d' || layer.kind === 'dense' ? layer.epilogue : layer.kind === 'eltwise' ? layer.steps : [];
  const biases = group.epilogue.filter((s) => s.kind === 'bias' && !s.perChannel);
  const tensors = steps.filter((s) => s.kind === 'tensor');
  expect(tensors.length).toBe(biases.length);
  const [N, C, H, W] = outputShape(layer);
  tensors.forEach((t, i) => {
    const b = biases[i]!;
    const ew: Layer = { kind: 'eltwise', name: 'alone', batch: N, channels: C, height: H, width: W, steps: [t] };
    if (b.kind === 'bias') expect(mismatchesInt32(packEpilogueTensors(cfg, ew), b.value.value.data as Int32Array)).toBe(0);
    if (layer.kind !== 'conv2d') return;
    const sum = new Int32Array(t.values.length);
    for (const s of planEpilogue({ ...layer, epilogue: [t] })) {
      if (s.kind === 'tensor') sum.forEach((v, j) => (sum[j] = (v + s.values[j]!) | 0));
      if (s.kind === 'channel') sum.forEach((v, j) => (sum[j] = (v + s.values[Math.floor(j / (H * W)) % C]!) | 0));
    }
    expect(mismatchesInt32(sum, t.values)).toBe(0);
  });
  return tensors.length;
}

function mismatchesInt32(a: Int32Array, b: Int32Array): number {
  if (a.length !== b.length) return Math.max(a.length, b.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n;
}

describe('QDQ models: per-element epilogue constants reach the lowering', () => {
  it('digits_cnn_int8_qdq: every group converts and lowers, and runs bit-exactly as the CPU executor computes it', () => {
    const r = compile('digits_cnn_int8_qdq');
    const probes: Value[] = r.groups.flatMap((g) => [g.data, g.output]);
    const x = readNpy(fs.readFileSync(modelFile('digits_cnn_int8_qdq.ref_in.npy')));
    const values = new Map<Value, Tensor>();
    execute({ params: r.fn.params, results: probes }, [x]).forEach((t, i) => values.set(probes[i]!, t));
    let tensors = 0;
    r.groups.forEach((g, i) => {
      const { layer, weights, residual } = groupToLayer(cfg, g, `group${i}`);
      expect(residual).toBeUndefined();
      tensors += checkTensors(layer, g);
      const { lowered } = lowerLayer(cfg, layer, { tune: 'none' });
      const input = unpackActivation(cfg, values.get(g.data)!.data as Int8Array, inputShape(layer));
      const want = unpackActivation(cfg, values.get(g.output)!.data as Int8Array, outputShape(layer));
      expect(mismatches(runLowered(cfg, lowered, { input, weights }), want), layer.name).toEqual(SAME);
    });
    expect(tensors).toBe(3);
  });
});

describeWithLargeModels('resnet18_int8_qdq: per-element epilogue constants reach the lowering', () => {
  it('resnet18_int8_qdq: every group converts and lowers (tune none)', () => {
    const r = compile('resnet18_int8_qdq');
    let tensors = 0;
    r.groups.forEach((g, i) => {
      const { layer } = groupToLayer(cfg, g, `group${i}`);
      tensors += checkTensors(layer, g);
      const { lowered } = lowerLayer(cfg, layer, { tune: 'none' });
      expect(lowered.insns.length).toBeGreaterThan(0);
      if (layer.kind === 'conv2d' && layer.epilogue.some((s) => s.kind === 'tensor')) expect(lowered.buffers.tensor).toBe(outputShape(layer).reduce((a, b) => a * b, 4));
    });
    // conv1 (on VTA by default), 19 convs, the max pool (the residual adds ride the convs), the
    // global average pool (a depthwise conv of ones on VTA) and the fc (a dense: a 1x1 conv).
    expect(r.groups.length).toBe(23);
    expect(r.groups.filter((g) => g.anchorCall.name?.includes('GlobalAveragePool'))).toHaveLength(1);
    // conv1 pads an input with a nonzero zero point too.
    expect(tensors).toBe(17);
  }, 60_000);
});
