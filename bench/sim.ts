/**
 * Speed of the functional simulator: int8 multiply-accumulates per second of wall time on a stream
 * of full-tile GEMM instructions (target: 2x10^9 MAC/s on the 2-core dev machine), with the plain
 * JS kernel timed on the same stream as the reference; and ALU micro-ops per second.
 */
import { preset, type VtaConfig } from '../isa/config.ts';
import type { Insn } from '../isa/types.ts';
import { Dram } from '../sim/dram.ts';
import { FunctionalSimulator } from '../sim/fsim.ts';
import type { KernelChoice } from '../sim/state.ts';
import { timeBest, type BenchRow, type BenchSuite } from './harness.ts';
import { K, M, N, program, type Program } from './programs.ts';

interface Bench {
  sim: FunctionalSimulator;
  insns: Insn[];
}

function onSim(cfg: VtaConfig, kernel: KernelChoice, p: Program): Bench {
  const sim = new FunctionalSimulator(cfg, new Dram(p.memory.length), { kernel });
  sim.dram.write(0, p.memory);
  return { sim, insns: p.insns };
}

/** Figure per second of the best run. */
async function rate(b: Bench, perRun: (c: ReturnType<FunctionalSimulator['run']>) => number, repeat: number): Promise<number> {
  let amount = 0;
  const seconds = await timeBest(() => {
    amount = perRun(b.sim.run(b.insns));
  }, repeat);
  return amount / seconds;
}

export const simSuite: BenchSuite = {
  name: 'sim',
  async run({ quick, log }) {
    const cfg = preset('default');
    const repeat = quick ? 1 : 5;
    const gemms = quick ? 20 : 200;
    const macs = (c: { gemm_counter: number }) => c.gemm_counter * cfg.MACS_PER_UOP;
    const wasm = onSim(cfg, 'wasm', program(cfg, 'gemm', gemms));
    log(`GEMM: ${gemms} instructions of ${M * N * K} micro-ops, WebAssembly SIMD kernel`);
    const simd = await rate(wasm, macs, repeat);
    log('GEMM: plain JS kernel');
    const js = await rate(onSim(cfg, 'js', program(cfg, 'gemm', Math.max(2, gemms / 20))), macs, repeat);
    log('ALU: tensor ADD');
    const alu = await rate(onSim(cfg, 'auto', program(cfg, 'alu-tensor', gemms)), (c) => c.alu_counter, repeat);
    const rows: BenchRow[] = [
      {
        suite: 'sim',
        name: 'fsim GEMM int8 MAC/s (16x16 blocks, SIMD kernel)',
        value: simd,
        unit: 'MAC/s',
        reference: { label: 'plain JS kernel', value: js, unit: 'MAC/s' },
        note: 'target >= 2e9',
      },
      { suite: 'sim', name: 'fsim ALU micro-ops/s (tensor ADD, 16 lanes)', value: alu, unit: 'uop/s' },
    ];
    return rows;
  },
};
