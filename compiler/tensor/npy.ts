/**
 * NumPy `.npy` files (format versions 1.0 to 3.0, little-endian, C order) for the
 * dtypes the executor uses.
 */
import { VtaError } from '../../isa/errors.ts';
import { bytesPerElement, viewBytes, type DType } from './dtype.ts';
import { Tensor, sizeOf } from './tensor.ts';

export class NpyError extends VtaError {
  constructor(readonly source: string, message: string) {
    super('VTA_NPY', `${source}: ${message}`);
  }
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const DESCR_TO_DTYPE: Record<string, DType> = {
  '<f4': 'float32',
  '<f8': 'float64',
  '|i1': 'int8',
  '<i1': 'int8',
  '|u1': 'uint8',
  '<u1': 'uint8',
  '<i4': 'int32',
  '<i8': 'int64',
};
const DTYPE_TO_DESCR: Record<DType, string> = { float32: '<f4', float64: '<f8', int8: '|i1', uint8: '|u1', int32: '<i4', int64: '<i8' };

export function readNpy(bytes: Uint8Array, source = '<npy>'): Tensor {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new NpyError(source, 'not a .npy file (bad magic)');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerStart: number;
  let headerLen: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new NpyError(source, 'truncated header');
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new NpyError(source, `unsupported .npy format version ${major}`);
  }
  if (headerStart + headerLen > bytes.length) throw new NpyError(source, 'truncated header');
  const header = new TextDecoder().decode(bytes.subarray(headerStart, headerStart + headerLen));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new NpyError(source, `malformed header ${JSON.stringify(header.trim())}`);
  const dtype = DESCR_TO_DTYPE[descr];
  if (!dtype) throw new NpyError(source, `unsupported dtype '${descr}' (supported: float32, float64, int8, uint8, int32, int64, little-endian)`);
  if (fortran === 'True') throw new NpyError(source, 'Fortran-order arrays are not supported');
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new NpyError(source, `bad shape (${shapeText})`);
  const size = sizeOf(shape);
  const dataStart = headerStart + headerLen;
  const need = size * bytesPerElement(dtype);
  if (bytes.length - dataStart < need) throw new NpyError(source, `truncated data: shape (${shape.join(', ')}) needs ${need} bytes, file has ${bytes.length - dataStart}`);
  return new Tensor(dtype, shape, viewBytes(dtype, bytes.subarray(dataStart, dataStart + need), size));
}

export function writeNpy(tensor: Tensor): Uint8Array {
  const shape = tensor.shape.length === 1 ? `${tensor.shape[0]},` : tensor.shape.join(', ');
  let header = `{'descr': '${DTYPE_TO_DESCR[tensor.dtype]}', 'fortran_order': False, 'shape': (${shape}), }`;
  // NumPy pads the header with spaces so the data starts on a 64-byte boundary.
  const unpadded = 10 + header.length + 1;
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const data = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  const out = new Uint8Array(10 + header.length + data.length);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(data, 10 + header.length);
  return out;
}
