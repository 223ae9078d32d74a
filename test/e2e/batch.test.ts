// Batch > 1: a model compiled for N samples per inference, on a configuration with BATCH = 2 or 4
// (LOG_BATCH 1 and 2), runs N stacked images in one device run through the runtime API, and its
// outputs equal N single runs of the batch-1 model on the default configuration bit for bit. The
// bundled digits CNN (examples/digits, calibrated on its bundled images) at BATCH 2 and 4 on sim,
// cyclesim, intelfocl (POCL), tsim (the Chisel core generated for BATCH 2) and webgpu (where an
// adapter opens); ResNet-18 (the large models, VTA_MODELS: the QDQ model and the float one) at BATCH 2 on sim.
import path from 'node:path';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeModel } from '../../compiler/artifact/format.ts';
import { compileOnnx, type CompileOptions, type CompileResult } from '../../compiler/compile.ts';
import { importOnnxFile } from '../../compiler/onnx/import.ts';
import { readNpy } from '../../compiler/tensor/npy.ts';
import { Tensor, sizeOf } from '../../compiler/tensor/tensor.ts';
import { makeConfig, preset, type VtaConfig } from '../../isa/config.ts';
import type { TargetName } from '../../isa/device.ts';
import { createRuntime, type Model, type Runtime } from '../../runtime/index.ts';
import { buildTsim } from '../../hw-chisel/build.ts';
import { ensureAddon } from '../hw-opencl/util.ts';
import { webgpuAvailability } from '../webgpu/helpers.ts';
import { modelFile } from '../data/index.ts';
import { describeWithLargeModels } from '../data/large-models.ts';
import { repoRoot } from './helpers.ts';

const digits = path.join(repoRoot, 'examples/digits');

/** The default configuration with BATCH = 2^logBatch. */
function batchConfig(logBatch: number): VtaConfig {
  const d = preset('default');
  const keys = ['LOG_INP_WIDTH', 'LOG_WGT_WIDTH', 'LOG_ACC_WIDTH', 'LOG_BLOCK', 'LOG_UOP_BUFF_SIZE', 'LOG_INP_BUFF_SIZE', 'LOG_WGT_BUFF_SIZE', 'LOG_ACC_BUFF_SIZE', 'BUS_WIDTH', 'CLOCK_MHZ'] as const;
  return makeConfig({ ...Object.fromEntries(keys.map((k) => [k, d[k]])), name: `batch${1 << logBatch}`, LOG_BATCH: logBatch });
}

interface Side {
  compiled: CompileResult;
  rt: Runtime;
  model: Model;
}

async function load(file: string, opts: Omit<CompileOptions, 'target'>, target: TargetName, config: VtaConfig): Promise<Side> {
  const compiled = compileOnnx(file, { ...opts, target, config, cycles: 'skip' });
  const rt = await createRuntime({ target, config });
  const model = await rt.load(encodeModel(compiled.model), path.basename(file));
  return { compiled, rt, model };
}

/** Image i of a stack (N, ...shape) as a batch-1 input. */
function image(stack: Tensor, i: number, shape: readonly number[]): Tensor {
  const n = sizeOf(shape);
  return new Tensor('float32', shape, (stack.data as Float32Array).slice(i * n, (i + 1) * n));
}

/** Runs `n` images through the batch model at once and one by one through the single model; compares every output. */
async function expectBatchEqualsSingles(batched: Side, single: Side, images: readonly Tensor[]): Promise<void> {
  const n = images.length;
  const shape = single.model.inputs[0]!.shape;
  const stacked = new Float32Array(n * sizeOf(shape));
  images.forEach((x, i) => stacked.set(x.data as Float32Array, i * x.size));
  const out = await batched.model.run({ [batched.model.inputs[0]!.name]: { data: stacked, shape: [n, ...shape.slice(1)] } });
  const batchRuns = batched.model.profile()!.deviceRuns;
  for (let i = 0; i < n; i++) {
    const one = await single.model.run({ [single.model.inputs[0]!.name]: images[i]! });
    // As many device runs for the whole batch as for one image.
    expect(batchRuns).toBe(single.model.profile()!.deviceRuns);
    for (const [name, t] of Object.entries(one)) {
      const got = out[name]!;
      expect(got.shape).toEqual([n, ...t.shape.slice(1)]);
      const per = t.size;
      expect(Array.from(got.data.subarray(i * per, (i + 1) * per) as Float32Array), `${name}, image ${i}`).toEqual(Array.from(t.data as Float32Array));
    }
  }
}

const webgpu = await webgpuAvailability(preset('default'));

describe.each([
  { target: 'sim' as TargetName, logBatch: 1 },
  { target: 'sim' as TargetName, logBatch: 2 },
  { target: 'cyclesim' as TargetName, logBatch: 1 },
  { target: 'intelfocl' as TargetName, logBatch: 2 },
  { target: 'tsim' as TargetName, logBatch: 1 },
  ...(webgpu.ok ? [{ target: 'webgpu' as TargetName, logBatch: 1 }] : []),
])('digits CNN, BATCH $logBatch (log2) on $target', ({ target, logBatch }) => {
  const n = 1 << logBatch;
  const file = path.join(digits, 'digits_cnn.onnx');
  const calibration = path.join(digits, 'calib_x.npy');
  const test = readNpy(fs.readFileSync(path.join(digits, 'test_x.npy')), 'test_x.npy');
  let batched: Side;
  let single: Side;
  beforeAll(async () => {
    if (target === 'intelfocl') ensureAddon();
    if (target === 'tsim') {
      // The Chisel core generated for BATCH 2 (hw-chisel/build.ts), beside the default one.
      buildTsim();
      buildTsim(batchConfig(logBatch));
    }
    single = await load(file, { calibration }, target, preset('default'));
    batched = await load(file, { calibration, batch: n }, target, batchConfig(logBatch));
  });
  afterAll(async () => {
    await single?.rt.close();
    await batched?.rt.close();
  });

  it('compiles every VTA layer for the whole batch', () => {
    expect(batched.model.inputs[0]!.shape).toEqual([n, 1, 16, 16]);
    expect(batched.compiled.report.fallbacks).toEqual([]);
    expect(batched.compiled.report.layers.map((l) => l.name)).toEqual(single.compiled.report.layers.map((l) => l.name));
    for (const l of batched.compiled.report.layers) expect(l.shape).toMatch(new RegExp(`^\\(${n}, `));
    // N images' MACs in the batch model's VTA layers.
    expect(batched.compiled.report.vta.macs).toBe(n * single.compiled.report.vta.macs);
  });

  it(`runs ${2 * n} images, ${n} per inference, equal to single runs bit for bit`, async () => {
    for (let k = 0; k < 2; k++) {
      await expectBatchEqualsSingles(batched, single, Array.from({ length: n }, (_, i) => image(test, k * n + i, [1, 1, 16, 16])));
    }
  });

  it('names a wrong batch in a typed error', async () => {
    await expect(batched.model.run({ input: new Float32Array(256) })).rejects.toMatchObject({ code: 'VTA_INPUT' });
  });
});

describe('the import batch option', () => {
  it('sets the leading dimension of a batch-1 model, and refuses a bad batch', () => {
    const file = path.join(digits, 'digits_cnn.onnx');
    expect(importOnnxFile(file, { batch: 3 }).fn.params[0]!.type.shape).toEqual([3, 1, 16, 16]);
    expect(() => importOnnxFile(file, { batch: 0 })).toThrow(/batch must be a positive integer/);
  });
});

/** The reference input and a second image: the reference mirrored left to right. */
function twoImages(file: string): [Tensor, Tensor] {
  const x = readNpy(fs.readFileSync(modelFile(file)), file);
  const y = new Tensor('float32', x.shape, new Float32Array(x.size));
  const [, C, H, W] = x.shape as [number, number, number, number];
  const src = x.data as Float32Array;
  const dst = y.data as Float32Array;
  for (let c = 0; c < C; c++) for (let h = 0; h < H; h++) for (let w = 0; w < W; w++) dst[(c * H + h) * W + w] = src[(c * H + h) * W + (W - 1 - w)]!;
  return [x, y];
}

// The float model calibrates on both images (grouped as one batch-2 sample for the batch model).
describeWithLargeModels('ResNet-18 at batch 2', () => {
  describe.each([
    { name: 'resnet18_int8_qdq', calibrate: false },
    { name: 'resnet18', calibrate: true },
  ])('$name batch 2 (BATCH 2) on sim', ({ name, calibrate }) => {
    let images: [Tensor, Tensor];
    let batched: Side;
    let single: Side;
    beforeAll(async () => {
      const file = modelFile(`${name}.onnx`);
      images = twoImages(`${name}.ref_in.npy`);
      const stacked = new Tensor('float32', [2, ...images[0].shape.slice(1)], new Float32Array(2 * images[0].size));
      images.forEach((t, i) => (stacked.data as Float32Array).set(t.data as Float32Array, i * t.size));
      single = await load(file, calibrate ? { calibration: [...images] } : {}, 'sim', preset('default'));
      batched = await load(file, calibrate ? { calibration: [stacked], batch: 2 } : { batch: 2 }, 'sim', batchConfig(1));
    });
    afterAll(async () => {
      await single?.rt.close();
      await batched?.rt.close();
    });

    it('runs two images in one inference, equal to two single runs bit for bit', async () => {
      expect(batched.compiled.report.fallbacks).toEqual([]);
      await expectBatchEqualsSingles(batched, single, images);
    });
  });
});
