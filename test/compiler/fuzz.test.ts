// 2,000 random mutations of valid models' bytes: each loads, or fails with the importer's typed
// error. Any other exception (a RangeError, a TypeError from a missing field...) fails the test.
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { VtaError } from '../../isa/errors.ts';
import { OnnxImportError } from '../../compiler/onnx/errors.ts';
import { importOnnx } from '../../compiler/onnx/import.ts';
import { modelFile, onnxTests } from '../data/index.ts';
import { rng } from './helpers.ts';

// SqueezeNet's light graph is mostly structure (nodes, attributes, shapes); the QDQ model adds
// raw initializers and quantization nodes.
const seeds = [path.join(onnxTests, 'light/light_squeezenet.onnx'), modelFile('digits_cnn_int8_qdq.onnx')].map((f) => fs.readFileSync(f));

function mutate(src: Uint8Array, next: () => number): Uint8Array {
  const int = (n: number) => Math.floor(next() * n);
  const bytes = Uint8Array.from(src);
  switch (int(5)) {
    case 0: // flip a few bits
      for (let i = int(4); i >= 0; i--) bytes[int(bytes.length)]! ^= 1 << int(8);
      return bytes;
    case 1: // overwrite a run with random bytes
      for (let at = int(bytes.length), i = 1 + int(16); i > 0 && at < bytes.length; i--) bytes[at++] = int(256);
      return bytes;
    case 2: // truncate
      return bytes.subarray(0, int(bytes.length));
    case 3: { // delete a run, shifting what follows
      const at = int(bytes.length);
      return Uint8Array.from([...bytes.subarray(0, at), ...bytes.subarray(at + 1 + int(32))]);
    }
    default: { // a large varint where a small one was, e.g. a length or a dimension
      const at = int(bytes.length - 10);
      bytes.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f].slice(int(5)), at);
      return bytes;
    }
  }
}

it('2,000 mutated models load or fail with OnnxImportError', () => {
  const next = rng(20261121);
  let loaded = 0;
  let refused = 0;
  for (let i = 0; i < 2000; i++) {
    const bytes = mutate(seeds[i % seeds.length]!, next);
    try {
      importOnnx(bytes, { file: `mutant-${i}.onnx` });
      loaded++;
    } catch (e) {
      if (!(e instanceof OnnxImportError)) {
        throw new Error(`mutant ${i}: ${e instanceof VtaError ? 'untyped VtaError' : 'unexpected exception'}: ${(e as Error).stack}`);
      }
      expect(e.message.startsWith(`mutant-${i}.onnx: `)).toBe(true);
      refused++;
    }
  }
  expect(loaded + refused).toBe(2000);
  // Both outcomes occur, so the mutations reach past the decoder.
  expect(loaded).toBeGreaterThan(100);
  expect(refused).toBeGreaterThan(100);
});
