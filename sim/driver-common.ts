/** What the simulator drivers (sim, cyclesim) share: device memory, reading a stream the way fetch does, and options. */
import type { VtaConfig } from '../isa/config.ts';
import { decodeProgram, INSN_BYTES } from '../isa/codec.ts';
import { VtaError } from '../isa/errors.ts';
import type { Insn } from '../isa/types.ts';
import type { DriverOptions, RunResult } from '../isa/device.ts';
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

/** A stream as `readStream` decoded it, with what the driver derived from it (e.g. the validated order). */
interface KnownStream<T> {
  bytes: Uint8Array;
  insns: Insn[];
  derived: T;
}

/** How many streams a driver remembers; a model has one per device run. */
const KNOWN_STREAMS = 16;

/**
 * The streams a driver has decoded and checked, by address and length. A run whose stream bytes
 * equal those seen before at the same place (one memcmp) reuses the decoded instructions and what
 * was derived from them, as decoding and validation give the same result on the same bytes; any
 * changed byte decodes and checks the stream again. A stream that fails its check is not kept.
 */
export class StreamCache<T> {
  private readonly known = new Map<string, KnownStream<T>>();

  constructor(
    private readonly target: string,
    private readonly cfg: VtaConfig,
    private readonly derive: (insns: Insn[]) => T,
  ) {}

  get(dram: Dram, insnOffset: number, count: number): { insns: Insn[]; derived: T } {
    const key = `${insnOffset}:${count}`;
    const hit = this.known.get(key);
    if (hit && count > 0) {
      const now = dram.u8.subarray(insnOffset, insnOffset + count * INSN_BYTES);
      if (Buffer.from(now.buffer, now.byteOffset, now.byteLength).equals(hit.bytes)) return hit;
    }
    const insns = readStream(this.target, this.cfg, dram, insnOffset, count);
    const derived = this.derive(insns);
    this.known.delete(key);
    if (this.known.size >= KNOWN_STREAMS) this.known.delete(this.known.keys().next().value!);
    const bytes = Buffer.from(dram.u8.slice(insnOffset, insnOffset + count * INSN_BYTES));
    this.known.set(key, { bytes, insns, derived });
    return { insns, derived };
  }

  clear(): void {
    this.known.clear();
  }
}

/** `targetOptions.kernel`: auto (default), wasm or js. */
export function kernelOption(target: string, value: unknown): KernelChoice {
  const kernel = (value ?? 'auto') as KernelChoice;
  if (!['auto', 'wasm', 'js'].includes(kernel)) {
    throw new VtaError('VTA_DRIVER', `${target}: targetOptions.kernel must be auto, wasm or js, got ${JSON.stringify(kernel)}`);
  }
  return kernel;
}
