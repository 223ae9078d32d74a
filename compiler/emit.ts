/**
 * From a placed graph to a compiled model: every VTA kernel group becomes a lowered layer
 * (instructions, micro-ops, packed weights and per-channel constants in device buffers), every
 * device_copy a copy step, every other node a CPU operator. Values that live on the device get one
 * activation buffer each, so a layer never overwrites what a later layer of the same run reads.
 */
import { create } from '@bufbuild/protobuf';
import type { VtaConfig } from '../isa/config.ts';
import { configJson } from '../isa/config.ts';
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
  lowerLayer,
  packChannelVectors,
  packWeights,
  uopBytes,
  type BufferName,
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
  layer: Layer;
  scheduled: ScheduledLayer;
  instructions: number;
  uops: number;
  macs: number;
}

export interface EmitResult {
  model: CompiledModel;
  layers: EmittedLayer[];
  cpuOps: string[];
  copies: number;
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

export function emitModel(cfg: VtaConfig, fn: IRFunction, groups: readonly VtaKernelGroup[], opts: EmitOptions): EmitResult {
  const names = new Map<Value, string>();
  let counter = 0;
  const nameOf = (v: Value): string => {
    let n = names.get(v);
    if (n === undefined) {
      n = v.kind === 'var' ? v.name : v.kind === 'constant' ? `const:${v.name}` : `%${counter++}`;
      names.set(v, n);
    }
    return n;
  };
  fn.params.forEach(nameOf);
  fn.results.forEach((r, i) => {
    const n = opts.outputNames?.[i];
    if (n !== undefined && r.kind === 'call' && !names.has(r)) names.set(r, n);
  });

  const groupOf = new Map<Call, VtaKernelGroup>();
  for (const g of groups) for (const c of g.calls) groupOf.set(c, g);

  const buffers: DeviceBuffer[] = [];
  const deviceBuffer = new Map<Value, number>();
  const newBuffer = (name: string, bytes: number, kind: string, data?: Uint8Array): number => {
    const id = buffers.length;
    buffers.push(create(DeviceBufferSchema, { id, name, bytes: BigInt(Math.max(bytes, 1)), kind, data: data ?? new Uint8Array() }));
    return id;
  };
  const activationBuffer = (v: Value): number => {
    let id = deviceBuffer.get(v);
    if (id === undefined) {
      id = newBuffer(nameOf(v), sizeOf(v.type.shape) * bytesPerElement(v.type.dtype), 'activation');
      deviceBuffer.set(v, id);
    }
    return id;
  };

  const steps: Step[] = [];
  const constants = new Map<string, TensorData>();
  const layers: EmittedLayer[] = [];
  const cpuOps: string[] = [];
  let copies = 0;
  const total = groups.length;

  for (const c of topoOrder(fn)) {
    const g = groupOf.get(c);
    if (g) {
      if (c === g.output) steps.push(emitGroup(g));
      continue;
    }
    if (c.op === 'device_copy') {
      copies++;
      const toDevice = c.attrs['dst_device'] === 'vta';
      const hostValue = toDevice ? c.args[0]! : c;
      const deviceValue = toDevice ? c : c.args[0]!;
      steps.push(
        create(StepSchema, {
          kind: {
            case: 'copy',
            value: create(DeviceCopySchema, {
              toDevice,
              value: nameOf(hostValue),
              bufferId: activationBuffer(deviceValue),
              info: valueInfo(nameOf(hostValue), hostValue.type.shape, hostValue.type.dtype),
            }),
          },
        }),
      );
      continue;
    }
    if (c.device === 'vta') throw new EmitError(`${c.op}${c.name ? ` (${c.name})` : ''} is placed on VTA but belongs to no kernel group the lowering can run`);
    for (const a of c.args) if (a.kind === 'constant' && !constants.has(nameOf(a))) constants.set(nameOf(a), tensorToData(nameOf(a), a.value));
    cpuOps.push(c.op);
    steps.push(
      create(StepSchema, {
        kind: {
          case: 'cpu',
          value: create(CpuOpSchema, {
            op: c.op,
            name: c.name ?? '',
            inputs: c.args.map(nameOf),
            output: nameOf(c),
            attrs: attrsToProto(c.attrs),
            outputInfo: valueInfo(nameOf(c), c.type.shape, c.type.dtype),
          }),
        },
      }),
    );
  }

  function emitGroup(g: VtaKernelGroup): Step {
    const { layer, weights, residual } = groupToLayer(cfg, g, `layer${layers.length}`);
    const scheduled = lowerLayer(cfg, layer, opts.lower);
    const lowered = scheduled.lowered;
    const ids: Partial<Record<BufferName, number>> = {
      input: activationBuffer(g.data),
      output: activationBuffer(g.output),
    };
    if (residual) ids.residual = activationBuffer(residual);
    const name = layer.name;
    if (lowered.buffers.weights !== undefined) {
      if (!weights) throw new EmitError(`${name}: the lowered ${layer.kind} reads weights the group does not have`);
      const packed = packWeights(cfg, layer as never, weights);
      ids.weights = newBuffer(`${name}.weights`, packed.length, 'weights', new Uint8Array(packed.buffer, packed.byteOffset, packed.byteLength));
    }
    if (lowered.buffers.bias !== undefined) {
      const vec = packChannelVectors(cfg, layer);
      ids.bias = newBuffer(`${name}.bias`, vec.byteLength, 'bias', new Uint8Array(vec.buffer, vec.byteOffset, vec.byteLength));
    }
    if (lowered.buffers.uops !== undefined) {
      const u = uopBytes(cfg, lowered);
      ids.uops = newBuffer(`${name}.uops`, u.length, 'uops', u);
    }
    for (const [buf, bytes] of Object.entries(lowered.buffers) as [BufferName, number][]) {
      const id = ids[buf];
      if (id === undefined) throw new EmitError(`${name}: the lowered layer uses a '${buf}' buffer the group does not provide`);
      if (Number(buffers[id]!.bytes) < bytes) throw new EmitError(`${name}: buffer '${buf}' holds ${buffers[id]!.bytes} bytes, the layer reads ${bytes}`);
    }
    // Instructions are stored with dram_base relative to their buffer; the loader adds the base.
    const insns = lowered.insns.map((i) => ({ ...i }));
    const relocations = lowered.relocs.map((r) => {
      const insn = insns[r.index]!;
      if (insn.opcode !== 'LOAD' && insn.opcode !== 'STORE') throw new EmitError(`${name}: relocation of a ${insn.opcode}`);
      insn.dram_base = r.offset;
      return create(RelocationSchema, { insn: r.index, bufferId: ids[r.buffer]! });
    });
    const macs = layerMacs(layer);
    layers.push({ name, layer, scheduled, instructions: insns.length, uops: lowered.uops.length, macs });
    opts.onLayer?.(layers.length, total, name);
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
  return { model, layers, cpuOps, copies };
}
