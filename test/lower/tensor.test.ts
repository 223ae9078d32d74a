import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AluOpName, MemInsn } from '../../isa/types.ts';
import {
  lowerConv,
  lowerLayer,
  LowerError,
  outputShape,
  type Conv2dLayer,
  type EltwiseLayer,
  type EpilogueStep,
  type LoweredLayer,
} from '../../compiler/lower/index.ts';
import { batch2, cfg, checkConv, convRef, epilogueRef, mismatches, randInt8, rng, runLowered, SAME, size, small } from './harness.ts';


/** int32 values: mostly zero-point-correction-sized, sometimes anywhere in int32 (the adds wrap). */
function int32s(r: () => number, n: number, wide: boolean): Int32Array {
  return Int32Array.from({ length: n }, () => (wide && r() < 0.3 ? Math.floor(r() * 2 ** 32) | 0 : Math.floor(r() * 40001) - 20000));
}

/**
 * Epilogues with per-element tensors: 'qdq' is realizeQdq's shape (a tensor ADD first, then the
 * requantization), 'border' the same with a tensor that is per-channel except near the borders and
 * at a few scattered points (a padded conv's zero-point correction; the conv loads runs of it), 'op' puts a tensor with any ALU op after a non-ADD step (an ALU pass), 'both'
 * has a leading tensor, a per-channel ADD and an immediate among the leading ADDs, and a second
 * tensor later.
 */
function epilogueFor(kind: 'qdq' | 'border' | 'op' | 'both', op: AluOpName, shape: readonly number[], residual: boolean, seed: number): EpilogueStep[] {
  const r = rng(seed);
  const n = size(shape);
  const tensor = (o: AluOpName, wide: boolean): EpilogueStep => ({
    kind: 'tensor',
    op: o,
    values: o === 'SHR' ? Int32Array.from({ length: n }, () => Math.floor(r() * 50) - 20) : o === 'MUL' ? Int32Array.from({ length: n }, () => Math.floor(r() * 9) - 4) : int32s(r, n, wide),
  });
  const requant: EpilogueStep[] = [
    { kind: 'imm', op: 'ADD', imm: 64 },
    { kind: 'imm', op: 'SHR', imm: 7 },
    { kind: 'imm', op: 'MUL', imm: 13681 },
    { kind: 'imm', op: 'ADD', imm: 16384 },
    { kind: 'imm', op: 'SHR', imm: 15 },
  ];
  const tail: EpilogueStep[] = [...(residual ? [{ kind: 'residual', op: 'ADD' } as const] : []), { kind: 'imm', op: 'MAX', imm: -128 }, { kind: 'imm', op: 'MIN', imm: 127 }];
  const channel: EpilogueStep = { kind: 'channel', op: 'ADD', values: int32s(r, shape[1]!, false) };
  if (kind === 'qdq') return [tensor('ADD', false), ...requant, { kind: 'imm', op: 'ADD', imm: -128 }, ...tail];
  if (kind === 'border') {
    const [, C, H, W] = shape as [number, number, number, number];
    const base = int32s(r, C, false);
    const values = Int32Array.from({ length: n }, (_, i) => {
      const y = Math.floor(i / W) % H;
      const x = i % W;
      const edge = y < 1 || y >= H - 2 || x < 2 || x >= W - 1 || (y * 7 + x * 3) % 31 === 0;
      return base[Math.floor(i / (H * W)) % C]! + (edge ? Math.floor(r() * 2001) - 1000 : 0);
    });
    return [{ kind: 'tensor', op: 'ADD', values }, ...requant, { kind: 'imm', op: 'ADD', imm: -128 }, ...tail];
  }
  if (kind === 'op') return [{ kind: 'imm', op: 'SHR', imm: 4 }, tensor(op, true), { kind: 'imm', op: 'SHR', imm: 3 }, ...tail];
  return [channel, tensor('ADD', true), { kind: 'imm', op: 'ADD', imm: -7 }, { kind: 'imm', op: 'SHR', imm: 9 }, tensor(op, true), ...tail];
}

const convArb = fc.record({
  k: fc.constantFrom(1, 3, 3, 5),
  s: fc.constantFrom(1, 2),
  h: fc.integer({ min: 1, max: 14 }),
  w: fc.integer({ min: 1, max: 14 }),
  groupKind: fc.constantFrom('dense', 'dense', 'grouped', 'depthwise'),
  g: fc.integer({ min: 1, max: 4 }),
  cin: fc.integer({ min: 1, max: 40 }),
  cout: fc.integer({ min: 1, max: 40 }),
  pads: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 4, maxLength: 4 }),
  kind: fc.constantFrom('qdq', 'border', 'border', 'op', 'both'),
  op: fc.constantFrom<AluOpName>('ADD', 'MUL', 'MIN', 'MAX', 'SHR'),
  residual: fc.boolean(),
  seed: fc.integer(),
  pick: fc.nat(),
});

type ConvParams = typeof convArb extends fc.Arbitrary<infer T> ? T : never;

function convLayer(p: ConvParams, batch: number): Conv2dLayer {
  let { cin, cout, g } = p;
  if (p.groupKind === 'dense') g = 1;
  if (p.groupKind === 'depthwise') {
    g = cin;
    cout = cin * (1 + (p.seed & 1));
  }
  if (p.groupKind === 'grouped') {
    cin = g * Math.max(1, Math.round(cin / g));
    cout = g * Math.max(1, Math.round(cout / g));
  }
  const pad = p.pads.map((v) => Math.min(v, p.k - 1)) as [number, number, number, number];
  const layer: Conv2dLayer = {
    kind: 'conv2d',
    name: 'tensor',
    batch,
    inChannels: cin,
    outChannels: cout,
    height: Math.max(p.h, p.k - pad[0] - pad[2]),
    width: Math.max(p.w, p.k - pad[1] - pad[3]),
    kernel: [p.k, p.k],
    stride: [p.s, p.s],
    padding: pad,
    groups: g,
    epilogue: [],
  };
  return { ...layer, epilogue: epilogueFor(p.kind, p.op, outputShape(layer), p.residual, p.seed) };
}

const tensorLoads = (l: LoweredLayer) => l.relocs.filter((rl) => rl.buffer === 'tensor').map((rl) => l.insns[rl.index] as MemInsn);
const resets = (l: LoweredLayer) => l.insns.filter((i) => i.opcode === 'GEMM' && i.reset_reg === 1).length;

describe('per-element int32 epilogue constants (conv2d) match the integer reference bit-exactly', () => {
  it('random shapes, strides, padding, groups; any legal tiling (small config)', () => {
    fc.assert(
      fc.property(convArb, (p) => {
        checkConv(small, convLayer(p, 1), p.seed, p.pick);
      }),
      { seed: 2026, numRuns: 60 },
    );
  });

  it('random shapes with the heuristic tiling (default config)', () => {
    fc.assert(
      fc.property(convArb, (p) => {
        checkConv(cfg, convLayer(p, 1), p.seed, null);
      }),
      { seed: 17, numRuns: 15 },
    );
  });

  it('BATCH = 2, BLOCK = 8, batch 2 and 4', () => {
    fc.assert(
      fc.property(convArb, fc.constantFrom(2, 4), (p, n) => {
        checkConv(batch2, convLayer(p, n), p.seed, p.pick);
      }),
      { seed: 3, numRuns: 10 },
    );
  });

  it('a leading tensor ADD is the initial accumulator (no reset, no ALU pass); a later one is an ACC load + ALU pass', () => {
    const base: Conv2dLayer = {
      kind: 'conv2d',
      name: 'qdq.conv',
      batch: 1,
      inChannels: 48,
      outChannels: 64,
      height: 13,
      width: 17,
      kernel: [3, 3],
      stride: [1, 1],
      padding: [1, 1, 1, 1],
      groups: 1,
      epilogue: [],
    };
    const shape = outputShape(base);
    const qdq = { ...base, epilogue: epilogueFor('qdq', 'ADD', shape, true, 5) };
    // Several tiles in every dimension, both loop orders.
    for (const [tco, th, tw, tci, order] of [
      [2, 5, 7, 2, 'co'],
      [4, 4, 8, 1, 'spatial'],
      [3, 6, 4, 1, 'co'],
    ] as const) {
      const lowered = lowerConv(small, qdq, { tco, th, tw, tci, order });
      expect(resets(lowered)).toBe(0);
      expect(new Set(tensorLoads(lowered).map((i) => i.memory_type))).toEqual(new Set(['ACC']));
      const r = rng(tco);
      const x = randInt8(r, 48 * 13 * 17);
      const w = randInt8(r, 64 * 48 * 9);
      const res = randInt8(r, 64 * 13 * 17);
      expect(mismatches(runLowered(small, lowered, { input: x, weights: w, residual: res }), epilogueRef(convRef(qdq, x, w), shape, qdq.epilogue, res))).toEqual(SAME);
    }
    // The merged tensor (with the rounding ADD) costs no ALU pass: one per tile fewer than a per-channel bias.
    const perChannel = { ...base, epilogue: [{ kind: 'channel', op: 'ADD', values: new Int32Array(64) } as EpilogueStep, ...qdq.epilogue.slice(1)] };
    const t = { tco: 2, th: 5, tw: 7, tci: 2, order: 'co' } as const;
    const alus = (l: LoweredLayer) => l.insns.filter((i) => i.opcode === 'ALU').length;
    expect(alus(lowerConv(small, qdq, t))).toBe(alus(lowerConv(small, perChannel, t)) - Math.ceil(64 / 16 / 2) * Math.ceil(13 / 5) * Math.ceil(17 / 7));
    const later = { ...base, epilogue: epilogueFor('op', 'MIN', shape, false, 6) };
    const lowered = checkConv(small, later, 6, null);
    expect(resets(lowered)).toBeGreaterThan(0);
    expect(lowered.buffers.tensor).toBe(64 * 13 * 17 * 4);
  });

  it('a tensor that differs from per-channel values only near the borders: per-channel pass + runs of the rest over the reset', () => {
    const base: Conv2dLayer = {
      kind: 'conv2d',
      name: 'qdq.border',
      batch: 1,
      inChannels: 48,
      outChannels: 64,
      height: 21,
      width: 17,
      kernel: [3, 3],
      stride: [1, 1],
      padding: [1, 1, 1, 1],
      groups: 1,
      epilogue: [],
    };
    const shape = outputShape(base);
    const layer = { ...base, epilogue: epilogueFor('border', 'ADD', shape, true, 9) };
    for (const [tco, th, tw, tci, order] of [
      [2, 5, 7, 2, 'co'],
      [2, 3, 17, 1, 'spatial'],
      [1, 7, 17, 1, 'co'],
    ] as const) {
      const lowered = lowerConv(small, layer, { tco, th, tw, tci, order });
      expect(resets(lowered)).toBeGreaterThan(0);
      const loaded = tensorLoads(lowered).reduce((n, i) => n + i.x_size * i.y_size, 0);
      expect(loaded).toBeGreaterThan(0);
      expect(loaded).toBeLessThan((64 / 16) * 21 * 17 * 0.6);
      const r = rng(tco);
      const x = randInt8(r, 48 * 21 * 17);
      const w = randInt8(r, 64 * 48 * 9);
      const res = randInt8(r, 64 * 21 * 17);
      expect(mismatches(runLowered(small, lowered, { input: x, weights: w, residual: res }), epilogueRef(convRef(layer, x, w), shape, layer.epilogue, res)), lowered.tiling).toEqual(SAME);
    }
    // Per-channel values in a per-element tensor: no tensor buffer at all.
    const flat = { ...base, epilogue: [{ kind: 'tensor', op: 'ADD', values: Int32Array.from({ length: 64 * 21 * 17 }, (_, i) => Math.floor(i / (21 * 17)) * 5 - 100) } as EpilogueStep] };
    expect(checkConv(small, flat, 1, 0).buffers.tensor).toBeUndefined();
  });

  it('refuses a tensor of the wrong size, naming the layer', () => {
    const layer: Conv2dLayer = {
      kind: 'conv2d',
      name: 'bad',
      batch: 1,
      inChannels: 16,
      outChannels: 16,
      height: 8,
      width: 8,
      kernel: [3, 3],
      stride: [1, 1],
      padding: [1, 1, 1, 1],
      groups: 1,
      epilogue: [{ kind: 'tensor', op: 'ADD', values: new Int32Array(16) }],
    };
    expect(() => lowerLayer(cfg, layer)).toThrow(LowerError);
    expect(() => lowerLayer(cfg, layer)).toThrow(/bad: epilogue step 0: the per-element tensor has 16 values for the 1x16x8x8 output/);
  });
});

describe('per-element int32 constants in elementwise layers', () => {
  it('leading and later tensors with any op match the reference', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 20 }),
        fc.constantFrom('qdq', 'border', 'op', 'both'),
        fc.constantFrom<AluOpName>('ADD', 'MUL', 'MIN', 'MAX', 'SHR'),
        fc.integer(),
        (channels, h, w, kind, op, seed) => {
          const shape = [1, channels, h, w];
          const steps = epilogueFor(kind, op, shape, true, seed);
          const layer: EltwiseLayer = { kind: 'eltwise', name: 'ew', batch: 1, channels, height: h, width: w, steps };
          const r = rng(seed);
          const a = randInt8(r, size(shape));
          const b = randInt8(r, size(shape));
          const got = runLowered(small, lowerLayer(small, layer).lowered, { input: a, residual: b });
          expect(mismatches(got, epilogueRef(Int32Array.from(a), shape, steps, b))).toEqual(SAME);
        },
      ),
      { seed: 8, numRuns: 20 },
    );
  });
});
