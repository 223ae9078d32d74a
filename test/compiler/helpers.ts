/** Shared by the compiler tests: where the data is, reading ONNX test tensors, comparing results. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema, TensorProtoSchema } from '../../compiler/onnx/gen/onnx_pb.ts';
import { tensorFromProto } from '../../compiler/onnx/tensor-proto.ts';
import type { Tensor } from '../../compiler/tensor/tensor.ts';
export { rng } from '../rng.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A serialized TensorProto (the ONNX backend tests' input_N.pb / output_N.pb). */
export function readTensorPb(file: string): Tensor {
  return tensorFromProto(fromBinary(TensorProtoSchema, fs.readFileSync(file)), file, { cache: new Map() });
}

/** Largest violation of |a - e| <= atol + rtol*|e| (<= 0 means all close); shapes must match. */
export function closeness(actual: Tensor, expected: Tensor, rtol: number, atol: number): { worst: number; index: number } {
  if (actual.shape.join() !== expected.shape.join()) throw new Error(`shape ${actual.shape} != expected ${expected.shape}`);
  const a = actual.toNumbers();
  const e = expected.toNumbers();
  let worst = -Infinity;
  let index = -1;
  for (let i = 0; i < e.length; i++) {
    const excess = Math.abs(a[i]! - e[i]!) - (atol + rtol * Math.abs(e[i]!));
    if (excess > worst || Number.isNaN(excess)) {
      worst = Number.isNaN(excess) ? Infinity : excess;
      index = i;
    }
  }
  return { worst, index };
}


/** Names of a model's graph inputs that are not initializers: the ones the test data sets feed, in order. */
export function fedInputs(modelFile: string): string[] {
  const graph = fromBinary(ModelProtoSchema, fs.readFileSync(modelFile)).graph!;
  const inits = new Set(graph.initializer.map((t) => t.name));
  return graph.input.map((i) => i.name).filter((n) => !inits.has(n));
}
