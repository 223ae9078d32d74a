// The cloud-size presets (1x32x32, 1x64x64; 512-bit bus) end to end: a model compiled for each runs
// on sim, cyclesim, intelfocl (POCL) and webgpu (SwiftShader, where an adapter opens), and every
// output equals the CPU executor running the same placed integer graph bit for bit. The default
// suite runs the bundled digits CNN on a few images; ResNet-18's QDQ model (VTA_MODELS) on its
// reference input runs with VTA_HEAVY=1 (scripts/test-heavy.sh): minutes per preset on POCL and
// SwiftShader. (The program corpus on these presets is in each target's corpus test; tsim needs a
// Chisel core with a 512-bit memory port, which hw-chisel does not have: test/hw-chisel/configs.test.ts
// runs the corpus on the cores of the same BATCH, BLOCK and buffers at its 64-bit port.)
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeModel } from '../../compiler/artifact/format.ts';
import { compileOnnx, type CompileResult } from '../../compiler/compile.ts';
import { splitSamples } from '../../compiler/quant/calibrate.ts';
import { readNpy } from '../../compiler/tensor/npy.ts';
import type { Tensor } from '../../compiler/tensor/tensor.ts';
import { preset, type PresetName } from '../../isa/config.ts';
import type { TargetName } from '../../isa/device.ts';
import { createRuntime } from '../../runtime/index.ts';
import { ensureAddon } from '../hw-opencl/util.ts';
import { webgpuAvailability } from '../webgpu/helpers.ts';
import { modelFile } from '../data/index.ts';
import { cpuReference, npy, repoRoot } from './helpers.ts';

const PRESETS: PresetName[] = ['1x32x32', '1x64x64'];
const heavy = process.env.VTA_HEAVY === '1';
const webgpu = await webgpuAvailability(preset('default'));
const TARGETS: TargetName[] = ['sim', 'cyclesim', 'intelfocl', ...(webgpu.ok ? (['webgpu'] as const) : [])];

const digits = path.join(repoRoot, 'examples/digits');

interface Case {
  model: string;
  compile(name: PresetName): CompileResult;
  images(): Tensor[];
}

const CASES: Case[] = [
  {
    model: 'digits_cnn',
    compile: (name) => compileOnnx(path.join(digits, 'digits_cnn.onnx'), { target: 'sim', config: name, calibration: path.join(digits, 'calib_x.npy'), cycles: 'skip' }),
    images: () => splitSamples(readNpy(fs.readFileSync(path.join(digits, 'test_x.npy')), 'test_x.npy'), [1, 1, 16, 16]).slice(0, 4),
  },
  ...(heavy
    ? [
        {
          model: 'resnet18_int8_qdq',
          compile: (name: PresetName) => compileOnnx(modelFile('resnet18_int8_qdq.onnx'), { target: 'sim', config: name, cycles: 'skip' }),
          images: () => [npy('resnet18_int8_qdq.ref_in.npy')],
        },
      ]
    : []),
];

describe.each(PRESETS)('preset %s', (name) => {
  describe.each(CASES)('$model', (c) => {
    let compiled: CompileResult;
    let images: Tensor[];
    let expected: Tensor[][];
    beforeAll(() => {
      compiled = c.compile(name);
      images = c.images();
      expected = images.map((x) => cpuReference(compiled, x));
    });

    it('lowers every VTA kernel group', () => {
      expect(compiled.report.fallbacks).toEqual([]);
      expect(compiled.report.vta.layers).toBeGreaterThan(0);
    });

    describe.each(TARGETS)('on %s', (target) => {
      let rt: Awaited<ReturnType<typeof createRuntime>>;
      beforeAll(async () => {
        if (target === 'intelfocl') ensureAddon();
        // SwiftShader takes minutes per ResNet-18 run.
        rt = await createRuntime({ target, config: name, memBytes: 96 << 20, timeoutMs: 30 * 60_000 });
      });
      afterAll(async () => {
        await rt?.close();
      });

      it('equals the CPU executor bit for bit', async () => {
        const m = await rt.load(encodeModel(compiled.model), c.model);
        for (let i = 0; i < images.length; i++) {
          const out = Object.values(await m.run({ [m.inputs[0]!.name]: images[i]! }));
          out.forEach((t, k) => expect(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(expected[i]![k]!.data.buffer, expected[i]![k]!.data.byteOffset, expected[i]![k]!.data.byteLength)), `image ${i}, output ${k}`).toBe(true));
        }
      }, 60 * 60_000);
    });
  });
});
