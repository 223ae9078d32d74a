/**
 * Hand-built compiled models for the runtime tests, independent of the compiler: layers are
 * written as assembly (two int8 matmul layers with requantization and ReLU), so the runtime is
 * tested against a naive reference without trusting the lowering.
 */
import { create } from '@bufbuild/protobuf';
import {
  DeviceBufferSchema,
  DeviceCopySchema,
  RelocationSchema,
  StepSchema,
  VtaLayerSchema,
  newModel,
  type CompiledModel,
  type DeviceBuffer,
  type Step,
} from '../../compiler/artifact/format.ts';
import { valueInfo } from '../../compiler/artifact/values.ts';
import { assemble } from '../../isa/asm.ts';
import { encodeProgram, encodeUops } from '../../isa/codec.ts';
import { configJson, type VtaConfig } from '../../isa/config.ts';

/** A 4x32 by 32x32 matmul layer: rows of 32 int8 channels stored as 2 blocks of 16. */
const LAYER_ASM = `
load uop sram_base=0 dram_base=0 y_size=1 x_size=7 x_stride=7
load inp sram_base=0 dram_base=0 y_size=1 x_size=8 x_stride=8
load wgt sram_base=0 dram_base=0 y_size=1 x_size=4 x_stride=4 push_next_dep
gemm reset_reg uop_bgn=0 uop_end=2 iter_out=4 iter_in=1 dst_factor_out=2 pop_prev_dep
gemm uop_bgn=2 uop_end=6 iter_out=4 iter_in=1 dst_factor_out=2 src_factor_out=2
alu shr uop_bgn=6 uop_end=7 iter_out=8 iter_in=1 dst_factor_out=1 src_factor_out=1 use_imm imm=SHIFT
alu max uop_bgn=6 uop_end=7 iter_out=8 iter_in=1 dst_factor_out=1 src_factor_out=1 use_imm imm=0
alu min uop_bgn=6 uop_end=7 iter_out=8 iter_in=1 dst_factor_out=1 src_factor_out=1 use_imm imm=127 push_next_dep
store out sram_base=0 dram_base=0 y_size=1 x_size=8 x_stride=8 pop_prev_dep push_prev_dep
load uop sram_base=0 dram_base=0 y_size=0 x_size=0 x_stride=0 pop_next_dep
`;
/** Instruction index -> the buffer role its dram_base is relative to. */
const RELOCS: [number, 'uops' | 'input' | 'weights' | 'output'][] = [
  [0, 'uops'],
  [1, 'input'],
  [2, 'weights'],
  [8, 'output'],
];
const UOPS = [
  [0, 0, 0],
  [1, 0, 0],
  [0, 0, 0],
  [0, 1, 1],
  [1, 0, 2],
  [1, 1, 3],
  [0, 0, 0],
];

/** W[o][i] for o, i < 32 packed into 4 weight blocks (output block x input block). */
export function packWeights(w: Int8Array): Int8Array {
  const out = new Int8Array(4 * 256);
  for (let ob = 0; ob < 2; ob++)
    for (let ib = 0; ib < 2; ib++)
      for (let o = 0; o < 16; o++) for (let i = 0; i < 16; i++) out[(ob * 2 + ib) * 256 + o * 16 + i] = w[(ob * 16 + o) * 32 + ib * 16 + i]!;
  return out;
}

/** The naive reference of one layer on a [4][32] int8 input. */
export function referenceLayer(x: Int8Array, w: Int8Array, shift: number): Int8Array {
  const y = new Int8Array(128);
  for (let r = 0; r < 4; r++)
    for (let o = 0; o < 32; o++) {
      let acc = 0;
      for (let i = 0; i < 32; i++) acc += x[r * 32 + i]! * w[o * 32 + i]!;
      y[r * 32 + o] = Math.min(Math.max(acc >> shift, 0), 127);
    }
  return y;
}

export interface MatmulModelSpec {
  weights: Int8Array[];
  shift: number;
  /** Fingerprint to record instead of the configuration's (to test refusal). */
  fingerprint?: string;
}

/** x (int8 [4, 32]) -> layer 0 -> ... -> layer n-1 -> y (int8 [4, 32]), all layers on VTA. */
export function matmulModel(cfg: VtaConfig, spec: MatmulModelSpec): CompiledModel {
  const insns = encodeProgram(cfg, assemble(cfg, LAYER_ASM.replace('SHIFT', String(spec.shift))).insns);
  const buffers: DeviceBuffer[] = [];
  const steps: Step[] = [];
  let id = 0;
  const activation = (name: string) => {
    buffers.push(create(DeviceBufferSchema, { id, name, bytes: 128n, kind: 'activation' }));
    return id++;
  };
  const xBuf = activation('x');
  steps.push(create(StepSchema, { kind: { case: 'copy', value: create(DeviceCopySchema, { toDevice: true, value: 'x', bufferId: xBuf }) } }));
  let input = xBuf;
  spec.weights.forEach((w, k) => {
    const wBuf = id++;
    buffers.push(create(DeviceBufferSchema, { id: wBuf, name: `w${k}`, bytes: 1024n, kind: 'weights', data: new Uint8Array(packWeights(w).buffer) }));
    const uBuf = id++;
    const uops = encodeUops(cfg, UOPS.map(([d, s, g]) => ({ dst_idx: d!, src_idx: s!, wgt_idx: g! })));
    buffers.push(create(DeviceBufferSchema, { id: uBuf, name: `uops${k}`, bytes: BigInt(uops.length), kind: 'uops', data: uops }));
    const output = activation(`y${k}`);
    const role = { uops: uBuf, input, weights: wBuf, output };
    steps.push(
      create(StepSchema, {
        kind: {
          case: 'vta',
          value: create(VtaLayerSchema, {
            name: `matmul${k}`,
            op: 'dense',
            insns,
            relocations: RELOCS.map(([insn, r]) => create(RelocationSchema, { insn, bufferId: role[r] })),
            reads: [input, wBuf, uBuf],
            writes: [output],
            macs: BigInt(4 * 32 * 32),
          }),
        },
      }),
    );
    input = output;
  });
  steps.push(
    create(StepSchema, {
      kind: { case: 'copy', value: create(DeviceCopySchema, { toDevice: false, value: 'y', bufferId: input, info: valueInfo('y', [4, 32], 'int8') }) },
    }),
  );
  return newModel({
    configFingerprint: spec.fingerprint ?? cfg.fingerprint,
    configJson: JSON.stringify(configJson(cfg)),
    target: 'sim',
    source: 'test',
    inputs: [valueInfo('x', [4, 32], 'int8')],
    outputs: [valueInfo('y', [4, 32], 'int8')],
    buffers,
    steps,
  });
}
