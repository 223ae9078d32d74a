/**
 * Batch synchronization: the instruction streams of consecutive VTA layers are joined into one
 * device run, ended by a single synchronization (VTA's Synchronize: the last load and store push a
 * token that FINISH pops). Because every layer's stream starts and ends with balanced tokens, the
 * join needs no other change. A run is split only where it would overflow the instruction staging
 * limit (VTA's MAX_XFER rule), always at a layer boundary.
 *
 * Between two layers the runtime puts a barrier (store -> compute -> load tokens on flag-only
 * instructions): a layer reads what the previous one stored through DRAM, which no token inside a
 * layer orders, and its loads and computes overwrite SRAM the previous layer may still be reading.
 *
 * The micro-op cache persists across the layers of a run: a LOAD UOP that would write exactly the
 * words the uop buffer already holds becomes a no-op that keeps its dependency flags.
 */
import { elemBytes, type VtaConfig } from '../isa/config.ts';
import { decodeProgram } from '../isa/codec.ts';
import { NO_DEPS, type Insn, type MemInsn } from '../isa/types.ts';
import type { VtaLayer } from '../compiler/artifact/format.ts';
import { ModelLoadError } from './errors.ts';

/** VTA's staging limit for one run's instructions, in bytes (driver.h uses 1<<25; environment.py 1<<22). */
export const MAX_XFER = 1 << 22;

export interface LayerSpan {
  name: string;
  op: string;
  /** Instruction range [first, end) of the layer in its run. */
  first: number;
  end: number;
  macs: number;
  /** Bytes the layer's instructions move, by memory type (loads) and `OUT` (stores). */
  bytes: Record<string, number>;
  uopCacheHits: number;
}

export interface DeviceRun {
  insns: Insn[];
  layers: LayerSpan[];
  uopCacheHits: number;
}

export interface BatchContext {
  cfg: VtaConfig;
  model: string;
  /** Device byte address of a buffer. */
  bufferAddress(id: number): number;
  /** The initial contents of device memory at a byte address (for micro-op tables), or undefined. */
  initialBytes(addr: number, length: number): Uint8Array | undefined;
  maxInsnsPerRun?: number;
}

const NOP_FIELDS = { sram_base: 0, dram_base: 0, y_size: 0, x_size: 0, x_stride: 0, y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0 };

/** Every store done before compute goes on, and compute caught up before the next load. */
function layerBarrier(): Insn[] {
  const nop = NOP_FIELDS;
  return [
    { ...NO_DEPS, ...nop, opcode: 'STORE', memory_type: 'OUT', push_prev_dep: 1 },
    { ...NO_DEPS, ...nop, opcode: 'LOAD', memory_type: 'UOP', pop_next_dep: 1, push_prev_dep: 1 },
    { ...NO_DEPS, ...nop, opcode: 'LOAD', memory_type: 'INP', pop_next_dep: 1 },
  ];
}
const BARRIER_LENGTH = layerBarrier().length;

/** The closing synchronization: loads and stores signal compute, and FINISH waits for both. */
function closingSync(): Insn[] {
  const nop = NOP_FIELDS;
  return [
    { ...NO_DEPS, ...nop, opcode: 'LOAD', memory_type: 'INP', push_next_dep: 1 },
    { ...NO_DEPS, ...nop, opcode: 'STORE', memory_type: 'OUT', push_prev_dep: 1 },
    { ...NO_DEPS, opcode: 'FINISH', pop_prev_dep: 1, pop_next_dep: 1 },
  ];
}
const CLOSING_LENGTH = closingSync().length;

/** Decodes a layer's stream and applies its relocations. */
export function relocateLayer(ctx: BatchContext, layer: VtaLayer): Insn[] {
  const insns = decodeProgram(ctx.cfg, layer.insns);
  for (const r of layer.relocations) {
    const insn = insns[r.insn];
    if (!insn || (insn.opcode !== 'LOAD' && insn.opcode !== 'STORE')) {
      throw new ModelLoadError(ctx.model, `layer ${layer.name}: relocation of instruction ${r.insn}, which is not a LOAD or STORE`);
    }
    const eb = elemBytes(ctx.cfg, insn.memory_type);
    const base = ctx.bufferAddress(r.bufferId);
    if (base % eb !== 0) {
      throw new ModelLoadError(ctx.model, `layer ${layer.name}: buffer ${r.bufferId} at byte ${base} is not aligned to ${insn.memory_type} elements (${eb} B)`);
    }
    insn.dram_base += base / eb;
  }
  return insns;
}

function layerBytes(cfg: VtaConfig, insns: readonly Insn[]): Record<string, number> {
  const bytes: Record<string, number> = {};
  for (const i of insns) {
    if ((i.opcode === 'LOAD' || i.opcode === 'STORE') && i.x_size > 0) {
      bytes[i.memory_type] = (bytes[i.memory_type] ?? 0) + i.x_size * i.y_size * elemBytes(cfg, i.memory_type);
    }
  }
  return bytes;
}

/** Tracks the uop buffer's words through a run to turn repeated micro-op loads into no-ops. */
class UopCache {
  private readonly words: (number | undefined)[];
  constructor(depth: number) {
    this.words = new Array<number | undefined>(depth);
  }

  /** True when the load would write what is already there; otherwise records the new contents. */
  load(ctx: BatchContext, insn: MemInsn): boolean {
    const count = insn.x_size * insn.y_size;
    const data = insn.y_size === 1 ? ctx.initialBytes(insn.dram_base * 4, count * 4) : undefined;
    if (!data) {
      // Contents unknown at load time (2-D or written by the program): forget the range.
      for (let k = 0; k < (insn.x_pad_0 + insn.x_size + insn.x_pad_1) * insn.y_size; k++) this.words[insn.sram_base + k] = undefined;
      return false;
    }
    // A fresh copy: on a Node Buffer (a model read from a file) slice() is a view into a shared pool.
    const w = new Uint32Array(new Uint8Array(data).buffer);
    let same = true;
    for (let k = 0; k < count; k++) if (this.words[insn.sram_base + k] !== w[k]) same = false;
    if (!same) for (let k = 0; k < count; k++) this.words[insn.sram_base + k] = w[k];
    return same;
  }
}

/** Joins consecutive layers into device runs. */
export function planRuns(ctx: BatchContext, layers: readonly VtaLayer[]): DeviceRun[] {
  const maxInsns = ctx.maxInsnsPerRun ?? MAX_XFER / 16;
  const runs: DeviceRun[] = [];
  let current: DeviceRun | null = null;
  let cache = new UopCache(ctx.cfg.UOP_DEPTH);
  for (const layer of layers) {
    const insns = relocateLayer(ctx, layer);
    if (insns.length + CLOSING_LENGTH + BARRIER_LENGTH > maxInsns) {
      throw new ModelLoadError(ctx.model, `layer ${layer.name} has ${insns.length} instructions, more than one device run holds (${maxInsns - CLOSING_LENGTH - BARRIER_LENGTH})`);
    }
    if (!current || current.insns.length + BARRIER_LENGTH + insns.length + CLOSING_LENGTH > maxInsns) {
      if (current) current.insns.push(...closingSync());
      current = { insns: [], layers: [], uopCacheHits: 0 };
      runs.push(current);
      cache = new UopCache(ctx.cfg.UOP_DEPTH);
    }
    let hits = 0;
    for (let k = 0; k < insns.length; k++) {
      const insn = insns[k]!;
      if (insn.opcode === 'LOAD' && insn.memory_type === 'UOP' && insn.x_size > 0 && cache.load(ctx, insn)) {
        insns[k] = { ...insn, x_size: 0, y_size: 0, x_stride: 0, dram_base: 0, sram_base: 0 };
        hits++;
      }
    }
    if (current.layers.length > 0) current.insns.push(...layerBarrier());
    const first = current.insns.length;
    current.insns.push(...insns);
    current.layers.push({
      name: layer.name,
      op: layer.op,
      first,
      end: current.insns.length,
      macs: Number(layer.macs),
      bytes: layerBytes(ctx.cfg, insns),
      uopCacheHits: hits,
    });
    current.uopCacheHits += hits;
  }
  if (current) current.insns.push(...closingSync());
  return runs;
}
