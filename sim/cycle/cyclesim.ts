/**
 * The cycle-level simulator: validates a stream against the timing's queue depths, runs the timing
 * model, and — with functional execution on — executes each instruction on the shared execution
 * core (sim/exec.ts) at its completion, so the data results are the functional simulator's.
 */
import type { VtaConfig } from '../../isa/config.ts';
import type { Counters } from '../../isa/counters.ts';
import type { Insn } from '../../isa/types.ts';
import { validateProgram } from '../../isa/validate.ts';
import type { Dram } from '../dram.ts';
import { VtaMachine, type MachineOptions } from '../exec.ts';
import { SimTimeoutError } from '../fsim.ts';
import { simulateCycles, type CycleResult } from './engine.ts';
import { DEFAULT_TIMING, type TimingConfig } from './timing.ts';

export interface CycleRunOptions {
  /** Execute the instructions (default true); off, only time is modelled and memory is untouched. */
  functional?: boolean;
  /** Record what `toChromeTrace` needs. */
  trace?: boolean;
  /** Wall-clock limit; checked between instructions. */
  timeoutMs?: number;
}

export interface CycleRun {
  timing: CycleResult;
  /** VTA's profiler counters of this run (zero with functional execution off). */
  counters: Counters;
}

/** How many completions pass between clock reads. */
const CLOCK_EVERY = 64;

export class CycleSimulator {
  readonly machine: VtaMachine;

  constructor(
    readonly cfg: VtaConfig,
    readonly dram: Dram,
    readonly timing: TimingConfig = DEFAULT_TIMING,
    opts: MachineOptions = {},
  ) {
    this.machine = new VtaMachine(cfg, dram, opts);
  }

  run(insns: readonly Insn[], opts: CycleRunOptions = {}): CycleRun {
    validateProgram(this.cfg, insns, {
      memBytes: this.dram.size,
      tokenQueueDepth: this.timing.tokenQueueDepth,
      commandQueueDepth: this.timing.commandQueueDepth,
    });
    const m = this.machine;
    m.resetCounters();
    const functional = opts.functional ?? true;
    const timeoutMs = opts.timeoutMs;
    let onComplete: ((i: number) => void) | undefined;
    if (timeoutMs !== undefined) {
      const deadline = performance.now() + timeoutMs;
      let done = 0;
      onComplete = (i) => {
        if (functional) m.exec(insns[i]!, i);
        if (++done % CLOCK_EVERY === 0 && performance.now() > deadline) throw new SimTimeoutError('cyclesim', timeoutMs, done, insns.length);
      };
    } else if (functional) {
      onComplete = (i) => m.exec(insns[i]!, i);
    }
    const timing = simulateCycles(this.cfg, insns, { timing: this.timing, onComplete, trace: opts.trace === true });
    return { timing, counters: { ...m.counters } };
  }
}
