import type { Attrs } from './types.ts';
import { TypeInferenceError } from './errors.ts';

/** Typed attribute readers: a wrong or missing attribute is a TypeInferenceError naming the op. */
export function intAttr(op: string, attrs: Attrs, name: string, fallback?: number): number {
  const v = attrs[name] ?? fallback;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new TypeInferenceError(op, `attribute ${name} must be an integer`);
  return v;
}

export function floatAttr(op: string, attrs: Attrs, name: string, fallback?: number): number {
  const v = attrs[name] ?? fallback;
  if (typeof v !== 'number') throw new TypeInferenceError(op, `attribute ${name} must be a number`);
  return v;
}

export function intsAttr(op: string, attrs: Attrs, name: string, fallback?: readonly number[]): readonly number[] {
  const v = attrs[name] ?? fallback;
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x))) throw new TypeInferenceError(op, `attribute ${name} must be a list of integers`);
  return v;
}

export function stringAttr(op: string, attrs: Attrs, name: string, fallback?: string): string {
  const v = attrs[name] ?? fallback;
  if (typeof v !== 'string') throw new TypeInferenceError(op, `attribute ${name} must be a string`);
  return v;
}
