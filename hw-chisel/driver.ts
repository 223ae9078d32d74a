/**
 * The `tsim` target: the Chisel VTA core (hw-chisel/src/main/scala) simulated cycle by cycle by
 * Verilator, behind a DRAM model with a configurable latency, through the Node addon built by
 * `sh hw-chisel/build.sh`. It implements isa/device.ts's DeviceDriver.
 *
 * Every stream is decoded and validated on the host (isa/validate.ts: fields, ranges, the token
 * schedule and FINISH ordering, and micro-op indices, which the core would wrap to the buffer's
 * index width) before the core sees it, unless the diagnostic option checkStreams is false.
 * A run is bounded by its wall-clock timeout and, with targetOptions.cycleBudget, by cycles from
 * launch (a core that never reaches FINISH); either resets the core, which keeps its SRAM and DRAM
 * and serves the next run.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { preset, type VtaConfig } from '../isa/config.ts';
import { decodeProgram, INSN_BYTES } from '../isa/codec.ts';
import { checkDeviceRange, DeviceClosedError, DeviceRangeError, RunTimeoutError } from '../isa/device-errors.ts';
import { ProgramError, VtaError } from '../isa/errors.ts';
import { moduleOf, type Insn, type ModuleName } from '../isa/types.ts';
import { checkStreamUops, MemorySnapshot, uopLoadRanges } from '../isa/uop-check.ts';
import { validateProgram } from '../isa/validate.ts';
import type { DeviceDriver, DriverFactory, DriverOptions, RunResult } from '../isa/device.ts';
import { CORE_BUS_BITS, tsimBuildDir } from './build.ts';

/** The addon of the configuration's core (hw-chisel/build.ts builds one per configuration). */
export function addonPath(cfg: VtaConfig = preset('default')): string {
  return `${tsimBuildDir(cfg)}build/Release/vta_tsim.node`;
}

/** `targetOptions` of the tsim target. */
export interface TsimOptions {
  /** Cycles from a DRAM read request to its first beat, and from a write burst's last beat to its ack. */
  dramLatency?: number;
  /**
   * Cycles a run may take from launch before the core is taken to be hung (it never reached
   * FINISH): the run rejects with TsimCycleBudgetError and the core is reset. 0 (default): only
   * the wall-clock timeout bounds a run.
   */
  cycleBudget?: number;
  /**
   * Diagnostic, for testing the core's own fault handling: false sends streams to the core without
   * the host's validation, so a stream with no FINISH or a dependency-token deadlock reaches it and
   * runs until the cycle budget or the timeout. Default true.
   */
  checkStreams?: boolean;
}
export const DEFAULT_DRAM_LATENCY = 32;

interface NativeRun {
  status: number;
  cycles: number;
  counters: Record<string, number>;
  /** Per module (load, compute, store): the completion cycle of each of its instructions, in order. */
  retired: [Uint32Array, Uint32Array, Uint32Array];
}
interface NativeDevice {
  write(offset: number, data: Uint8Array): number;
  read(offset: number, into: Uint8Array): number;
  run(insnOffset: number, count: number, timeoutMs: number, maxCycles: number): Promise<NativeRun>;
  close(): void;
}
interface NativeModule {
  Device: new (memBytes: number, latency: number) => NativeDevice;
  counterNames: string[];
  fingerprint: string;
  busBits: number;
}
const STATUS_OK = 0;
const STATUS_TIMEOUT = 1;
const STATUS_CYCLE_BUDGET = 3;

/** A run that did not reach FINISH within the cycle budget (targetOptions.cycleBudget); the core was reset. */
export class TsimCycleBudgetError extends RunTimeoutError {
  constructor(
    timeoutMs: number,
    readonly cycleBudget: number,
    message: string,
  ) {
    super('tsim', timeoutMs, message);
  }
}

/** The addon is not built (run `sh hw-chisel/build.sh`) or does not load. */
export class TsimUnavailableError extends VtaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('VTA_TSIM_UNAVAILABLE', message, options);
  }
}

const loaded = new Map<string, NativeModule>();
export function tsimModule(cfg: VtaConfig = preset('default')): NativeModule {
  const path = addonPath(cfg);
  const hit = loaded.get(path);
  if (hit) return hit;
  if (!existsSync(path)) {
    const how = path.includes('/target/configs/') ? `node --import tsx hw-chisel/build.ts --config ${cfg.name}` : 'sh hw-chisel/build.sh';
    throw new TsimUnavailableError(`tsim: the simulator addon ${path} for configuration ${cfg.name} is not built; run \`${how}\``);
  }
  try {
    const mod = createRequire(import.meta.url)(path) as NativeModule;
    loaded.set(path, mod);
    return mod;
  } catch (e) {
    throw new TsimUnavailableError(`tsim: cannot load ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** True when the configuration's addon is built, so tests and benchmarks can skip the target otherwise. */
export function tsimAvailable(cfg: VtaConfig = preset('default')): boolean {
  return existsSync(addonPath(cfg));
}

function parseOptions(raw: Record<string, unknown> | undefined): Required<TsimOptions> {
  const o = raw ?? {};
  const known = ['dramLatency', 'cycleBudget', 'checkStreams'];
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new VtaError('VTA_TARGET_OPTION', `tsim: unknown target option "${k}" (known: ${known.join(', ')})`);
  }
  const integer = (k: string, fallback: number, max: number): number => {
    const v = o[k] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
      throw new VtaError('VTA_TARGET_OPTION', `tsim: target option ${k} must be an integer in [0, ${max}], got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const check = o.checkStreams ?? true;
  if (typeof check !== 'boolean') throw new VtaError('VTA_TARGET_OPTION', `tsim: target option checkStreams must be a boolean, got ${JSON.stringify(check)}`);
  return { dramLatency: integer('dramLatency', DEFAULT_DRAM_LATENCY, 1 << 20), cycleBudget: integer('cycleBudget', 0, Number.MAX_SAFE_INTEGER), checkStreams: check };
}

export class TsimDriver implements DeviceDriver {
  readonly target = 'tsim' as const;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly config: VtaConfig,
    readonly memBytes: number,
    private readonly options: Required<TsimOptions>,
    private readonly dev: NativeDevice,
  ) {}

  get dramLatency(): number {
    return this.options.dramLatency;
  }

  static async open(opts: DriverOptions): Promise<TsimDriver> {
    const o = parseOptions(opts.targetOptions);
    // The core addresses DRAM with 32 bits.
    if (!Number.isSafeInteger(opts.memBytes) || opts.memBytes <= 0 || opts.memBytes > 2 ** 32) {
      throw new DeviceRangeError('tsim', `memBytes must be an integer in [1, 2^32], got ${opts.memBytes}`);
    }
    if (opts.config.BUS_WIDTH !== CORE_BUS_BITS) {
      throw new VtaError('VTA_CONFIG_MISMATCH', `tsim: configuration ${opts.config.name} has a ${opts.config.BUS_WIDTH}-bit bus; the Chisel core's memory port is ${CORE_BUS_BITS}-bit`);
    }
    const native = tsimModule(opts.config);
    if (native.fingerprint !== opts.config.fingerprint || native.busBits !== opts.config.BUS_WIDTH) {
      throw new VtaError(
        'VTA_CONFIG_MISMATCH',
        `tsim: the core was generated for configuration ${native.fingerprint} with a ${native.busBits}-bit bus, not ${opts.config.fingerprint} with a ${opts.config.BUS_WIDTH}-bit bus (${opts.config.name}); regenerate IsaConstants.scala and rebuild`,
      );
    }
    return new TsimDriver(opts.config, opts.memBytes, o, new native.Device(opts.memBytes, o.dramLatency));
  }

  /** Runs `op` after every earlier operation (a run holds the core until it ends). */
  private serialize<T>(what: string, op: () => T | Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new DeviceClosedError('tsim', what));
    const result = this.tail.then(() => op());
    this.tail = result.catch(() => undefined);
    return result;
  }

  private checkRange(what: string, offset: number, length: number): void {
    checkDeviceRange('tsim', this.memBytes, what, offset, length);
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    return this.serialize('write', () => {
      this.checkRange('write', offset, data.length);
      this.dev.write(offset, data);
    });
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    return this.serialize('read', () => {
      this.checkRange('read', offset, length);
      const out = new Uint8Array(length);
      this.dev.read(offset, out);
      return out;
    });
  }

  run(insnOffset: number, count: number, opts: { timeoutMs: number }): Promise<RunResult> {
    const what = `run of ${count} instructions at ${insnOffset}`;
    return this.serialize(what, async () => {
      if (insnOffset % INSN_BYTES !== 0) throw new DeviceRangeError('tsim', `${what}: the instruction address must be ${INSN_BYTES}-byte aligned`);
      if (!Number.isSafeInteger(count) || count <= 0 || count >= 2 ** 32) throw new ProgramError(-1, `${what}: the instruction count must be a positive 32-bit integer`);
      this.checkRange(what, insnOffset, count * INSN_BYTES);
      if (!(opts.timeoutMs > 0)) throw new VtaError('VTA_TIMEOUT_OPTION', `${what}: timeoutMs must be positive, got ${opts.timeoutMs}`);
      const bytes = new Uint8Array(count * INSN_BYTES);
      this.dev.read(insnOffset, bytes);
      const insns = decodeProgram(this.config, bytes);
      if (this.options.checkStreams) this.check(insns);
      const { cycleBudget } = this.options;
      const r = await this.dev.run(insnOffset, count, opts.timeoutMs, cycleBudget);
      if (r.status === STATUS_TIMEOUT) {
        throw new RunTimeoutError('tsim', opts.timeoutMs, `${what} did not finish within ${opts.timeoutMs} ms; the core was reset`);
      }
      if (r.status === STATUS_CYCLE_BUDGET) {
        throw new TsimCycleBudgetError(opts.timeoutMs, cycleBudget, `${what} did not reach FINISH within its budget of ${cycleBudget} cycles (the core hung or the stream never ends); the core was reset`);
      }
      if (r.status !== STATUS_OK) throw new VtaError('VTA_DEVICE', `tsim: ${what}: the simulator returned status ${r.status}`);
      return { counters: profilerCounters(this.config, r), insnCycles: insnCycles(insns, r.retired) };
    });
  }

  /** Host validation: fields, ranges, the token schedule, FINISH, and micro-op indices (the core wraps out-of-range ones). */
  private check(insns: Insn[]): void {
    const order = validateProgram(this.config, insns, { memBytes: this.memBytes });
    const uopRanges = uopLoadRanges(insns);
    const uopData = uopRanges.map(([start, end]) => {
      const data = new Uint8Array(end - start);
      this.dev.read(start, data);
      return data;
    });
    checkStreamUops(this.config, insns, order, new MemorySnapshot(uopRanges, uopData));
  }

  close(): Promise<void> {
    if (this.closed) return Promise.reject(new DeviceClosedError('tsim', 'close'));
    const done = this.tail.then(() => this.dev.close());
    this.closed = true;
    return done;
  }
}

/** Each instruction's completion cycle: a module completes its instructions in stream order. */
function insnCycles(insns: readonly Insn[], retired: NativeRun['retired']): Float64Array {
  const out = new Float64Array(insns.length);
  const next = [0, 0, 0];
  insns.forEach((insn, i) => {
    const m = MODULE_INDEX[moduleOf(insn)];
    const cycles = retired[m];
    if (next[m]! >= cycles.length) throw new VtaError('VTA_DEVICE', `tsim: the core completed fewer ${moduleOf(insn)} instructions than the stream holds`);
    out[i] = cycles[next[m]!++]!;
  });
  return out;
}
const MODULE_INDEX: Record<ModuleName, number> = { load: 0, compute: 1, store: 2 };

/** VTA's profiler counters from the core's element and micro-op counts, plus `cycles` and the raw counts. */
function profilerCounters(cfg: VtaConfig, r: NativeRun): Record<string, number> {
  const c = r.counters;
  const n = (k: string) => c[k] ?? 0;
  return {
    inp_load_nbytes: n('inp_loads') * cfg.INP_ELEM_BYTES,
    wgt_load_nbytes: n('wgt_loads') * cfg.WGT_ELEM_BYTES,
    // As the functional simulator, an ACC_8BIT element counts as one accumulator element.
    acc_load_nbytes: (n('acc_loads') + n('acc8_loads')) * cfg.ACC_ELEM_BYTES,
    uop_load_nbytes: n('uop_loads') * cfg.UOP_ELEM_BYTES,
    out_store_nbytes: n('out_stores') * cfg.OUT_ELEM_BYTES,
    gemm_counter: n('gemm_counter'),
    alu_counter: n('alu_counter'),
    acc_writes: n('acc_writes'),
    cycles: r.cycles,
  };
}

export const createTsimDriver: DriverFactory = (opts) => TsimDriver.open(opts);
