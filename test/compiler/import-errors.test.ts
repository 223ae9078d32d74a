// How the importer reads the less common encodings and how it refuses bad input: always a typed
// error that names the file (and the node and op where there is one).
import { create } from '@bufbuild/protobuf';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { execute } from '../../compiler/cpu/execute.ts';
import { TensorProtoSchema, TensorProto_DataLocation } from '../../compiler/onnx/gen/onnx_pb.ts';
import { OnnxImportError, UnsupportedOpsError } from '../../compiler/onnx/errors.ts';
import { importOnnx, importOnnxFile } from '../../compiler/onnx/import.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { modelFile } from '../data/index.ts';
import { model, node, tensorProto } from './onnx-builder.ts';

const digits = modelFile('digits_cnn.onnx');
const x4 = { name: 'x', dtype: 'float32' as const, shape: [4] };

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'vta-onnx-'));
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

describe('initializers and constants', () => {
  it('reads float_data, int32_data (int8) and int64_data, and binds an initializer listed as an input', () => {
    const w = create(TensorProtoSchema, { name: 'w', dataType: 1, dims: [4n], floatData: [1, 2, 3, 4] });
    const q = create(TensorProtoSchema, { name: 'q', dataType: 3, dims: [4n], int32Data: [-1, 2, -3, 4] });
    const shape = create(TensorProtoSchema, { name: 'shape', dataType: 7, dims: [2n], int64Data: [2n, 2n] });
    const bytes = model({
      nodes: [
        node('Add', ['x', 'w'], ['a']),
        node('Cast', ['q'], ['qf'], { to: 1 }),
        node('Mul', ['a', 'qf'], ['m']),
        node('Constant', [], ['c'], { value: Tensor.from('float32', [], [0.5]) }),
        node('Add', ['m', 'c'], ['s']),
        node('Reshape', ['s', 'shape'], ['y']),
      ],
      // w is both an input and an initializer: a constant, not a parameter.
      inputs: [x4, { name: 'w', dtype: 'float32', shape: [4] }],
      outputs: ['y'],
      initializers: [w, q, shape],
    });
    const m = importOnnx(bytes);
    expect(m.fn.params.map((p) => p.name)).toEqual(['x']);
    const [y] = execute(m.fn, [Tensor.from('float32', [4], [1, 1, 1, 1])]);
    expect(y!.shape).toEqual([2, 2]);
    expect(y!.toNumbers()).toEqual([-1.5, 6.5, -11.5, 20.5]);
  });

  it('reads external data beside the model, and names a missing external file', () => {
    const dir = tmpDir();
    const values = Float32Array.from([10, 20, 30, 40]);
    fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.concat([Buffer.alloc(8), Buffer.from(values.buffer)]));
    const external = (location: string) => create(TensorProtoSchema, {
      name: 'w', dataType: 1, dims: [4n], dataLocation: TensorProto_DataLocation.EXTERNAL,
      externalData: [{ key: 'location', value: location }, { key: 'offset', value: '8' }, { key: 'length', value: '16' }],
    });
    const build = (location: string) => model({ nodes: [node('Add', ['x', 'w'], ['y'])], inputs: [x4], outputs: ['y'], initializers: [external(location)] });
    fs.writeFileSync(path.join(dir, 'good.onnx'), build('weights.bin'));
    fs.writeFileSync(path.join(dir, 'bad.onnx'), build('missing.bin'));
    const m = importOnnxFile(path.join(dir, 'good.onnx'));
    expect(execute(m.fn, [Tensor.from('float32', [4], [1, 2, 3, 4])])[0]!.toNumbers()).toEqual([11, 22, 33, 44]);
    const e = thrown(() => importOnnxFile(path.join(dir, 'bad.onnx')));
    expect(e).toBeInstanceOf(OnnxImportError);
    expect((e as Error).message).toContain('bad.onnx');
    expect((e as Error).message).toContain('missing.bin');
    fs.rmSync(dir, { recursive: true });
  });
});

describe('ConstantFill (old Caffe2 exports, opsets up to 9)', () => {
  it('fills the given shape, an input\'s shape, or the shape an input holds, plus extra_shape, with dtype', () => {
    const shape = create(TensorProtoSchema, { name: 'shape', dataType: 7, dims: [1n], int64Data: [4n] });
    const bytes = model({
      nodes: [
        node('ConstantFill', [], ['a'], { shape: [4], value: { float: 1.5 } }),
        node('ConstantFill', ['x'], ['b'], { value: { float: 2 } }),
        node('ConstantFill', ['shape'], ['c'], { input_as_shape: 1, value: { float: 3 }, dtype: 1 }),
        node('Add', ['a', 'b'], ['ab']),
        node('Add', ['ab', 'c'], ['abc']),
        node('Add', ['abc', 'x'], ['y']),
        node('ConstantFill', [], ['i'], { shape: [2], extra_shape: [3], value: { float: 7 }, dtype: 7 }),
      ],
      inputs: [x4],
      outputs: ['y', 'i'],
      initializers: [shape],
      opset: 7,
    });
    const [y, i] = execute(importOnnx(bytes).fn, [Tensor.from('float32', [4], [1, 2, 3, 4])]);
    expect(y!.toNumbers()).toEqual([7.5, 8.5, 9.5, 10.5]);
    expect(i!.dtype).toBe('int64');
    expect(i!.shape).toEqual([2, 3]);
    expect(i!.toNumbers()).toEqual([7, 7, 7, 7, 7, 7]);
  });

  it('is refused from opset 10 on, and without an input when input_as_shape is 1', () => {
    const late = thrown(() => importOnnx(model({ nodes: [node('ConstantFill', [], ['y'], { shape: [4] })], inputs: [], outputs: ['y'], opset: 13 })));
    expect(late).toBeInstanceOf(UnsupportedOpsError);
    expect((late as Error).message).toMatch(/ConstantFill.*not defined in opset 13/);
    const bad = thrown(() => importOnnx(model({ nodes: [node('ConstantFill', [], ['y'], { input_as_shape: 1 })], inputs: [], outputs: ['y'], opset: 7 })));
    expect(bad).toBeInstanceOf(OnnxImportError);
    expect((bad as Error).message).toMatch(/input_as_shape is 1 but there is no input/);
  });
});

describe('errors', () => {
  it('a truncated model', () => {
    const bytes = fs.readFileSync(digits);
    const e = thrown(() => importOnnx(bytes.subarray(0, bytes.length >> 1), { file: 'digits_cnn.onnx' }));
    expect(e).toBeInstanceOf(OnnxImportError);
    expect((e as OnnxImportError).code).toBe('VTA_ONNX_IMPORT');
    expect((e as Error).message).toMatch(/^digits_cnn\.onnx: /);
  });

  it('a file that is not ONNX', () => {
    const npy = fs.readFileSync(modelFile('digits_cnn.ref_in.npy'));
    expect(() => importOnnx(npy, { file: 'in.npy' })).toThrow(OnnxImportError);
    expect(() => importOnnx(new TextEncoder().encode('hello, world'), { file: 'x.txt' })).toThrow(OnnxImportError);
    expect(() => importOnnxFile('/nonexistent/model.onnx')).toThrow(/cannot read the model/);
  });

  it('lists every unsupported op at once, naming node and op', () => {
    const bytes = model({
      nodes: [
        node('Relu', ['x'], ['a']),
        node('Resize', ['a'], ['b'], {}, { name: 'up' }),
        node('Relu', ['b'], ['c']),
        node('Gelu', ['c'], ['d'], {}, { name: 'act' }),
        node('FusedConv', ['d'], ['y'], {}, { name: 'fused', domain: 'com.microsoft' }),
      ],
      inputs: [x4],
      outputs: ['y'],
      extraOpsets: [{ domain: 'com.microsoft', version: 1 }],
    });
    const e = thrown(() => importOnnx(bytes, { file: 'm.onnx' })) as UnsupportedOpsError;
    expect(e).toBeInstanceOf(UnsupportedOpsError);
    expect(e.code).toBe('VTA_ONNX_UNSUPPORTED');
    expect(e.unsupported.map((u) => [u.node, u.op])).toEqual([['up', 'Resize'], ['act', 'Gelu'], ['fused', 'com.microsoft.FusedConv']]);
    expect(e.message).toContain("node 'up' (Resize)");
  });

  it('an opset outside 6..21', () => {
    const bytes = model({ opset: 22, nodes: [node('Relu', ['x'], ['y'])], inputs: [x4], outputs: ['y'] });
    expect(() => importOnnx(bytes)).toThrow(/opset 22 is not supported/);
  });

  it('a bad node names the node and op', () => {
    const bytes = model({ nodes: [node('Add', ['x', 'w'], ['y'])], inputs: [x4], outputs: ['y'], initializers: [tensorProto('w', Tensor.zeros('float32', [3]))] });
    const e = thrown(() => importOnnx(bytes, { file: 'm.onnx' })) as OnnxImportError;
    expect(e).toBeInstanceOf(OnnxImportError);
    expect(e.node).toBe('Add_y');
    expect(e.op).toBe('Add');
    expect(e.message).toMatch(/do not broadcast/);
  });

  it('a non-constant shape operand, and a read of an unsupported output', () => {
    const dyn = model({ nodes: [node('Reshape', ['x', 's'], ['y'])], inputs: [x4, { name: 's', dtype: 'int64', shape: [2] }], outputs: ['y'] });
    expect(() => importOnnx(dyn)).toThrow(/must be a constant/);
    const mask = model({ opset: 13, nodes: [node('Dropout', ['x'], ['y', 'mask']), node('Identity', ['mask'], ['z'])], inputs: [x4], outputs: ['z'] });
    expect(() => importOnnx(mask)).toThrow(/output 1 of node 'Dropout_y' \(Dropout\), which is not supported/);
  });

  it('raw_data of the wrong size; input shapes given at import', () => {
    const short = create(TensorProtoSchema, { name: 'w', dataType: 1, dims: [4n], rawData: new Uint8Array(12) });
    expect(() => importOnnx(model({ nodes: [node('Add', ['x', 'w'], ['y'])], inputs: [x4], outputs: ['y'], initializers: [short] }))).toThrow(/raw_data has 12 bytes/);
    const m = model({ nodes: [node('Relu', ['x'], ['y'])], inputs: [x4], outputs: ['y'] });
    expect(importOnnx(m, { inputShapes: { x: [2, 2] } }).fn.params[0]!.type.shape).toEqual([2, 2]);
  });
});
