// Float ONNX graphs in the styles of older model-zoo exports (test/data/styles/make_graphs.py:
// opset 7 and 13, weights as initializers or built by ConstantFill / ConstantOfShape nodes, batch
// norms unfolded, Inception / DenseNet concat, ShuffleNet's channel shuffle, depthwise-separable
// blocks, LRN, average pools), each compiled from float with calibration on random inputs and run
// on the functional simulator. Oracles: onnxruntime on the same graph (for opset 7 ConstantFill,
// which onnxruntime does not run, its twin with the same weights as initializers), and the CPU
// executor running the placed integer graph, which the device must equal bit for bit.
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeModel } from '../../compiler/artifact/format.ts';
import { compileOnnx, type CompileResult } from '../../compiler/compile.ts';
import { topoOrder } from '../../compiler/ir/graph.ts';
import { importOnnxFile } from '../../compiler/onnx/import.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { createRuntime, type Runtime } from '../../runtime/index.ts';
import { checkGroupsBitExact } from '../passes/helpers.ts';
import { cosine, cpuReference, expectEveryGroupOnVta } from './helpers.ts';
import { styleGraphs } from '../data/index.ts';
import { rng } from '../rng.ts';

const dir = styleGraphs;
const SHAPE = [1, 3, 16, 16];

/** Seeded standard-normal samples (mulberry32 + Box-Muller). */
function randomInput(seed: number): Tensor {
  const uniform = rng(seed);
  const n = SHAPE.reduce((x, y) => x * y, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
  return new Tensor('float32', SHAPE, d);
}

const STYLES = ['plain', 'inception', 'densenet', 'shufflenet', 'mobilenet', 'alexnet'];
const VARIANTS = ['op7_fill', 'op7_init', 'op13_init', 'op13_fill'];
const cases = STYLES.flatMap((style) => VARIANTS.map((variant) => ({ style, variant, file: `${style}_${variant}` })));

const calibration = [1, 2, 3, 4].map(randomInput);
const input = randomInput(99);

let rt: Runtime | undefined;
afterAll(async () => {
  await rt?.close();
});

describe.each(cases)('$file', ({ style, variant, file }) => {
  const onnxPath = path.join(dir, `${file}.onnx`);
  let compiled: CompileResult;

  it('puts at least 90 % of its convs on VTA, every kernel group lowered', () => {
    compiled = compileOnnx(onnxPath, { target: 'sim', calibration, firstConv: 'vta', cycles: 'skip' });
    const calls = topoOrder(importOnnxFile(onnxPath).fn);
    const named = (ops: string[]) => new Set(calls.filter((c) => ops.includes(c.op)).map((c) => c.name));
    const convs = named(['nn.conv2d']);
    const pools = named(['nn.avg_pool2d', 'nn.global_avg_pool2d']);
    // Layers keep their anchor's node name (a pool becomes the conv that sums its windows).
    const onVta = compiled.report.layers.filter((l) => convs.has(l.source)).length;
    const poolsOnVta = compiled.report.layers.filter((l) => pools.has(l.source)).length;
    console.log(`${file}: ${onVta} of ${convs.size} convs and ${poolsOnVta} of ${pools.size} average pools on VTA, ${compiled.report.vta.layers} layers, ${compiled.report.cpu.ops} CPU ops, ${JSON.stringify(compiled.report.simplified)}`);
    expect(convs.size).toBeGreaterThan(0);
    expect(onVta / convs.size).toBeGreaterThanOrEqual(0.9);
    // Every average pool of a quantized value (in 'plain': padded both ways, unpadded, global).
    if (style === 'plain') expect(poolsOnVta).toBe(pools.size);
    // Inception and DenseNet concats by addressing: the whole middle on VTA, one copy in and one out.
    if (style === 'inception' || style === 'densenet') {
      // (The host's one is the first conv's input rearrangement: its taps side by side, before the copy in.)
      expect(compiled.emitted.cpuOps.filter((o) => !o.name.endsWith('/all_taps')).map((o) => o.op)).not.toContain('concatenate');
      expect(compiled.report.deviceCopies).toBe(2);
    }
    expectEveryGroupOnVta(compiled);
    if (variant.endsWith('fill')) expect(compiled.report.simplified.folded).toBeGreaterThan(0);
  });

  it('runs on sim bit-identical to the CPU integer reference, each VTA group replayed bit for bit', async () => {
    rt ??= await createRuntime({ target: 'sim' });
    const model = await rt.load(encodeModel(compiled.model), file);
    const out = await model.run({ [model.inputs[0]!.name]: input });
    const ref = cpuReference(compiled, input);
    compiled.outputNames.forEach((name, i) => expect(Array.from(out[name]!.data as Float32Array), name).toEqual(Array.from(ref[i]!.data as Float32Array)));
    checkGroupsBitExact(compiled.compiled.fn, compiled.compiled.groups, input);
  });

  it('gives logits with cosine >= 0.98 against onnxruntime', async () => {
    // onnxruntime has no ConstantFill: the opset-7 twin with initializers holds the same weights.
    const oracle = path.join(dir, `${style}_${variant === 'op7_fill' ? 'op7_init' : variant}.onnx`);
    const session = await ort.InferenceSession.create(oracle);
    const theirs = await session.run({ input: new ort.Tensor('float32', input.data as Float32Array, SHAPE) });
    const ours = cpuReference(compiled, input);
    const logits = compiled.outputNames.findIndex((n) => n.startsWith('gemm'));
    const c = cosine(ours[logits]!.data as Float32Array, theirs[session.outputNames[logits]!]!.data as Float32Array);
    console.log(`${file}: logits cosine ${c.toFixed(5)} against onnxruntime`);
    expect(c).toBeGreaterThanOrEqual(0.98);
  });
});
