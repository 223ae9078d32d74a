/**
 * Encoding and decoding of instructions (16 bytes, little-endian) and micro-ops (4 bytes) with the
 * layout of the configuration. Encoding range-checks every field; decoding rejects unknown opcodes,
 * memory types, ALU opcodes and non-zero reserved bits, so decode(encode(x)) == x and
 * encode(decode(b)) == b for every accepted b.
 */
import { Parser } from 'binary-parser';
import type { MemoryTypeName, VtaConfig } from './config.ts';
import { DecodeError, EncodeError } from './errors.ts';
import { reservedMask, type FieldSpec, type FormatLayout } from './layout.ts';
import {
  ALU_OPCODE_NAMES,
  ALU_OPCODES,
  MEMORY_TYPE_NAMES,
  MEMORY_TYPES,
  OPCODE_NAMES,
  OPCODES,
  type Insn,
  type Uop,
} from './types.ts';

export const INSN_BYTES = 16;
export const UOP_BYTES = 4;

function getBits(w: Uint32Array, base: number, f: FieldSpec): number {
  const i = base + (f.offset >>> 5);
  const s = f.offset & 31;
  let v = w[i]! >>> s;
  if (s + f.width > 32) v = (v | (w[i + 1]! << (32 - s))) >>> 0;
  if (f.width < 32) v &= 2 ** f.width - 1;
  if (f.signed && v >= 2 ** (f.width - 1)) v -= 2 ** f.width;
  return v;
}

function setBits(w: Uint32Array, base: number, f: FieldSpec, value: number): void {
  const raw = f.signed && value < 0 ? value + 2 ** f.width : value;
  const i = base + (f.offset >>> 5);
  const s = f.offset & 31;
  w[i] = (w[i]! | (raw << s)) >>> 0;
  if (s + f.width > 32) w[i + 1] = (w[i + 1]! | (raw >>> (32 - s))) >>> 0;
}

export function fieldRange(f: FieldSpec): [number, number] {
  return f.signed ? [-(2 ** (f.width - 1)), 2 ** (f.width - 1) - 1] : [0, 2 ** f.width - 1];
}

function checkedValue(f: FieldSpec, value: unknown, context: string): number {
  const [min, max] = fieldRange(f);
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new EncodeError(f.name, typeof value === 'number' ? value : Number.NaN, min, max, context);
  }
  return value;
}

/** The field layout of an opcode's instruction format. */
export function formatOf(cfg: VtaConfig, opcode: string): FormatLayout {
  switch (opcode) {
    case 'LOAD':
    case 'STORE':
      return cfg.layout.mem;
    case 'GEMM':
      return cfg.layout.gemm;
    case 'ALU':
      return cfg.layout.alu;
    case 'FINISH':
      return cfg.layout.finish;
    default:
      throw new EncodeError('opcode', Number.NaN, 0, OPCODE_NAMES.length - 1, `unknown opcode ${JSON.stringify(opcode)}`);
  }
}

/** Numeric value of a named field of an instruction object (enums mapped to their codes). */
function numericField(insn: Insn, name: string): unknown {
  const rec = insn as unknown as Record<string, unknown>;
  switch (name) {
    case 'opcode':
      return OPCODES[insn.opcode];
    case 'memory_type': {
      const v = MEMORY_TYPES[rec.memory_type as MemoryTypeName];
      if (v === undefined) throw new EncodeError('memory_type', Number.NaN, 0, 5, `unknown memory_type ${JSON.stringify(rec.memory_type)}`);
      return v;
    }
    case 'alu_opcode': {
      const v = ALU_OPCODES[rec.alu_opcode as keyof typeof ALU_OPCODES];
      if (v === undefined) throw new EncodeError('alu_opcode', Number.NaN, 0, 4, `unknown alu_opcode ${JSON.stringify(rec.alu_opcode)}`);
      return v;
    }
    default:
      return rec[name];
  }
}

/** Writes the 16-byte encoding of `insn` into `words` (4 x uint32) at word index `base` (which must be zeroed). */
export function encodeInsnInto(cfg: VtaConfig, insn: Insn, words: Uint32Array, base: number, index = -1): void {
  const format = formatOf(cfg, insn.opcode);
  const context = `${index >= 0 ? `instruction ${index} ` : ''}${insn.opcode}`;
  for (const f of format.fields) setBits(words, base, f, checkedValue(f, numericField(insn, f.name), context));
}

export function encodeInsn(cfg: VtaConfig, insn: Insn): Uint8Array {
  const words = new Uint32Array(4);
  encodeInsnInto(cfg, insn, words, 0);
  return new Uint8Array(words.buffer);
}

/** Encodes a stream of instructions into consecutive 16-byte words. */
export function encodeProgram(cfg: VtaConfig, insns: readonly Insn[]): Uint8Array {
  const words = new Uint32Array(insns.length * 4);
  insns.forEach((insn, i) => encodeInsnInto(cfg, insn, words, i * 4, i));
  return new Uint8Array(words.buffer);
}

const reservedCache = new WeakMap<FormatLayout, Uint32Array>();
function reservedOf(format: FormatLayout): Uint32Array {
  let m = reservedCache.get(format);
  if (!m) reservedCache.set(format, (m = reservedMask(format)));
  return m;
}

/** Decodes the instruction stored in `words` at word index `base`; `index` names it in errors. */
export function decodeInsnWords(cfg: VtaConfig, words: Uint32Array, base: number, index: number): Insn {
  const opcodeValue = words[base]! & 7;
  const opcode = OPCODE_NAMES[opcodeValue];
  if (opcode === undefined) throw new DecodeError(index, `unknown opcode ${opcodeValue}`);
  const format = formatOf(cfg, opcode);
  const reserved = reservedOf(format);
  for (let k = 0; k < 4; k++) {
    const bad = words[base + k]! & reserved[k]!;
    if (bad !== 0) {
      const bit = k * 32 + (31 - Math.clz32(bad & -bad));
      throw new DecodeError(index, `${opcode} has reserved bit ${bit} set`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const f of format.fields) out[f.name] = getBits(words, base, f);
  out.opcode = opcode;
  if (format === cfg.layout.mem) {
    const mt = MEMORY_TYPE_NAMES[out.memory_type as number];
    if (mt === undefined) throw new DecodeError(index, `${opcode} has unknown memory_type ${out.memory_type as number}`);
    out.memory_type = mt;
  } else if (format === cfg.layout.alu) {
    const op = ALU_OPCODE_NAMES[out.alu_opcode as number];
    if (op === undefined) throw new DecodeError(index, `ALU has unknown alu_opcode ${out.alu_opcode as number}`);
    out.alu_opcode = op;
  }
  return out as unknown as Insn;
}

export function decodeInsn(cfg: VtaConfig, bytes: Uint8Array, index = 0): Insn {
  if (bytes.length !== INSN_BYTES) throw new DecodeError(index, `an instruction is ${INSN_BYTES} bytes, got ${bytes.length}`);
  return decodeInsnWords(cfg, wordsOf(bytes), 0, index);
}

const streamParser = new Parser()
  .endianness('little')
  .array('insns', {
    type: new Parser().endianness('little').uint32('w0').uint32('w1').uint32('w2').uint32('w3'),
    readUntil: 'eof',
  });

/** Decodes a whole instruction stream (a multiple of 16 bytes). */
export function decodeProgram(cfg: VtaConfig, bytes: Uint8Array): Insn[] {
  if (bytes.length % INSN_BYTES !== 0) {
    throw new DecodeError(Math.floor(bytes.length / INSN_BYTES), `stream of ${bytes.length} bytes is not a multiple of ${INSN_BYTES}`);
  }
  if (bytes.length === 0) return [];
  const parsed = streamParser.parse(bytes) as { insns: { w0: number; w1: number; w2: number; w3: number }[] };
  const w = new Uint32Array(4);
  return parsed.insns.map((q, i) => {
    w[0] = q.w0;
    w[1] = q.w1;
    w[2] = q.w2;
    w[3] = q.w3;
    return decodeInsnWords(cfg, w, 0, i);
  });
}

function wordsOf(bytes: Uint8Array): Uint32Array {
  // Copy when unaligned: Uint32Array views need 4-byte alignment.
  const copy = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  const view = new Uint32Array(copy.buffer, copy.byteOffset, copy.byteLength >>> 2);
  return view;
}

// --- micro-ops ---

export function encodeUop(cfg: VtaConfig, uop: Uop, index = -1): number {
  const w = new Uint32Array(1);
  const context = index >= 0 ? `uop ${index}` : 'uop';
  for (const f of cfg.layout.uop.fields) setBits(w, 0, f, checkedValue(f, (uop as unknown as Record<string, unknown>)[f.name], context));
  return w[0]!;
}

export function decodeUop(cfg: VtaConfig, word: number): Uop {
  const w = new Uint32Array([word]);
  const { dst_idx, src_idx, wgt_idx } = cfg.layout.uop.byName;
  return { dst_idx: getBits(w, 0, dst_idx!), src_idx: getBits(w, 0, src_idx!), wgt_idx: getBits(w, 0, wgt_idx!) };
}

export function encodeUops(cfg: VtaConfig, uops: readonly Uop[]): Uint8Array {
  const w = new Uint32Array(uops.length);
  uops.forEach((u, i) => (w[i] = encodeUop(cfg, u, i)));
  return new Uint8Array(w.buffer);
}
