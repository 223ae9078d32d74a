import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { preset } from '../../isa/config.ts';
import { validateProgram } from '../../isa/validate.ts';
import { Dram } from '../../sim/dram.ts';
import { FunctionalSimulator } from '../../sim/fsim.ts';
import {
  lowerLayer,
  outputShape,
  packActivation,
  packChannelVectors,
  packWeights,
  placeBuffers,
  relocate,
  ScheduleCache,
  scheduleKey,
  unpackActivation,
  uopBytes,
  withFinish,
  type Conv2dLayer,
  type EltwiseLayer,
  type Layer,
} from '../../compiler/lower/index.ts';
import { convRef, epilogueRef, mismatches, randInt8, rng, SAME } from './harness.ts';

const cfg = preset('default');

const conv: Conv2dLayer = {
  kind: 'conv2d',
  name: 'conv',
  batch: 1,
  inChannels: 32,
  outChannels: 48,
  height: 13,
  width: 11,
  kernel: [3, 3],
  stride: [2, 2],
  padding: [1, 1, 1, 1],
  groups: 1,
  epilogue: [
    { kind: 'channel', op: 'ADD', values: Int32Array.from({ length: 48 }, (_, i) => i * 37 - 900) },
    { kind: 'imm', op: 'ADD', imm: 32 },
    { kind: 'imm', op: 'SHR', imm: 6 },
    { kind: 'imm', op: 'MAX', imm: 0 },
    { kind: 'imm', op: 'MIN', imm: 127 },
  ],
};

describe('layer streams', () => {
  it('concatenate: conv then an elementwise add of its output, one FINISH, relocated buffers', () => {
    const add: EltwiseLayer = {
      kind: 'eltwise',
      name: 'add',
      batch: 1,
      channels: 48,
      height: 7,
      width: 6,
      steps: [{ kind: 'residual', op: 'ADD' }, { kind: 'imm', op: 'MAX', imm: -128 }, { kind: 'imm', op: 'MIN', imm: 127 }],
    };
    const r = rng(3);
    const x = randInt8(r, 32 * 13 * 11);
    const w = randInt8(r, 48 * 32 * 9);
    const other = randInt8(r, 48 * 7 * 6);
    const a = lowerLayer(cfg, conv).lowered;
    const b = lowerLayer(cfg, add).lowered;
    const pa = placeBuffers(cfg, a, 64);
    const pb = placeBuffers(cfg, b, pa.end);
    // The add reads the conv's output in place.
    const bBases = { ...pb.bases, input: pa.bases.output! };
    const dram = new Dram(pb.end + 64);
    const put = (addr: number, v: Int8Array | Int32Array | Uint8Array) => dram.write(addr, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    put(pa.bases.input!, packActivation(cfg, x, [1, 32, 13, 11]));
    put(pa.bases.weights!, packWeights(cfg, conv, w));
    put(pa.bases.bias!, packChannelVectors(cfg, conv));
    put(pa.bases.uops!, uopBytes(cfg, a));
    put(pb.bases.residual!, packActivation(cfg, other, [1, 48, 7, 6]));
    put(pb.bases.uops!, uopBytes(cfg, b));
    const insns = withFinish([...relocate(cfg, a, pa.bases), ...relocate(cfg, b, bBases)]);
    new FunctionalSimulator(cfg, dram).run(insns);
    const out = dram.read(pb.bases.output!, b.buffers.output!);
    const got = unpackActivation(cfg, new Int8Array(out.buffer), [1, 48, 7, 6]);
    const mid = epilogueRef(convRef(conv, x, w), [1, 48, 7, 6], conv.epilogue);
    expect(mismatches(got, epilogueRef(Int32Array.from(mid), [1, 48, 7, 6], add.steps, other))).toEqual(SAME);
  });

  it('each stream alone leaves no token behind and orders every load and store before FINISH', () => {
    for (const tiling of [undefined, { tco: 1, th: 2, tw: 3, tci: 1, order: 'spatial' as const }]) {
      const l = lowerLayer(cfg, conv, tiling ? { tiling } : {}).lowered;
      const { bases } = placeBuffers(cfg, l);
      expect(() => validateProgram(cfg, withFinish(relocate(cfg, l, bases)))).not.toThrow();
    }
  });

  it('records a relocation for every instruction that touches DRAM', () => {
    const l = lowerLayer(cfg, conv).lowered;
    const touching = l.insns.flatMap((insn, i) => ((insn.opcode === 'LOAD' || insn.opcode === 'STORE') && insn.x_size > 0 ? [i] : []));
    expect(l.relocs.map((r) => r.index)).toEqual(touching);
  });
});

describe('schedule search', () => {
  it('quick search measures candidates, caches by shape and configuration, and persists to JSON', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vta-lower-'));
    try {
      const file = join(dir, 'cache.json');
      const cache = new ScheduleCache(file);
      const first = lowerLayer(cfg, conv, { tune: 'quick', cache });
      expect(first.cycles).toBeGreaterThan(0);
      cache.save();
      const again = lowerLayer(cfg, { ...conv, name: 'same shape' }, { tune: 'quick', cache: new ScheduleCache(file) });
      expect(again.cycles).toBe(first.cycles);
      expect(again.lowered.tiling).toBe(first.lowered.tiling);
      // A stale entry whose tiling no longer fits is searched again; a malformed file is refused.
      const key = scheduleKey(cfg, conv);
      writeFileSync(file, JSON.stringify({ [key]: { tiling: { tco: 99, th: 99, tw: 99, tci: 99, order: 'co' }, cycles: 1, tune: 'full' } }));
      expect(lowerLayer(cfg, conv, { tune: 'quick', cache: new ScheduleCache(file) }).cycles).toBe(first.cycles);
      writeFileSync(file, JSON.stringify({ [key]: { tiling: { tco: 1 }, cycles: 1, tune: 'full' } }));
      expect(() => new ScheduleCache(file)).toThrow(/cache.json: entry .* is not a tiling/);
      // A different bus width is a different configuration.
      const wide = preset('intelfocl');
      expect(scheduleKey(wide, conv)).not.toBe(scheduleKey(cfg, conv));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('chains of random layers in one stream', () => {
  it('each layer reads what the previous one stored (tokens order DRAM reuse across layers)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 3, max: 12 }), fc.array(fc.constantFrom(1, 2), { minLength: 2, maxLength: 3 }), fc.integer(), (c0, size, strides, seed) => {
        const r = rng(seed);
        const layers: Layer[] = [];
        let [c, h] = [c0, size];
        const weights: Int8Array[] = [];
        for (const [i, s] of strides.entries()) {
          const cout = 1 + Math.floor(r() * 40);
          const l: Conv2dLayer = { ...conv, name: `c${i}`, inChannels: c, outChannels: cout, height: h, width: h, stride: [s, s], epilogue: [{ kind: 'imm', op: 'SHR', imm: 7 }] };
          layers.push(l);
          weights.push(randInt8(r, cout * c * 9));
          [c, h] = [cout, Math.floor((h - 1) / s) + 1];
          layers.push({ kind: 'eltwise', name: `e${i}`, batch: 1, channels: c, height: h, width: h, steps: [{ kind: 'imm', op: 'MUL', imm: 3 }, { kind: 'imm', op: 'MAX', imm: -100 }] });
        }
        const x = randInt8(r, c0 * size * size);
        // One device memory: each layer's input is the previous layer's output buffer.
        const lowered = layers.map((l) => lowerLayer(cfg, l).lowered);
        let at = 64;
        let prevOut: number | undefined;
        const placed = lowered.map((lw) => {
          const p = placeBuffers(cfg, lw, at);
          at = p.end;
          const bases = { ...p.bases, ...(prevOut === undefined ? {} : { input: prevOut }) };
          prevOut = p.bases.output;
          return bases;
        });
        const dram = new Dram(at + 64);
        const put = (addr: number, v: Int8Array | Uint8Array) => dram.write(addr, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
        put(placed[0]!.input!, packActivation(cfg, x, [1, c0, size, size]));
        lowered.forEach((lw, i) => {
          put(placed[i]!.uops!, uopBytes(cfg, lw));
          const l = layers[i]!;
          if (l.kind === 'conv2d') put(placed[i]!.weights!, packWeights(cfg, l, weights[i / 2]!));
        });
        new FunctionalSimulator(cfg, dram).run(withFinish(lowered.flatMap((lw, i) => relocate(cfg, lw, placed[i]!))));
        let want = x;
        layers.forEach((l, i) => {
          if (l.kind === 'conv2d') want = epilogueRef(convRef(l, want, weights[i / 2]!), outputShape(l), l.epilogue);
          else if (l.kind === 'eltwise') want = epilogueRef(Int32Array.from(want), outputShape(l), l.steps);
        });
        const last = lowered[lowered.length - 1]!;
        const out = dram.read(placed[placed.length - 1]!.output!, last.buffers.output!);
        const got = unpackActivation(cfg, new Int8Array(out.buffer), outputShape(last.layer));
        expect(mismatches(got, want)).toEqual(SAME);
      }),
      { seed: 21, numRuns: 10 },
    );
  });
});
