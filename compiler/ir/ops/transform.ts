import { isDType } from '../../tensor/dtype.ts';
import { formatShape, sizeOf } from '../../tensor/tensor.ts';
import type { TensorType } from '../types.ts';
import { intAttr, intsAttr, stringAttr } from '../attrs.ts';
import { TypeInferenceError } from '../errors.ts';
import { logicalShape, packedShape, parseLayout } from '../layout.ts';
import { registerOp } from './registry.ts';
import { broadcastShapes, checkDims, normAxis, sameDType } from './shape-utils.ts';

registerOp({
  name: 'reshape',
  arity: [1, 1],
  infer: ([x], attrs, op) => {
    const shape = checkDims(op, intsAttr(op, attrs, 'newshape'));
    if (sizeOf(shape) !== sizeOf(x!.shape)) throw new TypeInferenceError(op, `cannot reshape ${formatShape(x!.shape)} to ${formatShape(shape)}`);
    return { shape, dtype: x!.dtype };
  },
});

registerOp({
  name: 'transpose',
  arity: [1, 1],
  infer: ([x], attrs, op) => {
    const rank = x!.shape.length;
    const axes = intsAttr(op, attrs, 'axes').map((a) => normAxis(op, a, rank));
    if (axes.length !== rank || new Set(axes).size !== rank) throw new TypeInferenceError(op, `axes [${axes}] are not a permutation of rank ${rank}`);
    return { shape: axes.map((a) => x!.shape[a]!), dtype: x!.dtype };
  },
});

registerOp({
  name: 'squeeze',
  arity: [1, 1],
  infer: ([x], attrs, op) => {
    const rank = x!.shape.length;
    const axes = new Set(intsAttr(op, attrs, 'axis').map((a) => normAxis(op, a, rank)));
    for (const a of axes) if (x!.shape[a] !== 1) throw new TypeInferenceError(op, `axis ${a} of ${formatShape(x!.shape)} is not 1`);
    return { shape: x!.shape.filter((_, i) => !axes.has(i)), dtype: x!.dtype };
  },
});

// ONNX Unsqueeze semantics: the axes index the result.
registerOp({
  name: 'expand_dims',
  arity: [1, 1],
  infer: ([x], attrs, op) => {
    const rank = x!.shape.length + intsAttr(op, attrs, 'axis').length;
    const axes = new Set(intsAttr(op, attrs, 'axis').map((a) => normAxis(op, a, rank)));
    if (axes.size !== intsAttr(op, attrs, 'axis').length) throw new TypeInferenceError(op, 'repeated axis');
    const shape: number[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) shape.push(axes.has(i) ? 1 : x!.shape[j++]!);
    return { shape, dtype: x!.dtype };
  },
});

registerOp({
  name: 'concatenate',
  arity: [1, Infinity],
  infer: (args, attrs, op) => {
    const rank = args[0]!.shape.length;
    const axis = normAxis(op, intAttr(op, attrs, 'axis'), rank);
    const shape = [...args[0]!.shape];
    for (const t of args.slice(1)) {
      if (t.shape.length !== rank || t.shape.some((d, i) => i !== axis && d !== shape[i])) {
        throw new TypeInferenceError(op, `cannot concatenate ${formatShape(args[0]!.shape)} with ${formatShape(t.shape)} on axis ${axis}`);
      }
      shape[axis]! += t.shape[axis]!;
    }
    return { shape, dtype: sameDType(op, args) };
  },
});

/**
 * begin/end/strides hold one resolved entry per axis: begin is a valid index,
 * end is exclusive and may be -1 for a negative stride that runs to index 0.
 */
registerOp({
  name: 'strided_slice',
  arity: [1, 1],
  infer: ([x], attrs, op) => {
    const begin = intsAttr(op, attrs, 'begin');
    const end = intsAttr(op, attrs, 'end');
    const strides = intsAttr(op, attrs, 'strides');
    const rank = x!.shape.length;
    if (begin.length !== rank || end.length !== rank || strides.length !== rank) throw new TypeInferenceError(op, `begin/end/strides need ${rank} entries`);
    const shape = x!.shape.map((dim, i) => {
      const s = strides[i]!;
      if (s === 0) throw new TypeInferenceError(op, 'stride 0');
      const n = s > 0 ? Math.ceil((end[i]! - begin[i]!) / s) : Math.ceil((begin[i]! - end[i]!) / -s);
      const count = Math.max(0, n);
      if (count > 0 && (begin[i]! < 0 || begin[i]! >= dim || begin[i]! + (count - 1) * s < 0 || begin[i]! + (count - 1) * s >= dim)) {
        throw new TypeInferenceError(op, `slice [${begin[i]}:${end[i]}:${s}] is out of range for axis ${i} of size ${dim}`);
      }
      return count;
    });
    return { shape, dtype: x!.dtype };
  },
});

registerOp({
  name: 'take',
  arity: [2, 2],
  infer: ([x, indices], attrs, op) => {
    if (indices!.dtype !== 'int32' && indices!.dtype !== 'int64') throw new TypeInferenceError(op, 'indices must be int32 or int64');
    const axis = normAxis(op, intAttr(op, attrs, 'axis', 0), x!.shape.length);
    return { shape: [...x!.shape.slice(0, axis), ...indices!.shape, ...x!.shape.slice(axis + 1)], dtype: x!.dtype };
  },
});

registerOp({
  name: 'broadcast_to',
  arity: [1, 1],
  infer: ([x], attrs, op) => ({ shape: checkDims(op, broadcastShapes(op, x!.shape, intsAttr(op, attrs, 'shape'))), dtype: x!.dtype }),
});

registerOp({
  name: 'shape_of',
  arity: [1, 1],
  infer: ([x]) => ({ shape: [x!.shape.length], dtype: 'int64' }),
});

registerOp({
  name: 'full',
  arity: [0, 0],
  infer: (_args, attrs, op) => {
    const dtype = stringAttr(op, attrs, 'dtype');
    if (!isDType(dtype)) throw new TypeInferenceError(op, `unknown dtype ${dtype}`);
    return { shape: checkDims(op, intsAttr(op, attrs, 'shape')), dtype };
  },
});

registerOp({
  name: 'nn.pad',
  arity: [1, 1],
  infer: ([x], attrs, op) => {
    const rank = x!.shape.length;
    const before = intsAttr(op, attrs, 'pad_before');
    const after = intsAttr(op, attrs, 'pad_after');
    const mode = stringAttr(op, attrs, 'pad_mode', 'constant');
    if (!['constant', 'reflect', 'edge'].includes(mode)) throw new TypeInferenceError(op, `unknown pad_mode ${mode}`);
    if (before.length !== rank || after.length !== rank) throw new TypeInferenceError(op, `pad_before/pad_after need ${rank} entries`);
    const shape = x!.shape.map((d, i) => {
      const out = d + before[i]! + after[i]!;
      if (out < 0) throw new TypeInferenceError(op, `padding makes axis ${i} negative`);
      if (mode !== 'constant' && (before[i]! < 0 || after[i]! < 0)) throw new TypeInferenceError(op, `${mode} padding cannot be negative`);
      if (mode === 'reflect' && (before[i]! >= d || after[i]! >= d) && (before[i]! > 0 || after[i]! > 0)) {
        throw new TypeInferenceError(op, `reflect padding of ${Math.max(before[i]!, after[i]!)} needs axis ${i} larger than ${d}`);
      }
      if (mode === 'edge' && d === 0 && out > 0) throw new TypeInferenceError(op, `edge padding of an empty axis ${i}`);
      return out;
    });
    return { shape, dtype: x!.dtype };
  },
});

registerOp({
  name: 'layout_transform',
  arity: [1, 1],
  infer: ([x], attrs, op) => {
    const src = parseLayout(stringAttr(op, attrs, 'src_layout'), op);
    const dst = parseLayout(stringAttr(op, attrs, 'dst_layout'), op);
    if ([...src.primal].sort().join() !== [...dst.primal].sort().join()) throw new TypeInferenceError(op, `${src.name} and ${dst.name} have different axes`);
    const logical = logicalShape(x!.shape, src, op);
    const reordered = dst.primal.map((a) => logical[src.primal.indexOf(a)]!);
    return { shape: packedShape(reordered, dst, op), dtype: x!.dtype };
  },
});

// A transfer between devices (Relay's device_copy); the value is unchanged.
registerOp({
  name: 'device_copy',
  arity: [1, 1],
  infer: ([x], attrs, op): TensorType => {
    stringAttr(op, attrs, 'src_device');
    stringAttr(op, attrs, 'dst_device');
    return x!;
  },
});
