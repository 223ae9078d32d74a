/**
 * Speed of the webgpu target: int8 multiply-accumulates per second of wall time (host planning,
 * submission and GPU execution included) on a stream of full-tile GEMM instructions, with the
 * functional simulator timed on the same stream in the same run as the reference; outputs are
 * checked equal. Also instructions per second on a stream of small ALU instructions, where
 * dispatch overhead rather than arithmetic sets the pace; and issue 10's figure, the whole
 * compiled ResNet-18 (QDQ model) per inference through the runtime on webgpu beside `sim`, outputs
 * checked identical (on a software adapter such as SwiftShader an inference takes about a
 * minute, so --quick leaves it out there). Without a WebGPU adapter the suite reports no figures and says why.
 */
import { encodeProgram, encodeUops } from '../isa/codec.ts';
import { preset, type VtaConfig } from '../isa/config.ts';
import { VtaError } from '../isa/errors.ts';
import { NO_DEPS, type Insn } from '../isa/types.ts';
import { Dram } from '../sim/dram.ts';
import { FunctionalSimulator } from '../sim/fsim.ts';
import { WebGpuDriver } from '../webgpu/driver.ts';
import { WebGpuUnavailableError } from '../webgpu/errors.ts';
import { timeBest, type BenchRow, type BenchSuite } from './harness.ts';
import { compileResnet18, modelInput, sameBytes, timeInference } from './runtime.ts';

/** Each GEMM computes a 16x16-block tile: out[M x N] += inp[M x K] . wgt[N x K] (4096 micro-ops). */
const [M, K, N] = [16, 16, 16];

export interface Program {
  memory: Uint8Array;
  insns: Insn[];
  insnAddr: number;
  outAddr: number;
  outBytes: number;
}

/** Loads once, then `count` GEMMs (or ALU ops over one acc element) on the same tile, a STORE, FINISH. */
export function program(cfg: VtaConfig, body: 'gemm' | 'alu', count: number): Program {
  const eb = { inp: cfg.INP_ELEM_BYTES, wgt: cfg.WGT_ELEM_BYTES };
  const inpAddr = 4096;
  const wgtAddr = inpAddr + M * K * eb.inp;
  const outAddr = wgtAddr + N * K * eb.wgt;
  const outBytes = M * N * cfg.OUT_ELEM_BYTES;
  const insnAddr = outAddr + outBytes;
  const mem = (opcode: 'LOAD' | 'STORE', memory_type: 'UOP' | 'INP' | 'WGT' | 'OUT', dram_base: number, y_size: number, x_size: number): Insn => ({
    ...NO_DEPS, opcode, memory_type, sram_base: 0, dram_base, y_size, x_size, x_stride: x_size, y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0,
  });
  const loops = { reset_reg: 0 as const, uop_bgn: 0, uop_end: K, iter_out: M, iter_in: N, dst_factor_out: N, dst_factor_in: 1, src_factor_out: K, src_factor_in: 0 };
  const op: Insn =
    body === 'gemm'
      ? { ...NO_DEPS, opcode: 'GEMM', ...loops, wgt_factor_out: 0, wgt_factor_in: K }
      : { ...NO_DEPS, opcode: 'ALU', ...loops, uop_end: 1, iter_out: 1, iter_in: 1, alu_opcode: 'ADD', use_imm: 1, imm: 3 };
  const insns: Insn[] = [
    mem('LOAD', 'UOP', 0, 1, K),
    mem('LOAD', 'INP', inpAddr / eb.inp, M, K),
    { ...mem('LOAD', 'WGT', wgtAddr / eb.wgt, N, K), push_next_dep: 1 },
    { ...NO_DEPS, opcode: 'GEMM', ...loops, reset_reg: 1, uop_end: 1, wgt_factor_out: 0, wgt_factor_in: 0, pop_prev_dep: 1 },
    ...Array.from({ length: count }, () => op),
    { ...mem('STORE', 'OUT', outAddr / cfg.OUT_ELEM_BYTES, M, N), pop_prev_dep: 1, push_prev_dep: 1 },
    { ...NO_DEPS, opcode: 'FINISH', pop_next_dep: 1 },
  ];
  insns[insns.length - 3] = { ...insns[insns.length - 3]!, push_next_dep: 1 };
  const memory = new Uint8Array(insnAddr + insns.length * 16);
  memory.set(encodeUops(cfg, Array.from({ length: K }, (_, k) => ({ dst_idx: 0, src_idx: k, wgt_idx: k }))), 0);
  let seed = 1;
  for (let i = inpAddr; i < outAddr; i++) memory[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  memory.set(encodeProgram(cfg, insns), insnAddr);
  return { memory, insns, insnAddr, outAddr, outBytes };
}

interface Timed {
  /** Seconds of the best run. */
  seconds: number;
  counters: Record<string, number>;
  out: Uint8Array;
}

async function onWebGpu(d: WebGpuDriver, p: Program, repeat: number): Promise<Timed> {
  await d.write(0, p.memory);
  let counters: Record<string, number> = {};
  const seconds = await timeBest(async () => {
    counters = (await d.run(p.insnAddr, p.insns.length, { timeoutMs: 600_000 })).counters;
  }, repeat);
  return { seconds, counters, out: await d.read(p.outAddr, p.outBytes) };
}

async function onSim(cfg: VtaConfig, p: Program, repeat: number): Promise<Timed> {
  const sim = new FunctionalSimulator(cfg, new Dram(p.memory.length));
  sim.dram.write(0, p.memory);
  let counters: Record<string, number> = {};
  const seconds = await timeBest(() => {
    counters = { ...sim.run(p.insns) };
  }, repeat);
  return { seconds, counters, out: sim.dram.read(p.outAddr, p.outBytes) };
}

function sameResults(a: Timed, b: Timed, what: string): void {
  if (!Buffer.from(a.out).equals(Buffer.from(b.out)) || JSON.stringify(a.counters) !== JSON.stringify(b.counters)) {
    throw new VtaError('VTA_BENCH', `${what}: webgpu and the functional simulator disagree`);
  }
}

export const webgpuSuite: BenchSuite = {
  name: 'webgpu',
  async run({ quick, log }) {
    const cfg = preset('default');
    const repeat = quick ? 1 : 3;
    const gemms = quick ? 10 : 100;
    const alus = quick ? 200 : 2000;
    const gemm = program(cfg, 'gemm', gemms);
    const alu = program(cfg, 'alu', alus);
    let d: WebGpuDriver;
    try {
      d = await WebGpuDriver.open({ config: cfg, memBytes: Math.max(gemm.memory.length, alu.memory.length) });
    } catch (e) {
      if (!(e instanceof WebGpuUnavailableError)) throw e;
      log(`skipped: ${e.message}`);
      return [{ suite: 'webgpu', name: 'skipped: no WebGPU adapter', value: 0, unit: '-', note: e.message }];
    }
    try {
      log(`adapter: ${d.adapter}`);
      log(`GEMM: ${gemms} instructions of ${M * N * K} micro-ops`);
      const gpuGemm = await onWebGpu(d, gemm, repeat);
      const simGemm = await onSim(cfg, gemm, repeat);
      sameResults(gpuGemm, simGemm, 'GEMM stream');
      const macs = gpuGemm.counters.gemm_counter! * cfg.MACS_PER_UOP;
      log(`ALU: ${alus} single-micro-op instructions`);
      const gpuAlu = await onWebGpu(d, alu, repeat);
      const simAlu = await onSim(cfg, alu, repeat);
      sameResults(gpuAlu, simAlu, 'ALU stream');
      const insns = alu.insns.length;
      const rows: BenchRow[] = [
        {
          suite: 'webgpu',
          name: 'webgpu GEMM int8 MAC/s (16x16 blocks, wall time of whole runs)',
          value: macs / gpuGemm.seconds,
          unit: 'MAC/s',
          reference: { label: 'fsim, same stream', value: macs / simGemm.seconds, unit: 'MAC/s' },
          note: `${(simGemm.seconds / gpuGemm.seconds).toFixed(2)}x fsim on ${d.adapter}`,
        },
        {
          suite: 'webgpu',
          name: 'webgpu small instructions/s (one-micro-op ALU stream)',
          value: insns / gpuAlu.seconds,
          unit: 'insn/s',
          reference: { label: 'fsim, same stream', value: insns / simAlu.seconds, unit: 'insn/s' },
          note: `dispatch-bound; ${d.adapter}`,
        },
      ];
      rows.push(await resnet18(d.adapter, quick, log));
      return rows;
    } finally {
      await d.close();
    }
  },
};

/** The whole compiled ResNet-18 per inference on webgpu and on sim, same bytes, same input. */
async function resnet18(adapter: string, quick: boolean, log: (msg: string) => void): Promise<BenchRow> {
  const name = 'resnet18_int8_qdq inference through the runtime (whole compiled model)';
  const software = /swiftshader|llvmpipe|software/i.test(adapter);
  if (quick && software) {
    return { suite: 'webgpu', name: `skipped: ${name}`, value: 0, unit: '-', note: `software adapter ${adapter}: about a minute per inference; run without --quick` };
  }
  log('resnet18_int8_qdq: compiling');
  const model = compileResnet18('resnet18_int8_qdq', 'webgpu');
  const x = modelInput('resnet18_int8_qdq');
  const repeat = quick || software ? 1 : 3;
  const gpu = await timeInference('webgpu', model, 'resnet18_int8_qdq', x, repeat);
  log(`resnet18_int8_qdq on webgpu: ${gpu.seconds.toFixed(3)} s`);
  const sim = await timeInference('sim', model, 'resnet18_int8_qdq', x, repeat);
  if (!sameBytes(gpu.output, sim.output)) throw new VtaError('VTA_BENCH', 'resnet18_int8_qdq: webgpu and sim outputs differ');
  return {
    suite: 'webgpu',
    name,
    value: gpu.seconds,
    unit: 's/image',
    reference: { label: 'sim (TS functional simulator), same run', value: sim.seconds, unit: 's/image' },
    note: `${(sim.seconds / gpu.seconds).toFixed(2)}x sim (target >= 10x) on ${adapter}; ${gpu.profile.deviceRuns} device run(s); CPU ops included; outputs identical`,
  };
}
