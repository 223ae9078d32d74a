/**
 * The Node API, modelled on onnxruntime's InferenceSession:
 *
 *   const rt = await createRuntime({ target: 'sim' });
 *   const model = await rt.load('model.vta');
 *   const outputs = await model.run({ input: new Float32Array(...) });
 *   console.log(model.profile());
 *   await rt.close();
 *
 * One runtime owns one device. Work on it is FIFO and non-preemptive: concurrent run() calls
 * queue, each runs to completion alone, and a failed call does not stop the ones behind it.
 */
import { pino, type Logger } from 'pino';
import { readModelFile, decodeModel, type ValueInfo } from '../compiler/artifact/format.ts';
import { dtypeFromProto } from '../compiler/artifact/values.ts';
import { loadConfig, type VtaConfig } from '../isa/config.ts';
import type { Tensor } from '../compiler/tensor/tensor.ts';
import type { DeviceDriver, TargetName } from '../isa/device.ts';
import { ClosedError } from './errors.ts';
import { DeviceMemory, type DeviceMemoryState } from './memory.ts';
import { LoadedModel, type InferenceProfile, type InputValue, type RunOptions } from './model.ts';
import { driverFactory } from './targets.ts';

export type { InferenceProfile, InputValue, LayerProfile, RunOptions } from './model.ts';
export type { TargetName } from '../isa/device.ts';
export type { DeviceMemoryState } from './memory.ts';
export { InputError, TargetError, ClosedError, ModelLoadError } from './errors.ts';
export { ModelFormatError } from '../compiler/artifact/format.ts';
export { RunTimeoutError } from '../isa/device-errors.ts';

export interface RuntimeOptions {
  target: TargetName;
  /** A preset name, a configuration file, or a configuration; the default preset if absent. */
  config?: string | VtaConfig;
  logger?: Logger;
  /** Device memory in bytes (default 256 MiB). */
  memBytes?: number;
  /** Longest a device run may take before it is reported as timed out (default 60 s). */
  timeoutMs?: number;
  /** Target-specific settings passed to the driver (an OpenCL platform name, a DRAM latency...). */
  targetOptions?: Record<string, unknown>;
}

const DEFAULT_MEM_BYTES = 256 << 20;

export class Model {
  constructor(
    private readonly rt: Runtime,
    private readonly loaded: LoadedModel,
  ) {}

  get name(): string {
    return this.loaded.name;
  }

  /** Names, shapes, dtypes and scales of the inputs. */
  get inputs() {
    return this.loaded.inputs.map(describe);
  }

  get outputs() {
    return this.loaded.outputs.map(describe);
  }

  /** Runs one inference; inputs by name. Queued behind any run already in progress. */
  run(inputs: Readonly<Record<string, InputValue>>, opts?: RunOptions): Promise<Record<string, Tensor>> {
    return this.rt.enqueue(() => this.loaded.run(inputs, opts));
  }

  /** The profile of the last completed inference, or null. */
  profile(): InferenceProfile | null {
    return this.loaded.profile();
  }

  /** Frees the model's device memory. */
  async close(): Promise<void> {
    await this.rt.enqueue(async () => this.loaded.close());
  }
}

/** A model input or output as users see it: dtype by name, shape as numbers. */
function describe(v: ValueInfo) {
  return { name: v.name, shape: v.shape.map(Number), dtype: dtypeFromProto(v.dtype, v.name), scale: v.scale, zeroPoint: v.zeroPoint };
}

export class Runtime {
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    readonly target: TargetName,
    readonly config: VtaConfig,
    private readonly driver: DeviceDriver,
    private readonly memory: DeviceMemory,
    readonly log: Logger,
    private readonly timeoutMs: number,
  ) {}

  /** Runs `fn` after everything queued before it; its failure is the caller's alone. */
  enqueue<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new ClosedError(`runtime (${this.target})`));
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Loads a compiled model (a path to a .vta file, or its bytes). */
  load(model: string | Uint8Array, name = typeof model === 'string' ? model : 'model'): Promise<Model> {
    return this.enqueue(async () => {
      const compiled = typeof model === 'string' ? await readModelFile(model, this.config) : decodeModel(model, name, this.config);
      const loaded = await LoadedModel.load(name, compiled, this.driver, this.memory, this.log, this.timeoutMs);
      return new Model(this, loaded);
    });
  }

  /** The device memory allocator's state now (what loaded models hold), for monitoring and leak checks. */
  memoryState(): DeviceMemoryState {
    return this.memory.state();
  }

  /** Waits for queued work, then closes the device (which frees every model's memory with it). */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.enqueue(async () => {
      this.closed = true;
      await this.driver.close();
    });
  }
}

export async function createRuntime(opts: RuntimeOptions): Promise<Runtime> {
  const config = typeof opts.config === 'object' ? opts.config : loadConfig(opts.config);
  const log = opts.logger ?? pino({ level: process.env.VTA_LOG_LEVEL ?? 'warn' });
  const memBytes = opts.memBytes ?? DEFAULT_MEM_BYTES;
  const factory = await driverFactory(opts.target);
  const driver = await factory({ config, memBytes, targetOptions: opts.targetOptions });
  log.debug({ target: opts.target, config: config.fingerprint, memBytes }, 'device opened');
  return new Runtime(opts.target, config, driver, new DeviceMemory(config, memBytes), log, opts.timeoutMs ?? 60_000);
}
