import { isDType, isFloat, type DType } from '../../tensor/dtype.ts';
import { formatShape } from '../../tensor/tensor.ts';
import type { Attrs, TensorType } from '../types.ts';
import { floatAttr, intAttr, intsAttr, stringAttr } from '../attrs.ts';
import { TypeInferenceError } from '../errors.ts';
import { logicalShape, packedShape, parseLayout } from '../layout.ts';
import { registerOp } from './registry.ts';
import { broadcastShapes, checkRank, normAxis, sameDType } from './shape-utils.ts';

/** Spatial attributes shared by convolutions and pools, checked against `n` spatial dims. */
export interface Window {
  strides: readonly number[];
  /** Begin pads of each spatial dim, then end pads (ONNX's and Relay's order). */
  padding: readonly number[];
  dilation: readonly number[];
}

export function windowAttrs(op: string, attrs: Attrs, n: number): Window {
  const ones = new Array<number>(n).fill(1);
  const strides = intsAttr(op, attrs, 'strides', ones);
  const padding = intsAttr(op, attrs, 'padding', new Array<number>(2 * n).fill(0));
  const dilation = intsAttr(op, attrs, 'dilation', ones);
  if (strides.length !== n || dilation.length !== n || padding.length !== 2 * n) {
    throw new TypeInferenceError(op, `strides/dilation need ${n} entries and padding ${2 * n}`);
  }
  if (strides.some((s) => s < 1) || dilation.some((d) => d < 1) || padding.some((p) => p < 0)) {
    throw new TypeInferenceError(op, 'strides and dilation must be positive and padding non-negative');
  }
  return { strides, padding, dilation };
}

/** Output extent of a sliding window; ceil mode drops a last window that would start in the end padding. */
export function windowOut(op: string, size: number, k: number, w: Window, i: number, ceil = false): number {
  const n = w.strides.length;
  const span = w.dilation[i]! * (k - 1) + 1;
  const room = size + w.padding[i]! + w.padding[n + i]! - span;
  if (room < 0) throw new TypeInferenceError(op, `window ${span} is larger than the padded input ${size + w.padding[i]! + w.padding[n + i]!}`);
  let out = (ceil ? Math.ceil(room / w.strides[i]!) : Math.floor(room / w.strides[i]!)) + 1;
  if (ceil && (out - 1) * w.strides[i]! >= size + w.padding[i]!) out--;
  return out;
}

function outDType(op: string, attrs: Attrs, fallback: DType): DType {
  const d = stringAttr(op, attrs, 'out_dtype', '');
  if (d === '') return fallback;
  if (!isDType(d)) throw new TypeInferenceError(op, `unknown out_dtype ${d}`);
  return d;
}

const SPATIAL = ['W', 'HW'];

for (const n of [1, 2]) {
  const conv = `nn.conv${n}d`;
  const dataDefault = `NC${SPATIAL[n - 1]}`;
  const kernelDefault = `OI${SPATIAL[n - 1]}`;
  registerOp({
    name: conv,
    arity: [2, 2],
    infer: ([data, weight], attrs, op) => {
      const dl = parseLayout(stringAttr(op, attrs, 'data_layout', dataDefault), op);
      const kl = parseLayout(stringAttr(op, attrs, 'kernel_layout', kernelDefault), op);
      const ol = parseLayout(stringAttr(op, attrs, 'out_layout', '') || dl.name, op);
      if (dl.primal.join('') !== dataDefault || ol.primal.join('') !== dataDefault || kl.primal.join('') !== kernelDefault) {
        throw new TypeInferenceError(op, `layouts must order the axes as ${dataDefault} and ${kernelDefault}`);
      }
      const x = logicalShape(data!.shape, dl, op);
      const w = logicalShape(weight!.shape, kl, op);
      const groups = intAttr(op, attrs, 'groups', 1);
      const win = windowAttrs(op, attrs, n);
      if (groups < 1 || x[1]! !== w[1]! * groups || w[0]! % groups !== 0) {
        throw new TypeInferenceError(op, `input ${formatShape(x)} and weight ${formatShape(w)} do not fit groups=${groups}`);
      }
      const spatial = x.slice(2).map((s, i) => windowOut(op, s, w[2 + i]!, win, i));
      if (data!.dtype !== weight!.dtype && (isFloat(data!.dtype) || isFloat(weight!.dtype))) {
        throw new TypeInferenceError(op, `data ${data!.dtype} and weight ${weight!.dtype} do not mix`);
      }
      return { shape: packedShape([x[0]!, w[0]!, ...spatial], ol, op), dtype: outDType(op, attrs, data!.dtype) };
    },
  });

  // Weight layout IOHW: [C_in, C_out / groups, kernel...], as in ONNX ConvTranspose.
  registerOp({
    name: `nn.conv${n}d_transpose`,
    arity: [2, 2],
    infer: ([data, weight], attrs, op) => {
      checkRank(op, data!, n + 2);
      if (data!.shape.length !== n + 2 || weight!.shape.length !== n + 2) throw new TypeInferenceError(op, `data and weight need rank ${n + 2}`);
      const groups = intAttr(op, attrs, 'groups', 1);
      const win = windowAttrs(op, attrs, n);
      const outPad = intsAttr(op, attrs, 'output_padding', new Array<number>(n).fill(0));
      const x = data!.shape;
      const w = weight!.shape;
      if (groups < 1 || x[1] !== w[0] || w[0]! % groups !== 0) throw new TypeInferenceError(op, `input ${formatShape(x)} and weight ${formatShape(w)} do not fit groups=${groups}`);
      const spatial = x.slice(2).map((s, i) => {
        const out = (s - 1) * win.strides[i]! - win.padding[i]! - win.padding[n + i]! + win.dilation[i]! * (w[2 + i]! - 1) + (outPad[i] ?? 0) + 1;
        if (out <= 0) throw new TypeInferenceError(op, `non-positive output size on spatial axis ${i}`);
        return out;
      });
      return { shape: [x[0]!, w[1]! * groups, ...spatial], dtype: outDType(op, attrs, sameDType(op, [data!, weight!])) };
    },
  });

  for (const kind of ['max', 'avg']) {
    registerOp({
      name: `nn.${kind}_pool${n}d`,
      arity: [1, 1],
      infer: ([x], attrs, op) => {
        // An optional packed layout (NCHW1n16c) lets pools run inside VTA's packed region.
        const layout = parseLayout(stringAttr(op, attrs, 'layout', '') || dataDefault, op);
        if (layout.primal.join('') !== dataDefault) throw new TypeInferenceError(op, `layout must order the axes as ${dataDefault}`);
        if (x!.shape.length !== layout.dims.length) throw new TypeInferenceError(op, `input needs rank ${layout.dims.length}, got ${formatShape(x!.shape)}`);
        const logical = logicalShape(x!.shape, layout, op);
        const pool = intsAttr(op, attrs, 'pool_size');
        if (pool.length !== n || pool.some((k) => k < 1)) throw new TypeInferenceError(op, `pool_size needs ${n} positive entries`);
        const win = windowAttrs(op, attrs, n);
        const ceil = intAttr(op, attrs, 'ceil_mode', 0) === 1;
        const spatial = logical.slice(2).map((s, i) => windowOut(op, s, pool[i]!, win, i, ceil));
        return { shape: packedShape([...logical.slice(0, 2), ...spatial], layout, op), dtype: x!.dtype };
      },
    });
  }
}

// Global pools reduce every axis after N and C to 1, whatever the rank.
for (const name of ['nn.global_avg_pool2d', 'nn.global_max_pool2d']) {
  registerOp({
    name,
    arity: [1, 1],
    infer: ([x], _attrs, op) => {
      checkRank(op, x!, 3);
      return { shape: x!.shape.map((d, i) => (i < 2 ? d : 1)), dtype: x!.dtype };
    },
  });
}

// Relay's dense: x[..., K] times w[N, K] transposed.
registerOp({
  name: 'nn.dense',
  arity: [2, 2],
  infer: ([x, w], attrs, op) => {
    checkRank(op, x!, 1);
    if (w!.shape.length !== 2 || w!.shape[1] !== x!.shape[x!.shape.length - 1]) {
      throw new TypeInferenceError(op, `weight ${formatShape(w!.shape)} does not fit input ${formatShape(x!.shape)}`);
    }
    return { shape: [...x!.shape.slice(0, -1), w!.shape[0]!], dtype: outDType(op, attrs, sameDType(op, [x!, w!])) };
  },
});

// NumPy matmul: 1-D operands are promoted and the promoted axis dropped; batch axes broadcast.
registerOp({
  name: 'nn.matmul',
  arity: [2, 2],
  infer: ([a, b], attrs, op) => {
    checkRank(op, a!, 1);
    checkRank(op, b!, 1);
    const as = a!.shape.length === 1 ? [1, a!.shape[0]!] : a!.shape;
    const bs = b!.shape.length === 1 ? [b!.shape[0]!, 1] : b!.shape;
    if (as[as.length - 1] !== bs[bs.length - 2]) throw new TypeInferenceError(op, `${formatShape(a!.shape)} and ${formatShape(b!.shape)} do not multiply`);
    const batch = broadcastShapes(op, as.slice(0, -2), bs.slice(0, -2));
    const shape = [...batch];
    if (a!.shape.length > 1) shape.push(as[as.length - 2]!);
    if (b!.shape.length > 1) shape.push(bs[bs.length - 1]!);
    return { shape, dtype: outDType(op, attrs, sameDType(op, [a!, b!])) };
  },
});

registerOp({
  name: 'nn.bias_add',
  arity: [2, 2],
  infer: ([x, bias], attrs, op) => {
    const axis = normAxis(op, intAttr(op, attrs, 'axis', 1), x!.shape.length);
    if (bias!.shape.length !== 1 || bias!.shape[0] !== x!.shape[axis]) throw new TypeInferenceError(op, `bias ${formatShape(bias!.shape)} does not fit axis ${axis} of ${formatShape(x!.shape)}`);
    return { shape: x!.shape, dtype: sameDType(op, [x!, bias!]) };
  },
});

registerOp({
  name: 'nn.batch_norm',
  arity: [5, 5],
  infer: (args, attrs, op) => {
    const x = args[0]!;
    const axis = normAxis(op, intAttr(op, attrs, 'axis', 1), x.shape.length);
    floatAttr(op, attrs, 'epsilon');
    for (const p of args.slice(1)) {
      if (p.shape.length !== 1 || p.shape[0] !== x.shape[axis]) throw new TypeInferenceError(op, `parameter ${formatShape(p.shape)} does not fit axis ${axis} of ${formatShape(x.shape)}`);
    }
    if (!isFloat(x.dtype)) throw new TypeInferenceError(op, 'needs a float input');
    return { shape: x.shape, dtype: sameDType(op, args) };
  },
});

registerOp({
  name: 'nn.lrn',
  arity: [1, 1],
  infer: ([x], attrs, op) => {
    normAxis(op, intAttr(op, attrs, 'axis', 1), x!.shape.length);
    if (intAttr(op, attrs, 'size') < 1) throw new TypeInferenceError(op, 'size must be positive');
    if (!isFloat(x!.dtype)) throw new TypeInferenceError(op, 'needs a float input');
    return x!;
  },
});

registerOp({
  name: 'nn.softmax',
  arity: [1, 1],
  infer: ([x], attrs, op): TensorType => {
    normAxis(op, intAttr(op, attrs, 'axis', -1), x!.shape.length);
    if (!isFloat(x!.dtype)) throw new TypeInferenceError(op, 'needs a float input');
    return x!;
  },
});
