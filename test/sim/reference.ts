/**
 * A naive VTA interpreter written straight from isa/SPEC.md §3-4, sharing no code with sim/: plain
 * arrays, one element and one lane at a time, BigInt for the 32-bit wraps. It runs a stream in
 * stream order, ignoring tokens (the corpus orders every hazard with tokens that stream order
 * satisfies, so any token-respecting order gives the same result). The oracle for the simulator
 * tests.
 */
import { decodeUop, elemBytes, type Insn, type MemInsn, type ProgramImage, type VtaConfig } from '../../isa/index.ts';

const wrap32 = (v: bigint) => Number(BigInt.asIntN(32, v));

export interface RefCounters {
  inp_load_nbytes: number;
  wgt_load_nbytes: number;
  acc_load_nbytes: number;
  uop_load_nbytes: number;
  out_store_nbytes: number;
  gemm_counter: number;
  alu_counter: number;
}

export class RefMachine {
  readonly uop: number[];
  readonly inp: number[];
  readonly wgt: number[];
  readonly acc: number[];
  readonly dram: DataView;
  readonly counters: RefCounters = {
    inp_load_nbytes: 0,
    wgt_load_nbytes: 0,
    acc_load_nbytes: 0,
    uop_load_nbytes: 0,
    out_store_nbytes: 0,
    gemm_counter: 0,
    alu_counter: 0,
  };

  constructor(readonly cfg: VtaConfig, readonly memory: Uint8Array) {
    this.uop = new Array<number>(cfg.UOP_DEPTH).fill(0);
    this.inp = new Array<number>(cfg.INP_DEPTH * cfg.BATCH * cfg.BLOCK_IN).fill(0);
    this.wgt = new Array<number>(cfg.WGT_DEPTH * cfg.BLOCK_OUT * cfg.BLOCK_IN).fill(0);
    this.acc = new Array<number>(cfg.ACC_DEPTH * cfg.BATCH * cfg.BLOCK_OUT).fill(0);
    this.dram = new DataView(memory.buffer, memory.byteOffset, memory.byteLength);
  }

  run(insns: readonly Insn[]): void {
    for (const insn of insns) {
      if (insn.opcode === 'LOAD') this.load(insn);
      else if (insn.opcode === 'STORE') this.store(insn);
      else if (insn.opcode === 'GEMM') this.gemm(insn);
      else if (insn.opcode === 'ALU') this.alu(insn);
    }
  }

  private load(i: MemInsn): void {
    const { cfg } = this;
    if (i.x_size === 0) return;
    const eb = elemBytes(cfg, i.memory_type);
    const row = i.x_pad_0 + i.x_size + i.x_pad_1;
    const rows = i.y_pad_0 + i.y_size + i.y_pad_1;
    const accLanes = cfg.BATCH * cfg.BLOCK_OUT;
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < row; x++) {
        const sramIdx = i.sram_base + y * row + x;
        const r = y - i.y_pad_0;
        const c = x - i.x_pad_0;
        const isData = r >= 0 && r < i.y_size && c >= 0 && c < i.x_size;
        const e = i.dram_base + r * i.x_stride + c;
        switch (i.memory_type) {
          case 'UOP':
            this.uop[sramIdx] = isData ? this.dram.getUint32(e * 4, true) : 0;
            break;
          case 'INP':
            for (let l = 0; l < eb; l++) this.inp[sramIdx * eb + l] = isData ? this.dram.getInt8(e * eb + l) : 0;
            break;
          case 'WGT':
            for (let l = 0; l < eb; l++) this.wgt[sramIdx * eb + l] = isData ? this.dram.getInt8(e * eb + l) : 0;
            break;
          case 'ACC':
            for (let l = 0; l < accLanes; l++) this.acc[sramIdx * accLanes + l] = isData ? this.dram.getInt32(e * eb + 4 * l, true) : 0;
            break;
          case 'ACC_8BIT':
            for (let l = 0; l < accLanes; l++) this.acc[sramIdx * accLanes + l] = isData ? this.dram.getInt8(e * eb + l) : 0;
            break;
          default:
            throw new Error(`reference: LOAD ${i.memory_type}`);
        }
      }
    }
    const bytes = i.x_size * i.y_size * (i.memory_type === 'ACC_8BIT' ? cfg.ACC_ELEM_BYTES : eb);
    if (i.memory_type === 'UOP') this.counters.uop_load_nbytes += bytes;
    else if (i.memory_type === 'INP') this.counters.inp_load_nbytes += bytes;
    else if (i.memory_type === 'WGT') this.counters.wgt_load_nbytes += bytes;
    else this.counters.acc_load_nbytes += bytes;
  }

  private store(i: MemInsn): void {
    const lanes = this.cfg.BATCH * this.cfg.BLOCK_OUT;
    for (let y = 0; y < i.y_size; y++) {
      for (let x = 0; x < i.x_size; x++) {
        const s = i.sram_base + y * i.x_size + x;
        const d = i.dram_base + y * i.x_stride + x;
        for (let l = 0; l < lanes; l++) this.dram.setUint8(d * lanes + l, this.acc[s * lanes + l]! & 0xff);
      }
    }
    this.counters.out_store_nbytes += i.x_size * i.y_size * lanes;
  }

  private gemm(g: Extract<Insn, { opcode: 'GEMM' }>): void {
    const { BATCH, BLOCK_IN, BLOCK_OUT } = this.cfg;
    for (let i = 0; i < g.iter_out; i++) {
      for (let j = 0; j < g.iter_in; j++) {
        for (let k = g.uop_bgn; k < g.uop_end; k++) {
          const u = decodeUop(this.cfg, this.uop[k]!);
          const d = u.dst_idx + i * g.dst_factor_out + j * g.dst_factor_in;
          const s = u.src_idx + i * g.src_factor_out + j * g.src_factor_in;
          const w = u.wgt_idx + i * g.wgt_factor_out + j * g.wgt_factor_in;
          for (let b = 0; b < BATCH; b++) {
            for (let o = 0; o < BLOCK_OUT; o++) {
              const a = (d * BATCH + b) * BLOCK_OUT + o;
              if (g.reset_reg) {
                this.acc[a] = 0;
                continue;
              }
              // int8 products summed over at most 64 lanes stay far inside a double's exact range.
              let sum = 0;
              for (let c = 0; c < BLOCK_IN; c++) {
                sum += this.inp[(s * BATCH + b) * BLOCK_IN + c]! * this.wgt[(w * BLOCK_OUT + o) * BLOCK_IN + c]!;
              }
              this.acc[a] = wrap32(BigInt(this.acc[a]!) + BigInt(sum));
            }
          }
        }
      }
    }
    if (!g.reset_reg) this.counters.gemm_counter += g.iter_out * g.iter_in * (g.uop_end - g.uop_bgn);
  }

  private alu(a: Extract<Insn, { opcode: 'ALU' }>): void {
    const lanes = this.cfg.BATCH * this.cfg.BLOCK_OUT;
    for (let i = 0; i < a.iter_out; i++) {
      for (let j = 0; j < a.iter_in; j++) {
        for (let k = a.uop_bgn; k < a.uop_end; k++) {
          const u = decodeUop(this.cfg, this.uop[k]!);
          const d = u.dst_idx + i * a.dst_factor_out + j * a.dst_factor_in;
          const s = u.src_idx + i * a.src_factor_out + j * a.src_factor_in;
          for (let l = 0; l < lanes; l++) {
            const x = this.acc[d * lanes + l]!;
            const y = a.use_imm ? a.imm : this.acc[s * lanes + l]!;
            let r: number;
            switch (a.alu_opcode) {
              case 'MIN':
                r = x < y ? x : y;
                break;
              case 'MAX':
                r = x > y ? x : y;
                break;
              case 'ADD':
                r = wrap32(BigInt(x) + BigInt(y));
                break;
              case 'MUL':
                r = wrap32(BigInt(x) * BigInt(y));
                break;
              case 'SHR':
                if (y >= 0) r = Number(BigInt(x) >> BigInt(Math.min(y, 31)));
                else r = -y >= 32 ? 0 : wrap32(BigInt(x) << BigInt(-y));
                break;
            }
            this.acc[d * lanes + l] = r;
          }
        }
      }
    }
    this.counters.alu_counter += a.iter_out * a.iter_in * (a.uop_end - a.uop_bgn);
  }
}

/** Runs an image on the reference: returns the memory after the run and the machine. */
export function referenceRun(cfg: VtaConfig, image: ProgramImage): { memory: Uint8Array; machine: RefMachine } {
  const memory = new Uint8Array(image.memBytes);
  for (const s of image.segments) memory.set(s.bytes, s.addr);
  const machine = new RefMachine(cfg, memory);
  machine.run(image.insns);
  return { memory, machine };
}
