/**
 * From a placed graph to a compiled model: every VTA kernel group becomes a lowered layer
 * (instructions, micro-ops, packed weights, per-channel and per-element constants in device buffers), every
 * device_copy a copy step, every other node a CPU operator. Values that live on the device get one
 * activation buffer each, so a layer never overwrites what a later layer of the same run reads.
 *
 * A channel concatenation on VTA emits nothing: its inputs' producers write their slices of its
 * buffer (relocations with an offset).
 *
 * A group the lowering refuses (a LowerError: a shape or an epilogue it cannot express) runs on the
 * CPU instead, on the same packed tensors, with copies where its inputs and output cross to and from
 * the device; the result says which groups and why, so a model always compiles.
 */
import { create } from '@bufbuild/protobuf';
import type { VtaConfig } from '../isa/config.ts';
import { configJson, elemBytes } from '../isa/config.ts';
import { encodeProgram } from '../isa/codec.ts';
import { VtaError } from '../isa/errors.ts';
import {
  CpuOpSchema,
  DeviceBufferSchema,
  DeviceCopySchema,
  RelocationSchema,
  StepSchema,
  VtaLayerSchema,
  newModel,
  type CompiledModel,
  type DeviceBuffer,
  type Step,
  type TensorData,
} from './artifact/format.ts';
import { attrsToProto, tensorToData, valueInfo } from './artifact/values.ts';
import { topoOrder, type Call, type IRFunction, type Value } from './ir/graph.ts';
import {
  layerMacs,
  LowerError,
  lowerLayer,
  packChannelVectors,
  packEpilogueTensors,
  packWeights,
  uopBytes,
  type BufferName,
  type Conv2dLayer,
  type DenseLayer,
  type Layer,
  type LowerOptions,
  type ScheduledLayer,
} from './lower/index.ts';
import type { VtaKernelGroup } from './passes/fuse.ts';
import { groupToLayer } from './group-layer.ts';
import { sizeOf } from './tensor/tensor.ts';
import { bytesPerElement } from './tensor/dtype.ts';

export class EmitError extends VtaError {
  constructor(message: string) {
    super('VTA_EMIT', message);
  }
}

export interface EmittedLayer {
  name: string;
  /** The IR node the group is anchored on (the ONNX node name, when it has one). */
  source: string;
  layer: Layer;
  scheduled: ScheduledLayer;
  instructions: number;
  uops: number;
  macs: number;
}

/** An op the emitted model runs on the CPU; `fallback` says why when the placement had put it on VTA. */
export interface CpuOpInfo {
  op: string;
  name: string;
  fallback?: string;
}

/** A kernel group the placement put on VTA that the lowering cannot run: it runs on the CPU instead. */
export interface FallbackGroup {
  anchor: string;
  source: string;
  reason: string;
}

export interface EmitResult {
  model: CompiledModel;
  layers: EmittedLayer[];
  cpuOps: CpuOpInfo[];
  /** Copy steps between host and device in the emitted model. */
  copies: number;
  fallbacks: FallbackGroup[];
}

export interface EmitOptions {
  target: string;
  source: string;
  /** Names of the function's results (the ONNX output names), in order. */
  outputNames?: readonly string[];
  lower?: LowerOptions;
  /** Called after each VTA layer is lowered: (done, total, name). */
  onLayer?: (done: number, total: number, name: string) => void;
}

interface LoweredGroup {
  group: VtaKernelGroup;
  name: string;
  layer: Layer;
  scheduled: ScheduledLayer;
  weights?: Int8Array;
  weightInput?: Value;
  residual?: Value;
}

const describeCall = (c: Call): string => c.name || c.op;

export function emitModel(cfg: VtaConfig, fn: IRFunction, groups: readonly VtaKernelGroup[], opts: EmitOptions): EmitResult {
  const names = new Map<Value, string>();
  const taken = new Set<string>();
  let counter = 0;
  // Passes make constants that share a name (one per immediate), so each value gets its own.
  const nameOf = (v: Value): string => {
    let n = names.get(v);
    if (n === undefined) {
      n = v.kind === 'var' ? v.name : v.kind === 'constant' ? `const:${v.name}` : `%${counter++}`;
      if (taken.has(n)) n = `${n}#${counter++}`;
      names.set(v, n);
      taken.add(n);
    }
    return n;
  };
  fn.params.forEach(nameOf);
  fn.results.forEach((r, i) => {
    const n = opts.outputNames?.[i];
    if (n !== undefined && r.kind === 'call' && !names.has(r) && !taken.has(n)) {
      names.set(r, n);
      taken.add(n);
    }
  });

  const order = topoOrder(fn);
  const readers = new Map<Value, Call[]>();
  for (const c of order) for (const a of c.args) (readers.get(a) ?? readers.set(a, []).get(a)!).push(c);

  // Lower every group first, in execution order; a group the lowering refuses runs on the CPU.
  const groupOf = new Map<Call, LoweredGroup>();
  const fallbackCalls = new Map<Call, string>();
  const fallbacks: FallbackGroup[] = [];
  const position = new Map(order.map((c, i) => [c, i]));
  const sorted = [...groups].sort((a, b) => position.get(a.output)! - position.get(b.output)!);
  let lowered = 0;
  for (const g of sorted) {
    const name = `layer${lowered}`;
    try {
      const { layer, weights, weightInput, residual } = groupToLayer(cfg, g, name);
      const scheduled = lowerLayer(cfg, layer, opts.lower);
      const entry: LoweredGroup = { group: g, name, layer, scheduled, weights, weightInput, residual };
      for (const c of g.calls) groupOf.set(c, entry);
      lowered++;
    } catch (e) {
      if (!(e instanceof LowerError)) throw e;
      const reason = e.message.startsWith(`${name}: `) ? e.message.slice(name.length + 2) : e.message;
      fallbacks.push({ anchor: g.anchor, source: describeCall(g.anchorCall), reason });
      for (const c of g.calls) fallbackCalls.set(c, `its ${g.anchor} group (${describeCall(g.anchorCall)}) cannot be lowered: ${reason}`);
    }
    opts.onLayer?.(lowered + fallbacks.length, sorted.length, describeCall(g.anchorCall));
  }

  /** Where a value is produced: on the device (a lowered group or a copy to VTA) or on the host. */
  const onDevice = (v: Value): boolean => v.kind === 'call' && v.device === 'vta' && !fallbackCalls.has(v);
  // A flatten placed on VTA is addressing: its buffer is its input's, unless that input ended up on the host.
  const isAlias = (c: Call): boolean => c.op === 'reshape' && c.device === 'vta';
  for (const c of order) if (isAlias(c) && !onDevice(c.args[0]!)) fallbackCalls.set(c, 'its input was computed on the host');

  // Concatenations on VTA are addresses: each input is the slice of the result its producer writes
  // (bytes from the start). One whose input is not made on the device, or is read by a group that
  // fell back to the CPU (which would copy the slice), runs on the CPU instead.
  const slices = new Map<Value, { of: Call; offset: number }>();
  for (const c of order) {
    if (c.op !== 'concatenate' || c.device !== 'vta') continue;
    const bad = c.args.find((a) => !onDevice(a) || (readers.get(a) ?? []).some((r) => r !== c && fallbackCalls.has(r)));
    if (bad) {
      const reason = `its input ${describeCall(bad as Call)} is on the CPU or read there`;
      fallbacks.push({ anchor: 'concatenate', source: describeCall(c), reason });
      fallbackCalls.set(c, `the concatenation ${describeCall(c)} cannot be done by addressing: ${reason}`);
      continue;
    }
    let offset = 0;
    for (const a of c.args) {
      slices.set(a, { of: c, offset });
      offset += sizeOf(a.type.shape) * bytesPerElement(a.type.dtype);
    }
  }

  const buffers: DeviceBuffer[] = [];
  const deviceBuffer = new Map<Value, number>();
  const newBuffer = (name: string, bytes: number, kind: string, data?: Uint8Array): number => {
    const id = buffers.length;
    buffers.push(create(DeviceBufferSchema, { id, name, bytes: BigInt(Math.max(bytes, 1)), kind, data: data ?? new Uint8Array() }));
    return id;
  };
  const activationBuffer = (v: Value): number => {
    if (slices.has(v)) throw new EmitError(`${nameOf(v)} is a slice of a concatenation and has no buffer of its own`);
    let id = deviceBuffer.get(v);
    if (id === undefined) {
      id = newBuffer(nameOf(v), sizeOf(v.type.shape) * bytesPerElement(v.type.dtype), 'activation');
      deviceBuffer.set(v, id);
    }
    return id;
  };

  /** The buffer holding a device value and the byte offset of the value in it. */
  const slot = (v: Value): { id: number; offset: number } => {
    const s = slices.get(v);
    if (!s) return { id: activationBuffer(v), offset: 0 };
    const outer = slot(s.of);
    return { id: outer.id, offset: outer.offset + s.offset };
  };

  const steps: Step[] = [];
  const constants = new Map<string, TensorData>();
  const layers: EmittedLayer[] = [];
  const cpuOps: CpuOpInfo[] = [];
  let copies = 0;

  const copyStep = (toDevice: boolean, hostName: string, deviceValue: Value): void => {
    copies++;
    steps.push(
      create(StepSchema, {
        kind: {
          case: 'copy',
          value: create(DeviceCopySchema, {
            toDevice,
            value: hostName,
            bufferId: activationBuffer(deviceValue),
            info: valueInfo(hostName, deviceValue.type.shape, deviceValue.type.dtype),
          }),
        },
      }),
    );
  };
  const cpuStep = (c: Call, inputs: string[], output: string): void => {
    steps.push(
      create(StepSchema, {
        kind: {
          case: 'cpu',
          value: create(CpuOpSchema, {
            op: c.op,
            name: c.name ?? '',
            inputs,
            output,
            attrs: attrsToProto(c.attrs),
            outputInfo: valueInfo(output, c.type.shape, c.type.dtype),
          }),
        },
      }),
    );
  };

  // The name under which the host holds a value, copying it back from the device the first time.
  const hostNames = new Map<Value, string>();
  const onHost = (v: Value): string => {
    const known = hostNames.get(v);
    if (known !== undefined) return known;
    let n: string;
    if (v.kind === 'constant') {
      n = nameOf(v);
      if (!constants.has(n)) constants.set(n, tensorToData(n, v.value));
    } else if (v.kind === 'call' && v.op === 'device_copy' && v.attrs['dst_device'] === 'vta') {
      n = onHost(v.args[0]!);
    } else if (onDevice(v)) {
      n = `${nameOf(v)}@host`;
      copyStep(false, n, v);
    } else {
      n = nameOf(v);
    }
    hostNames.set(v, n);
    return n;
  };

  for (const c of order) {
    const g = groupOf.get(c);
    if (g) {
      if (c === g.group.output) steps.push(emitGroup(g));
      continue;
    }
    if (c.op === 'device_copy') {
      const toDevice = c.attrs['dst_device'] === 'vta';
      if (toDevice) {
        // Copied only when a lowered layer reads it; CPU fallbacks read the host value itself.
        if ((readers.get(c) ?? []).some(onDevice)) copyStep(true, onHost(c.args[0]!), c);
      } else {
        const src = c.args[0]!;
        if (onDevice(src) && !hostNames.has(src)) {
          copyStep(false, nameOf(c), src);
          hostNames.set(src, nameOf(c));
        } else {
          // Already on the host (its group fell back to the CPU, or a fallback read it): a rename.
          cpuStep(c, [onHost(src)], nameOf(c));
        }
      }
      continue;
    }
    const fallback = fallbackCalls.get(c);
    if (c.op === 'concatenate' && c.device === 'vta' && fallback === undefined) continue;
    if (isAlias(c) && fallback === undefined) {
      deviceBuffer.set(c, activationBuffer(c.args[0]!));
      continue;
    }
    if (c.device === 'vta' && fallback === undefined) throw new EmitError(`${c.op}${c.name ? ` (${c.name})` : ''} is placed on VTA but belongs to no kernel group the lowering can run`);
    cpuOps.push({ op: c.op, name: c.name ?? '', ...(fallback !== undefined ? { fallback } : {}) });
    cpuStep(c, c.args.map(onHost), nameOf(c));
    if (fallback !== undefined && (readers.get(c) ?? []).some((r) => onDevice(r) && r.op !== 'device_copy')) copyStep(true, nameOf(c), c);
  }

  function emitGroup(g: LoweredGroup): Step {
    const { layer, weights, residual, scheduled, name } = g;
    const lowered = scheduled.lowered;
    const input = slot(g.group.data);
    const output = slot(g.group.output);
    const ids: Partial<Record<BufferName, number>> = { input: input.id, output: output.id };
    // Byte offsets of activations that are slices of a concatenation's buffer.
    const offsets: Partial<Record<BufferName, number>> = { input: input.offset, output: output.offset };
    if (residual) {
      const r = slot(residual);
      ids.residual = r.id;
      offsets.residual = r.offset;
    }
    if (lowered.buffers.weights !== undefined && g.weightInput) {
      ids.weights = activationBuffer(g.weightInput);
    } else if (lowered.buffers.weights !== undefined) {
      if (!weights) throw new EmitError(`${name}: the lowered ${layer.kind} reads weights the group does not have`);
      const packed = packWeights(cfg, layer as Conv2dLayer | DenseLayer, weights);
      ids.weights = newBuffer(`${name}.weights`, packed.length, 'weights', new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength));
    }
    if (lowered.buffers.bias !== undefined) {
      const vec = packChannelVectors(cfg, layer);
      ids.bias = newBuffer(`${name}.bias`, vec.byteLength, 'bias', new Uint8Array(vec.buffer, vec.byteOffset, vec.byteLength));
    }
    if (lowered.buffers.tensor !== undefined) {
      const t = packEpilogueTensors(cfg, layer);
      ids.tensor = newBuffer(`${name}.tensor`, t.byteLength, 'tensor', new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
    }
    if (lowered.buffers.uops !== undefined) {
      const u = uopBytes(cfg, lowered);
      ids.uops = newBuffer(`${name}.uops`, u.length, 'uops', u);
    }
    for (const [buf, bytes] of Object.entries(lowered.buffers) as [BufferName, number][]) {
      const id = ids[buf];
      if (id === undefined) throw new EmitError(`${name}: the lowered layer uses a '${buf}' buffer the group does not provide`);
      const at = offsets[buf] ?? 0;
      if (Number(buffers[id]!.bytes) < at + bytes) throw new EmitError(`${name}: buffer '${buf}' holds ${buffers[id]!.bytes} bytes, the layer reads ${bytes} from byte ${at}`);
    }
    // Instructions are stored with dram_base relative to their buffer; the loader adds the base.
    const insns = lowered.insns.map((i) => ({ ...i }));
    const relocations = lowered.relocs.map((r) => {
      const insn = insns[r.index]!;
      if (insn.opcode !== 'LOAD' && insn.opcode !== 'STORE') throw new EmitError(`${name}: relocation of a ${insn.opcode}`);
      const at = offsets[r.buffer] ?? 0;
      const unit = elemBytes(cfg, insn.memory_type);
      if (at % unit !== 0) throw new EmitError(`${name}: a slice at byte ${at} of buffer '${r.buffer}' is not aligned to ${insn.memory_type} elements`);
      insn.dram_base = r.offset + at / unit;
      return create(RelocationSchema, { insn: r.index, bufferId: ids[r.buffer]! });
    });
    const macs = layerMacs(layer);
    layers.push({ name, source: describeCall(g.group.anchorCall), layer, scheduled, instructions: insns.length, uops: lowered.uops.length, macs });
    return create(StepSchema, {
      kind: {
        case: 'vta',
        value: create(VtaLayerSchema, {
          name,
          op: layer.kind,
          insns: encodeProgram(cfg, insns),
          relocations,
          reads: [ids.input!, ...(ids.residual !== undefined ? [ids.residual] : []), ...(ids.weights !== undefined ? [ids.weights] : [])],
          writes: [ids.output!],
          macs: BigInt(macs),
          estimatedCycles: BigInt(scheduled.cycles ?? 0),
        }),
      },
    });
  }

  const inputs = fn.params.map((p) => valueInfo(p.name, p.type.shape, p.type.dtype));
  const outputs = fn.results.map((r) => valueInfo(nameOf(r), r.type.shape, r.type.dtype));
  const model = newModel({
    configFingerprint: cfg.fingerprint,
    configJson: JSON.stringify(configJson(cfg)),
    target: opts.target,
    source: opts.source,
    inputs,
    outputs,
    constants: [...constants.values()],
    steps,
    buffers,
  });
  return { model, layers, cpuOps, copies, fallbacks };
}
