/**
 * The cycle-level part of `vta-sim` (sim/cli.ts): its options, the run, and what it adds to the
 * output. Any of `--timing`, `--trace FILE` or `--timing-config FILE` runs the program on the
 * cycle-level simulator (functional execution on, so the regions printed are the same).
 */
import { writeFileSync } from 'node:fs';
import type { VtaConfig } from '../../isa/config.ts';
import { VtaError } from '../../isa/errors.ts';
import type { ProgramImage } from '../../isa/image.ts';
import { Dram } from '../dram.ts';
import { placeImage } from '../fsim.ts';
import type { KernelChoice } from '../state.ts';
import { CycleSimulator } from './cyclesim.ts';
import type { CycleResult } from './engine.ts';
import { DEFAULT_TIMING, loadTiming } from './timing.ts';
import { toChromeTrace } from './trace.ts';

export interface CycleArgs {
  timing: boolean;
  trace?: string;
  timingConfig?: string;
}

/** The options `vta-sim` adds for the cycle-level simulator (yargs `.options()` form). */
export const CYCLE_OPTIONS = {
  timing: {
    type: 'boolean',
    default: false,
    describe:
      'run on the cycle-level simulator and print its timing report: total cycles, cycles per module (busy, token stall, bus stall, idle), GEMM utilization, DRAM use, and each instruction’s dispatch/issue/completion cycle',
  },
  trace: { type: 'string', describe: 'run on the cycle-level simulator and write a Chrome trace-event JSON file (Perfetto UI, chrome://tracing)' },
  'timing-config': { type: 'string', describe: 'JSON file overriding cycle-level timing parameters (see sim/cycle/README.md); implies the cycle-level simulator' },
} as const;

export function wantsCycleLevel(argv: CycleArgs): boolean {
  return argv.timing || argv.trace !== undefined || argv.timingConfig !== undefined;
}

export interface CycleLevelResult {
  counters: Record<string, number>;
  dram: Dram;
  timing: CycleResult;
}

/** Runs the image on the cycle-level simulator, writing the trace file when asked. */
export function simulateCycleLevel(cfg: VtaConfig, image: ProgramImage, argv: CycleArgs, kernel: KernelChoice): CycleLevelResult {
  const timing = argv.timingConfig !== undefined ? loadTiming(argv.timingConfig) : DEFAULT_TIMING;
  const sim = new CycleSimulator(cfg, new Dram(image.memBytes), timing, { kernel });
  placeImage(cfg, sim.dram, image);
  const run = sim.run(image.insns, { trace: argv.trace !== undefined });
  if (argv.trace !== undefined) {
    try {
      writeFileSync(argv.trace, JSON.stringify(toChromeTrace(cfg, image.insns, run.timing)));
    } catch (e) {
      throw new VtaError('VTA_IO', `--trace ${argv.trace}: cannot write the trace: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  return { counters: { ...run.counters, cycles: run.timing.cycles }, dram: sim.dram, timing: run.timing };
}
