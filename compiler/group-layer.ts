/**
 * The bridge between the graph passes and the lowering: a fused kernel group (packed tensors,
 * epilogue steps over IR constants) becomes a lowering `Layer` (shapes and epilogue values), plus
 * the plain OIHW weights the lowering packs for its own tiling.
 */
import type { VtaConfig } from '../isa/config.ts';
import type { Constant, Value } from './ir/graph.ts';
import { LowerError, type EpilogueStep as LayerStep, type Layer } from './lower/index.ts';
import type { EpilogueStep, VtaKernelGroup } from './passes/fuse.ts';

export interface GroupLayer {
  layer: Layer;
  /** OIHW int8 weights ([O][I/groups][kh][kw]) for conv2d. */
  weights?: Int8Array;
  /** Or the packed weights computed at run time (a dense of two activations): the layer reads this value's buffer. */
  weightInput?: Value;
  /** The second int8 operand (residual), when the epilogue adds one. */
  residual?: Value;
}

const ints = (v: unknown, fallback: number[]): number[] => (Array.isArray(v) ? (v as number[]).map(Number) : fallback);

/** [N/b, C/c, H, W, b, c] -> [N, C, H, W]. */
function logicalNCHW(v: Value, name: string): [number, number, number, number] {
  const s = v.type.shape;
  if (s.length !== 6) throw new LowerError(name, `expected a packed 6-D activation, got shape (${s.join(', ')})`);
  return [s[0]! * s[4]!, s[1]! * s[5]!, s[2]!, s[3]!];
}

/** OIHW{c}o{c}i -> OIHW. */
function unpackWeights(w: Constant, name: string): { data: Int8Array; shape: [number, number, number, number] } {
  const s = w.type.shape;
  if (s.length !== 6 || w.type.dtype !== 'int8') throw new LowerError(name, `expected packed int8 weights OIHW{c}o{c}i, got (${s.join(', ')}) ${w.type.dtype}`);
  const [ob, ib, kh, kw, co, ci] = s as [number, number, number, number, number, number];
  const O = ob * co;
  const I = ib * ci;
  const src = w.value.data as Int8Array;
  const out = new Int8Array(O * I * kh * kw);
  let k = 0;
  for (let a = 0; a < ob; a++)
    for (let b = 0; b < ib; b++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++)
          for (let o = 0; o < co; o++)
            for (let i = 0; i < ci; i++) out[(((a * co + o) * I + b * ci + i) * kh + y) * kw + x] = src[k++]!;
  return { data: out, shape: [O, I, kh, kw] };
}

/** The OIHW shape of packed run-time weights [O/c, I/c, kh, kw, c, c]; their values come at run time. */
function runTimeWeights(w: Value, name: string): { data: undefined; shape: [number, number, number, number] } {
  const s = w.type.shape;
  if (s.length !== 6 || w.type.dtype !== 'int8') throw new LowerError(name, `expected packed int8 weights OIHW{c}o{c}i, got (${s.join(', ')}) ${w.type.dtype}`);
  return { data: undefined, shape: [s[0]! * s[4]!, s[1]! * s[5]!, s[2]!, s[3]!] };
}

/** A per-element int32 constant [1, C/c, H, W, 1, c] (batch 1) as values in NCHW order over `out`'s batch. */
function elementValues(v: Constant, out: readonly [number, number, number, number], name: string): Int32Array {
  const s = v.type.shape;
  const [N, C, H, W] = out;
  if (s.length !== 6 || s[0] !== 1 || s[4] !== 1 || s[1]! * s[5]! !== C || s[2] !== H || s[3] !== W) {
    throw new LowerError(name, `a per-element constant of shape (${s.join(', ')}) does not match the ${out.join('x')} output`);
  }
  const c = s[5]!;
  const src = v.value.data as Int32Array;
  const values = new Int32Array(N * C * H * W);
  const plane = H * W;
  for (let ch = 0; ch < C; ch++) {
    const from = (Math.floor(ch / c) * plane) * c + (ch % c);
    for (let p = 0; p < plane; p++) values[ch * plane + p] = src[from + p * c]!;
  }
  // The constant is the same for every batch element.
  for (let n = 1; n < N; n++) values.copyWithin(n * C * plane, 0, C * plane);
  return values;
}

function epilogue(steps: readonly EpilogueStep[], out: readonly [number, number, number, number], name: string): { steps: LayerStep[]; residual?: Value } {
  const res: LayerStep[] = [];
  let residual: Value | undefined;
  for (const s of steps) {
    if (s.kind === 'alu') res.push({ kind: 'imm', op: s.op, imm: s.imm });
    else if (s.kind === 'bias' || s.kind === 'scale') {
      const op = s.kind === 'bias' ? 'ADD' : 'MUL';
      if (!s.perChannel) {
        res.push({ kind: 'tensor', op, values: elementValues(s.value, out, name) });
        continue;
      }
      const values = Int32Array.from(s.value.value.data as Int32Array);
      if (values.length !== out[1]) throw new LowerError(name, `a per-channel constant has ${values.length} values for ${out[1]} channels`);
      res.push({ kind: 'channel', op, values });
    } else {
      if (residual) throw new LowerError(name, 'two residual inputs in one epilogue');
      if (s.pre.length > 0) throw new LowerError(name, 'ALU steps on the residual before the add are not lowered yet');
      residual = s.input;
      res.push({ kind: 'residual', op: 'ADD' });
    }
  }
  return { steps: res, residual };
}

/** Whether OIHW weights (I per group) are 1 from each output channel's own input channel and 0 elsewhere. */
function isWindowSum(w: Int8Array, [O, Ig, kh, kw]: readonly [number, number, number, number], groups: number, C: number): boolean {
  if (O !== C || Ig * groups !== C) return false;
  const taps = kh * kw;
  for (let o = 0; o < O; o++) for (let i = 0; i < Ig; i++) for (let t = 0; t < taps; t++) if (w[(o * Ig + i) * taps + t] !== (i === o % Ig ? 1 : 0)) return false;
  return true;
}

export function groupToLayer(cfg: VtaConfig, g: VtaKernelGroup, name: string): GroupLayer {
  const [N, C, H, W] = logicalNCHW(g.data, name);
  const a = g.attrs;
  switch (g.anchor) {
    case 'conv2d': {
      if (!g.weight && !g.weightInput) throw new LowerError(name, 'conv2d group without weights');
      const dilation = ints(a['dilation'], [1, 1]);
      if (dilation.some((d) => d !== 1)) throw new LowerError(name, `dilation ${dilation.join('x')} is not supported on VTA`);
      const { data, shape } = g.weight ? unpackWeights(g.weight, name) : runTimeWeights(g.weightInput!, name);
      if (g.weightInput && g.epilogue.some((s) => s.kind === 'residual')) {
        throw new LowerError(name, 'a residual with run-time weights: the identity blocks the GEMM adds it with would have to be appended to an activation');
      }
      const groups = Number(a['groups'] ?? 1);
      if (shape[1] * groups !== C) throw new LowerError(name, `weights with ${shape[1]} input channels per group do not fit ${C} input channels in ${groups} groups`);
      const { steps, residual } = epilogue(g.epilogue, logicalNCHW(g.output, name), name);
      const padding = ints(a['padding'], [0, 0, 0, 0]) as [number, number, number, number];
      const window = { batch: N, channels: C, height: H, width: W, kernel: [shape[2], shape[3]] as [number, number], stride: ints(a['strides'], [1, 1]) as [number, number], padding };
      // Weights of 1 on each channel's own input and 0 elsewhere sum windows: an average pool
      // (compiler/quant/realize.ts). The ALU adds them without moving weights.
      if (!residual && data && isWindowSum(data, shape, groups, C) && padding.every((p, i) => p < shape[2 + (i % 2)]!)) return { layer: { kind: 'sumpool', name, ...window, epilogue: steps } };
      // A dense (packed as a 1x1 conv, compiler/passes/pack.ts) on one BATCH block of rows.
      if (H === 1 && W === 1 && shape[2] === 1 && shape[3] === 1 && groups === 1) {
        return { layer: { kind: 'dense', name, batch: N, inFeatures: C, outFeatures: shape[0], epilogue: steps }, weights: data, weightInput: g.weightInput, residual };
      }
      return {
        layer: {
          kind: 'conv2d',
          name,
          batch: N,
          inChannels: C,
          outChannels: shape[0],
          height: H,
          width: W,
          kernel: [shape[2], shape[3]],
          stride: ints(a['strides'], [1, 1]) as [number, number],
          padding,
          groups,
          epilogue: steps,
        },
        weights: data,
        weightInput: g.weightInput,
        residual,
      };
    }
    case 'max_pool2d': {
      if (g.epilogue.length > 0) throw new LowerError(name, 'max pooling with an epilogue is not lowered yet');
      return {
        layer: {
          kind: 'maxpool',
          name,
          batch: N,
          channels: C,
          height: H,
          width: W,
          kernel: ints(a['pool_size'], [1, 1]) as [number, number],
          stride: ints(a['strides'], [1, 1]) as [number, number],
          padding: ints(a['padding'], [0, 0, 0, 0]) as [number, number, number, number],
        },
      };
    }
    case 'add': {
      const { steps, residual } = epilogue(g.epilogue, [N, C, H, W], name);
      return { layer: { kind: 'eltwise', name, batch: N, channels: C, height: H, width: W, steps }, residual };
    }
    case 'dense':
      throw new LowerError(name, `an unpacked dense group reached the lowering (configuration ${cfg.fingerprint}); packLayouts makes dense a 1x1 conv`);
  }
}
