import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AluOpName } from '../../isa/types.ts';
import {
  convOutputSize,
  convTilings,
  denseAsConv,
  lowerConv,
  lowerLayer,
  LowerError,
  outputShape,
  type Conv2dLayer,
  type DenseLayer,
  type EltwiseLayer,
  type EpilogueStep,
  type MaxPoolLayer,
  type SumPoolLayer,
} from '../../compiler/lower/index.ts';
import { batch2, cfg, checkConv, convRef, denseRef, epilogueRef, maxPoolRef, mismatches, randInt8, rng, runLowered, SAME, small, sumPoolRef } from './harness.ts';


const epilogueArb = (channels: number, residual: boolean): fc.Arbitrary<EpilogueStep[]> =>
  fc
    .record({
      bias: fc.boolean(),
      shift: fc.integer({ min: 0, max: 12 }),
      mul: fc.option(fc.integer({ min: -300, max: 300 }), { nil: undefined }),
      res: fc.constant(residual),
      relu: fc.boolean(),
      left: fc.boolean(),
      seed: fc.integer(),
    })
    .map(({ bias, shift, mul, res, relu, left, seed }) => {
      const r = rng(seed);
      const steps: EpilogueStep[] = [];
      if (bias) steps.push({ kind: 'channel', op: 'ADD', values: Int32Array.from({ length: channels }, () => Math.floor(r() * 20001) - 10000) });
      if (mul !== undefined) steps.push({ kind: 'imm', op: 'MUL', imm: mul });
      if (shift > 0) steps.push({ kind: 'imm', op: 'ADD', imm: 1 << (shift - 1) }, { kind: 'imm', op: 'SHR', imm: shift });
      if (left) steps.push({ kind: 'imm', op: 'SHR', imm: -1 });
      if (res) steps.push({ kind: 'residual', op: 'ADD' });
      steps.push({ kind: 'imm', op: 'MAX', imm: relu ? 0 : -128 }, { kind: 'imm', op: 'MIN', imm: 127 });
      return steps;
    });

const convArb = fc
  .record({
    k: fc.constantFrom(1, 3, 3, 7),
    s: fc.constantFrom(1, 2),
    h: fc.integer({ min: 1, max: 15 }),
    w: fc.integer({ min: 1, max: 15 }),
    groupKind: fc.constantFrom('dense', 'dense', 'grouped', 'depthwise'),
    g: fc.integer({ min: 1, max: 4 }),
    cin: fc.integer({ min: 1, max: 40 }),
    cout: fc.integer({ min: 1, max: 40 }),
    pads: fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 4, maxLength: 4 }),
    residual: fc.boolean(),
    seed: fc.integer(),
    pick: fc.nat(),
  })
  .chain((p) => {
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
    const h = Math.max(p.h, p.k - pad[0] - pad[2]);
    const w = Math.max(p.w, p.k - pad[1] - pad[3]);
    const layer: Conv2dLayer = {
      kind: 'conv2d',
      name: 'prop',
      batch: 1,
      inChannels: cin,
      outChannels: cout,
      height: h,
      width: w,
      kernel: [p.k, p.k],
      stride: [p.s, p.s],
      padding: pad,
      groups: g,
      epilogue: [],
    };
    return epilogueArb(cout, p.residual).map((epilogue) => ({ layer: { ...layer, epilogue }, seed: p.seed, pick: p.pick }));
  });

describe('conv2d lowering matches the integer reference bit-exactly', () => {
  it('random shapes, strides, padding, groups; any legal tiling (small config)', () => {
    fc.assert(
      fc.property(convArb, ({ layer, seed, pick }) => {
        checkConv(small, layer, seed, pick);
      }),
      { seed: 1234, numRuns: 120 },
    );
  });

  it('random shapes with the heuristic tiling (default config)', () => {
    fc.assert(
      fc.property(convArb, ({ layer, seed }) => {
        checkConv(cfg, layer, seed, null);
      }),
      { seed: 99, numRuns: 25 },
    );
  });

  it('BATCH = 2, BLOCK = 8', () => {
    fc.assert(
      fc.property(convArb, fc.constantFrom(2, 4), ({ layer, seed, pick }, n) => {
        checkConv(batch2, { ...layer, batch: n }, seed, pick);
      }),
      { seed: 7, numRuns: 12 },
    );
  });

  it('needs several tiles in every dimension: 3x3 conv 80->96 channels on 19x23, tiny tiles', () => {
    const layer: Conv2dLayer = {
      kind: 'conv2d',
      name: 'multi',
      batch: 1,
      inChannels: 80,
      outChannels: 96,
      height: 19,
      width: 23,
      kernel: [3, 3],
      stride: [1, 1],
      padding: [1, 1, 1, 1],
      groups: 1,
      epilogue: [{ kind: 'imm', op: 'SHR', imm: 6 }, { kind: 'residual', op: 'ADD' }],
    };
    for (const [tco, th, tw, tci, order] of [
      [2, 5, 7, 2, 'co'],
      [4, 4, 8, 1, 'spatial'],
      [3, 6, 4, 1, 'co'],
    ] as const) {
      const r = rng(tco);
      const x = randInt8(r, 80 * 19 * 23);
      const w = randInt8(r, 96 * 80 * 9);
      const res = randInt8(r, 96 * 19 * 23);
      const lowered = lowerConv(small, layer, { tco, th, tw, tci, order });
      expect(mismatches(runLowered(small, lowered, { input: x, weights: w, residual: res }), epilogueRef(convRef(layer, x, w), outputShape(layer), layer.epilogue, res))).toEqual(SAME);
    }
  });
});

describe('dense lowering', () => {
  it('random sizes match the reference', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer(),
        fc.nat(),
        (batch, k, o, seed, pick) => {
          const r = rng(seed);
          const steps: EpilogueStep[] = [{ kind: 'channel', op: 'ADD', values: Int32Array.from({ length: o }, () => Math.floor(r() * 4001) - 2000) }, { kind: 'imm', op: 'SHR', imm: 5 }];
          const layer: DenseLayer = { kind: 'dense', name: 'fc', batch, inFeatures: k, outFeatures: o, epilogue: steps };
          const x = randInt8(r, batch * k);
          const w = randInt8(r, o * k);
          const tilings = convTilings(small, denseAsConv(layer));
          const lowered = lowerConv(small, layer, tilings[pick % tilings.length]!);
          const got = runLowered(small, lowered, { input: x, weights: w });
          expect(mismatches(got, epilogueRef(denseRef(layer, x, w), [batch, o, 1, 1], steps))).toEqual(SAME);
        },
      ),
      { seed: 42, numRuns: 20 },
    );
  });
});

describe('elementwise ALU layers', () => {
  const ops: AluOpName[] = ['ADD', 'MUL', 'MIN', 'MAX', 'SHR'];
  it('tensor op, immediates and per-channel vectors match the reference', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 30 }),
        fc.constantFrom(...ops),
        fc.integer({ min: -2000, max: 2000 }),
        fc.boolean(),
        fc.integer(),
        (channels, h, w, op, imm, withChannel, seed) => {
          const r = rng(seed);
          const steps: EpilogueStep[] = [{ kind: 'residual', op }];
          if (op === 'SHR') steps[0] = { kind: 'imm', op: 'SHR', imm: imm % 9 };
          else steps.push({ kind: 'imm', op: 'MUL', imm });
          if (withChannel) steps.push({ kind: 'channel', op: 'ADD', values: Int32Array.from({ length: channels }, () => Math.floor(r() * 201) - 100) });
          steps.push({ kind: 'imm', op: 'SHR', imm: 2 }, { kind: 'imm', op: 'MAX', imm: -128 }, { kind: 'imm', op: 'MIN', imm: 127 });
          const layer: EltwiseLayer = { kind: 'eltwise', name: 'ew', batch: 1, channels, height: h, width: w, steps };
          const a = randInt8(r, channels * h * w);
          const b = randInt8(r, channels * h * w);
          const got = runLowered(small, lowerLayer(small, layer).lowered, { input: a, residual: b });
          expect(mismatches(got, epilogueRef(Int32Array.from(a), [1, channels, h, w], steps, b))).toEqual(SAME);
        },
      ),
      { seed: 5, numRuns: 25 },
    );
  });
});

describe('max pooling on the ALU', () => {
  it('windows, strides and padding (padding never wins) match the reference', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 2, max: 30 }),
        fc.integer({ min: 2, max: 30 }),
        fc.constantFrom(2, 3),
        fc.constantFrom(1, 2),
        fc.boolean(),
        fc.integer(),
        (channels, h, w, k, s, pad, seed) => {
          const p = pad ? 1 : 0;
          h = Math.max(h, k);
          w = Math.max(w, k);
          const layer: MaxPoolLayer = { kind: 'maxpool', name: 'pool', batch: 1, channels, height: h, width: w, kernel: [k, k], stride: [s, s], padding: [p, p, p, p] };
          const x = randInt8(rng(seed), channels * h * w);
          const got = runLowered(small, lowerLayer(small, layer).lowered, { input: x });
          expect(mismatches(got, Int8Array.from(maxPoolRef(layer, x)))).toEqual(SAME);
        },
      ),
      { seed: 11, numRuns: 20 },
    );
  });
});

describe('window sums (average pools) on the ALU', () => {
  it('windows, strides, padding and every epilogue step kind match the reference', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 2, max: 20 }),
        fc.constantFrom(2, 3),
        fc.constantFrom(1, 2),
        fc.boolean(),
        fc.integer(),
        (channels, h, k, s, pad, seed) => {
          const p = pad ? 1 : 0;
          h = Math.max(h, k);
          const r = rng(seed);
          const window = { name: 'sum', batch: 1, channels, height: h, width: h + 1, kernel: [k, k] as [number, number], stride: [s, s] as [number, number], padding: [p, p, p, p] as [number, number, number, number] };
          const [oh, ow] = convOutputSize(window);
          const n = channels * oh * ow;
          const epilogue: EpilogueStep[] = [
            { kind: 'channel', op: 'ADD', values: Int32Array.from({ length: channels }, () => Math.floor(r() * 200) - 100) },
            { kind: 'tensor', op: 'MUL', values: Int32Array.from({ length: n }, () => Math.floor(r() * 3000) + 1) },
            { kind: 'imm', op: 'ADD', imm: 1 << 11 },
            { kind: 'imm', op: 'SHR', imm: 12 },
            { kind: 'imm', op: 'MAX', imm: -127 },
            { kind: 'imm', op: 'MIN', imm: 127 },
          ];
          const layer: SumPoolLayer = { kind: 'sumpool', ...window, epilogue };
          const x = randInt8(r, channels * h * (h + 1));
          const got = runLowered(small, lowerLayer(small, layer).lowered, { input: x });
          expect(mismatches(got, epilogueRef(sumPoolRef(layer, x), [1, channels, oh, ow], epilogue))).toEqual(SAME);
        },
      ),
      { seed: 12, numRuns: 20 },
    );
  });
});

describe('layer descriptions the lowering refuses', () => {
  const base: Conv2dLayer = {
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
    epilogue: [],
  };
  it('names the layer and the problem', () => {
    expect(() => lowerLayer(cfg, { ...base, padding: [16, 1, 1, 1] })).toThrow(LowerError);
    expect(() => lowerLayer(cfg, { ...base, epilogue: [{ kind: 'imm', op: 'MUL', imm: 40000 }] })).toThrow(/bad: epilogue step 0: immediate 40000/);
    expect(() => lowerLayer(cfg, { ...base, groups: 3 })).toThrow(/groups=3 must divide/);
    expect(() => lowerConv(cfg, base, { tco: 1, th: 8, tw: 8, tci: 1, order: 'co' })).not.toThrow();
    expect(() => lowerConv(small, { ...base, inChannels: 256, outChannels: 256, height: 60, width: 60 }, { tco: 16, th: 60, tw: 60, tci: 16, order: 'co' })).toThrow(
      /does not fit/,
    );
  });
});
