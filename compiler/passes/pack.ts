/**
 * graph_pack (reference §2) for the nodes annotated 'vta': activations go
 * from NCHW to NCHW{BATCH}n{BLOCK}c, conv weights from OIHW to
 * OIHW{BLOCK}o{BLOCK}i, per-channel and per-element int32 constants to the
 * activation's packed layout, every channel count padded to a multiple of
 * BLOCK with zeros. Zero weights in the padded input channels make whatever
 * the padded channels carry harmless, and the padding is sliced off where the
 * packed region ends. Pack (pad + layout_transform) and unpack
 * (layout_transform + strided_slice) run on the CPU at the region's edges, so
 * the copies that follow move packed tensors, as VTA's do. Grouped convs whose
 * groups are narrower than a block (depthwise) merge into block-diagonal groups;
 * a depthwise conv's channels are padded to whole blocks like an activation's.
 */
import { evaluate } from '../cpu/execute.ts';
import { call, constant, topoOrder, type Call, type Constant, type IRFunction, type Value } from '../ir/graph.ts';
import { Tensor } from '../tensor/tensor.ts';
import { DEFAULT_TARGET, groupMerge, type VtaTarget } from './annotate.ts';
import { withArgs } from './rewrite.ts';

const roundUp = (n: number, b: number) => Math.ceil(n / b) * b;

export function dataLayout(t: VtaTarget): string {
  return `NCHW${t.batch}n${t.block}c`;
}

export function kernelLayout(t: VtaTarget): string {
  return `OIHW${t.block}o${t.block}i`;
}

function padAxis(x: Value, axis: number, to: number, device?: string): Value {
  const size = x.type.shape[axis]!;
  if (size === to) return x;
  const before = x.type.shape.map(() => 0);
  const after = x.type.shape.map((_, i) => (i === axis ? to - size : 0));
  return call('nn.pad', [x], { pad_before: before, pad_after: after, pad_value: 0 }, { device });
}

/** A constant folded through pad + layout_transform, keeping its name. */
function packConstant(c: Constant, axes: readonly number[], layouts: [string, string], t: VtaTarget): Constant {
  let v: Value = c;
  for (const a of axes) v = padAxis(v, a, roundUp(c.type.shape[a]!, t.block));
  v = call('layout_transform', [v], { src_layout: layouts[0], dst_layout: layouts[1] });
  return constant(c.name, evaluate(v));
}

/** Weights of a grouped conv with every `merge` neighbouring groups joined, zeros between them. */
function blockDiagonal(w: Constant, groups: number, merge: number): Constant {
  const [O, Cg, KH, KW] = w.type.shape as [number, number, number, number];
  const Og = O / groups;
  const taps = KH * KW;
  const out = Tensor.zeros(w.type.dtype, [O, Cg * merge, KH, KW]);
  const src = w.value.data as Int8Array;
  const dst = out.data as Int8Array;
  for (let o = 0; o < O; o++) {
    const local = Math.floor(o / Og) % merge;
    for (let c = 0; c < Cg; c++) dst.set(src.subarray((o * Cg + c) * taps, (o * Cg + c + 1) * taps), (o * Cg * merge + local * Cg + c) * taps);
  }
  return constant(w.name, out);
}

/** The NCHW image a 2-D activation [rows, features] packs as. */
function imageOf(shape: readonly number[], t: VtaTarget): [number, number, number, number] {
  const [rows, features] = shape as [number, number];
  return [t.batch, features, 1, rows / t.batch];
}

/** Dense weights [O, C·H·W] (NCHW flatten order) -> [O, C/c·H·W·c] in the packed order (block, row, column, lane). */
function flattenedWeights(w: Constant, [, C, H, W]: readonly number[], t: VtaTarget): Constant {
  const O = w.type.shape[0]!;
  const blocks = Math.ceil(C! / t.block);
  const K = C! * H! * W!;
  const K2 = blocks * H! * W! * t.block;
  const src = w.value.data as Int8Array;
  const out = Tensor.zeros('int8', [O, K2]);
  const dst = out.data as Int8Array;
  for (let ch = 0; ch < C!; ch++) {
    const [b, lane] = [Math.floor(ch / t.block), ch % t.block];
    for (let p = 0; p < H! * W!; p++) {
      const to = (b * H! * W! + p) * t.block + lane;
      const from = ch * H! * W! + p;
      for (let o = 0; o < O; o++) dst[o * K2 + to] = src[o * K + from]!;
    }
  }
  return constant(w.name, out);
}

export function packLayouts(fn: IRFunction, target: VtaTarget = DEFAULT_TARGET): IRFunction {
  const layout = dataLayout(target);
  const packed = new Map<Value, Value>();
  const plain = new Map<Value, Value>();
  const packCache = new Map<Value, Value>();
  const unpackCache = new Map<Value, Value>();

  const getPlain = (v: Value): Value => {
    const p = plain.get(v);
    if (p) return p;
    const q = packed.get(v);
    if (!q) return v;
    let hit = unpackCache.get(v);
    if (!hit) {
      hit = call('layout_transform', [q], { src_layout: layout, dst_layout: 'NCHW' }, { device: 'cpu' });
      if (v.type.shape.length === 2) hit = fromImage(hit, v.type.shape);
      const full = v.type.shape.slice();
      if (hit.type.shape[1] !== full[1]) hit = call('strided_slice', [hit], { begin: full.map(() => 0), end: full, strides: full.map(() => 1) }, { device: 'cpu' });
      unpackCache.set(v, hit);
    }
    return hit;
  };

  const getPacked = (v: Value): Value => {
    const q = packed.get(v);
    if (q) return q;
    let hit = packCache.get(v);
    if (!hit) {
      let x = padAxis(getPlain(v), 1, roundUp(v.type.shape[1]!, target.block), 'cpu');
      if (v.type.shape.length === 2) x = toImage(x);
      hit = call('layout_transform', [x], { src_layout: 'NCHW', dst_layout: layout }, { device: 'cpu' });
      packCache.set(v, hit);
    }
    return hit;
  };

  // [rows, C] <-> the image [b, C, 1, rows / b]: a reshape, with a transpose when a lane holds several rows.
  const toImage = (x: Value): Value => {
    const [rows, C] = x.type.shape as [number, number];
    const cols = rows / target.batch;
    if (cols > 1) x = call('transpose', [call('reshape', [x], { newshape: [target.batch, cols, C] }, { device: 'cpu' })], { axes: [0, 2, 1] }, { device: 'cpu' });
    return call('reshape', [x], { newshape: [target.batch, C, 1, cols] }, { device: 'cpu' });
  };
  const fromImage = (x: Value, shape: readonly number[]): Value => {
    const C = x.type.shape[1]!;
    const cols = shape[0]! / target.batch;
    if (cols > 1) x = call('transpose', [call('reshape', [x], { newshape: [target.batch, C, cols] }, { device: 'cpu' })], { axes: [0, 2, 1] }, { device: 'cpu' });
    return call('reshape', [x], { newshape: [shape[0]!, C] }, { device: 'cpu' });
  };

  // Run-time dense weights [N, K] packed by the host into WGT blocks, as packConstant does at compile time.
  const packedAtRunTime = (w: Value): Value => {
    const [N, K] = w.type.shape as [number, number];
    const padded = padAxis(padAxis(w, 0, roundUp(N, target.block), 'cpu'), 1, roundUp(K, target.block), 'cpu');
    const oihw = call('reshape', [padded], { newshape: [...padded.type.shape, 1, 1] }, { device: 'cpu' });
    return call('layout_transform', [oihw], { src_layout: 'OIHW', dst_layout: kernelLayout(target) }, { device: 'cpu' });
  };

  const operand = (a: Value, like: Value): Value => {
    if (a.kind !== 'constant') return getPacked(a);
    if (a.value.size === 1) return a.type.shape.length === 0 ? a : constant(a.name, a.value.reshape([]));
    // Constants have batch 1 (annotate's channelConstant): packed with a batch block of 1, they
    // broadcast over every batch block and lane of the activation. A per-feature constant of a 2-D
    // activation is per channel of its image.
    const c = like.type.shape.length === 2 ? constant(a.name, a.value.reshape([1, a.value.size, 1, 1])) : a;
    return packConstant(c, [1], ['NCHW', dataLayout({ ...target, batch: 1 })], target);
  };

  const packCall = (c: Call): Value => {
    const opts = { name: c.name, device: c.device };
    if (c.op === 'nn.conv2d') {
      let w = c.args[1] as Constant;
      let groups = Number(c.attrs['groups'] ?? 1);
      const merge = groupMerge(groups, w.type.shape[1]!, w.type.shape[0]!, target.block)!;
      if (merge > 1 && groups % merge !== 0) {
        // Depthwise with channels short of a block: zero weights for the padded channels' groups.
        const O = w.type.shape[0]!;
        w = constant(w.name, evaluate(padAxis(w, 0, roundUp(O, target.block))));
        groups = w.type.shape[0]!;
      }
      if (merge > 1) {
        w = blockDiagonal(w, groups, merge);
        groups /= merge;
      }
      const weight = packConstant(w, groups === 1 ? [0, 1] : [], ['OIHW', kernelLayout(target)], target);
      const attrs = { ...c.attrs, groups, data_layout: layout, kernel_layout: kernelLayout(target), out_layout: layout };
      return call(c.op, [getPacked(c.args[0]!), weight], attrs, opts);
    }
    if (c.op === 'nn.dense') {
      const x = c.args[0]!;
      const attrs = { strides: [1, 1], padding: [0, 0, 0, 0], dilation: [1, 1], groups: 1, out_dtype: 'int32', data_layout: layout, kernel_layout: kernelLayout(target), out_layout: layout };
      if (c.args[1]!.kind !== 'constant') return call('nn.conv2d', [getPacked(x), packedAtRunTime(getPlain(c.args[1]!))], attrs, opts);
      const flat = x.kind === 'call' && x.op === 'reshape' && x.device === 'vta' ? x.args[0]!.type.shape : undefined;
      const w = flat ? flattenedWeights(c.args[1] as Constant, flat, target) : (c.args[1] as Constant);
      const [O, K] = w.type.shape as [number, number];
      const weight = packConstant(constant(w.name, w.value.reshape([O, K, 1, 1])), [0, 1], ['OIHW', kernelLayout(target)], target);
      return call('nn.conv2d', [getPacked(x), weight], attrs, opts);
    }
    if (c.op === 'reshape') {
      // A flatten on VTA (annotate.ts): the packed blocks read in order, one block per feature group.
      const q = getPacked(c.args[0]!);
      const [nb, cb, h, w, b, lane] = q.type.shape as number[];
      return call('reshape', [q], { newshape: [nb!, cb! * h! * w!, 1, 1, b!, lane!] }, opts);
    }
    if (c.op === 'nn.max_pool2d') return call(c.op, [getPacked(c.args[0]!)], { ...c.attrs, layout }, opts);
    // Whole channel blocks (concatOnVta): the packed concatenation runs along the channel-block axis.
    if (c.op === 'concatenate') return call(c.op, c.args.map(getPacked), { axis: 1 }, opts);
    return call(c.op, c.args.map((a) => operand(a, c.args[0]!)), c.attrs, opts);
  };

  for (const c of topoOrder(fn)) {
    if (c.device === 'vta') packed.set(c, packCall(c));
    else plain.set(c, withArgs(c, c.args.map(getPlain)));
  }
  return { params: fn.params, results: fn.results.map(getPlain) };
}
