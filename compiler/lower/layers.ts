/**
 * Layer descriptions the lowering accepts. They name shapes and the fused epilogue only, never a
 * graph IR node, so graph passes build them and tests can write them by hand. Activations are packed
 * int8 tensors NCHW{BATCH}n{BLOCK}c (DRAM elements of BATCH x BLOCK int8 indexed [N/b][C/c][H][W]);
 * channel counts that are not a multiple of BLOCK are zero-padded in the packed form.
 */
import type { VtaConfig } from '../../isa/config.ts';
import { VtaError } from '../../isa/errors.ts';
import type { AluOpName } from '../../isa/types.ts';

/** A layer or tiling the lowering cannot handle, with the layer named. */
export class LowerError extends VtaError {
  constructor(readonly layer: string, message: string) {
    super('VTA_LOWER', `${layer}: ${message}`);
  }
}

/**
 * One step of an epilogue, applied in order to the int32 accumulator before the int8 store:
 * - `imm`: op with a signed 16-bit constant (SHR with a negative amount shifts left);
 * - `channel`: op with a per-output-channel int32 vector (a bias is `{ kind: 'channel', op: 'ADD' }`);
 * - `residual`: op with a second int8 tensor of the output's shape, sign-extended (ACC_8BIT load);
 * - `tensor`: op with a per-element int32 constant, one value per output element in the output's
 *   NCHW order (N·C·H·W values, batch included): an ACC load of the tile's slice, or for leading
 *   ADDs the accumulator's initial value instead of the GEMM's reset (see planEpilogue).
 * The store keeps the low 8 bits of each lane, so a clip (MAX/MIN) must come first for saturation.
 */
export type EpilogueStep =
  | { kind: 'imm'; op: AluOpName; imm: number }
  | { kind: 'channel'; op: AluOpName; values: Int32Array }
  | { kind: 'residual'; op: AluOpName }
  | { kind: 'tensor'; op: AluOpName; values: Int32Array };

export interface Conv2dLayer {
  kind: 'conv2d';
  name: string;
  batch: number;
  inChannels: number;
  outChannels: number;
  height: number;
  width: number;
  kernel: [number, number];
  stride: [number, number];
  /** top, left, bottom, right. */
  padding: [number, number, number, number];
  groups: number;
  epilogue: EpilogueStep[];
}

/** out[n][o] = sum_k in[n][k] * w[o][k]; packed input [N/b][K/c], output [N/b][O/c]. */
export interface DenseLayer {
  kind: 'dense';
  name: string;
  batch: number;
  inFeatures: number;
  outFeatures: number;
  epilogue: EpilogueStep[];
}

/**
 * Elementwise: the accumulator starts as the input (sign-extended), then `steps` run; a `residual`
 * step takes the second input tensor of the same shape (add of two tensors, multiply by a tensor...).
 */
export interface EltwiseLayer {
  kind: 'eltwise';
  name: string;
  batch: number;
  channels: number;
  height: number;
  width: number;
  steps: EpilogueStep[];
}

/** Max pooling on the ALU; padded positions never win (they are skipped, not zero). */
export interface MaxPoolLayer {
  kind: 'maxpool';
  name: string;
  batch: number;
  channels: number;
  height: number;
  width: number;
  kernel: [number, number];
  stride: [number, number];
  padding: [number, number, number, number];
}

/**
 * Window sums on the ALU (ADD per tap; padding adds nothing), then `epilogue` on the int32 sums: an
 * average pool, its 1/count in the epilogue (a fixed-point multiply and shift, or a per-position
 * multiplier tensor).
 */
export interface SumPoolLayer extends Omit<MaxPoolLayer, 'kind'> {
  kind: 'sumpool';
  epilogue: EpilogueStep[];
}

export type Layer = Conv2dLayer | DenseLayer | EltwiseLayer | MaxPoolLayer | SumPoolLayer;

export const ceilDiv = (a: number, b: number): number => Math.ceil(a / b);

/** ceil(n / k) for k = 1.., largest first, without repeats: the tile sizes that cut n into k near-equal tiles. */
export function splits(n: number): number[] {
  const out = new Set<number>();
  for (let k = 1; k <= n; k++) out.add(ceilDiv(n, k));
  return [...out];
}

/** The largest loop count a GEMM/ALU instruction can carry (iter_out, iter_in). */
export function maxIter(cfg: VtaConfig): number {
  return 2 ** cfg.layout.gemm.byName.iter_in!.width - 1;
}

/** The largest x_stride (and x_size, y_size) a LOAD/STORE can carry. */
export function maxStride(cfg: VtaConfig): number {
  return 2 ** cfg.layout.mem.byName.x_stride!.width - 1;
}

export function convOutputSize(l: Pick<Conv2dLayer, 'height' | 'width' | 'kernel' | 'stride' | 'padding'>): [number, number] {
  const oh = Math.floor((l.height + l.padding[0] + l.padding[2] - l.kernel[0]) / l.stride[0]) + 1;
  const ow = Math.floor((l.width + l.padding[1] + l.padding[3] - l.kernel[1]) / l.stride[1]) + 1;
  return [oh, ow];
}

/** Shape of the output activation: [N, C, H, W]. */
export function outputShape(l: Layer): [number, number, number, number] {
  switch (l.kind) {
    case 'conv2d': {
      const [oh, ow] = convOutputSize(l);
      return [l.batch, l.outChannels, oh, ow];
    }
    case 'dense':
      return [l.batch, l.outFeatures, 1, 1];
    case 'eltwise':
      return [l.batch, l.channels, l.height, l.width];
    case 'maxpool':
    case 'sumpool': {
      const [oh, ow] = convOutputSize(l);
      return [l.batch, l.channels, oh, ow];
    }
  }
}

export function inputShape(l: Layer): [number, number, number, number] {
  switch (l.kind) {
    case 'conv2d':
      return [l.batch, l.inChannels, l.height, l.width];
    case 'dense':
      return [l.batch, l.inFeatures, 1, 1];
    case 'eltwise':
    case 'maxpool':
    case 'sumpool':
      return [l.batch, l.channels, l.height, l.width];
  }
}

/** Multiply-accumulates of a conv or dense layer (true channels, no padding); 0 for the others. */
export function layerMacs(l: Layer): number {
  if (l.kind === 'dense') return l.batch * l.inFeatures * l.outFeatures;
  if (l.kind !== 'conv2d') return 0;
  const [n, o, oh, ow] = outputShape(l);
  return n * o * oh * ow * (l.inChannels / l.groups) * l.kernel[0] * l.kernel[1];
}

/** The steps of a layer's epilogue (an elementwise layer's steps; none for max pooling). */
export function epilogueOf(l: Layer): EpilogueStep[] {
  return l.kind === 'eltwise' ? l.steps : l.kind === 'maxpool' ? [] : l.epilogue;
}

/** Throws LowerError for anything the lowering cannot represent. */
export function checkLayer(cfg: VtaConfig, l: Layer): void {
  const fail = (msg: string): never => {
    throw new LowerError(l.name, msg);
  };
  const pos = (v: number, what: string) => {
    if (!Number.isInteger(v) || v < 1) fail(`${what} must be a positive integer, got ${v}`);
  };
  pos(l.batch, 'batch');
  if (l.batch % cfg.BATCH !== 0) fail(`batch ${l.batch} is not a multiple of the configuration's BATCH ${cfg.BATCH}`);
  if (l.kind === 'conv2d' || l.kind === 'maxpool' || l.kind === 'sumpool') {
    for (const [v, what] of [
      [l.height, 'height'],
      [l.width, 'width'],
      [l.kernel[0], 'kernel height'],
      [l.kernel[1], 'kernel width'],
      [l.stride[0], 'stride'],
      [l.stride[1], 'stride'],
    ] as const)
      pos(v, what);
    for (const p of l.padding) {
      if (!Number.isInteger(p) || p < 0 || p > 15) fail(`padding ${p} must be an integer in [0, 15] (the DMA pad fields are 4 bits)`);
    }
    const [oh, ow] = convOutputSize(l);
    if (oh < 1 || ow < 1) fail(`the ${l.kernel.join('x')} window does not fit the padded ${l.height}x${l.width} input`);
  }
  if (l.kind === 'conv2d') {
    pos(l.inChannels, 'inChannels');
    pos(l.outChannels, 'outChannels');
    pos(l.groups, 'groups');
    if (l.inChannels % l.groups || l.outChannels % l.groups) {
      fail(`groups=${l.groups} must divide inChannels=${l.inChannels} and outChannels=${l.outChannels}`);
    }
  }
  if (l.kind === 'maxpool' || l.kind === 'sumpool') {
    if (l.padding[0] >= l.kernel[0] || l.padding[2] >= l.kernel[0] || l.padding[1] >= l.kernel[1] || l.padding[3] >= l.kernel[1]) {
      fail('padding must be smaller than the window, or some outputs would see only padding');
    }
  }
  if (l.kind === 'dense') {
    pos(l.inFeatures, 'inFeatures');
    pos(l.outFeatures, 'outFeatures');
  }
  if (l.kind === 'eltwise') {
    pos(l.channels, 'channels');
    pos(l.height, 'height');
    pos(l.width, 'width');
  }
  const out = outputShape(l);
  const outCh = out[1];
  for (const [i, s] of epilogueOf(l).entries()) {
    if (s.kind === 'imm' && (!Number.isInteger(s.imm) || s.imm < -32768 || s.imm > 32767)) {
      fail(`epilogue step ${i}: immediate ${s.imm} does not fit the signed 16-bit imm field`);
    }
    if (s.kind === 'channel' && s.values.length !== outCh) {
      fail(`epilogue step ${i}: the per-channel vector has ${s.values.length} values for ${outCh} output channels`);
    }
    if (s.kind === 'tensor' && s.values.length !== out[0] * out[1] * out[2] * out[3]) {
      fail(`epilogue step ${i}: the per-element tensor has ${s.values.length} values for the ${out.join('x')} output`);
    }
  }
}
