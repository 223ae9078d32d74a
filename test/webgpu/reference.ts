/**
 * A deliberately naive reading of isa/SPEC.md §4, element by element with BigInt-free int32
 * arithmetic, used as the oracle for the webgpu tests until programs are compared with the
 * functional simulator. It shares no code with webgpu/ or sim/.
 */
import { elemBytes, type VtaConfig } from '../../isa/config.ts';
import { decodeUop } from '../../isa/codec.ts';
import type { Insn } from '../../isa/types.ts';
import { validateProgram } from '../../isa/validate.ts';

export interface RefState {
  dram: Uint8Array;
  uop: Uint32Array;
  inp: Int8Array;
  wgt: Int8Array;
  acc: Int32Array;
}

export function refState(cfg: VtaConfig, dram: Uint8Array): RefState {
  return {
    dram,
    uop: new Uint32Array(cfg.UOP_DEPTH),
    inp: new Int8Array(cfg.INP_DEPTH * cfg.INP_ELEM_BYTES),
    wgt: new Int8Array(cfg.WGT_DEPTH * cfg.WGT_ELEM_BYTES),
    acc: new Int32Array(cfg.ACC_DEPTH * cfg.BATCH * cfg.BLOCK_OUT),
  };
}

function shr(x: number, y: number): number {
  if (y >= 0) return x >> Math.min(y, 31);
  if (y <= -32) return 0;
  return (x << -y) | 0;
}

export function refRun(cfg: VtaConfig, st: RefState, insns: Insn[]): void {
  const order = validateProgram(cfg, insns, { memBytes: st.dram.length });
  const lanes = cfg.BATCH * cfg.BLOCK_OUT;
  const dv = new DataView(st.dram.buffer, st.dram.byteOffset, st.dram.byteLength);
  for (const idx of order) {
    const insn = insns[idx]!;
    if (insn.opcode === 'LOAD') {
      if (insn.x_size === 0) continue;
      const eb = elemBytes(cfg, insn.memory_type);
      const row = insn.x_pad_0 + insn.x_size + insn.x_pad_1;
      const rows = insn.y_pad_0 + insn.y_size + insn.y_pad_1;
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < row; c++) {
          const e = insn.sram_base + r * row + c;
          const pad = r < insn.y_pad_0 || r >= insn.y_pad_0 + insn.y_size || c < insn.x_pad_0 || c >= insn.x_pad_0 + insn.x_size;
          const srcByte = (insn.dram_base + (r - insn.y_pad_0) * insn.x_stride + (c - insn.x_pad_0)) * eb;
          for (let k = 0; k < eb; k++) {
            switch (insn.memory_type) {
              case 'UOP':
                if (k === 0) st.uop[e] = pad ? 0 : dv.getUint32(srcByte, true);
                break;
              case 'INP':
                st.inp[e * eb + k] = pad ? 0 : dv.getInt8(srcByte + k);
                break;
              case 'WGT':
                st.wgt[e * eb + k] = pad ? 0 : dv.getInt8(srcByte + k);
                break;
              case 'ACC':
                if (k % 4 === 0) st.acc[e * lanes + k / 4] = pad ? 0 : dv.getInt32(srcByte + k, true);
                break;
              case 'ACC_8BIT':
                st.acc[e * lanes + k] = pad ? 0 : dv.getInt8(srcByte + k);
                break;
              default:
                throw new Error('bad load');
            }
          }
        }
      }
    } else if (insn.opcode === 'STORE') {
      for (let y = 0; y < insn.y_size; y++) {
        for (let x = 0; x < insn.x_size; x++) {
          for (let k = 0; k < lanes; k++) {
            st.dram[(insn.dram_base + y * insn.x_stride + x) * lanes + k] = st.acc[(insn.sram_base + y * insn.x_size + x) * lanes + k]! & 0xff;
          }
        }
      }
    } else if (insn.opcode === 'GEMM' || insn.opcode === 'ALU') {
      for (let i = 0; i < insn.iter_out; i++) {
        for (let j = 0; j < insn.iter_in; j++) {
          for (let k = insn.uop_bgn; k < insn.uop_end; k++) {
            const u = decodeUop(cfg, st.uop[k]!);
            const d = u.dst_idx + i * insn.dst_factor_out + j * insn.dst_factor_in;
            const s = u.src_idx + i * insn.src_factor_out + j * insn.src_factor_in;
            if (insn.opcode === 'GEMM') {
              const w = u.wgt_idx + i * insn.wgt_factor_out + j * insn.wgt_factor_in;
              for (let b = 0; b < cfg.BATCH; b++) {
                for (let o = 0; o < cfg.BLOCK_OUT; o++) {
                  const a = d * lanes + b * cfg.BLOCK_OUT + o;
                  if (insn.reset_reg) {
                    st.acc[a] = 0;
                    continue;
                  }
                  let sum = st.acc[a]!;
                  for (let c = 0; c < cfg.BLOCK_IN; c++) {
                    sum = (sum + st.inp[(s * cfg.BATCH + b) * cfg.BLOCK_IN + c]! * st.wgt[(w * cfg.BLOCK_OUT + o) * cfg.BLOCK_IN + c]!) | 0;
                  }
                  st.acc[a] = sum;
                }
              }
            } else {
              for (let l = 0; l < lanes; l++) {
                const x = st.acc[d * lanes + l]!;
                const y = insn.use_imm ? insn.imm : st.acc[s * lanes + l]!;
                let v: number;
                switch (insn.alu_opcode) {
                  case 'MIN':
                    v = Math.min(x, y);
                    break;
                  case 'MAX':
                    v = Math.max(x, y);
                    break;
                  case 'ADD':
                    v = (x + y) | 0;
                    break;
                  case 'SHR':
                    v = shr(x, y);
                    break;
                  case 'MUL':
                    v = Math.imul(x, y);
                    break;
                }
                st.acc[d * lanes + l] = v;
              }
            }
          }
        }
      }
    }
  }
}
