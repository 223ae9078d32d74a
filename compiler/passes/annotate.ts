/**
 * Device annotation. A rule table says which ops the VTA target runs (int8
 * conv2d, grouped when each group is a whole number of BLOCK-channel blocks;
 * the int32 ALU ops with 16-bit immediates; int8 max pooling; the int8 <->
 * int32 casts of LOAD ACC_8BIT and STORE). Placement is decided per kernel
 * group (compiler/passes/fuse.ts), as VTA fuses them: a group goes to VTA when
 * every node in it is supported; channel concatenations of VTA results go to VTA
 * too (done by addressing, see concatOnVta); everything else stays on the CPU. Like
 * graph_pack's device_annot (reference §2), this runs on the unpacked graph;
 * packing, copies and propagation follow.
 */
import { ConfigError } from '../../isa/errors.ts';
import { preset, type VtaConfig } from '../../isa/config.ts';
import { topoOrder, type Call, type Device, type IRFunction, type Value } from '../ir/graph.ts';
import { IMM_MAX, IMM_MIN } from '../quant/fixed-point.ts';
import { findKernelGroups } from './fuse.ts';
import { consumers } from './rewrite.ts';

export interface VtaTarget {
  /** BATCH and BLOCK (BLOCK_IN = BLOCK_OUT) of the VTA configuration. */
  readonly batch: number;
  readonly block: number;
}

/** The packing parameters of a VTA configuration (BLOCK_IN = BLOCK_OUT, as graph_pack assumes). */
export function vtaTarget(cfg: VtaConfig): VtaTarget {
  if (cfg.BLOCK_IN !== cfg.BLOCK_OUT) throw new ConfigError('LOG_BLOCK', `packing needs BLOCK_IN = BLOCK_OUT, got ${cfg.BLOCK_IN} and ${cfg.BLOCK_OUT}`);
  return { batch: cfg.BATCH, block: cfg.BLOCK_OUT };
}

export const DEFAULT_TARGET: VtaTarget = vtaTarget(preset('default'));

export interface AnnotateOptions {
  readonly target?: VtaTarget;
  /** Keep the first conv (and its group) on the CPU even when VTA could run it. */
  readonly firstConvOnCpu?: boolean;
}

const isImm = (v: Value): boolean => {
  if (v.kind !== 'constant' || v.value.size !== 1 || v.type.dtype !== 'int32') return false;
  const x = Number(v.value.data[0]);
  return x >= IMM_MIN && x <= IMM_MAX;
};

/**
 * An activation the packing can split into BATCH blocks: 4-D (NCHW), or 2-D ([rows, features], a
 * dense's operand or result, which packs as the NCHW image [BATCH, features, 1, rows / BATCH]).
 */
const activation = (v: Value, t: VtaTarget): boolean => v.kind !== 'constant' && (v.type.shape.length === 4 || v.type.shape.length === 2) && v.type.shape[0]! % t.batch === 0;

/** A constant that packs like the activation it is added to: per channel or per element, batch 1 (2-D: per feature only). */
const channelConstant = (v: Value, like: Value): boolean => {
  const s = v.type.shape;
  const a = like.type.shape;
  if (v.kind !== 'constant') return false;
  if (a.length === 2) return (s.length === 1 && s[0] === a[1]) || (s.length === 2 && s[0] === 1 && s[1] === a[1]);
  return s.length === 4 && s[0] === 1 && s[1] === a[1] && ((s[2] === 1 && s[3] === 1) || (s[2] === a[2] && s[3] === a[3]));
};

/**
 * How many conv groups pack into one GEMM block group: 1 when each group already
 * has whole blocks of input and output channels; for narrower groups (depthwise
 * is Cg = 1) BLOCK / Cg neighbouring groups merge into one whose weights are
 * block-diagonal (zeros between the merged groups). A depthwise conv (one input
 * and one output channel per group) whose channels are not a whole number of
 * blocks gets zero groups up to the next block (packLayouts). Undefined when
 * neither fits. groups = 1 packs by padding the channels instead.
 */
export function groupMerge(groups: number, Cg: number, O: number, block: number): number | undefined {
  if (groups === 1) return 1;
  const Og = O / groups;
  if (Cg % block === 0 && Og % block === 0) return 1;
  if (block % Cg !== 0) return undefined;
  const m = block / Cg;
  if (groups % m === 0 && (Og * m) % block === 0) return m;
  return Cg === 1 && Og === 1 ? m : undefined;
}

type Rule = (c: Call, t: VtaTarget) => boolean;

/** What VTA runs; an op not listed here runs on the CPU. */
export const VTA_RULES: Readonly<Record<string, Rule>> = {
  'nn.conv2d': (c, t) => {
    const [x, w] = c.args as [Value, Value];
    if (x.type.dtype !== 'int8' || w.kind !== 'constant' || w.type.dtype !== 'int8' || c.type.dtype !== 'int32') return false;
    if (x.type.shape.length !== 4 || !activation(x, t) || c.attrs['data_layout'] !== undefined) return false;
    return groupMerge(Number(c.attrs['groups'] ?? 1), w.type.shape[1]!, w.type.shape[0]!, t.block) !== undefined;
  },
  // A GEMM with the weights streamed through WGT: a 1x1 conv over the packed rows (pack.ts).
  'nn.dense': (c, t) => {
    const [x, w] = c.args as [Value, Value];
    // The weights: constant, or an int8 activation the host packs into WGT blocks (attention).
    return x.type.dtype === 'int8' && x.type.shape.length === 2 && activation(x, t) && w.type.dtype === 'int8' && w.type.shape.length === 2 && c.type.dtype === 'int32';
  },
  add: (c, t) => {
    const [x, y] = c.args as [Value, Value];
    const sameShape = y.type.shape.join() === x.type.shape.join();
    return c.type.dtype === 'int32' && activation(x, t) && (isImm(y) || channelConstant(y, x) || (activation(y, t) && sameShape));
  },
  multiply: (c, t) => c.type.dtype === 'int32' && activation(c.args[0]!, t) && (isImm(c.args[1]!) || channelConstant(c.args[1]!, c.args[0]!)),
  right_shift: (c, t) => activation(c.args[0]!, t) && isImm(c.args[1]!),
  maximum: (c, t) => c.type.dtype === 'int32' && activation(c.args[0]!, t) && isImm(c.args[1]!),
  minimum: (c, t) => c.type.dtype === 'int32' && activation(c.args[0]!, t) && isImm(c.args[1]!),
  clip: (c, t) => c.type.dtype === 'int32' && activation(c.args[0]!, t) && Number(c.attrs['a_min']) >= IMM_MIN && Number(c.attrs['a_max']) <= IMM_MAX,
  cast: (c, t) => activation(c.args[0]!, t) && ((c.args[0]!.type.dtype === 'int8' && c.type.dtype === 'int32') || (c.args[0]!.type.dtype === 'int32' && c.type.dtype === 'int8')),
  'nn.max_pool2d': (c, t) => c.type.dtype === 'int8' && c.args[0]!.type.shape.length === 4 && activation(c.args[0]!, t) && c.attrs['layout'] === undefined,
};

export function supportedOnVta(c: Call, target: VtaTarget = DEFAULT_TARGET): boolean {
  return VTA_RULES[c.op]?.(c, target) ?? false;
}

/**
 * A concatenation VTA runs by addressing alone: int8 along the channels, every input a whole
 * number of channel blocks with one batch block, so that in the packed layout each input is one
 * contiguous slice of the result, which its producer writes in place (compiler/emit.ts).
 */
export function concatOnVta(c: Call, t: VtaTarget): boolean {
  if (c.op !== 'concatenate' || c.type.dtype !== 'int8' || c.type.shape.length !== 4) return false;
  if (Number(c.attrs['axis']) !== 1 && Number(c.attrs['axis']) !== -3) return false;
  return c.args.every((a) => a.kind === 'call' && a.type.shape.length === 4 && activation(a, t) && a.type.shape[0] === t.batch && a.type.shape[1]! % t.block === 0 && c.args.indexOf(a) === c.args.lastIndexOf(a));
}

/**
 * Concatenations placed on VTA: those concatOnVta allows whose every input is made on VTA and read
 * by nothing but VTA nodes and this one concatenation (a slice cannot be copied to the host or
 * shared by two results); repeated until no placement changes, since nested concats depend on
 * each other.
 */
function placeConcats(order: readonly Call[], results: ReadonlySet<Value>, devices: Map<Call, Device>, t: VtaTarget): void {
  const readers = new Map<Value, Call[]>();
  for (const c of order) for (const a of c.args) (readers.get(a) ?? readers.set(a, []).get(a)!).push(c);
  const concats = order.filter((c) => concatOnVta(c, t));
  for (const c of concats) devices.set(c, 'vta');
  for (let changed = true; changed; ) {
    changed = false;
    for (const c of concats) {
      if (devices.get(c) !== 'vta') continue;
      const ok = c.args.every((a) => {
        if (results.has(a) || devices.get(a as Call) !== 'vta') return false;
        const rs = readers.get(a)!;
        return rs.every((r) => devices.get(r) === 'vta' && (r === c || r.op !== 'concatenate'));
      });
      if (!ok) {
        devices.set(c, 'cpu');
        changed = true;
      }
    }
  }
}

/** Sets `device` on every call: 'vta' for the nodes of supported kernel groups and concatenations, 'cpu' for the rest. */
export function annotateDevices(fn: IRFunction, opts: AnnotateOptions = {}): IRFunction {
  const target = opts.target ?? DEFAULT_TARGET;
  const order = topoOrder(fn);
  const firstConv = order.find((c) => c.op === 'nn.conv2d');
  const devices = new Map<Call, Device>(order.map((c) => [c, 'cpu']));
  for (const g of findKernelGroups(fn)) {
    if (opts.firstConvOnCpu && g.anchorCall === firstConv) continue;
    if (g.anchor === 'dense' && g.data.type.shape[0]! <= target.batch && !flattenOfVta(g.data, devices, target) && afterVta(g.data, devices)) continue;
    if (g.calls.every((c) => supportedOnVta(c, target))) for (const c of g.calls) devices.set(c, 'vta');
  }
  placeConcats(order, new Set(fn.results), devices, target);
  const readers = consumers(fn);
  for (const c of order) if (!fn.results.includes(c) && flattenAsAddressing(c, readers.get(c) ?? [], devices, target)) devices.set(c, 'vta');
  for (const [c, d] of devices) c.device = d;
  return fn;
}

/**
 * Whether `v` is computed on the CPU from a value VTA produced. A GEMV (one BATCH block of rows)
 * reading such a value would open a device run of its own for little work (ResNet-18's fc after a
 * CPU global pool: 0.5 M MACs), so it stays on the CPU; once the ops before it run on VTA, so does
 * the dense. A GEMM over more rows (a transformer's projections between CPU LayerNorms) reuses each
 * weight block over its rows and takes the device run.
 */
function afterVta(v: Value, devices: Map<Call, Device>): boolean {
  const seen = new Set<Value>();
  const walk = (x: Value): boolean => {
    if (x.kind !== 'call' || seen.has(x)) return false;
    seen.add(x);
    return devices.get(x) === 'vta' || x.args.some(walk);
  };
  return v.kind === 'call' && devices.get(v) !== 'vta' && v.args.some(walk);
}

/**
 * A flatten between a VTA group and VTA denses only, at one BATCH block: the packed tensor
 * [1, C/c, H, W, b, c] read as [1, C/c·H·W, 1, 1, b, c] is a dense input whose features come in
 * (channel block, row, column, lane) order, which pack.ts folds into the dense's weights.
 */
function flattenOfVta(c: Value, devices: Map<Call, Device>, t: VtaTarget): c is Call {
  if (c.kind !== 'call' || c.op !== 'reshape' || c.type.shape.length !== 2) return false;
  const x = c.args[0]!;
  return x.kind === 'call' && devices.get(x) === 'vta' && x.type.shape.length === 4 && x.type.dtype === 'int8' && x.type.shape[0] === t.batch && c.type.shape[0] === t.batch;
}

function flattenAsAddressing(c: Call, readers: readonly Call[], devices: Map<Call, Device>, t: VtaTarget): boolean {
  return flattenOfVta(c, devices, t) && readers.length > 0 && readers.every((r) => r.op === 'nn.dense' && r.args[0] === c && r.args[1]!.kind === 'constant' && devices.get(r) === 'vta');
}
