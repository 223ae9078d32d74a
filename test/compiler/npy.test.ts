import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DTYPES } from '../../compiler/tensor/dtype.ts';
import { NpyError, readNpy, writeNpy } from '../../compiler/tensor/npy.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { modelFile } from '../data/index.ts';

describe('.npy', () => {
  for (const dtype of DTYPES) {
    it(`round-trips ${dtype}`, () => {
      const values = [0, 1, -1, 100, -128, 127, 3, 42].map((v) => (dtype === 'uint8' ? Math.abs(v) : v));
      const t = Tensor.from(dtype, [2, 4], values);
      const bytes = writeNpy(t);
      // NumPy's layout: the data starts on a 64-byte boundary, the header ends with a newline.
      const headerEnd = 10 + new DataView(bytes.buffer).getUint16(8, true);
      expect(headerEnd % 64).toBe(0);
      expect(bytes[headerEnd - 1]).toBe(0x0a);
      const back = readNpy(bytes);
      expect(back.dtype).toBe(dtype);
      expect(back.shape).toEqual([2, 4]);
      expect(back.toNumbers()).toEqual(values);
    });
  }

  it('writes scalars and 1-D shapes the way NumPy spells them', () => {
    const header = (t: Tensor) => new TextDecoder().decode(writeNpy(t).subarray(10, 80));
    expect(header(Tensor.from('float32', [3], [1, 2, 3]))).toContain("'shape': (3,)");
    expect(header(Tensor.from('int32', [], [7]))).toContain("'shape': ()");
    expect(readNpy(writeNpy(Tensor.from('int32', [], [7]))).toNumbers()).toEqual([7]);
  });

  it('reads files written by NumPy (float32 and int64)', () => {
    const x = readNpy(fs.readFileSync(modelFile('digits_test_x.npy')));
    const y = readNpy(fs.readFileSync(modelFile('digits_test_y.npy')));
    expect(x.dtype).toBe('float32');
    expect(x.shape).toEqual([397, 1, 16, 16]);
    expect(y.dtype).toBe('int64');
    expect(y.shape).toEqual([397]);
    expect(y.toNumbers().every((v) => v >= 0 && v <= 9)).toBe(true);
  });

  it('refuses malformed files with NpyError', () => {
    const good = writeNpy(Tensor.from('float32', [2, 2], [1, 2, 3, 4]));
    expect(() => readNpy(new Uint8Array([1, 2, 3]), 'x.npy')).toThrow(NpyError);
    expect(() => readNpy(good.subarray(0, good.length - 1), 'x.npy')).toThrow(/truncated data/);
    // Byte-wise edits of the ASCII header (the magic byte 0x93 is not valid UTF-8).
    const patch = (from: string, to: string) => Uint8Array.from(String.fromCharCode(...good).replace(from, to), (c) => c.charCodeAt(0));
    expect(() => readNpy(patch('<f4', '<f2'), 'x.npy')).toThrow(/unsupported dtype '<f2'/);
    expect(() => readNpy(patch("'fortran_order': False", "'fortran_order': True "), 'x.npy')).toThrow(/Fortran/);
    expect(() => readNpy(patch('NUMPY', 'NUMPZ'), 'x.npy')).toThrow(/bad magic/);
  });
});
