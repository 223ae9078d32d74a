// Device copies and propagation: random graphs with random annotations (fast-check), the
// ResNet-50-style first residual block of #6124, and rule-table placement under argument swaps.
// Oracles: the annotation itself and edge checks written here, independent of the passes.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { call, constant, topoOrder, variable, type Call, type Device, type IRFunction, type Value } from '../../compiler/ir/graph.ts';
import { deviceCopy, insertDeviceCopies, propagateDevices } from '../../compiler/passes/devices.ts';
import { compileForVta } from '../../compiler/passes/pipeline.ts';
import { preset } from '../../isa/config.ts';
import { groupToLayer } from '../../compiler/group-layer.ts';
import { checkEdges, checkGroupsBitExact, checkSameOutputs } from './helpers.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';

const COMMUTATIVE = new Set(['add', 'multiply', 'maximum', 'minimum']);

const named = (fn: IRFunction): Map<string, Device | undefined> =>
  new Map(topoOrder(fn).filter((c) => c.name).map((c) => [c.name!, c.device]));

interface Spec {
  op: string;
  args: number[];
  device: Device;
}

const OPS = ['add', 'multiply', 'maximum', 'minimum', 'subtract', 'nn.relu', 'negative'];

const specArb = fc.array(
  fc.record({
    op: fc.constantFrom(...OPS),
    a: fc.nat(),
    b: fc.nat(),
    device: fc.constantFrom<Device>('cpu', 'vta'),
  }),
  { minLength: 1, maxLength: 24 },
).map((nodes) => nodes.map((n, i): Spec => ({ op: n.op, args: n.op === 'nn.relu' || n.op === 'negative' ? [n.a % (i + 2)] : [n.a % (i + 2), n.b % (i + 2)], device: n.device })));

/** Value 0 and 1 are parameter and a constant; node i is value i + 2. */
function build(specs: readonly Spec[], swap: readonly boolean[]): IRFunction {
  const t = { shape: [1, 4], dtype: 'float32' as const };
  const x = variable('x', t);
  const values: Value[] = [x, constant('k', Tensor.zeros('float32', [1, 4]))];
  specs.forEach((s, i) => {
    let args = s.args.map((j) => values[j]!);
    if (COMMUTATIVE.has(s.op) && swap[i]) args = [...args].reverse();
    values.push(call(s.op, args, {}, { name: `n${i}`, device: s.device }));
  });
  return { params: [x], results: [values[values.length - 1]!] };
}

describe('device copies and propagation', () => {
  it('reproduce the annotation, copy exactly the cross-device edges, and ignore argument order', () => {
    fc.assert(
      fc.property(specArb, fc.array(fc.boolean(), { minLength: 24, maxLength: 24 }), (specs, swap) => {
        const runs = [specs.map(() => false), swap].map((s) => {
          const fn = insertDeviceCopies(build(specs, s));
          const annotated = named(fn);
          propagateDevices(fn);
          checkEdges(fn);
          expect(named(fn)).toEqual(annotated);
          return named(fn);
        });
        expect(runs[1]).toEqual(runs[0]);
      }),
      { numRuns: 300 },
    );
  });
});

/**
 * ResNet-50's first residual block: max pool on the CPU, then on VTA the 1x1 -> 3x3 -> 1x1
 * branch, the 1x1 downsample of the same input, their add and ReLU; global pooling back on the CPU.
 */
function resnet50Block(downsampleFirst: boolean, perEdgeCopies = false): IRFunction {
  const x = variable('x', { shape: [1, 16, 8, 8], dtype: 'float32' });
  const w = (o: number, i: number, k: number, name: string) => constant(name, Tensor.zeros('float32', [o, i, k, k]));
  const vta = { device: 'vta' as Device };
  const pool = call('nn.max_pool2d', [x], { pool_size: [3, 3], strides: [1, 1], padding: [1, 1, 1, 1] }, { name: 'pool', device: 'cpu' });
  const conv = (d: Value, o: number, k: number, name: string) =>
    call('nn.conv2d', [d, w(o, d.type.shape[1]!, k, `${name}_w`)], { padding: new Array(4).fill((k - 1) / 2) }, { name, ...vta });
  // Relay's RewriteAnnotatedOps put one copy on each crossing edge; insertDeviceCopies shares one.
  const input = () => (perEdgeCopies ? deviceCopy(pool, 'cpu', 'vta') : pool);
  const a = conv(input(), 8, 1, 'conv_a');
  const b = conv(a, 8, 3, 'conv_b');
  const c = conv(b, 32, 1, 'conv_c');
  const d = conv(input(), 32, 1, 'downsample');
  const sum = call('add', downsampleFirst ? [d, c] : [c, d], {}, { name: 'add', ...vta });
  const relu = call('nn.relu', [sum], {}, { name: 'relu', ...vta });
  const out = perEdgeCopies ? deviceCopy(relu, 'vta', 'cpu') : relu;
  return { params: [x], results: [call('nn.global_avg_pool2d', [out], {}, { name: 'gap', device: 'cpu' })] };
}

/** The pre-#6124 walk: reverse post-order, tagging each node with the source device of the last copy seen. */
function legacyPostOrder(fn: IRFunction): Map<string, Device> {
  const out = new Map<string, Device>();
  let current: Device = 'cpu';
  for (const c of [...topoOrder(fn)].reverse()) {
    if (c.op === 'device_copy') current = String(c.attrs['src_device']);
    else if (c.name) out.set(c.name, current);
  }
  return out;
}

describe('ResNet-50 first residual block (#6124)', () => {
  for (const downsampleFirst of [false, true]) {
    it(`keeps every conv on VTA with the add's operands ${downsampleFirst ? 'swapped' : 'in model order'}`, () => {
      const fn = insertDeviceCopies(resnet50Block(downsampleFirst));
      propagateDevices(fn);
      checkEdges(fn);
      const devices = named(fn);
      for (const n of ['conv_a', 'conv_b', 'conv_c', 'downsample', 'add', 'relu']) expect(devices.get(n)).toBe('vta');
      expect(devices.get('pool')).toBe('cpu');
      expect(devices.get('gap')).toBe('cpu');
      expect(topoOrder(fn).filter((c) => c.op === 'device_copy')).toHaveLength(2);
    });
  }

  it('is the case the old post-order walk got wrong, with one copy per edge as Relay inserted them', () => {
    // Model order: the walk reaches the downsample's copy, then tags the whole conv branch with its source.
    const legacy = legacyPostOrder(resnet50Block(false, true));
    expect(['conv_a', 'conv_b', 'conv_c'].map((n) => legacy.get(n))).toEqual(['cpu', 'cpu', 'cpu']);
    for (const swapped of [false, true]) {
      const fn = resnet50Block(swapped, true);
      propagateDevices(fn);
      checkEdges(fn);
      const devices = named(fn);
      for (const n of ['conv_a', 'conv_b', 'conv_c', 'downsample', 'add', 'relu']) expect(devices.get(n)).toBe('vta');
    }
  });
});

/** A small float residual network: stem conv, two residual blocks (one with a 1x1 downsample), pooling and dense. */
function residualNet(swap: readonly boolean[], seed: number): IRFunction {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) - 0.5;
  const weights = (shape: number[], name: string) => {
    const t = Tensor.zeros('float32', shape);
    for (let i = 0; i < t.size; i++) (t.data as Float32Array)[i] = rand() * 0.5;
    return constant(name, t);
  };
  const conv = (x: Value, o: number, k: number, stride: number, name: string): Call => {
    const c = call('nn.conv2d', [x, weights([o, x.type.shape[1]!, k, k], `${name}_w`)], { strides: [stride, stride], padding: new Array(4).fill((k - 1) / 2) }, { name });
    return call('nn.bias_add', [c, weights([o], `${name}_b`)], { axis: 1 }, { name: `${name}_bias` });
  };
  const relu = (x: Value, name: string) => call('nn.relu', [x], {}, { name });
  const add = (a: Value, b: Value, i: number) => call('add', swap[i] ? [b, a] : [a, b], {}, { name: `add${i}` });
  const x = variable('x', { shape: [1, 3, 12, 12], dtype: 'float32' });
  const stem = relu(conv(x, 8, 3, 1, 'stem'), 'stem_relu');
  const b1 = relu(add(conv(relu(conv(stem, 8, 3, 1, 'b1c1'), 'b1r1'), 8, 3, 1, 'b1c2'), stem, 0), 'b1out');
  const b2 = relu(add(conv(relu(conv(b1, 24, 3, 2, 'b2c1'), 'b2r1'), 24, 3, 1, 'b2c2'), conv(b1, 24, 1, 2, 'b2down'), 1), 'b2out');
  const pooled = call('reshape', [call('nn.global_avg_pool2d', [b2], {}, { name: 'gap' })], { newshape: [1, 24] }, { name: 'flatten' });
  return { params: [x], results: [call('nn.dense', [pooled, weights([5, 24], 'fc_w')], {}, { name: 'fc' })] };
}

describe('rule-table placement', () => {
  it('places every conv and residual add of a residual network on VTA whatever the order of the add operands', () => {
    const calibration = [0, 1].map((k) => {
      const t = Tensor.zeros('float32', [1, 3, 12, 12]);
      for (let i = 0; i < t.size; i++) (t.data as Float32Array)[i] = Math.sin(i * (k + 1) * 0.37);
      return t;
    });
    const runs = [[false, false], [true, false], [false, true], [true, true]].map((swap) => {
      const { fn, copies, groups, quantized } = compileForVta(residualNet(swap, 7), { calibration, firstConv: 'cpu' });
      propagateDevices(fn);
      checkEdges(fn);
      // Both residual adds fuse into the conv groups that feed them, and every group replays bit-exactly.
      expect(groups.filter((g) => g.epilogue.some((e) => e.kind === 'residual'))).toHaveLength(2);
      checkGroupsBitExact(fn, groups, calibration[1]!);
      checkSameOutputs(fn, quantized, calibration);
      // Every group of the calibrated (symmetric) path is expressible as a lowering layer.
      // (a dense and an average pool are packed as convs: a 1x1 conv over the rows, a conv of ones).
      const kinds: Record<string, string[]> = { conv2d: ['conv2d', 'dense', 'sumpool'], add: ['eltwise'], max_pool2d: ['maxpool'] };
      groups.forEach((g, i) => expect(kinds[g.anchor]).toContain(groupToLayer(preset('default'), g, `g${i}`).layer.kind));
      expect(copies).toBe(2);
      const devices = named(fn);
      // The global pool and the dense after it run on VTA too, the flatten between them as addressing;
      // the dense's output is dequantized on the CPU (the last call named fc).
      for (const n of ['b1c1', 'b1c2', 'b2c1', 'b2c2', 'b2down', 'add0', 'add1', 'gap', 'flatten']) expect([n, devices.get(n)]).toEqual([n, 'vta']);
      const fcCalls = topoOrder(fn).filter((c) => c.name === 'fc');
      expect(fcCalls.map((c) => `${c.op} ${c.device}`)).toContain('nn.conv2d vta');
      expect(fcCalls.at(-1)!.op).toBe('qnn.dequantize');
      expect(devices.get('stem')).toBe('cpu');
      return devices;
    });
    for (const r of runs.slice(1)) expect(r).toEqual(runs[0]);
  });
});
