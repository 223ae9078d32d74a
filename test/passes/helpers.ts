/** Shared by the pass tests: the models, the digits data, accuracy, and a naive interpreter of kernel groups. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { execute } from '../../compiler/cpu/execute.ts';
import { topoOrder, type Device, type IRFunction, type Value } from '../../compiler/ir/graph.ts';
import { importOnnxFile } from '../../compiler/onnx/import.ts';
import type { AluStep, VtaKernelGroup } from '../../compiler/passes/fuse.ts';
import { splitSamples } from '../../compiler/quant/calibrate.ts';
import { readNpy } from '../../compiler/tensor/npy.ts';
import { stridesOf, type Tensor } from '../../compiler/tensor/tensor.ts';
import { modelFile } from '../data/index.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function loadModel(name: string): IRFunction {
  return importOnnxFile(modelFile(`${name}.onnx`)).fn;
}

export function npy(name: string): Tensor {
  return readNpy(fs.readFileSync(modelFile(name)));
}

export function digits(): { x: Tensor[]; y: number[]; calibration: Tensor[] } {
  const shape = [1, 1, 16, 16];
  return {
    x: splitSamples(npy('digits_test_x.npy'), shape),
    y: npy('digits_test_y.npy').toNumbers(),
    calibration: splitSamples(npy('digits_calib_x.npy'), shape),
  };
}

/** Top-1 accuracy of `fn` (one image per run) against the labels. */
export function accuracy(fn: IRFunction, x: readonly Tensor[], y: readonly number[]): number {
  let ok = 0;
  x.forEach((img, i) => {
    const out = execute(fn, [img])[0]!.data as Float32Array;
    let best = 0;
    for (let j = 1; j < out.length; j++) if (out[j]! > out[best]!) best = j;
    if (best === y[i]) ok++;
  });
  return ok / x.length;
}

/** isa/SPEC.md §4 ALU on one int32 lane, with an immediate. */
function alu(x: number, s: AluStep): number {
  switch (s.op) {
    case 'ADD': return (x + s.imm) | 0;
    case 'MUL': return Math.imul(x, s.imm);
    case 'MIN': return Math.min(x, s.imm);
    case 'MAX': return Math.max(x, s.imm);
    case 'SHR': return s.imm >= 0 ? x >> Math.min(s.imm, 31) : -s.imm >= 32 ? 0 : (x << -s.imm) | 0;
  }
}

/** Index of each element of `shape` in a tensor of `from` broadcast to it. */
function broadcastIndex(from: readonly number[], shape: readonly number[]): (i: number) => number {
  const fs = stridesOf(from);
  const ss = stridesOf(shape);
  return (i) => {
    let j = 0;
    for (let d = 0; d < shape.length; d++) {
      const k = Math.floor(i / ss[d]!) % shape[d]!;
      if (from[d] !== 1) j += k * fs[d]!;
    }
    return j;
  };
}

/**
 * Replays each group as the lowering would (the anchor's result, then the epilogue steps on int32
 * lanes, then the narrowing to int8), from the executor's values of the anchor and the group's
 * inputs, and checks the result bit for bit against the executor's value of the group's output.
 * Returns the function's results from the same run.
 */
export function checkGroupsBitExact(fn: IRFunction, groups: readonly VtaKernelGroup[], input: Tensor): Tensor[] {
  const probes: Value[] = [...fn.results];
  for (const g of groups) {
    probes.push(g.anchor === 'add' ? g.data : g.anchorCall, g.output);
    for (const s of g.epilogue) if (s.kind === 'residual') probes.push(s.input);
  }
  const values = new Map<Value, Tensor>();
  execute({ params: fn.params, results: probes }, [input]).forEach((t, i) => values.set(probes[i]!, t));
  for (const g of groups) {
    const start = values.get(g.anchor === 'add' ? g.data : g.anchorCall)!;
    const out = values.get(g.output)!;
    const acc = Int32Array.from(start.data as ArrayLike<number>);
    for (const s of g.epilogue) {
      if (s.kind === 'alu') {
        for (let i = 0; i < acc.length; i++) acc[i] = alu(acc[i]!, s);
      } else if (s.kind === 'bias' || s.kind === 'scale') {
        const at = broadcastIndex(s.value.type.shape, out.shape);
        const b = s.value.value.data as Int32Array;
        if (s.kind === 'bias') for (let i = 0; i < acc.length; i++) acc[i] = (acc[i]! + b[at(i)]!) | 0;
        else for (let i = 0; i < acc.length; i++) acc[i] = Math.imul(acc[i]!, b[at(i)]!);
      } else {
        const r = values.get(s.input)!.data as Int8Array;
        for (let i = 0; i < acc.length; i++) acc[i] = (acc[i]! + s.pre.reduce(alu, r[i]!)) | 0;
      }
    }
    expect(Array.from(Int8Array.from(acc))).toEqual(Array.from(out.data as Int8Array));
  }
  return fn.results.map((r) => values.get(r)!);
}

/** The packed, placed graph gives exactly the unpacked quantized graph's outputs. */
export function checkSameOutputs(a: IRFunction, b: IRFunction, inputs: readonly Tensor[]): void {
  for (const x of inputs) expect(Array.from(execute(a, [x])[0]!.data as Float32Array)).toEqual(Array.from(execute(b, [x])[0]!.data as Float32Array));
}

/** Every edge joins nodes on one device, except through a copy from its source to a different destination. */
export function checkEdges(fn: IRFunction): void {
  const dev = (v: Value): Device | undefined => (v.kind === 'constant' ? undefined : v.kind === 'var' ? 'cpu' : v.device);
  for (const c of topoOrder(fn)) {
    if (c.op === 'device_copy') {
      expect(c.attrs['src_device']).not.toBe(c.attrs['dst_device']);
      expect(dev(c.args[0]!)).toBe(c.attrs['src_device']);
      expect(c.device).toBe(c.attrs['dst_device']);
      continue;
    }
    for (const a of c.args) if (dev(a) !== undefined) expect(dev(a)).toBe(c.device);
  }
  for (const r of fn.results) expect(dev(r)).toBe('cpu');
}

