/**
 * Every corpus program on the functional simulator, both GEMM kernels, several configurations,
 * checked bit-exactly against the naive reference: output regions, the whole of DRAM, every SRAM,
 * and the profiler counters.
 */
import { describe, expect, it } from 'vitest';
import { preset, type VtaConfig } from '../../isa/index.ts';
import { runImage } from '../../sim/fsim.ts';
import { simdKernelFits } from '../../sim/kernels.ts';
import { configVariant, testPrograms } from '../programs/index.ts';
import { referenceRun } from './reference.ts';


/** Element-wise equality that reports the first difference (deep-equal on 256K elements is slow). */
function expectSameValues(actual: ArrayLike<number>, expected: readonly number[], what: string): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) expect(actual[i], `${what}[${i}]`).toBe(expected[i]);
  }
}

const CONFIGS: VtaConfig[] = [
  preset('default'),
  configVariant('batch2-block8', 1, 3),
  configVariant('block4', 0, 2),
  configVariant('block2', 0, 1),
  configVariant('block32', 0, 5),
  preset('1x32x32'),
  preset('1x64x64'),
];

describe.each(CONFIGS.map((cfg) => [cfg.name, cfg] as const))('corpus on %s', (_name, cfg) => {
  const programs = testPrograms(cfg);
  const kernels = simdKernelFits(cfg) ? (['wasm', 'js'] as const) : (['js'] as const);

  it('holds the programs every backend runs', () => {
    const names = programs.map((p) => p.name);
    for (const n of ['gemm-tiles', 'alu-chain', 'pad-loads', 'acc8-loads', 'strided-stores', 'double-buffer', 'token-queue-full', 'random-1']) {
      expect(names).toContain(n);
    }
  });

  describe.each(kernels.map((k) => [k] as const))('%s kernel', (kernel) => {
    it.each(programs.map((p) => [p.name, p] as const))('%s matches the reference', (_n, p) => {
      const ref = referenceRun(cfg, p.image);
      const run = runImage(cfg, p.image, { kernel });
      expect(run.sim.machine.kernelKind).toBe(kernel);
      for (const name of p.outputs) {
        const seg = p.image.segments.find((s) => s.name === name)!;
        expect(Buffer.from(run.regions.get(name)!).equals(Buffer.from(ref.memory.subarray(seg.addr, seg.addr + seg.bytes.length))), `region ${name}`).toBe(true);
      }
      // The data below the instruction stream (the stream itself is written by placeImage only).
      const dataEnd = p.image.insnAddr;
      expect(Buffer.from(run.sim.dram.u8.subarray(0, dataEnd)).equals(Buffer.from(ref.memory.subarray(0, dataEnd))), 'DRAM').toBe(true);
      const s = run.sim.machine.sram;
      expectSameValues(s.acc, ref.machine.acc, 'acc');
      expectSameValues(s.inp, ref.machine.inp, 'inp');
      expectSameValues(s.wgt, ref.machine.wgt, 'wgt');
      expectSameValues(s.uop, ref.machine.uop, 'uop');
      expect(run.counters).toEqual(ref.machine.counters);
    });
  });
});

describe('corpus outputs are not trivial', () => {
  it('every program writes non-zero output bytes', () => {
    const cfg = preset('default');
    for (const p of testPrograms(cfg)) {
      const ref = referenceRun(cfg, p.image);
      const nonzero = p.outputs.some((name) => {
        const seg = p.image.segments.find((s) => s.name === name)!;
        return ref.memory.subarray(seg.addr, seg.addr + seg.bytes.length).some((v) => v !== 0);
      });
      expect(nonzero, p.name).toBe(true);
    }
  });
});
