/**
 * A program image: an instruction stream plus the DRAM contents it expects (data, zeroed output
 * regions, micro-op tables), each region named so tools can print results. It is what the
 * assembler produces and what `vta-sim` and the hardware tests run. The binary form starts with
 * the magic "VTAPROG1"; a raw instruction stream can never start with it, because 'V' (0x56) has
 * opcode bits 6, which no instruction uses.
 */
import { Parser } from 'binary-parser';
import type { VtaConfig } from './config.ts';
import { DecodeError, VtaError } from './errors.ts';
import { decodeProgram, encodeProgram, INSN_BYTES } from './codec.ts';
import type { Insn } from './types.ts';

export type SegmentKind = 'data' | 'zero' | 'uops';
export const SEGMENT_DTYPES = ['i8', 'u8', 'i16', 'u16', 'i32', 'u32'] as const;
export type SegmentDtype = (typeof SEGMENT_DTYPES)[number];

export interface Segment {
  name: string;
  kind: SegmentKind;
  /** How the bytes are printed: element type of the region. */
  dtype: SegmentDtype;
  /** Byte address in device memory. */
  addr: number;
  bytes: Uint8Array;
}

export interface ProgramImage {
  /** Fingerprint of the configuration the program was assembled for. */
  fingerprint: string;
  insns: Insn[];
  segments: Segment[];
  /** Device memory the program needs, instructions included. */
  memBytes: number;
  /** Byte address where the instruction stream is placed. */
  insnAddr: number;
}

const MAGIC = 'VTAPROG1';
const FORMAT_VERSION = 1;
const KINDS: SegmentKind[] = ['data', 'zero', 'uops'];

export function isImageFile(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && new TextDecoder().decode(bytes.subarray(0, 8)) === MAGIC;
}

export function dtypeBytes(dtype: SegmentDtype): number {
  return dtype.endsWith('8') ? 1 : dtype.endsWith('16') ? 2 : 4;
}

/** A typed view of a segment's bytes in its dtype. */
export function segmentValues(seg: Segment): ArrayLike<number> {
  const b = seg.bytes.slice();
  switch (seg.dtype) {
    case 'i8':
      return new Int8Array(b.buffer);
    case 'u8':
      return b;
    case 'i16':
      return new Int16Array(b.buffer, 0, b.length >> 1);
    case 'u16':
      return new Uint16Array(b.buffer, 0, b.length >> 1);
    case 'i32':
      return new Int32Array(b.buffer, 0, b.length >> 2);
    case 'u32':
      return new Uint32Array(b.buffer, 0, b.length >> 2);
  }
}

export function encodeImage(cfg: VtaConfig, image: ProgramImage): Uint8Array {
  const enc = new TextEncoder();
  const insnBytes = encodeProgram(cfg, image.insns);
  const parts: Uint8Array[] = [];
  const u32 = (...vals: number[]) => {
    const b = new Uint8Array(4 * vals.length);
    const dv = new DataView(b.buffer);
    vals.forEach((v, i) => dv.setUint32(4 * i, v, true));
    parts.push(b);
  };
  const str = (s: string) => {
    const b = enc.encode(s);
    u32(b.length);
    parts.push(b);
  };
  parts.push(enc.encode(MAGIC));
  u32(FORMAT_VERSION);
  str(image.fingerprint);
  u32(image.memBytes, image.insnAddr, image.insns.length, image.segments.length);
  for (const s of image.segments) {
    str(s.name);
    u32(KINDS.indexOf(s.kind), SEGMENT_DTYPES.indexOf(s.dtype), s.addr, s.bytes.length);
    parts.push(s.bytes);
  }
  parts.push(insnBytes);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const lenString = (name: string) =>
  new Parser().endianness('little').uint32(`${name}Len`).string(name, { length: `${name}Len`, encoding: 'utf8' });

const imageParser = new Parser()
  .endianness('little')
  .string('magic', { length: 8 })
  .uint32('version')
  .nest('fp', { type: lenString('value') })
  .uint32('memBytes')
  .uint32('insnAddr')
  .uint32('insnCount')
  .uint32('segmentCount')
  .array('segments', {
    length: 'segmentCount',
    type: new Parser()
      .endianness('little')
      .nest('n', { type: lenString('value') })
      .uint32('kind')
      .uint32('dtype')
      .uint32('addr')
      .uint32('byteLength')
      .buffer('bytes', { length: 'byteLength' }),
  })
  .buffer('insns', { length: function (this: { insnCount: number }) { return this.insnCount * INSN_BYTES; } });

export function decodeImage(cfg: VtaConfig, bytes: Uint8Array, source = 'image'): ProgramImage {
  if (!isImageFile(bytes)) throw new VtaError('VTA_IMAGE', `${source}: not a VTA program image (no ${MAGIC} magic)`);
  let parsed: {
    version: number;
    fp: { value: string };
    memBytes: number;
    insnAddr: number;
    segments: { n: { value: string }; kind: number; dtype: number; addr: number; bytes: Uint8Array }[];
    insns: Uint8Array;
  };
  try {
    parsed = imageParser.parse(bytes);
  } catch (e) {
    throw new VtaError('VTA_IMAGE', `${source}: truncated or corrupt program image (${(e as Error).message})`);
  }
  if (parsed.version !== FORMAT_VERSION) {
    throw new VtaError('VTA_IMAGE', `${source}: image format version ${parsed.version}, this tool reads version ${FORMAT_VERSION}`);
  }
  if (parsed.fp.value !== cfg.fingerprint) {
    throw new VtaError('VTA_IMAGE', `${source}: assembled for configuration ${parsed.fp.value}, but the configuration in use is ${cfg.fingerprint}`);
  }
  const segments = parsed.segments.map((s, i): Segment => {
    const kind = KINDS[s.kind];
    const dtype = SEGMENT_DTYPES[s.dtype];
    if (!kind || !dtype) throw new VtaError('VTA_IMAGE', `${source}: segment ${i} has an unknown kind or dtype`);
    return { name: s.n.value, kind, dtype, addr: s.addr, bytes: new Uint8Array(s.bytes) };
  });
  let insns: Insn[];
  try {
    insns = decodeProgram(cfg, new Uint8Array(parsed.insns));
  } catch (e) {
    if (e instanceof DecodeError) throw new DecodeError(e.index, `${source}: ${e.message.replace(/^instruction \d+: /, '')}`);
    throw e;
  }
  return { fingerprint: parsed.fp.value, insns, segments, memBytes: parsed.memBytes, insnAddr: parsed.insnAddr };
}
