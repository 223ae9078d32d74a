import { formatShape } from '../../tensor/tensor.ts';
import type { Attrs, TensorType } from '../types.ts';
import { intAttr, stringAttr } from '../attrs.ts';
import { TypeInferenceError } from '../errors.ts';
import { registerOp } from './registry.ts';
import { normAxis } from './shape-utils.ts';

/** Scale and zero point are scalars (per tensor) or 1-D along `axis` (per channel). */
function checkParams(op: string, x: TensorType, scale: TensorType, zp: TensorType, attrs: Attrs): void {
  if (scale.dtype !== 'float32') throw new TypeInferenceError(op, 'scale must be float32');
  const perTensor = (p: TensorType) => p.shape.length === 0 || (p.shape.length === 1 && p.shape[0] === 1);
  if (perTensor(scale) && perTensor(zp)) return;
  const axis = normAxis(op, intAttr(op, attrs, 'axis', 1), x.shape.length);
  for (const p of [scale, zp]) {
    if (p.shape.length !== 1 || p.shape[0] !== x.shape[axis]) throw new TypeInferenceError(op, `parameter ${formatShape(p.shape)} does not fit axis ${axis} of ${formatShape(x.shape)}`);
  }
}

registerOp({
  name: 'qnn.quantize',
  arity: [3, 3],
  infer: ([x, scale, zp], attrs, op) => {
    if (x!.dtype !== 'float32') throw new TypeInferenceError(op, 'input must be float32');
    const out = stringAttr(op, attrs, 'out_dtype');
    if (out !== 'int8' && out !== 'uint8') throw new TypeInferenceError(op, `out_dtype ${out} is not int8 or uint8`);
    if (zp!.dtype !== out) throw new TypeInferenceError(op, 'zero point dtype must be out_dtype');
    checkParams(op, x!, scale!, zp!, attrs);
    return { shape: x!.shape, dtype: out };
  },
});

registerOp({
  name: 'qnn.dequantize',
  arity: [3, 3],
  infer: ([x, scale, zp], attrs, op) => {
    if (x!.dtype === 'float32' || x!.dtype === 'float64' || x!.dtype === 'int64') throw new TypeInferenceError(op, `cannot dequantize ${x!.dtype}`);
    if (zp!.dtype !== x!.dtype) throw new TypeInferenceError(op, 'zero point dtype must match the input');
    checkParams(op, x!, scale!, zp!, attrs);
    return { shape: x!.shape, dtype: 'float32' };
  },
});
