/**
 * The `sim` device target: the functional simulator behind the runtime's driver interface. The
 * instruction stream is read from device memory, as a core's fetch unit would, so the runtime
 * drives it exactly like hardware.
 */
import { VtaError } from '../isa/errors.ts';
import type { DeviceDriver, DriverFactory, DriverOptions, RunResult } from '../runtime/driver.ts';
import { Dram } from './dram.ts';
import { kernelOption, readStream } from './driver-common.ts';
import { FunctionalSimulator } from './fsim.ts';

class SimDriver implements DeviceDriver {
  readonly target = 'sim' as const;
  readonly config;
  readonly memBytes: number;
  private sim: FunctionalSimulator | null;

  constructor(opts: DriverOptions) {
    this.config = opts.config;
    this.memBytes = opts.memBytes;
    const kernel = kernelOption('sim', opts.targetOptions?.kernel);
    this.sim = new FunctionalSimulator(opts.config, new Dram(opts.memBytes), { kernel });
  }

  private open(): FunctionalSimulator {
    if (!this.sim) throw new VtaError('VTA_DRIVER', 'sim: the driver is closed');
    return this.sim;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.open().dram.write(offset, data);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    return this.open().dram.read(offset, length);
  }

  async run(insnOffset: number, count: number, opts: { timeoutMs: number }): Promise<RunResult> {
    const sim = this.open();
    const insns = readStream('sim', this.config, sim.dram, insnOffset, count);
    const counters = sim.run(insns, { timeoutMs: opts.timeoutMs });
    return { counters: { ...counters } };
  }

  async close(): Promise<void> {
    this.open();
    this.sim = null;
  }
}

/** `targetOptions.kernel`: `auto` (default), `wasm` or `js`, as `MachineOptions.kernel`. */
export const createSimDriver: DriverFactory = async (opts) => new SimDriver(opts);
