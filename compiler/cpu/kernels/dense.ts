import { sizeOf, stridesOf, Tensor } from '../../tensor/tensor.ts';
import { registerKernel } from '../registry.ts';
import { matmulInto } from './gemm.ts';

// x[..., K] . w[N, K]^T: w is read transposed through strides, never copied.
registerKernel('nn.dense', ([x, w], _attrs, type) => {
  const K = w!.shape[1]!;
  const N = w!.shape[0]!;
  const M = sizeOf(x!.shape) / Math.max(K, 1);
  const out = Tensor.zeros(type.dtype, type.shape);
  matmulInto(M, N, K, { data: x!.data, off: 0, rowStride: K, colStride: 1 }, { data: w!.data, off: 0, rowStride: 1, colStride: K }, out.data, 0);
  return out;
});

registerKernel('nn.matmul', ([a, b], _attrs, type) => {
  const as = a!.shape.length === 1 ? [1, a!.shape[0]!] : a!.shape;
  const bs = b!.shape.length === 1 ? [b!.shape[0]!, 1] : b!.shape;
  const M = as[as.length - 2]!;
  const K = as[as.length - 1]!;
  const N = bs[bs.length - 1]!;
  const batch = type.shape.slice(0, type.shape.length - (a!.shape.length > 1 ? 1 : 0) - (b!.shape.length > 1 ? 1 : 0));
  const out = Tensor.zeros(type.dtype, type.shape);
  // Offsets of each operand's matrix for every batch index, honouring broadcast batch axes.
  const batchOffsets = (shape: readonly number[]): number[] => {
    const lead = shape.slice(0, -2);
    const matrix = shape[shape.length - 2]! * shape[shape.length - 1]!;
    const strides = stridesOf(lead).map((s) => s * matrix);
    const offs: number[] = [];
    const total = sizeOf(batch);
    for (let i = 0; i < total; i++) {
      let rem = i;
      let off = 0;
      for (let d = batch.length - 1; d >= 0; d--) {
        const idx = rem % batch[d]!;
        rem = Math.floor(rem / batch[d]!);
        const j = d - (batch.length - lead.length);
        if (j >= 0 && lead[j] !== 1) off += idx * strides[j]!;
      }
      offs.push(off);
    }
    return offs;
  };
  const ao = batchOffsets(as);
  const bo = batchOffsets(bs);
  for (let i = 0; i < ao.length; i++) {
    matmulInto(M, N, K, { data: a!.data, off: ao[i]!, rowStride: K, colStride: 1 }, { data: b!.data, off: bo[i]!, rowStride: N, colStride: 1 }, out.data, i * M * N);
  }
  return out;
});
