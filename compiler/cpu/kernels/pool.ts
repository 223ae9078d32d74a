import { intAttr, intsAttr, stringAttr } from '../../ir/attrs.ts';
import { windowAttrs } from '../../ir/ops/nn.ts';
import { isFloat, type NumberData } from '../../tensor/dtype.ts';
import { sizeOf, Tensor } from '../../tensor/tensor.ts';
import { ExecutionError } from '../errors.ts';
import { kernelFor, registerKernel } from '../registry.ts';
import { outSpatial, unpack } from './conv.ts';
import { relayout } from './transform.ts';

/**
 * Max and average pooling over 1-D or 2-D windows (1-D runs with a height of 1).
 * Average pooling divides by the window's overlap with the input, or with the
 * padded input when count_include_pad is set (never counting the ceil-mode overhang);
 * integer averages round half up.
 */
for (const n of [1, 2]) {
  for (const kind of ['max', 'avg'] as const) {
    registerKernel(`nn.${kind}_pool${n}d`, ([packed], attrs, type, op) => {
      const plain = n === 1 ? 'NCW' : 'NCHW';
      const layout = stringAttr(op, attrs, 'layout', '') || plain;
      if (layout !== plain) {
        const x = unpack(packed!, layout, plain);
        const logicalOut = [x.shape[0]!, x.shape[1]!, ...outSpatial(type, layout, plain)];
        const out = kernelFor(op)!([x], { ...attrs, layout: plain }, { shape: logicalOut, dtype: type.dtype }, op);
        return relayout(out, plain, layout, type.shape);
      }
      const x = packed;
      const data = nonBig(op, x!);
      const win = windowAttrs(op, attrs, n);
      const pool = intsAttr(op, attrs, 'pool_size');
      const includePad = intAttr(op, attrs, 'count_include_pad', 0) === 1;
      const two = (v: readonly number[], one: number) => (n === 1 ? [one, v[0]!] : [v[0]!, v[1]!]);
      const [H, W] = two(x!.shape.slice(2), 1);
      const [OH, OW] = two(type.shape.slice(2), 1);
      const [KH, KW] = two(pool, 1);
      const [sh, sw] = two(win.strides, 1);
      const [dh, dw] = two(win.dilation, 1);
      const [ph, pw] = two(win.padding, 0);
      const [peh, pew] = two(win.padding.slice(n), 0);
      const out = Tensor.zeros(type.dtype, type.shape);
      const od = out.data as NumberData;
      const planes = x!.shape[0]! * x!.shape[1]!;
      for (let p = 0; p < planes; p++) {
        const base = p * H * W;
        for (let oy = 0; oy < OH; oy++) {
          for (let ox = 0; ox < OW; ox++) {
            let best = -Infinity;
            let sum = 0;
            let count = 0;
            let padded = 0;
            for (let ky = 0; ky < KH; ky++) {
              const iy = oy * sh - ph + ky * dh;
              const inPadY = iy >= -ph && iy < H + peh;
              for (let kx = 0; kx < KW; kx++) {
                const ix = ox * sw - pw + kx * dw;
                if (inPadY && ix >= -pw && ix < W + pew) padded++;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                const v = data[base + iy * W + ix]!;
                if (v > best || v !== v) best = v;
                sum += v;
                count++;
              }
            }
            const o = (p * OH + oy) * OW + ox;
            if (kind === 'max') od[o] = best;
            else od[o] = isFloat(type.dtype) ? sum / (includePad ? padded : count) : Math.round(sum / (includePad ? padded : count));
          }
        }
      }
      return out;
    });
  }
}

function nonBig(op: string, x: Tensor): NumberData {
  if (x.data instanceof BigInt64Array) throw new ExecutionError(op, 'int64 is not supported');
  return x.data;
}

registerKernel('nn.global_avg_pool2d', ([x], _attrs, type, op) => {
  const data = nonBig(op, x!);
  const area = sizeOf(x!.shape.slice(2));
  const out = Tensor.zeros(type.dtype, type.shape);
  const od = out.data as NumberData;
  for (let p = 0; p < od.length; p++) {
    let sum = 0;
    for (let i = p * area, end = i + area; i < end; i++) sum += data[i]!;
    od[p] = isFloat(type.dtype) ? sum / area : Math.round(sum / area);
  }
  return out;
});

registerKernel('nn.global_max_pool2d', ([x], _attrs, type, op) => {
  const data = nonBig(op, x!);
  const area = sizeOf(x!.shape.slice(2));
  const out = Tensor.zeros(type.dtype, type.shape);
  const od = out.data as NumberData;
  for (let p = 0; p < od.length; p++) {
    let best = -Infinity;
    for (let i = p * area, end = i + area; i < end; i++) if (data[i]! > best) best = data[i]!;
    od[p] = best;
  }
  return out;
});
