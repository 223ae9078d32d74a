// ResNet-18 end to end on sim (float calibrated on its reference input, and onnxruntime's QDQ
// model): the outputs of the compiled model equal the CPU executor running the same placed integer
// graph bit for bit; with every middle layer on VTA one inference is one device run and moves only
// the copies at the VTA region's edges. About 20 s of CPU per model (calibration and the CPU
// reference dominate).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeWithLargeModels } from '../data/large-models.ts';
import type { Tensor } from '../../compiler/tensor/tensor.ts';
import { compileAndLoad, copyBytes, cpuReference, expectEveryGroupOnVta, npy, type Loaded } from './helpers.ts';

describeWithLargeModels('ResNet-18 end to end', () => {
  describe.each([
    { name: 'resnet18_int8_qdq', calibrate: false },
    { name: 'resnet18', calibrate: true },
  ])('$name on sim', ({ name, calibrate }) => {
    let l: Loaded;
    let x: Tensor;
    let out: Tensor;
    beforeAll(async () => {
      x = npy(`${name}.ref_in.npy`);
      l = await compileAndLoad(name, calibrate ? { calibration: [x] } : {});
      out = Object.values(await l.model.run({ [l.input]: x }))[0]!;
    });
    afterAll(async () => {
      await l?.rt.close();
    });

    it('compiles every conv of layer1..layer4 and every residual add into VTA layers (or listed fallbacks)', () => {
      const r = l.compiled.report;
      console.log(
        `${name}: compiled in ${r.seconds.total.toFixed(1)} s (import ${r.seconds.import.toFixed(1)}, passes ${r.seconds.passes.toFixed(1)}, ` +
          `lowering ${r.seconds.lower.toFixed(1)}, cycles ${r.seconds.cycles.toFixed(1)}); ${r.vta.layers} VTA layers, ${r.fallbacks.length} fallbacks, ` +
          `${r.vta.cycles ?? 'unmeasured'} cycles, GEMM utilization ${r.vta.gemmUtilization === null ? '-' : (r.vta.gemmUtilization * 100).toFixed(1)} %`,
      );
      const convs = l.compiled.emitted.layers.filter((e) => e.layer.kind === 'conv2d' && e.source.startsWith('/layer')).length;
      const fellBack = r.fallbacks.filter((f) => f.source.startsWith('/layer')).length;
      expect(convs + fellBack).toBe(19);
      // A residual add rides a conv's epilogue or is an elementwise layer of its own.
      const adds = l.compiled.emitted.layers.filter((e) => (e.layer.kind === 'conv2d' && e.layer.epilogue.some((s) => s.kind === 'residual')) || e.layer.kind === 'eltwise').length;
      if (r.fallbacks.length === 0) expect(adds).toBe(8);
    });

    it('gives outputs equal to the CPU executor running the placed integer graph, bit for bit', () => {
      const ref = cpuReference(l.compiled, x)[0]!;
      expect(Array.from(out.data as Float32Array)).toEqual(Array.from(ref.data as Float32Array));
    });

    it('runs every middle layer on VTA in one device run per inference, moving only the boundary copies', () => {
      expectEveryGroupOnVta(l.compiled);
      const p = l.model.profile()!;
      expect(p.deviceRuns).toBe(1);
      expect(l.compiled.report.deviceCopies).toBe(l.compiled.compiled.copies);
      const bytes = copyBytes(l.compiled);
      expect([p.hostToDeviceBytes, p.deviceToHostBytes]).toEqual([bytes.toDevice, bytes.toHost]);
    });
  });
});
