import { isDType } from '../../tensor/dtype.ts';
import type { TensorType } from '../types.ts';
import { stringAttr } from '../attrs.ts';
import { TypeInferenceError } from '../errors.ts';
import { registerOp } from './registry.ts';
import { broadcastShapes, sameDType } from './shape-utils.ts';

const sameAsInput = (args: readonly TensorType[]): TensorType => args[0]!;

export const UNARY_OPS = ['nn.relu', 'nn.leaky_relu', 'sigmoid', 'tanh', 'sqrt', 'negative', 'clip'] as const;
export const BINARY_OPS = ['add', 'subtract', 'multiply', 'divide', 'maximum', 'minimum'] as const;

for (const name of UNARY_OPS) registerOp({ name, arity: [1, 1], infer: sameAsInput });

for (const name of BINARY_OPS) {
  registerOp({
    name,
    arity: [2, 2],
    infer: ([a, b], _attrs, op) => ({ shape: broadcastShapes(op, a!.shape, b!.shape), dtype: sameDType(op, [a!, b!]) }),
  });
}

// The slope broadcasts to the input (ONNX PRelu), so the result keeps the input's shape.
registerOp({
  name: 'nn.prelu',
  arity: [2, 2],
  infer: ([x, slope], _attrs, op) => {
    const shape = broadcastShapes(op, x!.shape, slope!.shape);
    if (shape.length !== x!.shape.length || shape.some((d, i) => d !== x!.shape[i])) {
      throw new TypeInferenceError(op, 'slope must broadcast to the input shape');
    }
    return { shape: x!.shape, dtype: sameDType(op, [x!, slope!]) };
  },
});

registerOp({
  name: 'cast',
  arity: [1, 1],
  infer: ([x], attrs, op) => {
    const dtype = stringAttr(op, attrs, 'dtype');
    if (!isDType(dtype)) throw new TypeInferenceError(op, `unknown dtype ${dtype}`);
    return { shape: x!.shape, dtype };
  },
});
