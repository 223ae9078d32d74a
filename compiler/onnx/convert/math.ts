/** Activations, element-wise arithmetic with broadcasting, variadic Sum/Max/Min, Clip and Cast. */
import type { Value } from '../../ir/graph.ts';
import { isFloat } from '../../tensor/dtype.ts';
import type { Converter, NodeContext } from '../context.ts';
import { dtypeOf } from '../tensor-proto.ts';

/**
 * Opset < 7 broadcasting (attribute broadcast=1) aligns B with A starting at
 * `axis` rather than at the end, so B is reshaped with trailing ones first.
 */
function legacyBroadcast(ctx: NodeContext, a: Value, b: Value): Value {
  if (ctx.opset >= 7 || !ctx.attrs.int('broadcast', 0)) return b;
  const rankA = a.type.shape.length;
  const rankB = b.type.shape.length;
  const axis = ctx.attrs.int('axis', rankA - rankB);
  const a0 = axis < 0 ? axis + rankA : axis;
  if (a0 < 0 || a0 + rankB > rankA) ctx.fail(`broadcast axis ${axis} does not fit shapes`);
  return ctx.emit('reshape', [b], { newshape: [...b.type.shape, ...new Array<number>(rankA - a0 - rankB).fill(1)] });
}

function binary(op: string): Converter {
  return (ctx) => {
    const a = ctx.input(0);
    return ctx.emit(op, [a, legacyBroadcast(ctx, a, ctx.input(1))]);
  };
}

function variadic(op: string): Converter {
  return (ctx) => {
    let acc = ctx.input(0);
    for (let i = 1; i < ctx.inputCount; i++) acc = ctx.emit(op, [acc, ctx.input(i)]);
    return acc;
  };
}

function unary(op: string): Converter {
  return (ctx) => ctx.emit(op, [ctx.input(0)]);
}

function floatInput(ctx: NodeContext): Value {
  const x = ctx.input(0);
  if (!isFloat(x.type.dtype)) ctx.fail(`needs a float input, got ${x.type.dtype}`);
  return x;
}

// Clip bounds are attributes before opset 11 and optional constant inputs from 11.
const clip: Converter = (ctx) => {
  const x = ctx.input(0);
  const bound = (i: number, attr: string, fallback: number): number => {
    if (ctx.opset < 11) return ctx.attrs.float(attr, fallback);
    const t = ctx.optionalConstant(i);
    return t ? t.toNumbers()[0] ?? fallback : fallback;
  };
  return ctx.emit('clip', [x], { a_min: bound(1, 'min', -Infinity), a_max: bound(2, 'max', Infinity) });
};

// Before opset 7 a 1-D slope of C values applies per channel (axis 1), not along the last axis.
const prelu: Converter = (ctx) => {
  const x = ctx.input(0);
  let slope = ctx.input(1);
  const rank = x.type.shape.length;
  if (ctx.opset < 7 && slope.type.shape.length === 1 && rank > 2 && slope.type.shape[0] === x.type.shape[1] && slope.type.shape[0] !== 1) {
    slope = ctx.emit('reshape', [slope], { newshape: [slope.type.shape[0]!, ...new Array<number>(rank - 2).fill(1)] });
  }
  return ctx.emit('nn.prelu', [x, slope]);
};

export const MATH_CONVERTERS: Record<string, Converter> = {
  Relu: unary('nn.relu'),
  LeakyRelu: (ctx) => ctx.emit('nn.leaky_relu', [floatInput(ctx)], { alpha: ctx.attrs.float('alpha', 0.01) }),
  PRelu: prelu,
  Sigmoid: (ctx) => ctx.emit('sigmoid', [floatInput(ctx)]),
  Tanh: (ctx) => ctx.emit('tanh', [floatInput(ctx)]),
  Sqrt: (ctx) => ctx.emit('sqrt', [floatInput(ctx)]),
  Neg: unary('negative'),
  Clip: clip,
  Add: binary('add'),
  Sub: binary('subtract'),
  Mul: binary('multiply'),
  Div: binary('divide'),
  Sum: variadic('add'),
  Max: variadic('maximum'),
  Min: variadic('minimum'),
  Cast: (ctx) => ctx.emit('cast', [ctx.input(0)], { dtype: dtypeOf(ctx.attrs.int('to') ?? ctx.fail('attribute to is required'), 'Cast target', ctx.file) }),
};
