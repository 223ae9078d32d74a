/**
 * Tensor layouts in TVM's notation: upper-case letters are the logical axes in
 * their order (NCHW, OIHW), a number and a lower-case letter is a packed
 * sub-axis of that size (NCHW1n16c: [N/1, C/16, H, W, 1, 16]; OIHW16o16i is
 * VTA's weight packing, see the reference's graph_pack section).
 */
import { TypeInferenceError } from './errors.ts';

export interface Layout {
  readonly name: string;
  /** Logical axes in layout order, e.g. ['N', 'C', 'H', 'W']. */
  readonly primal: readonly string[];
  /** One entry per packed dimension: an axis letter and, for sub-axes, the block size. */
  readonly dims: readonly { axis: string; factor?: number }[];
}

const cache = new Map<string, Layout>();

export function parseLayout(name: string, op = 'layout'): Layout {
  const hit = cache.get(name);
  if (hit) return hit;
  const dims: { axis: string; factor?: number }[] = [];
  const re = /(\d*)([A-Za-z])/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(name))) {
    consumed = re.lastIndex;
    const [, num, letter] = m;
    if (letter! === letter!.toUpperCase()) {
      if (num) throw new TypeInferenceError(op, `layout ${name}: a primal axis cannot have a factor`);
      dims.push({ axis: letter! });
    } else {
      const factor = Number(num);
      if (!num || factor <= 0) throw new TypeInferenceError(op, `layout ${name}: sub-axis ${letter} needs a positive factor`);
      dims.push({ axis: letter!.toUpperCase(), factor });
    }
  }
  if (consumed !== name.length || dims.length === 0) throw new TypeInferenceError(op, `malformed layout '${name}'`);
  const primal = dims.filter((d) => d.factor === undefined).map((d) => d.axis);
  if (new Set(primal).size !== primal.length) throw new TypeInferenceError(op, `layout ${name}: repeated axis`);
  for (const d of dims) {
    if (d.factor !== undefined && !primal.includes(d.axis)) throw new TypeInferenceError(op, `layout ${name}: sub-axis of missing axis ${d.axis}`);
  }
  const layout = { name, primal, dims };
  cache.set(name, layout);
  return layout;
}

export function isPacked(layout: Layout): boolean {
  return layout.dims.length !== layout.primal.length;
}

function factorOf(layout: Layout, axis: string): number {
  return layout.dims.find((d) => d.axis === axis && d.factor !== undefined)?.factor ?? 1;
}

/** The logical shape (primal axes in layout order) of a tensor stored in `layout`. */
export function logicalShape(shape: readonly number[], layout: Layout, op = 'layout'): number[] {
  if (shape.length !== layout.dims.length) throw new TypeInferenceError(op, `shape of rank ${shape.length} does not fit layout ${layout.name}`);
  return layout.primal.map((axis) => {
    const outer = layout.dims.findIndex((d) => d.axis === axis && d.factor === undefined);
    const f = factorOf(layout, axis);
    if (f !== 1 && shape[layout.dims.findIndex((d) => d.axis === axis && d.factor !== undefined)] !== f) {
      throw new TypeInferenceError(op, `packed dimension of ${axis} does not match layout ${layout.name}`);
    }
    return shape[outer]! * f;
  });
}

/** The stored shape of a tensor with logical shape `logical` (primal axes in layout order) in `layout`. */
export function packedShape(logical: readonly number[], layout: Layout, op = 'layout'): number[] {
  if (logical.length !== layout.primal.length) throw new TypeInferenceError(op, `logical rank ${logical.length} does not fit layout ${layout.name}`);
  return layout.dims.map((d) => {
    const size = logical[layout.primal.indexOf(d.axis)]!;
    if (d.factor !== undefined) return d.factor;
    const f = factorOf(layout, d.axis);
    if (size % f !== 0) throw new TypeInferenceError(op, `axis ${d.axis} of size ${size} is not a multiple of its block ${f} in ${layout.name}`);
    return size / f;
  });
}
