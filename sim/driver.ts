/**
 * The `sim` device target: the functional simulator behind the runtime's driver interface. The
 * instruction stream is read from device memory, as a core's fetch unit would, so the runtime
 * drives it exactly like hardware.
 */
import type { DeviceDriver, DriverFactory, DriverOptions, RunResult } from '../runtime/driver.ts';
import { Dram } from './dram.ts';
import { kernelOption, readStream, SimulatorDriver } from './driver-common.ts';
import { FunctionalSimulator } from './fsim.ts';

class SimDriver extends SimulatorDriver<FunctionalSimulator> implements DeviceDriver {
  readonly target = 'sim' as const;

  constructor(opts: DriverOptions) {
    super(opts);
    const kernel = kernelOption('sim', opts.targetOptions?.kernel);
    this.sim = new FunctionalSimulator(opts.config, new Dram(opts.memBytes), { kernel });
  }

  async run(insnOffset: number, count: number, opts: { timeoutMs: number }): Promise<RunResult> {
    const sim = this.open();
    const insns = readStream('sim', this.config, sim.dram, insnOffset, count);
    const counters = sim.run(insns, { timeoutMs: opts.timeoutMs });
    return { counters: { ...counters } };
  }
}

/** `targetOptions.kernel`: `auto` (default), `wasm` or `js`, as `MachineOptions.kernel`. */
export const createSimDriver: DriverFactory = async (opts) => new SimDriver(opts);
