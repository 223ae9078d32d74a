import { describe, expect, it } from 'vitest';
import { preset } from '../../isa/config.ts';
import type { MemInsn } from '../../isa/types.ts';
import { lowerLayer, outputShape, residualCopies, type Conv2dLayer, type EltwiseLayer, type EpilogueStep } from '../../compiler/lower/index.ts';
import { convRef, epilogueRef, mismatches, randInt8, rng, runLowered, SAME } from './harness.ts';

const cfg = preset('default');

const conv = (epilogue: EpilogueStep[], extra: Partial<Conv2dLayer> = {}): Conv2dLayer => ({
  kind: 'conv2d',
  name: 'block.conv2',
  batch: 1,
  inChannels: 64,
  outChannels: 64,
  height: 14,
  width: 14,
  kernel: [3, 3],
  stride: [1, 1],
  padding: [1, 1, 1, 1],
  groups: 1,
  epilogue,
  ...extra,
});
const bias = Int32Array.from({ length: 64 }, (_, i) => i * 311 - 9000);
const requantAdd: EpilogueStep[] = [
  { kind: 'channel', op: 'ADD', values: bias },
  { kind: 'imm', op: 'ADD', imm: 128 },
  { kind: 'imm', op: 'SHR', imm: 8 },
  { kind: 'residual', op: 'ADD' },
  { kind: 'imm', op: 'MAX', imm: 0 },
  { kind: 'imm', op: 'MIN', imm: 127 },
];

function check(layer: Conv2dLayer, seed: number): { residualLoads: string[] } {
  const r = rng(seed);
  const x = randInt8(r, 64 * layer.height * layer.width);
  const w = randInt8(r, 64 * 64 * layer.kernel[0] * layer.kernel[1]);
  const res = randInt8(r, 64 * layer.height * layer.width);
  const { lowered } = lowerLayer(cfg, layer);
  expect(mismatches(runLowered(cfg, lowered, { input: x, weights: w, residual: res }), epilogueRef(convRef(layer, x, w), outputShape(layer), layer.epilogue, res))).toEqual(SAME);
  const residualLoads = lowered.relocs.filter((rl) => rl.buffer === 'residual').map((rl) => (lowered.insns[rl.index] as MemInsn).memory_type);
  return { residualLoads: [...new Set(residualLoads)] };
}

describe('residual inputs', () => {
  it('ride the GEMM as scaled identity blocks when only ADDs and one SHR precede them', () => {
    expect(residualCopies(cfg, conv(requantAdd), requantAdd)).toEqual([86, 85, 85]);
    expect(residualCopies(cfg, conv([]), [{ kind: 'residual', op: 'ADD' }])).toEqual([1]);
    expect(check(conv(requantAdd), 1).residualLoads).toEqual(['INP']);
  });

  it('fall back to ACC_8BIT + ALU otherwise (a MUL first, a left shift, a MAX op, possible overflow)', () => {
    const mul: EpilogueStep[] = [{ kind: 'imm', op: 'MUL', imm: 3 }, { kind: 'imm', op: 'SHR', imm: 2 }, { kind: 'residual', op: 'ADD' }];
    const left: EpilogueStep[] = [{ kind: 'imm', op: 'SHR', imm: -2 }, { kind: 'residual', op: 'ADD' }];
    const max: EpilogueStep[] = [{ kind: 'imm', op: 'SHR', imm: 4 }, { kind: 'residual', op: 'MAX' }];
    const huge: EpilogueStep[] = [{ kind: 'imm', op: 'ADD', imm: 32767 }, { kind: 'channel', op: 'ADD', values: new Int32Array(64).fill(2 ** 31 - 2 ** 16) }, { kind: 'residual', op: 'ADD' }];
    for (const steps of [mul, left, max, huge]) {
      expect(residualCopies(cfg, conv(steps), steps)).toBeNull();
      expect(check(conv(steps), 2).residualLoads).toEqual(['ACC_8BIT']);
    }
  });
});

describe('large planes', () => {
  it('tensors beyond the 16-bit stride field are moved one channel block per transfer', () => {
    const layer = conv([{ kind: 'imm', op: 'SHR', imm: 3 }, { kind: 'residual', op: 'ADD' }], {
      inChannels: 16,
      outChannels: 16,
      height: 2,
      width: 32769,
      kernel: [1, 1],
      padding: [0, 0, 0, 0],
    });
    const r = rng(9);
    const x = randInt8(r, 16 * 2 * 32769);
    const w = randInt8(r, 16 * 16);
    const res = randInt8(r, 16 * 2 * 32769);
    const { lowered } = lowerLayer(cfg, layer);
    expect(mismatches(runLowered(cfg, lowered, { input: x, weights: w, residual: res }), epilogueRef(convRef(layer, x, w), outputShape(layer), layer.epilogue, res))).toEqual(SAME);
    const add: EltwiseLayer = { kind: 'eltwise', name: 'add', batch: 1, channels: 16, height: 2, width: 32769, steps: [{ kind: 'residual', op: 'ADD' }] };
    const a = randInt8(r, 16 * 2 * 32769);
    expect(mismatches(runLowered(cfg, lowerLayer(cfg, add).lowered, { input: a, residual: res }), epilogueRef(Int32Array.from(a), [1, 16, 2, 32769], add.steps, res))).toEqual(SAME);
  });
});
