/**
 * A compiled model loaded on a device: weights and micro-op tables uploaded once, the instruction
 * streams of each run of consecutive VTA layers assembled and uploaded once, and a plan of what
 * one inference does — CPU operators, copies across the CPU/VTA boundary, device runs.
 */
import type { Logger } from 'pino';
import type { CompiledModel, DeviceCopy, CpuOp, ValueInfo, VtaLayer } from '../compiler/artifact/format.ts';
import { attrsFromProto, dtypeFromProto, shapeOf, tensorBytes, tensorFromBytes, tensorFromData } from '../compiler/artifact/values.ts';
import { kernelFor } from '../compiler/cpu/registry.ts';
import '../compiler/cpu/kernels/index.ts';
import { Tensor, sizeOf } from '../compiler/tensor/tensor.ts';
import { formatShape } from '../compiler/tensor/tensor.ts';
import { bytesPerElement, type DType } from '../compiler/tensor/dtype.ts';
import { encodeProgram } from '../isa/codec.ts';
import { VtaError } from '../isa/errors.ts';
import type { DeviceDriver } from '../isa/device.ts';
import { ClosedError, InputError, ModelLoadError } from './errors.ts';
import { planRuns, type DeviceRun, type LayerSpan } from './batch.ts';
import type { DeviceMemory } from './memory.ts';
import { applyGather, gatherChains, type Gather, type PlanStep } from './moves.ts';

/** What `model.run` accepts for one input. */
export type InputValue = Float32Array | Int8Array | Uint8Array | Int32Array | { data: ArrayLike<number>; shape: readonly number[] } | Tensor;

export interface LayerProfile {
  name: string;
  op: string;
  macs: number;
  /** Cycles attributed to the layer (only on targets that count cycles, e.g. cyclesim). */
  cycles?: number;
  bytes: Record<string, number>;
  uopCacheHits: number;
}

export interface InferenceProfile {
  deviceRuns: number;
  hostToDeviceBytes: number;
  deviceToHostBytes: number;
  /** Total device cycles of the inference, where the target counts them. */
  cycles?: number;
  wallMs: number;
  /** Wall time of the device runs (instruction streams, from submission to completion). */
  deviceMs: number;
  layers: LayerProfile[];
  /** Counters the device reported, summed over the inference's runs. */
  counters: Record<string, number>;
}

/** Options of one `run`. */
export interface RunOptions {
  /** Longest each device run of this inference may take (default: the runtime's timeoutMs). */
  timeoutMs?: number;
}

type Action =
  | { kind: 'cpu'; op: CpuOp }
  | { kind: 'toDevice'; copy: DeviceCopy }
  | { kind: 'fromDevice'; copy: DeviceCopy }
  | { kind: 'run'; run: number }
  | { kind: 'gather'; gather: Gather };

interface UploadedRun {
  plan: DeviceRun;
  insnAddr: number;
}

export class LoadedModel {
  private readonly constants = new Map<string, Tensor>();
  private readonly buffers = new Map<number, { addr: number; bytes: number }>();
  private readonly runs: UploadedRun[] = [];
  private readonly actions: Action[] = [];
  private last: InferenceProfile | null = null;
  private closed = false;
  private allocations: number[] = [];

  private constructor(
    readonly name: string,
    private readonly model: CompiledModel,
    private readonly driver: DeviceDriver,
    private readonly memory: DeviceMemory,
    private readonly log: Logger,
    private readonly timeoutMs: number,
  ) {}

  static async load(name: string, model: CompiledModel, driver: DeviceDriver, memory: DeviceMemory, log: Logger, timeoutMs: number): Promise<LoadedModel> {
    const m = new LoadedModel(name, model, driver, memory, log, timeoutMs);
    try {
      await m.upload();
    } catch (e) {
      m.release();
      throw e;
    }
    return m;
  }

  get inputs(): readonly ValueInfo[] {
    return this.model.inputs;
  }

  get outputs(): readonly ValueInfo[] {
    return this.model.outputs;
  }

  private alloc(bytes: number): number {
    const addr = this.memory.alloc(Math.max(bytes, 1));
    this.allocations.push(addr);
    return addr;
  }

  private release(): void {
    for (const a of this.allocations) this.memory.free(a);
    this.allocations = [];
  }

  private async upload(): Promise<void> {
    const cfg = this.driver.config;
    for (const c of this.model.constants) this.constants.set(c.name, tensorFromData(c));
    const initial: { addr: number; data: Uint8Array }[] = [];
    for (const b of this.model.buffers) {
      const addr = this.alloc(Number(b.bytes));
      this.buffers.set(b.id, { addr, bytes: Number(b.bytes) });
      if (b.data.length > 0) {
        if (b.data.length > Number(b.bytes)) throw new ModelLoadError(this.name, `buffer ${b.name} holds ${b.data.length} bytes of data but is ${b.bytes} bytes long`);
        await this.driver.write(addr, b.data);
        initial.push({ addr, data: b.data });
      }
    }
    const bufferAddress = (id: number): number => {
      const b = this.buffers.get(id);
      if (!b) throw new ModelLoadError(this.name, `a layer refers to device buffer ${id}, which the model does not define`);
      return b.addr;
    };
    const initialBytes = (addr: number, length: number): Uint8Array | undefined => {
      const hit = initial.find((b) => addr >= b.addr && addr + length <= b.addr + b.data.length);
      return hit?.data.subarray(addr - hit.addr, addr - hit.addr + length);
    };

    // Consecutive VTA layers form one batch; a copy back to the CPU (or the end) closes it.
    let pending: VtaLayer[] = [];
    const flush = () => {
      if (pending.length === 0) return;
      for (const plan of planRuns({ cfg, model: this.name, bufferAddress, initialBytes }, pending)) {
        this.actions.push({ kind: 'run', run: this.runs.length });
        this.runs.push({ plan, insnAddr: -1 });
      }
      pending = [];
    };
    for (const step of this.model.steps) {
      const k = step.kind;
      if (k.case === 'vta') pending.push(k.value);
      else if (k.case === 'cpu') this.actions.push({ kind: 'cpu', op: k.value });
      else if (k.case === 'copy') {
        bufferAddress(k.value.bufferId);
        if (k.value.toDevice) this.actions.push({ kind: 'toDevice', copy: k.value });
        else {
          flush();
          this.actions.push({ kind: 'fromDevice', copy: k.value });
        }
      } else throw new ModelLoadError(this.name, 'a step has no kind');
    }
    flush();
    this.gatherMoves();
    for (const r of this.runs) {
      const bytes = encodeProgram(cfg, r.plan.insns);
      r.insnAddr = this.alloc(bytes.length);
      await this.driver.write(r.insnAddr, bytes);
    }
    this.log.debug({ model: this.name, buffers: this.buffers.size, runs: this.runs.length, instructions: this.runs.reduce((n, r) => n + r.plan.insns.length, 0) }, 'model loaded');
  }

  /** Replaces chains of data-movement CPU operators by one precomputed gather each (moves.ts). */
  private gatherMoves(): void {
    const types = new Map<string, { shape: number[]; dtype: DType }>();
    const note = (info: ValueInfo | undefined, name: string) => {
      if (info) types.set(name, { shape: shapeOf(info), dtype: dtypeFromProto(info.dtype, name) });
    };
    for (const i of this.model.inputs) note(i, i.name);
    const steps: PlanStep[] = this.actions.map((a) => {
      if (a.kind === 'cpu') {
        note(a.op.outputInfo, a.op.output);
        return { kind: 'cpu', op: a.op };
      }
      if (a.kind === 'fromDevice') note(a.copy.info, a.copy.value);
      return { kind: 'other', reads: a.kind === 'toDevice' ? [a.copy.value] : [] };
    });
    const chains = gatherChains(steps, this.model.outputs.map((o) => o.name), (v) => types.get(v));
    if (chains.size === 0) return;
    const actions: Action[] = [];
    for (let at = 0; at < this.actions.length; ) {
      const chain = chains.get(at);
      if (chain) {
        actions.push({ kind: 'gather', gather: chain.gather });
        at += chain.length;
      } else actions.push(this.actions[at++]!);
    }
    this.actions.splice(0, this.actions.length, ...actions);
  }

  private normalizeInputs(feeds: Readonly<Record<string, InputValue>>): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    const expected = this.model.inputs;
    for (const name of Object.keys(feeds)) {
      if (!expected.some((i) => i.name === name)) {
        throw new InputError(name, `the model has no such input (inputs: ${expected.map((i) => i.name).join(', ')})`);
      }
    }
    for (const info of expected) {
      const v = feeds[info.name];
      if (v === undefined) throw new InputError(info.name, 'missing');
      const dtype = dtypeFromProto(info.dtype, info.name);
      const shape = shapeOf(info);
      out.set(info.name, toTensor(info.name, v, dtype, shape));
    }
    return out;
  }

  async run(feeds: Readonly<Record<string, InputValue>>, opts: RunOptions = {}): Promise<Record<string, Tensor>> {
    if (this.closed) throw new ClosedError(`model ${this.name}`);
    const t0 = performance.now();
    const values = this.normalizeInputs(feeds);
    const read = (name: string): Tensor => {
      const v = values.get(name) ?? this.constants.get(name);
      if (!v) throw new ModelLoadError(this.name, `value ${name} is used before it is computed`);
      return v;
    };
    const profile: InferenceProfile = { deviceRuns: 0, hostToDeviceBytes: 0, deviceToHostBytes: 0, wallMs: 0, deviceMs: 0, layers: [], counters: {} };
    for (const a of this.actions) {
      switch (a.kind) {
        case 'cpu': {
          const op = a.op;
          const kernel = kernelFor(op.op);
          if (!kernel) throw new ModelLoadError(this.name, `no CPU kernel for ${op.op} (node ${op.name})`);
          const info = op.outputInfo!;
          const type = { shape: shapeOf(info), dtype: dtypeFromProto(info.dtype, op.output) };
          values.set(op.output, kernel(op.inputs.map(read), attrsFromProto(op.attrs), type, op.op));
          break;
        }
        case 'gather': {
          const g = a.gather;
          const x = read(g.source);
          if (x.size !== g.sourceSize) throw new ModelLoadError(this.name, `value ${g.source} holds ${x.size} elements; the operators ${g.ops.join(', ')} after it expect ${g.sourceSize}`);
          values.set(g.output, applyGather(g, x));
          break;
        }
        case 'toDevice': {
          const bytes = tensorBytes(read(a.copy.value));
          await this.driver.write(this.buffers.get(a.copy.bufferId)!.addr, bytes);
          profile.hostToDeviceBytes += bytes.length;
          break;
        }
        case 'fromDevice': {
          const info = a.copy.info!;
          const size = sizeOf(shapeOf(info)) * bytesPerElement(dtypeFromProto(info.dtype, info.name));
          const bytes = await this.driver.read(this.buffers.get(a.copy.bufferId)!.addr, size);
          values.set(a.copy.value, tensorFromBytes(info, bytes));
          profile.deviceToHostBytes += bytes.length;
          break;
        }
        case 'run': {
          const r = this.runs[a.run]!;
          const started = performance.now();
          const result = await this.driver.run(r.insnAddr, r.plan.insns.length, { timeoutMs: opts.timeoutMs ?? this.timeoutMs });
          profile.deviceMs += performance.now() - started;
          profile.deviceRuns++;
          for (const [k, v] of Object.entries(result.counters)) profile.counters[k] = (profile.counters[k] ?? 0) + v;
          profile.layers.push(...layerProfiles(r.plan.layers, result.insnCycles));
          break;
        }
      }
    }
    if (profile.counters.cycles !== undefined) profile.cycles = profile.counters.cycles;
    const outputs: Record<string, Tensor> = {};
    for (const o of this.model.outputs) outputs[o.name] = read(o.name);
    profile.wallMs = performance.now() - t0;
    this.last = profile;
    return outputs;
  }

  /** The profile of the last inference (null before the first). */
  profile(): InferenceProfile | null {
    return this.last;
  }

  /** Instructions of each device run, for tools (disassembly, traces). */
  deviceRuns(): readonly DeviceRun[] {
    return this.runs.map((r) => r.plan);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.release();
  }
}

function layerProfiles(layers: readonly LayerSpan[], insnCycles?: ArrayLike<number>): LayerProfile[] {
  let prevEnd = 0;
  return layers.map((l) => {
    const p: LayerProfile = { name: l.name, op: l.op, macs: l.macs, bytes: l.bytes, uopCacheHits: l.uopCacheHits };
    if (insnCycles && l.end > l.first) {
      let done = 0;
      for (let i = l.first; i < l.end; i++) done = Math.max(done, insnCycles[i]!);
      p.cycles = Math.max(0, done - prevEnd);
      prevEnd = Math.max(prevEnd, done);
    }
    return p;
  });
}

function toTensor(name: string, v: InputValue, dtype: DType, shape: number[]): Tensor {
  const want = `${dtype} ${formatShape(shape)}`;
  if (v instanceof Tensor) {
    if (v.dtype !== dtype) throw new InputError(name, `dtype ${v.dtype}, the model expects ${want}`);
    if (v.shape.length !== shape.length || v.shape.some((d, i) => d !== shape[i])) {
      throw new InputError(name, `shape ${formatShape(v.shape)}, the model expects ${want}`);
    }
    return v;
  }
  const isArray = ArrayBuffer.isView(v);
  const data = isArray ? (v as ArrayLike<number>) : (v as { data: ArrayLike<number> }).data;
  const given = isArray ? null : (v as { shape: readonly number[] }).shape;
  const typed =
    data instanceof Float32Array ? 'float32' : data instanceof Int8Array ? 'int8' : data instanceof Uint8Array ? 'uint8' : data instanceof Int32Array ? 'int32' : null;
  if (typed !== null && typed !== dtype) throw new InputError(name, `a ${typed} array, the model expects ${want}`);
  if (given && (given.length !== shape.length || given.some((d, i) => d !== shape[i]))) {
    throw new InputError(name, `shape ${formatShape(given)}, the model expects ${want}`);
  }
  if (data.length !== sizeOf(shape)) throw new InputError(name, `${data.length} elements, the model expects ${want} (${sizeOf(shape)} elements)`);
  try {
    return Tensor.from(dtype, shape, data);
  } catch (e) {
    throw new InputError(name, (e as VtaError).message);
  }
}

