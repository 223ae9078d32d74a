/**
 * Speed of the webgpu target: int8 multiply-accumulates per second of wall time (host planning,
 * submission and GPU execution included) on a stream of full-tile GEMM instructions, with the
 * functional simulator timed on the same stream in the same run as the reference; outputs are
 * checked equal. Also instructions per second on a stream of small ALU instructions, where
 * their order rather than arithmetic sets the pace (each adds to the same accumulator, so they run
 * one after the other in the same threads); and issue 10's and 15's figures, the compiled
 * ResNet-18 (QDQ model, then the calibrated float one) per inference through the runtime on webgpu
 * beside `sim`, outputs checked identical: the VTA program (the inference's device run) and the
 * whole inference, CPU operators included (on a software adapter such as SwiftShader an inference
 * takes about half a minute, so --quick leaves them out there). Without a WebGPU adapter the suite
 * reports no figures and says why. Run alone (`node --import tsx bench/webgpu.ts [--quick]`) it
 * prints the suite's table: that is the entry bench/device-bundle.sh bundles for a machine
 * without Node.
 */
import { preset, type VtaConfig } from '../isa/config.ts';
import { VtaError } from '../isa/errors.ts';
import { Dram } from '../sim/dram.ts';
import { FunctionalSimulator } from '../sim/fsim.ts';
import { WebGpuDriver } from '../webgpu/driver.ts';
import { WebGpuUnavailableError } from '../webgpu/errors.ts';
import { formatTable, timeBest, type BenchRow, type BenchSuite } from './harness.ts';
import { K, M, N, program, type Program } from './programs.ts';
import { compileResnet18, modelInput, sameBytes, timeInference, type ResnetName } from './models.ts';

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
    const alu = program(cfg, 'alu-imm', alus);
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
          name: 'webgpu small instructions/s (a chain of dependent one-micro-op ALU instructions)',
          value: insns / gpuAlu.seconds,
          unit: 'insn/s',
          reference: { label: 'fsim, same stream', value: insns / simAlu.seconds, unit: 'insn/s' },
          note: `latency-bound: fused, each thread runs the chain in order; ${d.adapter}`,
        },
      ];
      for (const name of ['resnet18_int8_qdq', 'resnet18'] as const) rows.push(...(await resnet18(name, d.adapter, quick, log)));
      return rows;
    } finally {
      await d.close();
    }
  },
};

/** The compiled ResNet-18 per inference on webgpu and on sim, same bytes, same input. */
async function resnet18(name: ResnetName, adapter: string, quick: boolean, log: (msg: string) => void): Promise<BenchRow[]> {
  const software = /swiftshader|llvmpipe|software/i.test(adapter);
  if (quick && software) {
    return [{ suite: 'webgpu', name: `skipped: ${name} inference`, value: 0, unit: '-', note: `software adapter ${adapter}: about half a minute per inference; run without --quick` }];
  }
  log(`${name}: compiling`);
  const model = compileResnet18(name, 'webgpu');
  const x = modelInput(name);
  const repeat = quick || software ? 1 : 5;
  const gpu = await timeInference('webgpu', model, name, x, repeat);
  log(`${name} on webgpu: ${gpu.seconds.toFixed(3)} s, device run ${gpu.deviceSeconds.toFixed(4)} s`);
  const sim = await timeInference('sim', model, name, x, repeat);
  if (!sameBytes(gpu.output, sim.output)) throw new VtaError('VTA_BENCH', `${name}: webgpu and sim outputs differ`);
  return [
    {
      suite: 'webgpu',
      name: `${name} VTA program per inference (its device runs)`,
      value: gpu.deviceSeconds,
      unit: 's/image',
      reference: { label: 'sim (TS functional simulator), same run', value: sim.deviceSeconds, unit: 's/image' },
      note: `${(sim.deviceSeconds / gpu.deviceSeconds).toFixed(2)}x sim (target >= 10x) on ${adapter}; ${gpu.profile.deviceRuns} device run(s); outputs identical`,
    },
    {
      suite: 'webgpu',
      name: `${name} whole inference through the runtime (CPU operators included)`,
      value: gpu.seconds,
      unit: 's/image',
      reference: { label: 'sim, same run', value: sim.seconds, unit: 's/image' },
      note: `${(sim.seconds / gpu.seconds).toFixed(2)}x sim on ${adapter} (issue 15's goal: <= 0.02 s)`,
    },
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await webgpuSuite.run({ quick: process.argv.includes('--quick'), log: (m) => console.error(`[webgpu] ${m}`) });
  console.log(formatTable(rows));
}
