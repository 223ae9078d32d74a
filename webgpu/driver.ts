/**
 * The `webgpu` target: VTA instruction streams executed by WGSL compute shaders through Dawn (the
 * `webgpu` package). It implements isa/device.ts's DeviceDriver.
 *
 * Device memory is one GPU storage buffer; the inp, wgt and acc SRAMs are storage buffers too and
 * persist across runs, as on the hardware; the uop SRAM persists on the host, which plans from it.
 * A run is decoded, validated and planned on the host (the host keeps a copy of DRAM too), then
 * executed in the schedule's
 * order (isa/schedule.ts, the order the functional simulator uses) with few submissions. Micro-op
 * indices are checked before anything is submitted, so a malformed stream never reaches the GPU.
 *
 * Timeouts: a submitted GPU command cannot be aborted. A run that passes its timeout rejects with
 * RunTimeoutError; the GPU finishes the work it was given, and the next operation waits for it.
 *
 * A lost device (a driver reset, a removed GPU, or `loseDevice`): the operation in flight rejects
 * with WebGpuError, and the next operation opens a new device and uploads device memory again from
 * the host's copy. What the lost device held and the host had not read back (the bytes its runs'
 * STOREs wrote) is gone: reading such bytes, or a run loading them, is a WebGpuError until a write
 * or a later run's STORE gives them a value again. The SRAMs start zeroed, as after a reset.
 */
import pino from 'pino';
import type { VtaConfig } from '../isa/config.ts';
import { decodeInsnWords, INSN_BYTES } from '../isa/codec.ts';
import { zeroCounters, type Counters } from '../isa/counters.ts';
import { ProgramError, VtaError } from '../isa/errors.ts';
import { replayUopLoad } from '../isa/uop-check.ts';
import { dramRange, validateProgram } from '../isa/validate.ts';
import { checkDeviceRange, DeviceClosedError, DeviceRangeError, RunTimeoutError } from '../isa/device-errors.ts';
import type { DeviceDriver, DriverFactory, DriverOptions, RunResult } from '../isa/device.ts';
import { WebGpuError } from './errors.ts';
import { Executor, type Prepared, type SubmitStats } from './executor.ts';
import { openGpu, type Gpu } from './gpu.ts';
import { Planner, type PlannedInsn } from './plan.ts';
import { Scheduler, sramGeometry } from './schedule.ts';
import { ByteRanges } from './shadow.ts';

const log = pino({ name: 'webgpu', level: process.env.LOG_LEVEL ?? 'warn' });

/** `targetOptions` of the webgpu target. */
export interface WebGpuOptions {
  /**
   * Copies of each SRAM the GPU holds (schedule.ts): more let more tiles run side by side. 1 runs
   * every write in place. Default 64; fewer where one SRAM times the copies would pass 128 MiB.
   */
  sramCopies?: number;
  /** Flags for Dawn's `create`, e.g. `["backend=vulkan"]`. */
  dawnFlags?: string[];
  powerPreference?: GPUPowerPreference;
}

const DEFAULT_SRAM_COPIES = 64;
/** The storage binding size every WebGPU adapter supports. */
const MAX_SRAM_BYTES = 128 << 20;

function parseOptions(raw: Record<string, unknown> | undefined): WebGpuOptions {
  const o = raw ?? {};
  const known = ['sramCopies', 'dawnFlags', 'powerPreference'];
  const bad = (k: string, what: string): never => {
    throw new VtaError('VTA_TARGET_OPTION', `webgpu: target option ${k} must be ${what}, got ${JSON.stringify(o[k])}`);
  };
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) throw new VtaError('VTA_TARGET_OPTION', `webgpu: unknown target option "${k}" (known: ${known.join(', ')})`);
  }
  if (o.sramCopies !== undefined && (!Number.isInteger(o.sramCopies) || !((o.sramCopies as number) >= 1 && (o.sramCopies as number) <= 4096))) {
    bad('sramCopies', 'an integer from 1 to 4096');
  }
  if (o.dawnFlags !== undefined && (!Array.isArray(o.dawnFlags) || !o.dawnFlags.every((f) => typeof f === 'string'))) bad('dawnFlags', 'an array of strings');
  if (o.powerPreference !== undefined && o.powerPreference !== 'low-power' && o.powerPreference !== 'high-performance') {
    bad('powerPreference', '"low-power" or "high-performance"');
  }
  return o as WebGpuOptions;
}

/** What the last run did on the GPU, for benchmarks and logs. */
export interface WebGpuRunStats extends SubmitStats {
  /** Host time spent decoding, validating and planning, in ms. */
  planMs: number;
  /** The plan came from an earlier run of the same stream. */
  cached: boolean;
  /** Wall time of the whole run, in ms. */
  totalMs: number;
}

const align4 = (n: number) => Math.ceil(n / 4) * 4;
const noStats = (): SubmitStats => ({ dispatches: 0, submissions: 0, levels: 0, fused: 0, copies: 0 });

/**
 * A planned run, kept so that running the same stream again (the next inference of a model)
 * skips decoding, validation and planning. It is reused only when everything the plan was derived
 * from is unchanged: the instruction bytes, the uop SRAM entries the run uses before loading them,
 * and the DRAM bytes its UOP loads read.
 */
interface CachedRun {
  insnOffset: number;
  stream: Uint8Array;
  /** uop SRAM entries read before the run loads them, and their values. */
  uopsUsed: Int32Array;
  uopsUsedValues: Uint32Array;
  uopSources: { start: number; bytes: Uint8Array }[];
  prepared: Prepared;
  counters: Counters;
  /** uop SRAM entries the run loads, and their values at its end. */
  uopsLoaded: Int32Array;
  uopsLoadedValues: Uint32Array;
  /** What the run's STOREs write, merged. */
  stores: readonly (readonly [number, number])[];
}

/** Planned runs kept per driver. */
const RUN_CACHE_SIZE = 32;

/** What lives on one GPU device, lost with it and opened again by `recover`. */
interface OnGpu {
  gpu: Gpu;
  dram: GPUBuffer;
  sram: GPUBuffer[];
  executor: Executor;
  /** Why the device was lost, once it is. */
  lost: string | null;
}

/** Opens a device with the driver's buffers (DRAM, then the inp, wgt and acc SRAMs) and its pipelines. */
async function openOnGpu(cfg: VtaConfig, o: WebGpuOptions, sizes: { dram: number; inp: number; wgt: number; acc: number }): Promise<OnGpu> {
  const gpu = await openGpu({
    maxBindingBytes: Math.max(sizes.dram, sizes.inp, sizes.wgt, sizes.acc),
    dawnFlags: o.dawnFlags,
    powerPreference: o.powerPreference,
  });
  const { device } = gpu;
  try {
    const usage = gpu.globals.GPUBufferUsage;
    device.pushErrorScope('out-of-memory');
    const buf = (label: string, size: number) => device.createBuffer({ label, size, usage: usage.STORAGE | usage.COPY_SRC | usage.COPY_DST });
    const dram = buf('vta dram', sizes.dram);
    const sram = [buf('vta inp', sizes.inp), buf('vta wgt', sizes.wgt), buf('vta acc', sizes.acc)];
    const oom = await device.popErrorScope();
    if (oom) throw new WebGpuError(`allocating ${sizes.dram} bytes of device memory failed: ${oom.message}`);
    const [inp, wgt, acc] = sram as [GPUBuffer, GPUBuffer, GPUBuffer];
    const executor = await Executor.create(gpu, cfg, { dram, inp, wgt, acc });
    return { gpu, dram, sram, executor, lost: null };
  } catch (e) {
    device.destroy();
    throw e;
  }
}

const sameBytes = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

export class WebGpuDriver implements DeviceDriver {
  readonly target = 'webgpu' as const;
  /** The adapter in use, in words. */
  readonly adapter: string;
  lastRun: WebGpuRunStats | null = null;
  private readonly shadow: Uint8Array;
  private readonly shadowWords: Uint32Array;
  private readonly stale = new ByteRanges();
  /** The uop SRAM after every submitted instruction (it lives on the host only; see shaders.ts). */
  private uops: Uint32Array;
  private readonly planner: Planner;
  private readonly scheduler: Scheduler;
  private runs: CachedRun[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  /** Settles when the GPU has finished all submitted work (a timed-out run's included). */
  private gpuIdle: Promise<unknown> = Promise.resolve();
  private closed = false;
  /** Bytes a lost device held that the host had not read back: no value until written again. */
  private readonly lostBytes = new ByteRanges();
  /** Devices lost so far; their Dawn instances stay reachable (collecting one with callbacks pending crashes the process). */
  private readonly lostDevices: Gpu[] = [];
  /** `loseDevice('next-run')` was asked for. */
  private loseInNextRun = false;

  private constructor(
    readonly config: VtaConfig,
    readonly memBytes: number,
    private onGpu: OnGpu,
    private readonly options: WebGpuOptions,
    private readonly sizes: { dram: number; inp: number; wgt: number; acc: number },
    /** Copies of each SRAM on the GPU. */
    readonly sramCopies: number,
  ) {
    this.adapter = onGpu.gpu.description;
    this.shadow = new Uint8Array(sizes.dram);
    this.shadowWords = new Uint32Array(this.shadow.buffer);
    this.uops = new Uint32Array(config.UOP_DEPTH);
    this.planner = new Planner(config);
    this.scheduler = new Scheduler(config, sramCopies);
    this.watch(onGpu);
  }

  private watch(on: OnGpu): void {
    void on.gpu.device.lost.then((info) => {
      if (!this.closed) {
        on.lost = info.message || info.reason;
        log.error({ reason: info.reason, message: info.message }, 'GPU device lost');
      }
    });
    on.gpu.device.addEventListener('uncapturederror', (ev) => log.error({ err: (ev as GPUUncapturedErrorEvent).error.message }, 'uncaptured GPU error'));
  }

  /** Devices lost and opened again since the driver opened. */
  get recoveries(): number {
    return this.lostDevices.length;
  }

  private get gpu(): Gpu {
    return this.onGpu.gpu;
  }
  private get dram(): GPUBuffer {
    return this.onGpu.dram;
  }
  private get executor(): Executor {
    return this.onGpu.executor;
  }

  /**
   * Diagnostic, for testing fault handling: destroys the GPU device through Dawn (device.destroy()),
   * a real loss: work in flight is dropped and the GPU's buffers are gone. 'now' loses it at once;
   * 'next-run' during the next run, after its work is submitted and before it completes.
   */
  loseDevice(when: 'now' | 'next-run' = 'now'): void {
    if (this.closed) throw new DeviceClosedError('webgpu', 'loseDevice');
    if (when === 'now') this.gpu.device.destroy();
    else this.loseInNextRun = true;
  }

  /**
   * Opens a new device in place of a lost one and uploads the host's copy of device memory. The
   * bytes only the lost device held are marked lost (and zeroed on the host).
   */
  private async recover(): Promise<void> {
    const lost = this.onGpu;
    const on = await openOnGpu(this.config, this.options, this.sizes);
    this.lostDevices.push(lost.gpu);
    this.runs = [];
    for (const [a, b] of this.stale.list()) {
      this.lostBytes.add(a, b);
      this.shadow.fill(0, a, b);
    }
    this.stale.remove(0, this.shadow.length);
    on.gpu.device.queue.writeBuffer(on.dram, 0, this.shadow.buffer, 0, this.shadow.length);
    this.onGpu = on;
    this.watch(on);
    this.gpuIdle = Promise.resolve();
    log.warn({ lost: lost.lost, recoveries: this.lostDevices.length }, 'GPU device opened again after a loss; device memory uploaded from the host copy');
  }

  static async open(opts: DriverOptions): Promise<WebGpuDriver> {
    const o = parseOptions(opts.targetOptions);
    const cfg = opts.config;
    if (!Number.isSafeInteger(opts.memBytes) || opts.memBytes <= 0 || opts.memBytes > 2 ** 32 - 4) {
      throw new DeviceRangeError('webgpu', `memBytes must be a positive integer below 4 GiB, got ${opts.memBytes}`);
    }
    const geometry = sramGeometry(cfg);
    const largest = Math.max(...geometry.map((g) => g.stride * 4));
    const copies = Math.max(1, Math.min(o.sramCopies ?? DEFAULT_SRAM_COPIES, Math.floor(MAX_SRAM_BYTES / largest)));
    const [inpBytes, wgtBytes, accBytes] = geometry.map((g) => g.stride * 4 * copies) as [number, number, number];
    const sizes = { dram: align4(opts.memBytes), inp: inpBytes, wgt: wgtBytes, acc: accBytes };
    const on = await openOnGpu(cfg, o, sizes);
    log.info({ adapter: on.gpu.description, packedDot: on.gpu.packedDot, software: on.gpu.software, copies }, 'webgpu device ready');
    return new WebGpuDriver(cfg, opts.memBytes, on, o, sizes, copies);
  }

  /**
   * Runs `op` after every earlier operation has ended (a timed-out run's GPU work included), on a
   * device opened again first if the last one was lost.
   */
  private serialize<T>(what: string, op: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new DeviceClosedError('webgpu', what));
    const result = this.tail.then(() => this.gpuIdle).then(async () => {
      if (this.closed) throw new DeviceClosedError('webgpu', what);
      if (this.onGpu.lost !== null) {
        try {
          await this.recover();
        } catch (e) {
          throw new WebGpuError(`${what}: the GPU device was lost (${this.onGpu.lost}) and could not be opened again: ${(e as Error).message}`, { cause: e });
        }
      }
      return op();
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  private checkRange(what: string, offset: number, length: number): void {
    checkDeviceRange('webgpu', this.memBytes, what, offset, length);
  }

  /** Refuses to use bytes that went with a lost device as if they held data; `rewritten` are given a value earlier in the same run. */
  private checkNotLost(what: string, start: number, end: number, rewritten?: ByteRanges): void {
    const lost = this.lostBytes.within(start, end);
    if (lost && !rewritten?.covers(lost[0], lost[1])) {
      throw new WebGpuError(`${what}: bytes [${lost[0]}, ${lost[1]}) were lost with the GPU device (a run wrote them and they were never read back); write them again first`);
    }
  }

  /** Makes the host copy of [start, end) current, reading stale bytes back from the GPU. */
  private async refresh(start: number, end: number): Promise<void> {
    const stale = this.stale.within(start, end);
    if (!stale) return;
    const a = Math.floor(stale[0] / 4) * 4;
    const b = align4(stale[1]);
    const { device, globals } = this.gpu;
    const staging = device.createBuffer({ size: b - a, usage: globals.GPUBufferUsage.MAP_READ | globals.GPUBufferUsage.COPY_DST });
    try {
      const enc = device.createCommandEncoder();
      enc.copyBufferToBuffer(this.dram, a, staging, 0, b - a);
      device.queue.submit([enc.finish()]);
      await staging.mapAsync(globals.GPUMapMode.READ);
      this.shadow.set(new Uint8Array(staging.getMappedRange()), a);
      staging.unmap();
    } catch (e) {
      throw new WebGpuError(`reading device memory [${a}, ${b}) back failed: ${(e as Error).message}`, { cause: e });
    } finally {
      staging.destroy();
    }
    this.stale.remove(a, b);
  }

  write(offset: number, data: Uint8Array): Promise<void> {
    try {
      this.checkRange('write', offset, data.length);
    } catch (e) {
      return Promise.reject(e);
    }
    const copy = data.slice();
    return this.serialize('write', async () => {
      if (copy.length === 0) return;
      const end = offset + copy.length;
      this.lostBytes.remove(offset, end);
      const a = Math.floor(offset / 4) * 4;
      const b = align4(end);
      // The GPU takes whole words: the bytes beside the range must be current on the host.
      if (a < offset) await this.refresh(a, offset);
      if (end < b) await this.refresh(end, b);
      this.shadow.set(copy, offset);
      this.stale.remove(offset, end);
      this.gpu.device.queue.writeBuffer(this.dram, a, this.shadow.buffer, a, b - a);
    });
  }

  read(offset: number, length: number): Promise<Uint8Array> {
    try {
      this.checkRange('read', offset, length);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.serialize('read', async () => {
      this.checkNotLost(`read of [${offset}, ${offset + length})`, offset, offset + length);
      await this.refresh(offset, offset + length);
      return this.shadow.slice(offset, offset + length);
    });
  }

  run(insnOffset: number, count: number, opts: { timeoutMs: number }): Promise<RunResult> {
    const what = `run of ${count} instructions at ${insnOffset}`;
    try {
      if (insnOffset % INSN_BYTES !== 0) throw new DeviceRangeError('webgpu', `${what}: the instruction address must be ${INSN_BYTES}-byte aligned`);
      if (!Number.isSafeInteger(count) || count <= 0) throw new ProgramError(-1, `${what}: the instruction count must be a positive integer`);
      this.checkRange(what, insnOffset, count * INSN_BYTES);
      if (!(opts.timeoutMs > 0)) throw new VtaError('VTA_TIMEOUT_OPTION', `${what}: timeoutMs must be positive, got ${opts.timeoutMs}`);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.serialize(what, () => this.execute(what, insnOffset, count, opts.timeoutMs));
  }

  private async execute(what: string, insnOffset: number, count: number, timeoutMs: number): Promise<RunResult> {
    const t0 = performance.now();
    const cfg = this.config;
    const planner = this.planner;
    await this.refresh(insnOffset, insnOffset + count * INSN_BYTES);
    const stream = this.shadow.subarray(insnOffset, insnOffset + count * INSN_BYTES);
    const hit = this.runs.find(
      (r) =>
        r.insnOffset === insnOffset &&
        sameBytes(r.stream, stream) &&
        r.uopsUsed.every((k, i) => this.uops[k] === r.uopsUsedValues[i]) &&
        r.uopSources.every((u) => !this.stale.within(u.start, u.start + u.bytes.length) && sameBytes(u.bytes, this.shadow.subarray(u.start, u.start + u.bytes.length))),
    );
    if (hit) {
      const stats = noStats();
      for (const [a, b] of hit.stores) {
        this.stale.add(a, b);
        this.lostBytes.remove(a, b);
      }
      hit.uopsLoaded.forEach((k, i) => (this.uops[k] = hit.uopsLoadedValues[i]!));
      const scopes = this.pushScopes();
      this.executor.run(hit.prepared, stats);
      this.lastRun = { ...stats, planMs: performance.now() - t0, cached: true, totalMs: 0 };
      await this.finish(what, t0, timeoutMs, scopes());
      return { counters: { ...hit.counters } };
    }
    // 1: loaded by this run; 2: used before being loaded.
    const uopState = new Uint8Array(cfg.UOP_DEPTH);
    const usedValue = new Uint32Array(cfg.UOP_DEPTH);
    /** The DRAM bytes the run's UOP loads read (none is stale while a run is kept, so the host copy holds them). */
    const uopSources = new ByteRanges();
    const stores = new ByteRanges();
    const scheduler = this.scheduler;
    const base = insnOffset / 4;
    const insns = Array.from({ length: count }, (_, i) => decodeInsnWords(cfg, this.shadowWords, base + 4 * i, i));
    const order = validateProgram(cfg, insns, { memBytes: this.memBytes });

    const counters = zeroCounters();
    const stats = noStats();
    // The uop SRAM as it will be when each instruction runs; committed as work is submitted.
    const uops = this.uops.slice();
    let pending = false;
    let submitted = false;
    /** Runs what is scheduled; the prepared schedule is released once the run ends unless `keep`. */
    const oneOff: Prepared[] = [];
    const submit = (keep = false): Prepared | null => {
      const schedule = scheduler.finish();
      let prepared: Prepared | null = null;
      if (pending) {
        prepared = this.executor.prepare(schedule);
        if (!keep) oneOff.push(prepared);
        this.executor.run(prepared, stats);
        submitted = true;
      }
      pending = false;
      this.uops = uops.slice();
      return prepared;
    };
    const scopes = this.pushScopes();
    let errors: Promise<(GPUError | null)[]> | null = null;
    try {
      for (const index of order) {
        const insn = insns[index]!;
        let p: PlannedInsn | null = null;
        switch (insn.opcode) {
          case 'LOAD': {
            const range = dramRange(cfg, insn);
            if (range) this.checkNotLost(`${what}: instruction ${index}`, range[0], range[1], stores);
            if (insn.memory_type === 'UOP' && insn.x_size > 0 && insn.y_size > 0) {
              const [first, end] = dramRange(cfg, insn)!;
              if (this.stale.within(first, end)) {
                // Micro-ops from bytes a STORE wrote: run what comes before, then read them.
                submit();
                await this.refresh(first, end);
              }
              replayUopLoad(insn, uops, uopState, (word, n) => this.shadowWords.subarray(word, word + n));
              uopSources.add(first, end);
            }
            p = planner.memory(insn, counters);
            break;
          }
          case 'STORE': {
            p = planner.memory(insn, counters);
            const range = dramRange(cfg, insn);
            if (p && range) {
              this.stale.add(range[0], range[1]);
              stores.add(range[0], range[1]);
            }
            break;
          }
          case 'GEMM':
          case 'ALU':
            p = planner.loop(insn, index, uops, counters);
            if (p) {
              for (let k = insn.uop_bgn; k < insn.uop_end; k++) {
                if (uopState[k] !== 0) continue;
                uopState[k] = 2;
                usedValue[k] = uops[k]!;
              }
            }
            break;
          case 'FINISH':
            break;
        }
        if (p) {
          scheduler.add(p);
          pending = true;
        }
      }
      const planMs = performance.now() - t0;
      if (planMs > timeoutMs) {
        throw new RunTimeoutError('webgpu', timeoutMs, `${what} did not finish within ${timeoutMs} ms: planning it on the host took ${planMs.toFixed(0)} ms${submitted ? ' (part of it was submitted and still runs)' : ''}`);
      }
      for (const [a, b] of stores.list()) this.lostBytes.remove(a, b);
      // A run that had to stop for micro-ops a STORE wrote is not kept: its plan read the GPU.
      const keep = !submitted;
      const prepared = submit(keep);
      if (keep && prepared) {
        const used = Int32Array.from(uopState.keys()).filter((k) => uopState[k] === 2);
        const loaded = Int32Array.from(uopState.keys()).filter((k) => uopState[k] === 1);
        this.runs.unshift({
          insnOffset,
          stream: stream.slice(),
          uopsUsed: used,
          uopsUsedValues: Uint32Array.from(used, (k) => usedValue[k]!),
          uopSources: uopSources.list().map(([a, b]) => ({ start: a, bytes: this.shadow.slice(a, b) })),
          prepared,
          counters: { ...counters },
          uopsLoaded: loaded,
          uopsLoadedValues: Uint32Array.from(loaded, (k) => uops[k]!),
          stores: stores.list(),
        });
        if (this.runs.length > RUN_CACHE_SIZE) this.executor.release(this.runs.pop()!.prepared);
      }
      this.lastRun = { ...stats, planMs, cached: false, totalMs: 0 };
    } catch (e) {
      scheduler.reset();
      for (const p of oneOff) this.executor.release(p);
      throw e;
    } finally {
      errors = scopes();
    }
    try {
      await this.finish(what, t0, timeoutMs, errors);
    } finally {
      for (const p of oneOff) this.executor.release(p);
    }
    log.debug({ ...this.lastRun, counters }, 'run done');
    return { counters: { ...counters } };
  }

  /**
   * Opens the error scopes of a run; the function returned closes them. Their results are awaited
   * with the work itself (Dawn may answer a scope only once the work before it is done).
   */
  private pushScopes(): () => Promise<(GPUError | null)[]> {
    const { device } = this.gpu;
    device.pushErrorScope('validation');
    device.pushErrorScope('out-of-memory');
    return () => {
      const popped = Promise.all([device.popErrorScope(), device.popErrorScope()]);
      // A run that fails on the host does not wait for its scopes: keep a failure from going unhandled.
      popped.catch(() => undefined);
      return popped;
    };
  }

  /** Waits for the submitted work and its error scopes within what is left of the timeout. */
  private async finish(what: string, t0: number, timeoutMs: number, errors: Promise<(GPUError | null)[]>): Promise<void> {
    const on = this.onGpu;
    const { device } = on.gpu;
    const done = Promise.all([device.queue.onSubmittedWorkDone(), errors]);
    if (this.loseInNextRun) {
      this.loseInNextRun = false;
      device.destroy();
    }
    this.gpuIdle = done.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const left = Math.max(0, timeoutMs - (performance.now() - t0));
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new RunTimeoutError('webgpu', timeoutMs, `${what} did not finish within ${timeoutMs} ms; the GPU finishes the submitted work and the next operation waits for it`)),
        left,
      );
    });
    let err: GPUError | null | undefined;
    try {
      err = (await Promise.race([done, expired]))[1].find((e) => e !== null);
    } finally {
      clearTimeout(timer);
    }
    if (err) throw new WebGpuError(`${what}: the GPU rejected the work: ${err.message}`);
    // Dawn settles the loss before the work it dropped; check it after the work, not before.
    if (on.lost !== null) throw new WebGpuError(`${what}: the GPU device was lost (${on.lost}); the next operation opens it again`);
    this.lastRun!.totalMs = performance.now() - t0;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.reject(new DeviceClosedError('webgpu', 'close'));
    this.closed = true;
    return this.tail.then(() => this.gpuIdle).then(() => {
      for (const r of this.runs) this.executor.release(r.prepared);
      this.dram.destroy();
      for (const b of this.onGpu.sram) b.destroy();
      this.gpu.device.destroy();
    });
  }
}

export const createWebGpuDriver: DriverFactory = (opts) => WebGpuDriver.open(opts);
