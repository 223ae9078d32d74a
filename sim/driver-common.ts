/** What the simulator drivers (sim, cyclesim) share: device memory, reading a stream the way fetch does, and options. */
import type { VtaConfig } from '../isa/config.ts';
import { decodeProgram, INSN_BYTES } from '../isa/codec.ts';
import { VtaError } from '../isa/errors.ts';
import type { Insn } from '../isa/types.ts';
import type { DriverOptions, RunResult } from '../runtime/driver.ts';
import type { Dram } from './dram.ts';
import type { KernelChoice } from './state.ts';

/** The DeviceDriver methods of a simulator driver but `run`: device memory is the simulator's Dram. */
export abstract class SimulatorDriver<S extends { readonly dram: Dram }> {
  abstract readonly target: 'sim' | 'cyclesim';
  readonly config: VtaConfig;
  readonly memBytes: number;
  /** Set by the subclass's constructor; null once closed. */
  protected sim: S | null = null;

  constructor(opts: DriverOptions) {
    this.config = opts.config;
    this.memBytes = opts.memBytes;
  }

  protected open(): S {
    if (!this.sim) throw new VtaError('VTA_DRIVER', `${this.target}: the driver is closed`);
    return this.sim;
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    this.open().dram.write(offset, data);
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    return this.open().dram.read(offset, length);
  }

  abstract run(insnOffset: number, count: number, opts: { timeoutMs: number }): Promise<RunResult>;

  async close(): Promise<void> {
    this.open();
    this.sim = null;
  }
}

/** Decodes `count` instructions at byte `insnOffset` of device memory, checking the range first. */
export function readStream(target: string, cfg: VtaConfig, dram: Dram, insnOffset: number, count: number): Insn[] {
  if (!Number.isInteger(insnOffset) || insnOffset % INSN_BYTES !== 0) {
    throw new VtaError('VTA_DRIVER', `${target}: instruction offset ${insnOffset} is not ${INSN_BYTES}-byte aligned`);
  }
  if (!Number.isInteger(count) || count < 0) throw new VtaError('VTA_DRIVER', `${target}: instruction count must be a non-negative integer, got ${count}`);
  dram.check(insnOffset, count * INSN_BYTES, `instruction stream of ${count} instructions`);
  return decodeProgram(cfg, dram.u8.subarray(insnOffset, insnOffset + count * INSN_BYTES));
}

/** `targetOptions.kernel`: auto (default), wasm or js. */
export function kernelOption(target: string, value: unknown): KernelChoice {
  const kernel = (value ?? 'auto') as KernelChoice;
  if (!['auto', 'wasm', 'js'].includes(kernel)) {
    throw new VtaError('VTA_DRIVER', `${target}: targetOptions.kernel must be auto, wasm or js, got ${JSON.stringify(kernel)}`);
  }
  return kernel;
}
