/**
 * The `intelfocl` target: VTA's OpenCL core (src/vta.cl) on any OpenCL platform through the native
 * addon — Intel's FPGA SDK platform with an .aocx when present, else a platform that compiles
 * OpenCL C at run time (POCL here). It implements isa/device.ts's DeviceDriver.
 *
 * Every run is validated on the host before the device sees it (isa/validate.ts, plus the
 * micro-op index check of isa/uop-check.ts), so a malformed stream never reaches the core.
 *
 * Timeouts: OpenCL cannot abort a running kernel, so the core itself takes a work budget and stops
 * before an instruction that would exceed it. The budget is the timeout times the fastest work
 * rate seen on this device (measured at open, updated by every long run) times a safety factor;
 * a run is reported as timed out when the wall clock passes `timeoutMs` or the core runs out of
 * budget, whichever comes first. Operations are serialized, so the next operation starts only
 * after the previous kernel has really ended, which the budget bounds.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import type { VtaConfig } from '../isa/config.ts';
import { decodeProgram, encodeProgram, encodeUops, INSN_BYTES } from '../isa/codec.ts';
import { COUNTER_NAMES } from '../isa/counters.ts';
import { DeadlockError, ProgramError, VtaError } from '../isa/errors.ts';
import { NO_DEPS, type Insn } from '../isa/types.ts';
import { checkStreamUops, MemorySnapshot, uopLoadRanges, type Ranges } from '../isa/uop-check.ts';
import { validateProgram } from '../isa/validate.ts';
import { checkDeviceRange, DeviceClosedError, DeviceRangeError, RunTimeoutError } from '../isa/device-errors.ts';
import type { DeviceDriver, DriverFactory, DriverOptions, RunResult } from '../isa/device.ts';
import { configSignature, CORE_KERNEL_NAME, coreBuildOptions, coreSource, STATE, STATUS } from './kernel.ts';
import { cl, clSync, nativeModule, type NativeDevice, type NativeRunResult } from './native.ts';
import { platformCandidates, type PlatformCandidate } from './platform.ts';

const log = pino({ name: 'hw-opencl', level: process.env.VTA_LOG_LEVEL ?? 'warn' });

/** `targetOptions` of the intelfocl target. */
export interface IntelFoclOptions {
  /** A substring of the OpenCL platform name to use (default: Intel's FPGA platform, else any). */
  platform?: string;
  /** Device index within the platform (default: the first that opens). */
  device?: number;
  /** An .aocx (or other device binary) to load instead of compiling src/vta.cl. */
  binary?: string;
  /** VTA_ACC_FORWARD_DEPTH for a source build (see src/vta.cl). */
  accForwardDepth?: number;
  /** Work units per millisecond used to turn a timeout into a budget; measured when absent. */
  workUnitsPerMs?: number;
}

/** How many times the fastest measured rate the budget allows, so a slow kind of work is not cut short. */
const BUDGET_SAFETY = 8;
/** Runs shorter than this do not update the rate: launch overhead dominates them. */
const RATE_SAMPLE_MIN_NS = 5e6;
/** Largest budget the addon passes exactly (a double). */
const MAX_BUDGET = 2 ** 53;
/** Streams whose validation is remembered (a model's layer runs are re-run every inference). */
const VALIDATED_CACHE_SIZE = 256;

/** A stream that passed validation, and the micro-op bytes it was checked against. */
interface Validated {
  uopRanges: Ranges;
  uopDigest: string;
}

function digest(parts: readonly Uint8Array[]): string {
  const h = createHash('sha1');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

function parseOptions(raw: Record<string, unknown> | undefined): IntelFoclOptions {
  const o = raw ?? {};
  const known = ['platform', 'device', 'binary', 'accForwardDepth', 'workUnitsPerMs'];
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new VtaError('VTA_TARGET_OPTION', `intelfocl: unknown target option "${k}" (known: ${known.join(', ')})`);
  }
  const str = (k: string) => {
    if (o[k] !== undefined && typeof o[k] !== 'string') throw new VtaError('VTA_TARGET_OPTION', `intelfocl: target option ${k} must be a string`);
    return o[k] as string | undefined;
  };
  const num = (k: string, integer: boolean) => {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0) || (integer && !Number.isInteger(v)))) {
      throw new VtaError('VTA_TARGET_OPTION', `intelfocl: target option ${k} must be a non-negative ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}`);
    }
    return v as number | undefined;
  };
  return {
    platform: str('platform'),
    device: num('device', true),
    binary: str('binary'),
    accForwardDepth: num('accForwardDepth', true),
    workUnitsPerMs: num('workUnitsPerMs', false),
  };
}

export class IntelFoclDriver implements DeviceDriver {
  readonly target = 'intelfocl' as const;
  /** Work units per millisecond: the fastest rate this device has shown. */
  private unitsPerMs: number;
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Keyed by the digest of the stream's bytes (validation depends only on them and the micro-ops). */
  private readonly validated = new Map<string, Validated>();

  private constructor(
    readonly config: VtaConfig,
    readonly memBytes: number,
    private readonly dev: NativeDevice,
    private readonly mem: number,
    readonly platform: PlatformCandidate,
    unitsPerMs: number,
  ) {
    this.unitsPerMs = unitsPerMs;
  }

  static async open(opts: DriverOptions): Promise<IntelFoclDriver> {
    const o = parseOptions(opts.targetOptions);
    if (!Number.isSafeInteger(opts.memBytes) || opts.memBytes <= 0) {
      throw new DeviceRangeError('intelfocl', `memBytes must be a positive integer, got ${opts.memBytes}`);
    }
    const native = nativeModule();
    const candidates = platformCandidates(clSync('listing OpenCL platforms', () => native.platforms()), o.platform, o.device);
    let dev: NativeDevice | undefined;
    let chosen: PlatformCandidate | undefined;
    let lastError: unknown;
    for (const c of candidates) {
      try {
        dev = clSync(`opening "${c.deviceName}" on "${c.platformName}"`, () => new native.Device(c.platformIndex, c.deviceIndex));
        chosen = c;
        break;
      } catch (e) {
        lastError = e;
        log.debug({ platform: c.platformName, device: c.deviceName, err: (e as Error).message }, 'device did not open');
      }
    }
    if (!dev || !chosen) throw lastError;
    try {
      const info = dev.info();
      const sramBytes =
        2 ** opts.config.LOG_UOP_BUFF_SIZE + 2 ** opts.config.LOG_INP_BUFF_SIZE + 2 ** opts.config.LOG_WGT_BUFF_SIZE + 2 ** opts.config.LOG_ACC_BUFF_SIZE;
      if (o.binary === undefined && sramBytes > info.localMemBytes) {
        throw new VtaError(
          'VTA_OPENCL_SRAM',
          `intelfocl: configuration ${opts.config.name} needs ${sramBytes} bytes of on-chip buffers, more than the ${info.localMemBytes} bytes of local memory of "${info.device}"`,
        );
      }
      const t0 = performance.now();
      if (o.binary !== undefined) {
        let bin: Uint8Array;
        try {
          bin = readFileSync(o.binary);
        } catch (e) {
          throw new VtaError('VTA_OPENCL_BINARY', `intelfocl: cannot read the core binary ${o.binary}: ${(e as Error).message}`);
        }
        await cl(`loading the core binary ${o.binary}`, () => dev.buildBinary(bin, '', CORE_KERNEL_NAME));
      } else {
        if (chosen.intelFpga) {
          throw new VtaError(
            'VTA_OPENCL_BINARY',
            `intelfocl: "${chosen.platformName}" cannot compile OpenCL C at run time: build an .aocx with \`make -C hw-opencl hardware BOARD=...\` (or \`emulator\`) and pass targetOptions.binary`,
          );
        }
        await cl(`building src/vta.cl for "${info.device}"`, () =>
          dev.buildSource(coreSource(opts.config), coreBuildOptions({ accForwardDepth: o.accForwardDepth }), CORE_KERNEL_NAME),
        );
      }
      log.info({ platform: info.platform, device: info.device, ms: performance.now() - t0 }, 'core program ready');
      await checkCoreConfig(opts.config, dev, o.binary ?? 'the core program');
      const mem = clSync(`allocating ${opts.memBytes} bytes of device memory`, () => dev.createBuffer(opts.memBytes));
      const rate = o.workUnitsPerMs ?? (await calibrate(opts.config, dev));
      log.info({ unitsPerMs: rate }, 'work rate');
      return new IntelFoclDriver(opts.config, opts.memBytes, dev, mem, chosen, rate);
    } catch (e) {
      dev.release();
      throw e;
    }
  }

  /**
   * Runs `op` after every earlier operation has ended. An operation that leaves the device busy
   * after it settles (a run that timed out while its kernel still runs) passes that promise to
   * `holdUntil`, and later operations wait for it too.
   */
  private serialize<T>(what: string, op: (holdUntil: (busy: Promise<unknown>) => void) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new DeviceClosedError('intelfocl', what));
    let busy: Promise<unknown> = Promise.resolve();
    const result = this.tail.then(() => {
      if (this.closed) throw new DeviceClosedError('intelfocl', what);
      return op((p) => {
        busy = p.catch(() => undefined);
      });
    });
    const settled = () => busy;
    this.tail = result.then(settled, settled);
    return result;
  }

  private checkRange(what: string, offset: number, length: number): void {
    checkDeviceRange('intelfocl', this.memBytes, what, offset, length);
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    try {
      this.checkRange('write', offset, data.length);
    } catch (e) {
      return Promise.reject(e);
    }
    if (data.length === 0) return this.serialize('write', async () => undefined);
    return this.serialize('write', () => cl(`writing ${data.length} bytes at ${offset}`, () => this.dev.write(this.mem, offset, data)));
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    try {
      this.checkRange('read', offset, length);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.serialize('read', () => cl(`reading ${length} bytes at ${offset}`, () => this.dev.read(this.mem, offset, length)));
  }

  run(insnOffset: number, count: number, opts: { timeoutMs: number }): Promise<RunResult> {
    const what = `run of ${count} instructions at ${insnOffset}`;
    try {
      if (insnOffset % INSN_BYTES !== 0) throw new DeviceRangeError('intelfocl', `${what}: the instruction address must be ${INSN_BYTES}-byte aligned`);
      if (!Number.isSafeInteger(count) || count <= 0 || count >= 2 ** 32) throw new ProgramError(-1, `${what}: the instruction count must be a positive 32-bit integer`);
      this.checkRange(what, insnOffset, count * INSN_BYTES);
      if (!(opts.timeoutMs > 0)) throw new VtaError('VTA_TIMEOUT_OPTION', `${what}: timeoutMs must be positive, got ${opts.timeoutMs}`);
    } catch (e) {
      return Promise.reject(e);
    }
    // The validation reads the stream back, so it too waits for earlier operations.
    return this.serialize(what, async (holdUntil) => {
      await this.validate(insnOffset, count);
      const budget = Math.min(MAX_BUDGET, Math.ceil(opts.timeoutMs * this.unitsPerMs * BUDGET_SAFETY));
      const launched = cl(`launching the core (${what})`, () => this.dev.run(this.mem, insnOffset / INSN_BYTES, count, budget));
      // The kernel keeps the device until it really ends; later operations wait for that.
      holdUntil(launched);
      let timer: NodeJS.Timeout | undefined;
      const expired = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new RunTimeoutError('intelfocl', opts.timeoutMs, `${what} did not finish within ${opts.timeoutMs} ms; the core stops at its work budget (${budget} units) and the next operation waits for it`)),
          opts.timeoutMs,
        );
      });
      try {
        const res = await Promise.race([launched, expired]);
        return this.interpret(what, res.status, res.kernelNs, budget, opts.timeoutMs);
      } finally {
        clearTimeout(timer);
      }
    });
  }

  /**
   * Rejects a malformed stream before it reaches the core: decoding, isa/validate.ts, and the
   * micro-op index check against the micro-ops now in device memory. A stream seen before is not
   * validated again if its bytes and its micro-ops are unchanged.
   */
  private async validate(insnOffset: number, count: number): Promise<void> {
    const read = (offset: number, length: number) => cl('reading the stream for validation', () => this.dev.read(this.mem, offset, length));
    const bytes = await read(insnOffset, count * INSN_BYTES);
    const key = digest([bytes]);
    const known = this.validated.get(key);
    let checked: { insns: Insn[]; order: Int32Array } | undefined;
    const check = () => {
      const insns = decodeProgram(this.config, bytes);
      return { insns, order: validateProgram(this.config, insns, { memBytes: this.memBytes }) };
    };
    if (!known) checked = check();
    const uopRanges = known?.uopRanges ?? uopLoadRanges(checked!.insns);
    const uopData: Uint8Array[] = [];
    for (const [start, end] of uopRanges) uopData.push(await read(start, end - start));
    const uopDigest = digest(uopData);
    if (known?.uopDigest === uopDigest) return;
    checked ??= check();
    checkStreamUops(this.config, checked.insns, checked.order, new MemorySnapshot(uopRanges, uopData));
    if (this.validated.size >= VALIDATED_CACHE_SIZE) this.validated.delete(this.validated.keys().next().value!);
    this.validated.set(key, { uopRanges, uopDigest });
  }

  private interpret(what: string, status: number[], kernelNs: number | null, budget: number, timeoutMs: number): RunResult {
    const state = status[STATUS.state]!;
    const index = status[STATUS.index]!;
    const work = status[STATUS.work]!;
    if (kernelNs !== null && kernelNs >= RATE_SAMPLE_MIN_NS) {
      this.unitsPerMs = Math.max(this.unitsPerMs, (work / kernelNs) * 1e6);
    }
    switch (state) {
      case STATE.FINISHED: {
        const counters: Record<string, number> = {};
        for (const name of COUNTER_NAMES) counters[name] = status[STATUS[name]]!;
        if (kernelNs !== null) counters.kernel_ns = kernelNs;
        return { counters };
      }
      case STATE.BUDGET:
        throw new RunTimeoutError(
          'intelfocl',
          timeoutMs,
          `${what} did not finish within ${timeoutMs} ms: the core used its work budget of ${budget} units and stopped before instruction ${index}`,
        );
      // The host validator rejects every stream that could reach these; they mean a bug.
      case STATE.DEADLOCK:
        throw new DeadlockError('OpenCL core', index, 'dependency-token', 'empty');
      case STATE.NO_FINISH:
        throw new ProgramError(-1, `${what}: the core ran out of instructions before FINISH`);
      case STATE.DRAM_RANGE:
        throw new ProgramError(index, `${what}: the core stopped on a DRAM access outside the device buffer`);
      case STATE.SRAM_RANGE:
        throw new ProgramError(index, `${what}: the core stopped on an out-of-range SRAM index`);
      case STATE.BAD_INSN:
        throw new ProgramError(index, `${what}: the core does not know this instruction`);
      default:
        throw new VtaError('VTA_DEVICE', `${what}: the core reported unknown state ${state}`);
    }
  }

  /**
   * Diagnostic, for testing fault handling: the next run that reaches the core runs, then OpenCL
   * reports `clStatus` (a negative OpenCL error code; default -5, CL_OUT_OF_RESOURCES) as the
   * kernel command's execution status, as a device fault mid-run shows. The run rejects with
   * OpenClError and the driver serves the next operation.
   */
  injectRunError(clStatus = -5): void {
    if (this.closed) throw new DeviceClosedError('intelfocl', 'injectRunError');
    clSync('injecting a run error', () => this.dev.failNextRun(clStatus));
  }

  close(): Promise<void> {
    if (this.closed) return Promise.reject(new DeviceClosedError('intelfocl', 'close'));
    const done = this.tail.then(() => this.dev.release());
    this.closed = true;
    return done;
  }
}

/** Runs a small program in a scratch buffer (not the runtime's memory); returns the core's status. */
async function runScratch(cfg: VtaConfig, dev: NativeDevice, insns: Insn[]): Promise<NativeRunResult> {
  const uops = encodeUops(cfg, [{ dst_idx: 0, src_idx: 0, wgt_idx: 0 }]);
  const insnBase = 64;
  const image = new Uint8Array(insnBase + insns.length * INSN_BYTES);
  image.set(uops, 0);
  image.set(encodeProgram(cfg, insns), insnBase);
  const scratch = clSync('allocating a scratch buffer', () => dev.createBuffer(image.length));
  try {
    await cl('writing a scratch program', () => dev.write(scratch, 0, image));
    const r = await cl('running a scratch program', () => dev.run(scratch, insnBase / INSN_BYTES, insns.length, MAX_BUDGET));
    if (r.status[STATUS.state] !== STATE.FINISHED) {
      throw new VtaError('VTA_DEVICE', `intelfocl: a scratch program stopped in state ${r.status[STATUS.state]}`);
    }
    return r;
  } finally {
    dev.releaseBuffer(scratch);
  }
}

/** Checks that the program on the device was built for `cfg` (matters for a prebuilt binary). */
async function checkCoreConfig(cfg: VtaConfig, dev: NativeDevice, source: string): Promise<void> {
  const r = await runScratch(cfg, dev, [{ ...NO_DEPS, opcode: 'FINISH' }]);
  if (r.status[STATUS.config] !== configSignature(cfg)) {
    throw new VtaError(
      'VTA_OPENCL_CONFIG',
      `intelfocl: ${source} was built for another configuration than ${cfg.name} (${cfg.fingerprint}); rebuild it with CONFIG set (see hw-opencl/README.md)`,
    );
  }
}

/**
 * Measures the device's work rate with two small programs: a GEMM loop and an immediate ALU loop
 * (the most and least expensive work per unit on a CPU). Each runs twice; the first launch may
 * include the platform's kernel compilation.
 */
async function calibrate(cfg: VtaConfig, dev: NativeDevice): Promise<number> {
  const loop = { reset_reg: 0 as const, uop_bgn: 0, uop_end: 1, iter_out: 64, iter_in: 256, dst_factor_out: 0, dst_factor_in: 1, src_factor_out: 0, src_factor_in: 0 };
  const loadUop: Insn = {
    ...NO_DEPS, opcode: 'LOAD', memory_type: 'UOP', sram_base: 0, dram_base: 0, y_size: 1, x_size: 1, x_stride: 1, y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0,
  };
  const zeroAcc: Insn = { ...NO_DEPS, opcode: 'GEMM', ...loop, reset_reg: 1, wgt_factor_out: 0, wgt_factor_in: 0 };
  const programs: Insn[][] = [
    [loadUop, zeroAcc, { ...NO_DEPS, opcode: 'GEMM', ...loop, wgt_factor_out: 0, wgt_factor_in: 0 }, { ...NO_DEPS, opcode: 'FINISH' }],
    [loadUop, zeroAcc, { ...NO_DEPS, opcode: 'ALU', ...loop, iter_out: 256, alu_opcode: 'ADD', use_imm: 1, imm: 1 }, { ...NO_DEPS, opcode: 'FINISH' }],
  ];
  let best = 0;
  for (const p of programs) {
    for (let rep = 0; rep < 2; rep++) {
      const t0 = performance.now();
      const r = await runScratch(cfg, dev, p);
      const ns = r.kernelNs ?? (performance.now() - t0) * 1e6;
      if (rep === 1) best = Math.max(best, (r.status[STATUS.work]! / Math.max(ns, 1)) * 1e6);
    }
  }
  return best;
}

export const createIntelFoclDriver: DriverFactory = (opts) => IntelFoclDriver.open(opts);

