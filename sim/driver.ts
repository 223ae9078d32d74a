/**
 * The `sim` device target: the functional simulator behind the runtime's driver interface. The
 * instruction stream is read from device memory, as a core's fetch unit would, so the runtime
 * drives it exactly like hardware.
 */
import { decodeProgram, INSN_BYTES } from '../isa/codec.ts';
import { VtaError } from '../isa/errors.ts';
import type { DeviceDriver, DriverFactory, DriverOptions, RunResult } from '../runtime/driver.ts';
import { Dram } from './dram.ts';
import type { KernelChoice } from './state.ts';
import { FunctionalSimulator } from './fsim.ts';

class SimDriver implements DeviceDriver {
  readonly target = 'sim' as const;
  readonly config;
  readonly memBytes: number;
  private sim: FunctionalSimulator | null;

  constructor(opts: DriverOptions) {
    this.config = opts.config;
    this.memBytes = opts.memBytes;
    const kernel = (opts.targetOptions?.kernel ?? 'auto') as KernelChoice;
    if (!['auto', 'wasm', 'js'].includes(kernel)) {
      throw new VtaError('VTA_DRIVER', `sim: targetOptions.kernel must be auto, wasm or js, got ${JSON.stringify(kernel)}`);
    }
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
    if (!Number.isInteger(insnOffset) || insnOffset % INSN_BYTES !== 0) {
      throw new VtaError('VTA_DRIVER', `sim: instruction offset ${insnOffset} is not ${INSN_BYTES}-byte aligned`);
    }
    if (!Number.isInteger(count) || count < 0) throw new VtaError('VTA_DRIVER', `sim: instruction count must be a non-negative integer, got ${count}`);
    sim.dram.check(insnOffset, count * INSN_BYTES, `instruction stream of ${count} instructions`);
    const insns = decodeProgram(this.config, sim.dram.u8.subarray(insnOffset, insnOffset + count * INSN_BYTES));
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
