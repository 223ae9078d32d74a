// Dense layers on VTA, from the generated float models of test/data/dense (gen.py): a conv whose
// output is flattened into two Gemm layers at batch 1 (GEMV; the flatten is addressing, so nothing
// runs on the CPU between the conv and the denses), a three-layer MLP on 4 rows at once (one GEMM
// per layer, the rows as the GEMM's columns), an MLP of MatMul + Add, and a transformer encoder
// block whose six projections and both MatMuls of two activations (Q·Kᵀ, P·V: the second operand
// packed into WGT blocks by the host) run on VTA between the CPU's LayerNorms, Softmax and GELU. Each model is calibrated on seeded random inputs, runs on sim, equals
// the CPU executor on the placed graph bit for bit, and stays within cosine 0.99 of onnxruntime.
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeModel } from '../../compiler/artifact/format.ts';
import { compileOnnx } from '../../compiler/compile.ts';
import { execute } from '../../compiler/cpu/execute.ts';
import { topoOrder } from '../../compiler/ir/graph.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { createRuntime, type Runtime } from '../../runtime/index.ts';
import { cosine, cpuReference, expectEveryGroupOnVta } from './helpers.ts';
import { denseGraphs } from '../data/index.ts';

const runtimes: Runtime[] = [];
afterAll(async () => {
  for (const rt of runtimes) await rt.close();
});

function randomInputs(shape: number[], count: number, seed: number): Tensor[] {
  let s = seed;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
  const n = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, () => new Tensor('float32', shape, Float32Array.from({ length: n }, next)));
}

const MLP_REGION = { runs: 1, cpuBetween: [] as string[] };

describe.each([
  { file: 'cnn_flatten.onnx', shape: [1, 3, 6, 6], kinds: ['conv2d', 'dense', 'dense'], ...MLP_REGION },
  // Four (eight) rows make a 1x4 (1x8) image: the dense is lowered as the 1x1 conv it is packed as.
  { file: 'mlp_batch4.onnx', shape: [4, 64], kinds: ['conv2d', 'conv2d', 'conv2d'], ...MLP_REGION },
  { file: 'mlp_matmul.onnx', shape: [8, 32], kinds: ['conv2d', 'conv2d'], ...MLP_REGION },
  { file: 'encoder_block.onnx', shape: [1, 16, 32], kinds: new Array<string>(8).fill('conv2d'), runs: 8, cpuBetween: ['nn.softmax', 'sqrt', 'tanh'] },
])('$file on sim', ({ file, shape, kinds, runs, cpuBetween }) => {
  it(`runs every conv and dense on VTA in ${runs} device run(s), bit-exact to the CPU executor, cosine >= 0.99 to onnxruntime`, async () => {
    const onnx = path.join(denseGraphs, file);
    const compiled = compileOnnx(onnx, { target: 'sim', calibration: randomInputs(shape, 16, 15), cycles: 'skip' });
    expectEveryGroupOnVta(compiled);
    expect(compiled.emitted.layers.map((l) => l.layer.kind)).toEqual(kinds);
    const placed = topoOrder(compiled.compiled.fn);
    // What runs on the CPU between the first and the last VTA node (nothing, for one VTA region).
    const onVta = placed.map((c, i) => (c.device === 'vta' ? i : -1)).filter((i) => i >= 0);
    const between = new Set(placed.slice(onVta[0], onVta.at(-1)! + 1).filter((c) => c.device !== 'vta').map((c) => c.op));
    for (const op of cpuBetween) expect(between).toContain(op);
    if (cpuBetween.length === 0) expect([...between]).toEqual([]);
    if (file === 'cnn_flatten.onnx') expect(placed.find((c) => c.name === 'f')?.device).toBe('vta');
    if (file === 'encoder_block.onnx') {
      const reasons = compiled.report.cpu.byReason.map((r) => r.reason).join('\n');
      expect(compiled.emitted.layers.map((l) => l.source)).toEqual(['q_mm', 'k_mm', 'scores', 'v_mm', 'ctx', 'o_mm', 'ff1_mm', 'ff2_mm']);
      expect(placed.filter((c) => c.op === 'nn.matmul')).toEqual([]);
      expect(reasons).toMatch(/Softmax needs exp/);
      expect(reasons).toMatch(/LayerNorm needs a square root/);
      expect(reasons).toMatch(/GELU needs tanh/);
    }

    const rt = await createRuntime({ target: 'sim' });
    runtimes.push(rt);
    const model = await rt.load(encodeModel(compiled.model));
    const session = await ort.InferenceSession.create(onnx);
    for (const x of randomInputs(shape, 8, 1)) {
      const ours = Object.values(await model.run({ [model.inputs[0]!.name]: x }))[0]!.data as Float32Array;
      expect(Array.from(ours)).toEqual(Array.from(cpuReference(compiled, x)[0]!.data as Float32Array));
      // The packing (and the flatten's weight order) changes nothing: the unpacked integer graph agrees.
      expect(Array.from(ours)).toEqual(Array.from(execute(compiled.compiled.quantized, [x])[0]!.data as Float32Array));
      const theirs = Object.values(await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x.data as Float32Array, shape) }))[0]!.data as Float32Array;
      expect(cosine(ours, theirs)).toBeGreaterThanOrEqual(0.99);
    }
    expect(model.profile()!.deviceRuns).toBe(runs);
    await session.release();
  });
});
