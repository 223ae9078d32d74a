/**
 * runtime/moves.ts: chains of data-movement operators become one gather. The oracle is the
 * operators' own CPU kernels run one after another on the same random input.
 */
import { create } from '@bufbuild/protobuf';
import { describe, expect, it } from 'vitest';
import { CpuOpSchema, type CpuOp } from '../../compiler/artifact/gen/vta_model_pb.ts';
import { attrsFromProto, attrsToProto, valueInfo } from '../../compiler/artifact/values.ts';
import '../../compiler/cpu/kernels/index.ts';
import { kernelFor } from '../../compiler/cpu/registry.ts';
import type { Attrs } from '../../compiler/ir/graph.ts';
import type { DType } from '../../compiler/tensor/dtype.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { applyGather, gatherChains, type PlanStep } from '../../runtime/moves.ts';

function op(name: string, inputs: string[], output: string, shape: number[], attrs: Attrs = {}, dtype: DType = 'int8'): CpuOp {
  return create(CpuOpSchema, { op: name, name: output, inputs, output, attrs: attrsToProto(attrs), outputInfo: valueInfo(output, shape, dtype) });
}

/** Runs the operators' kernels in order from `x` (named `source`); returns every value. */
function runKernels(ops: CpuOp[], source: string, x: Tensor): Map<string, Tensor> {
  const values = new Map([[source, x]]);
  for (const o of ops) {
    const info = o.outputInfo!;
    const type = { shape: info.shape.map(Number), dtype: x.dtype };
    values.set(o.output, kernelFor(o.op)!(o.inputs.map((v) => values.get(v)!), attrsFromProto(o.attrs), type, o.op));
  }
  return values;
}

function randomInt8(shape: number[], seed: number): Tensor {
  let s = seed;
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.from('int8', shape, Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2 ** 31), (s >> 8) % 256) - 128));
}

// Space-to-depth by 2, a pad with a non-zero value, two column taps, NCHW -> NCHW1n16c: the shape
// of the chain in front of ResNet-18's first conv, small.
const chain = [
  op('reshape', ['q'], 'r1', [1, 3, 4, 2, 4, 2], { newshape: [1, 3, 4, 2, 4, 2] }),
  op('transpose', ['r1'], 't', [1, 3, 2, 2, 4, 4], { axes: [0, 1, 3, 5, 2, 4] }),
  op('reshape', ['t'], 'r2', [1, 12, 4, 4], { newshape: [1, 12, 4, 4] }),
  op('nn.pad', ['r2'], 'p', [1, 12, 4, 5], { pad_before: [0, 0, 0, 1], pad_after: [0, 0, 0, 0], pad_value: -7 }),
  op('strided_slice', ['p'], 's0', [1, 12, 4, 4], { begin: [0, 0, 0, 0], end: [1, 12, 4, 4], strides: [1, 1, 1, 1] }),
  op('strided_slice', ['p'], 's1', [1, 12, 4, 4], { begin: [0, 0, 0, 1], end: [1, 12, 4, 5], strides: [1, 1, 1, 1] }),
  op('concatenate', ['s0', 's1'], 'c', [1, 24, 4, 4], { axis: 1 }),
  op('nn.pad', ['c'], 'c32', [1, 32, 4, 4], { pad_before: [0, 0, 0, 0], pad_after: [0, 8, 0, 0], pad_value: 0 }),
  op('layout_transform', ['c32'], 'packed', [1, 2, 4, 4, 1, 16], { src_layout: 'NCHW', dst_layout: 'NCHW1n16c' }),
];
const sourceType = { q: { shape: [1, 3, 8, 8], dtype: 'int8' as DType } };
const typeOf = (v: string) => (v === 'q' ? sourceType.q : undefined);
const cpu = (ops: CpuOp[]): PlanStep[] => ops.map((o) => ({ kind: 'cpu', op: o }));

describe('gathered data movement', () => {
  it('turns a chain of moves into one gather equal to its kernels', () => {
    const steps: PlanStep[] = [{ kind: 'other', reads: [] }, ...cpu(chain), { kind: 'other', reads: ['packed'] }];
    const chains = gatherChains(steps, [], typeOf);
    expect([...chains.keys()]).toEqual([1]);
    const { gather, length } = chains.get(1)!;
    expect(length).toBe(chain.length);
    expect(gather.source).toBe('q');
    expect(gather.output).toBe('packed');
    for (const seed of [1, 2, 3]) {
      const x = randomInt8([1, 3, 8, 8], seed);
      const want = runKernels(chain, 'q', x).get('packed')!;
      const got = applyGather(gather, x);
      expect(got.shape).toEqual(want.shape);
      expect(got.dtype).toBe('int8');
      expect(Buffer.from(got.data.buffer).equals(Buffer.from(want.data.buffer))).toBe(true);
    }
    // The first tap keeps the padded column: its 12 x 4 pad values are constants of the gather.
    expect([...gather.fill.data].filter((v) => v === -7).length).toBe(12 * 4);
    expect([...gather.from].filter((f) => f < 0).length).toBe(12 * 4 + 8 * 4 * 4);
  });

  it('stops a chain where one of its values is read outside it', () => {
    // `p` is also read by a later step: the chain ends at it, and `p` stays a value of its own.
    const steps: PlanStep[] = [...cpu(chain), { kind: 'other', reads: ['p'] }];
    const chains = gatherChains(steps, [], typeOf);
    expect(chains.get(0)?.length).toBe(4);
    expect(chains.get(0)?.gather.output).toBe('p');
    // A model output in the middle does the same.
    expect(gatherChains(cpu(chain), ['r2'], typeOf).get(0)?.gather.output).toBe('r2');
  });

  it('leaves computing operators, lone moves and non-integer chains to their kernels', () => {
    const add = op('add', ['r2', 'r2'], 'sum', [1, 12, 4, 4]);
    const steps = cpu([chain[0]!, chain[1]!, chain[2]!, add, chain[3]!]);
    const chains = gatherChains(steps, [], typeOf);
    expect([...chains.keys()]).toEqual([0]);
    expect(chains.get(0)!.length).toBe(3);
    // A single move is not worth a gather.
    expect(gatherChains(cpu([chain[1]!]), [], (v) => (v === 'r1' ? { shape: [1, 3, 4, 2, 4, 2], dtype: 'int8' } : undefined)).size).toBe(0);
    // float32 values do not survive the int32 index runs: not gathered.
    const float = chain.slice(0, 3).map((o) => op(o.op, o.inputs, o.output, o.outputInfo!.shape.map(Number), attrsFromProto(o.attrs), 'float32'));
    expect(gatherChains(cpu(float), [], () => ({ shape: [1, 3, 8, 8], dtype: 'float32' })).size).toBe(0);
    // A source of unknown type: not gathered.
    expect(gatherChains(cpu(chain), [], () => undefined).size).toBe(0);
  });
});
