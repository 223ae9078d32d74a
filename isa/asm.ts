/**
 * The text assembly format (documented in isa/README.md) and its disassembler.
 *
 *   .data  NAME [@ADDR] DTYPE v0 v1 ...      initialised DRAM region
 *   .zero  NAME [@ADDR] DTYPE COUNT          zeroed DRAM region (e.g. outputs)
 *   .uops  NAME [@ADDR] dst,src,wgt ...      encoded micro-ops
 *   .text  @ADDR                             where the instruction stream goes (default: after the data)
 *   .mem   BYTES                             device memory size (default: just enough)
 *   load inp sram_base=0 dram_base=NAME+1 y_size=1 x_size=16 x_stride=16 push_next_dep
 *   gemm uop_bgn=0 uop_end=1 iter_out=1 iter_in=1 reset_reg
 *   alu shr uop_bgn=0 uop_end=1 iter_out=1 iter_in=1 use_imm imm=-2
 *   finish pop_next_dep
 *
 * A field name without `=` sets a 1-bit field to 1; absent fields are 0. `dram_base` may name a
 * region (optionally `+N` elements): it resolves to the region's address in elements of the
 * instruction's memory type. `#` and `;` start comments.
 */
import { elemBytes, type MemoryTypeName, type VtaConfig } from './config.ts';
import { encodeUop, decodeUop } from './codec.ts';
import { AsmError, VtaError } from './errors.ts';
import { dtypeBytes, segmentValues, SEGMENT_DTYPES, type ProgramImage, type Segment, type SegmentDtype } from './image.ts';
import type { FormatLayout } from './layout.ts';
import {
  ALU_OPCODE_NAMES,
  DEP_FLAG_NAMES,
  MEMORY_TYPE_NAMES,
  type AluOpName,
  type Insn,
} from './types.ts';

/** Alignment of auto-placed regions: the largest element (a weight block) divides it. */
export const REGION_ALIGN = 256;

const alignUp = (v: number, a: number) => Math.ceil(v / a) * a;

function parseInteger(tok: string): number | null {
  if (!/^[-+]?(0x[0-9a-f]+|0b[01]+|\d+)$/i.test(tok)) return null;
  const neg = tok.startsWith('-');
  const body = tok.replace(/^[-+]/, '');
  const v = Number(body);
  return neg ? -v : v;
}

const DTYPE_RANGE: Record<SegmentDtype, [number, number]> = {
  i8: [-128, 127],
  u8: [0, 255],
  i16: [-32768, 32767],
  u16: [0, 65535],
  i32: [-(2 ** 31), 2 ** 31 - 1],
  u32: [0, 2 ** 32 - 1],
};

interface PendingInsn {
  line: number;
  opcode: Insn['opcode'];
  sub?: string;
  fields: Map<string, string>;
}

export function assemble(cfg: VtaConfig, text: string, source = '<asm>'): ProgramImage {
  const segments: Segment[] = [];
  const fixed: { seg: Segment; line: number }[] = [];
  const pending: PendingInsn[] = [];
  let textAddr: number | null = null;
  let memBytes: number | null = null;

  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const line = i + 1;
    const err = (msg: string): never => {
      throw new AsmError(source, line, msg);
    };
    const toks = raw.replace(/[#;].*$/, '').trim().split(/\s+/).filter(Boolean);
    if (toks.length === 0) return;
    const head = toks[0]!.toLowerCase();
    if (head.startsWith('.')) {
      const directive = head;
      if (directive === '.text' || directive === '.mem') {
        const v = parseInteger((toks[1] ?? '').replace(/^@/, ''));
        if (v === null || v < 0 || toks.length !== 2) err(`${directive} takes one non-negative number`);
        if (directive === '.text') textAddr = v;
        else memBytes = v;
        return;
      }
      if (directive !== '.data' && directive !== '.zero' && directive !== '.uops') err(`unknown directive ${toks[0]}`);
      const name = toks[1];
      if (!name || !/^[A-Za-z_][\w.]*$/.test(name)) err(`${directive} needs a region name (letters, digits, _ and .)`);
      if (segments.some((s) => s.name === name)) err(`region ${name} is defined twice`);
      let k = 2;
      let addr: number | null = null;
      if (toks[k]?.startsWith('@')) {
        addr = parseInteger(toks[k]!.slice(1));
        if (addr === null || addr < 0) err(`bad address ${toks[k]}`);
        k++;
      }
      let seg: Segment;
      if (directive === '.uops') {
        const words = toks.slice(k).map((t) => {
          const parts = t.split(',').map(parseInteger);
          if (parts.length !== 3 || parts.some((p) => p === null)) err(`a micro-op is dst,src,wgt; got ${t}`);
          try {
            return encodeUop(cfg, { dst_idx: parts[0]!, src_idx: parts[1]!, wgt_idx: parts[2]! });
          } catch (e) {
            return err((e as Error).message);
          }
        });
        seg = { name: name!, kind: 'uops', dtype: 'u32', addr: -1, bytes: new Uint8Array(new Uint32Array(words).buffer) };
      } else {
        const dtype = toks[k++] as SegmentDtype;
        if (!SEGMENT_DTYPES.includes(dtype)) err(`unknown data type ${dtype} (use ${SEGMENT_DTYPES.join(', ')})`);
        const size = dtypeBytes(dtype);
        let values: number[];
        if (directive === '.zero') {
          const count = parseInteger(toks[k] ?? '');
          if (count === null || count <= 0 || toks.length !== k + 1) err('.zero takes a positive element count');
          values = new Array<number>(count!).fill(0);
        } else {
          values = toks.slice(k).map((t) => {
            const v = parseInteger(t);
            if (v === null) return err(`${t} is not an integer`);
            const [lo, hi] = DTYPE_RANGE[dtype];
            if (v < lo || v > hi) err(`${v} does not fit ${dtype} [${lo}, ${hi}]`);
            return v;
          });
          if (values.length === 0) err('.data needs at least one value');
        }
        const bytes = new Uint8Array(values.length * size);
        const dv = new DataView(bytes.buffer);
        values.forEach((v, j) => {
          if (size === 1) dv.setUint8(j, v & 0xff);
          else if (size === 2) dv.setUint16(2 * j, v & 0xffff, true);
          else dv.setUint32(4 * j, v >>> 0, true);
        });
        seg = { name: name!, kind: directive === '.zero' ? 'zero' : 'data', dtype, addr: -1, bytes };
      }
      if (addr !== null) {
        seg.addr = addr;
        fixed.push({ seg, line });
      }
      segments.push(seg);
      return;
    }
    const opcode = head.toUpperCase() as Insn['opcode'];
    if (!['LOAD', 'STORE', 'GEMM', 'ALU', 'FINISH'].includes(opcode)) err(`unknown instruction ${toks[0]}`);
    let k = 1;
    let sub: string | undefined;
    if (opcode === 'LOAD' || opcode === 'STORE' || opcode === 'ALU') {
      sub = (toks[k++] ?? '').toUpperCase();
      const allowed: readonly string[] = opcode === 'ALU' ? ALU_OPCODE_NAMES : MEMORY_TYPE_NAMES;
      if (!allowed.includes(sub)) err(`${head} needs a ${opcode === 'ALU' ? 'ALU opcode' : 'memory type'} (${allowed.join(', ').toLowerCase()}), got ${sub || 'nothing'}`);
    }
    const fields = new Map<string, string>();
    for (const t of toks.slice(k)) {
      const eq = t.indexOf('=');
      const key = eq < 0 ? t : t.slice(0, eq);
      if (fields.has(key)) err(`field ${key} is given twice`);
      fields.set(key, eq < 0 ? '1' : t.slice(eq + 1));
    }
    pending.push({ line, opcode, sub, fields });
  });

  // Place regions: fixed ones where they were put, the rest after them, aligned.
  const sorted = [...fixed].sort((a, b) => a.seg.addr - b.seg.addr);
  for (let j = 1; j < sorted.length; j++) {
    const prev = sorted[j - 1]!.seg;
    if (prev.addr + prev.bytes.length > sorted[j]!.seg.addr) {
      throw new AsmError(source, sorted[j]!.line, `region ${sorted[j]!.seg.name} overlaps region ${prev.name}`);
    }
  }
  let cursor = sorted.reduce((end, f) => Math.max(end, f.seg.addr + f.seg.bytes.length), 0);
  for (const seg of segments) {
    if (seg.addr >= 0) continue;
    seg.addr = alignUp(cursor, REGION_ALIGN);
    cursor = seg.addr + seg.bytes.length;
  }
  const symbols = new Map(segments.map((s) => [s.name, s]));

  const insns = pending.map((p) => buildInsn(cfg, p, symbols, source));
  const insnAddr = textAddr ?? alignUp(cursor, REGION_ALIGN);
  if (insnAddr % 16 !== 0) throw new AsmError(source, 0, `.text address ${insnAddr} is not 16-byte aligned`);
  const needed = Math.max(cursor, insnAddr + insns.length * 16);
  if (memBytes !== null && memBytes < needed) {
    throw new AsmError(source, 0, `.mem ${memBytes} is smaller than the ${needed} bytes the program occupies`);
  }
  return { fingerprint: cfg.fingerprint, insns, segments, memBytes: memBytes ?? needed, insnAddr };
}

function formatFor(cfg: VtaConfig, opcode: Insn['opcode']): FormatLayout {
  return opcode === 'LOAD' || opcode === 'STORE'
    ? cfg.layout.mem
    : opcode === 'GEMM'
      ? cfg.layout.gemm
      : opcode === 'ALU'
        ? cfg.layout.alu
        : cfg.layout.finish;
}

function buildInsn(cfg: VtaConfig, p: PendingInsn, symbols: Map<string, Segment>, source: string): Insn {
  const err = (msg: string): never => {
    throw new AsmError(source, p.line, msg);
  };
  const format = formatFor(cfg, p.opcode);
  const out: Record<string, unknown> = { opcode: p.opcode };
  if (p.sub !== undefined) out[p.opcode === 'ALU' ? 'alu_opcode' : 'memory_type'] = p.sub;
  const implicit = new Set(['opcode', 'memory_type', 'alu_opcode']);
  for (const key of p.fields.keys()) {
    if (implicit.has(key) || !format.byName[key]) {
      err(`${p.opcode.toLowerCase()} has no field ${key} (fields: ${format.fields.filter((f) => !implicit.has(f.name)).map((f) => f.name).join(', ')})`);
    }
  }
  for (const f of format.fields) {
    if (implicit.has(f.name)) continue;
    const tok = p.fields.get(f.name);
    if (tok === undefined) {
      out[f.name] = 0;
      continue;
    }
    let v = parseInteger(tok);
    if (v === null && f.name === 'dram_base') v = resolveSymbol(cfg, tok, out.memory_type as MemoryTypeName, symbols, err);
    if (v === null) err(`${f.name}=${tok} is not a number${f.name === 'dram_base' ? ' or a region name' : ''}`);
    out[f.name] = v;
  }
  return out as unknown as Insn;
}

function resolveSymbol(
  cfg: VtaConfig,
  tok: string,
  memoryType: MemoryTypeName,
  symbols: Map<string, Segment>,
  err: (m: string) => never,
): number {
  const m = /^([A-Za-z_][\w.]*)(?:\+(\d+|0x[0-9a-f]+))?$/i.exec(tok);
  const seg = m ? symbols.get(m[1]!) : undefined;
  if (!m || !seg) return err(`dram_base=${tok}: no region named ${m?.[1] ?? tok}`);
  const eb = elemBytes(cfg, memoryType);
  if (seg.addr % eb !== 0) err(`region ${seg.name} at byte ${seg.addr} is not aligned to ${memoryType} elements of ${eb} bytes`);
  return seg.addr / eb + (m[2] ? Number(m[2]) : 0);
}

// --- disassembly ---

/** Fields printed even when zero, so a listing reads the same from line to line. */
const ALWAYS = new Set(['sram_base', 'dram_base', 'y_size', 'x_size', 'x_stride', 'uop_bgn', 'uop_end', 'iter_out', 'iter_in']);
const ONE_BIT_WORDS = new Set<string>([...DEP_FLAG_NAMES, 'reset_reg', 'use_imm']);

export function disassembleInsn(cfg: VtaConfig, insn: Insn): string {
  const format = formatFor(cfg, insn.opcode);
  const rec = insn as unknown as Record<string, number | string>;
  const parts: string[] = [insn.opcode.toLowerCase()];
  if (insn.opcode === 'LOAD' || insn.opcode === 'STORE') parts.push(insn.memory_type.toLowerCase());
  if (insn.opcode === 'ALU') parts.push((insn.alu_opcode as AluOpName).toLowerCase());
  const flags: string[] = [];
  for (const f of format.fields) {
    if (f.name === 'opcode' || f.name === 'memory_type' || f.name === 'alu_opcode') continue;
    const v = rec[f.name] as number;
    if (ONE_BIT_WORDS.has(f.name)) {
      if (v) (DEP_FLAG_NAMES.includes(f.name as never) ? flags : parts).push(f.name);
    } else if (v !== 0 || ALWAYS.has(f.name)) {
      parts.push(`${f.name}=${v}`);
    }
  }
  return [...parts, ...flags].join(' ');
}

export function disassemble(cfg: VtaConfig, insns: readonly Insn[], opts: { numbered?: boolean } = {}): string {
  return insns
    .map((insn, i) => (opts.numbered ? `${disassembleInsn(cfg, insn).padEnd(100)} # ${i}` : disassembleInsn(cfg, insn)))
    .join('\n');
}

/** The whole image as assembly that assembles back to the same image. */
export function disassembleImage(cfg: VtaConfig, image: ProgramImage): string {
  if (image.fingerprint !== cfg.fingerprint) {
    throw new VtaError('VTA_IMAGE', `image is for configuration ${image.fingerprint}, not ${cfg.fingerprint}`);
  }
  const lines = [`# VTA program for ${image.fingerprint}`, `.mem ${image.memBytes}`, `.text @${image.insnAddr}`];
  for (const s of image.segments) {
    const at = `@${s.addr}`;
    if (s.kind === 'zero') {
      lines.push(`.zero ${s.name} ${at} ${s.dtype} ${s.bytes.length / dtypeBytes(s.dtype)}`);
    } else if (s.kind === 'uops') {
      const words = new Uint32Array(s.bytes.slice().buffer);
      const uops = Array.from(words, (w) => {
        const u = decodeUop(cfg, w);
        return `${u.dst_idx},${u.src_idx},${u.wgt_idx}`;
      });
      lines.push(`.uops ${s.name} ${at} ${uops.join(' ')}`);
    } else {
      lines.push(`.data ${s.name} ${at} ${s.dtype} ${Array.from(segmentValues(s)).join(' ')}`);
    }
  }
  lines.push(disassemble(cfg, image.insns));
  return `${lines.join('\n')}\n`;
}
