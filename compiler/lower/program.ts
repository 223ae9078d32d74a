/**
 * A lowered layer: its instruction stream (no FINISH; tokens balanced, so streams concatenate), its
 * micro-op table, the DRAM buffers it refers to with their sizes, and one relocation per instruction
 * that touches DRAM. `relocate` patches dram_base for the addresses a loader picked.
 */
import { elemBytes, type VtaConfig } from '../../isa/config.ts';
import { encodeUops } from '../../isa/codec.ts';
import type { Insn, MemInsn, Uop } from '../../isa/types.ts';
import { LowerError, type Layer } from './layers.ts';
import type { BufferName, Reloc } from './queue.ts';

export interface LoweredLayer {
  layer: Layer;
  insns: Insn[];
  uops: Uop[];
  relocs: Reloc[];
  /** Bytes of every buffer the stream refers to (uops included). */
  buffers: Partial<Record<BufferName, number>>;
  /** Description of the tiling used, for reports. */
  tiling: string;
}

/** DRAM byte alignment each buffer's base needs: the largest element it is addressed in. */
export function bufferAlign(cfg: VtaConfig, name: BufferName): number {
  switch (name) {
    case 'weights':
      return cfg.WGT_ELEM_BYTES;
    case 'bias':
    case 'tensor':
      return cfg.ACC_ELEM_BYTES;
    case 'uops':
      return cfg.UOP_ELEM_BYTES;
    default:
      return Math.max(cfg.INP_ELEM_BYTES, cfg.OUT_ELEM_BYTES);
  }
}

/** The micro-op table as bytes, to be placed at the `uops` buffer's address. */
export function uopBytes(cfg: VtaConfig, lowered: LoweredLayer): Uint8Array {
  return encodeUops(cfg, lowered.uops);
}

/**
 * A copy of the stream with every DRAM reference pointing at `bases` (byte addresses, aligned as
 * `bufferAlign` says). Throws LowerError when a buffer the stream uses has no base or a bad one.
 */
export function relocate(cfg: VtaConfig, lowered: LoweredLayer, bases: Partial<Record<BufferName, number>>): Insn[] {
  const out = lowered.insns.map((i) => ({ ...i }));
  for (const r of lowered.relocs) {
    const insn = out[r.index] as MemInsn;
    const base = bases[r.buffer];
    if (base === undefined) throw new LowerError(lowered.layer.name, `no address given for buffer '${r.buffer}'`);
    const eb = elemBytes(cfg, insn.memory_type);
    if (base % eb !== 0) {
      throw new LowerError(lowered.layer.name, `buffer '${r.buffer}' at byte ${base} is not aligned to its ${eb}-byte ${insn.memory_type} elements`);
    }
    insn.dram_base = base / eb + r.offset;
  }
  return out;
}

/** Places every buffer of a layer one after another from `start`: the bases and the end address. */
export function placeBuffers(cfg: VtaConfig, lowered: LoweredLayer, start = 0): { bases: Partial<Record<BufferName, number>>; end: number } {
  const bases: Partial<Record<BufferName, number>> = {};
  let at = start;
  for (const [name, bytes] of Object.entries(lowered.buffers) as [BufferName, number][]) {
    const align = bufferAlign(cfg, name);
    at = Math.ceil(at / align) * align;
    bases[name] = at;
    at += Math.max(bytes, 1);
  }
  return { bases, end: at };
}

/** Concatenated layer streams plus the one FINISH that ends a run. */
export function withFinish(insns: readonly Insn[]): Insn[] {
  return [...insns, { opcode: 'FINISH', pop_prev_dep: 0, pop_next_dep: 0, push_prev_dep: 0, push_next_dep: 0 }];
}
