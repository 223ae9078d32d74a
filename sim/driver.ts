/**
 * The `sim` device target: the functional simulator behind the runtime's driver interface. The
 * instruction stream is read from device memory, as a core's fetch unit would, so the runtime
 * drives it exactly like hardware.
 */
import type { DeviceDriver, DriverFactory, DriverOptions, RunResult } from '../isa/device.ts';
import { Dram } from './dram.ts';
import { kernelOption, SimulatorDriver, StreamCache } from './driver-common.ts';
import { FunctionalSimulator } from './fsim.ts';

class SimDriver extends SimulatorDriver<FunctionalSimulator> implements DeviceDriver {
  readonly target = 'sim' as const;
  /** Decoded and validated streams with their execution order: a model's runs reuse them. */
  private readonly streams: StreamCache<Int32Array>;

  constructor(opts: DriverOptions) {
    super(opts);
    const kernel = kernelOption('sim', opts.targetOptions?.kernel);
    const sim = new FunctionalSimulator(opts.config, new Dram(opts.memBytes), { kernel });
    this.sim = sim;
    this.streams = new StreamCache('sim', opts.config, (insns) => sim.validate(insns));
  }

  async run(insnOffset: number, count: number, opts: { timeoutMs: number }): Promise<RunResult> {
    const sim = this.open();
    const { insns, derived: order } = this.streams.get(sim.dram, insnOffset, count);
    const counters = sim.execute(insns, order, { timeoutMs: opts.timeoutMs });
    return { counters: { ...counters } };
  }

  override async close(): Promise<void> {
    await super.close();
    this.streams.clear();
  }
}

/** `targetOptions.kernel`: `auto` (default), `wasm` or `js`, as `MachineOptions.kernel`. */
export const createSimDriver: DriverFactory = async (opts) => new SimDriver(opts);
