/**
 * Streams the compiler emits (compiler/lower) on intelfocl (POCL) against the functional
 * simulator: every output buffer bit-identical. Small layers of each kind, then two blocks of
 * ResNet-18 (convs with fused residual adds, a downsample) as one stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preset } from '../../isa/config.ts';
import { encodeProgram } from '../../isa/codec.ts';
import type { ProgramImage } from '../../isa/image.ts';
import type { Layer } from '../../compiler/lower/index.ts';
import { IntelFoclDriver } from '../../hw-opencl/driver.ts';
import { createSimDriver } from '../../sim/driver.ts';
import type { DeviceDriver } from '../../isa/device.ts';
import { loweredImage } from '../../bench/opencl.ts';
import { resnet18Layers } from '../../bench/lower.ts';
import { ensureAddon } from './util.ts';

const cfg = preset('default');

async function runOn(drv: DeviceDriver, image: ProgramImage): Promise<Map<string, Uint8Array>> {
  for (const s of image.segments) await drv.write(s.addr, s.bytes);
  await drv.write(image.insnAddr, encodeProgram(cfg, image.insns));
  await drv.run(image.insnAddr, image.insns.length, { timeoutMs: 120_000 });
  const out = new Map<string, Uint8Array>();
  for (const s of image.segments.filter((g) => g.name.endsWith('.output'))) out.set(s.name, await drv.read(s.addr, s.bytes.length));
  return out;
}

const requant = (cout: number, residual: boolean) => [
  { kind: 'channel' as const, op: 'ADD' as const, values: Int32Array.from({ length: cout }, (_, i) => i * 37 - 500) },
  { kind: 'imm' as const, op: 'SHR' as const, imm: 7 },
  ...(residual ? [{ kind: 'residual' as const, op: 'ADD' as const }] : []),
  { kind: 'imm' as const, op: 'MAX' as const, imm: 0 },
  { kind: 'imm' as const, op: 'MIN' as const, imm: 127 },
];

const SMALL_LAYERS: Layer[] = [
  { kind: 'conv2d', name: 'conv3x3', batch: 1, inChannels: 48, outChannels: 32, height: 10, width: 9, kernel: [3, 3], stride: [1, 1], padding: [1, 1, 1, 1], groups: 1, epilogue: requant(32, true) },
  { kind: 'conv2d', name: 'conv-s2', batch: 1, inChannels: 32, outChannels: 64, height: 12, width: 12, kernel: [3, 3], stride: [2, 2], padding: [1, 1, 1, 1], groups: 1, epilogue: requant(64, false) },
  { kind: 'conv2d', name: 'depthwise', batch: 1, inChannels: 32, outChannels: 32, height: 8, width: 8, kernel: [3, 3], stride: [1, 1], padding: [1, 1, 1, 1], groups: 32, epilogue: requant(32, false) },
  { kind: 'dense', name: 'dense', batch: 1, inFeatures: 256, outFeatures: 48, epilogue: requant(48, false) },
  { kind: 'maxpool', name: 'maxpool', batch: 1, channels: 32, height: 9, width: 9, kernel: [3, 3], stride: [2, 2], padding: [1, 1, 1, 1] },
  { kind: 'eltwise', name: 'add', batch: 1, channels: 32, height: 6, width: 6, steps: [{ kind: 'residual', op: 'ADD' }, { kind: 'imm', op: 'MUL', imm: 3 }] },
];

describe('compiler/lower streams on intelfocl vs the functional simulator', () => {
  let ocl: IntelFoclDriver;
  beforeAll(async () => {
    ensureAddon();
    ocl = await IntelFoclDriver.open({ config: cfg, memBytes: 48 << 20 });
  });
  afterAll(async () => {
    await ocl?.close();
  });

  const compare = async (image: ProgramImage) => {
    expect(image.memBytes).toBeLessThanOrEqual(ocl.memBytes);
    const sim = await createSimDriver({ config: cfg, memBytes: image.memBytes });
    try {
      const want = await runOn(sim, image);
      const got = await runOn(ocl, image);
      expect(want.size).toBeGreaterThan(0);
      for (const [name, bytes] of want) expect(Buffer.from(got.get(name)!).equals(Buffer.from(bytes)), name).toBe(true);
    } finally {
      await sim.close();
    }
  };

  for (const layer of SMALL_LAYERS) it(layer.name, () => compare(loweredImage(cfg, [layer], 11)));

  // Two of ResNet-18's blocks (the whole layer1..layer4 stream is in `npm run bench -- --suite opencl`,
  // where lowering it takes most of the time): a plain block and a strided one with its downsample.
  it('resnet18 blocks layer1.0 and layer3.0 as one stream', () =>
    compare(loweredImage(cfg, resnet18Layers().filter((l) => l.name.startsWith('layer1.0') || l.name.startsWith('layer3.0')), 7)));
});
