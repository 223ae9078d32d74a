/**
 * The `cyclesim` device target: the cycle-level simulator behind the runtime's driver interface.
 * Like `sim`, it reads the instruction stream from device memory; its counters add `cycles` and
 * the per-module figures (`<module>_<busy|token_stall|bus_stall|idle>_cycles`, GEMM/DRAM totals)
 * to VTA's profiler counters, and `insnCycles` gives each instruction's completion cycle.
 *
 * targetOptions: `timing` (a JSON file path or an object of timing overrides), `functional`
 * (default true; false models time only and leaves memory untouched), `kernel` (as `sim`).
 */
import { VtaError } from '../../isa/errors.ts';
import type { DeviceDriver, DriverFactory, DriverOptions, RunResult } from '../../isa/device.ts';
import { Dram } from '../dram.ts';
import { kernelOption, readStream, SimulatorDriver } from '../driver-common.ts';
import { CycleSimulator } from './cyclesim.ts';
import type { CycleResult } from './engine.ts';
import { timingCounters } from './report.ts';
import { DEFAULT_TIMING, loadTiming, makeTiming, type TimingConfig } from './timing.ts';

const KNOWN_OPTIONS = ['timing', 'functional', 'kernel'];

function timingOption(value: unknown): TimingConfig {
  if (value === undefined) return DEFAULT_TIMING;
  if (typeof value === 'string') return loadTiming(value);
  return makeTiming(value, 'targetOptions.timing');
}

export class CycleSimDriver extends SimulatorDriver<CycleSimulator> implements DeviceDriver {
  readonly target = 'cyclesim' as const;
  private readonly functional: boolean;
  private last: CycleResult | null = null;

  constructor(opts: DriverOptions) {
    super(opts);
    const to = opts.targetOptions ?? {};
    for (const key of Object.keys(to)) {
      if (!KNOWN_OPTIONS.includes(key)) throw new VtaError('VTA_DRIVER', `cyclesim: unknown targetOptions.${key} (known: ${KNOWN_OPTIONS.join(', ')})`);
    }
    const kernel = kernelOption('cyclesim', to.kernel);
    if (to.functional !== undefined && typeof to.functional !== 'boolean') {
      throw new VtaError('VTA_DRIVER', `cyclesim: targetOptions.functional must be true or false, got ${JSON.stringify(to.functional)}`);
    }
    this.functional = to.functional ?? true;
    this.sim = new CycleSimulator(opts.config, new Dram(opts.memBytes), timingOption(to.timing), { kernel });
  }

  /** The full timing result of the last run (per-instruction cycles, trace-free), or null before one. */
  get lastTiming(): CycleResult | null {
    return this.last;
  }

  async run(insnOffset: number, count: number, opts: { timeoutMs: number }): Promise<RunResult> {
    const sim = this.open();
    const insns = readStream('cyclesim', this.config, sim.dram, insnOffset, count);
    const run = sim.run(insns, { functional: this.functional, timeoutMs: opts.timeoutMs });
    this.last = run.timing;
    return { counters: { ...run.counters, ...timingCounters(run.timing) }, insnCycles: run.timing.complete };
  }

  override async close(): Promise<void> {
    await super.close();
    this.last = null;
  }
}

export const createCycleSimDriver: DriverFactory = async (opts) => new CycleSimDriver(opts);
