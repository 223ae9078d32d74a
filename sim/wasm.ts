/**
 * Just enough of a WebAssembly binary writer to emit the simulator's kernels from TypeScript, so
 * they can be specialised to the configuration at run time and need no tool beyond Node. Opcode
 * numbers are those of the WebAssembly core and fixed-width SIMD specifications.
 */

/** The part of the WebAssembly JS API the kernels use (this project's TS lib has no DOM types). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  validate(bytes: Uint8Array): boolean;
}
/** The host's WebAssembly, or undefined where there is none. */
export const webAssembly = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export const I32 = 0x7f;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof V128;

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let b = v & 0x7f;
    v >>>= 7;
    if (v !== 0) b |= 0x80;
    out.push(b);
  } while (v !== 0);
  return out;
}

function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

const name = (s: string) => {
  const b = new TextEncoder().encode(s);
  return [...uleb(b.length), ...b];
};
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];

/** A function body under construction: each method appends one instruction. */
export class Code {
  readonly bytes: number[] = [];
  private readonly locals: ValType[] = [];

  constructor(readonly params: readonly ValType[]) {}

  /** Declares a local and returns its index. */
  local(type: ValType): number {
    this.locals.push(type);
    return this.params.length + this.locals.length - 1;
  }

  private op(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  private simd(opcode: number, ...imm: number[]): this {
    return this.op(0xfd, ...uleb(opcode), ...imm);
  }

  get(i: number) { return this.op(0x20, ...uleb(i)); }
  set(i: number) { return this.op(0x21, ...uleb(i)); }
  tee(i: number) { return this.op(0x22, ...uleb(i)); }
  i32(v: number) { return this.op(0x41, ...sleb(v | 0)); }
  add() { return this.op(0x6a); }
  sub() { return this.op(0x6b); }
  mul() { return this.op(0x6c); }
  and() { return this.op(0x71); }
  shl() { return this.op(0x74); }
  shrS() { return this.op(0x75); }
  shrU() { return this.op(0x76); }
  ltS() { return this.op(0x48); }
  ltU() { return this.op(0x49); }
  geU() { return this.op(0x4f); }
  geS() { return this.op(0x4e); }
  eqz() { return this.op(0x45); }
  select() { return this.op(0x1b); }
  /** i32.load / i32.store with a byte offset (alignment hint 4 bytes). */
  load32(offset: number) { return this.op(0x28, 2, ...uleb(offset)); }
  store32(offset: number) { return this.op(0x36, 2, ...uleb(offset)); }

  /** `block` + `loop`: br 1 leaves, br 0 repeats. */
  loopBegin() { return this.op(0x02, 0x40, 0x03, 0x40); }
  loopEnd() { return this.op(0x0b, 0x0b); }
  br(depth: number) { return this.op(0x0c, ...uleb(depth)); }
  brIf(depth: number) { return this.op(0x0d, ...uleb(depth)); }

  v128Load(offset: number) { return this.simd(0x00, 4, ...uleb(offset)); }
  v128Store(offset: number) { return this.simd(0x0b, 4, ...uleb(offset)); }
  v128Load16Splat(offset: number) { return this.simd(0x08, 1, ...uleb(offset)); }
  v128Load32Splat(offset: number) { return this.simd(0x09, 2, ...uleb(offset)); }
  v128Zero() { return this.simd(0x0c, ...new Array<number>(16).fill(0)); }
  /** i8x16.shuffle: byte i of the result is byte lanes[i] of a (0-15) or b (16-31). */
  i8x16Shuffle(lanes: readonly number[]) { return this.simd(0x0d, ...lanes); }
  i16x8ExtendLowI8x16S() { return this.simd(0x87); }
  i16x8ExtendHighI8x16S() { return this.simd(0x88); }
  i32x4DotI16x8S() { return this.simd(0xba); }
  i32x4Add() { return this.simd(0xae); }
  i32x4Mul() { return this.simd(0xb5); }
  i32x4MinS() { return this.simd(0xb6); }
  i32x4MaxS() { return this.simd(0xb8); }
  i32x4Splat() { return this.simd(0x11); }
  i32x4Shl() { return this.simd(0xab); }
  i32x4ShrS() { return this.simd(0xac); }
  f32x4Add() { return this.simd(0xe4); }
  f32x4Mul() { return this.simd(0xe6); }

  encode(): number[] {
    // Locals are declared in runs of one type.
    const runs: number[][] = [];
    for (let i = 0; i < this.locals.length; ) {
      let j = i;
      while (j < this.locals.length && this.locals[j] === this.locals[i]) j++;
      runs.push([...uleb(j - i), this.locals[i]!]);
      i = j;
    }
    const body = [...vec(runs), ...this.bytes, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

export interface WasmFunction {
  name: string;
  code: Code;
}

/** A module importing one memory `env.memory` of `pages` 64 KiB pages and exporting `fns` (no results). */
export function buildModule(pages: number, fns: readonly WasmFunction[]): Uint8Array {
  const types = fns.map((f) => [0x60, ...vec(f.code.params.map((p) => [p])), 0]);
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name('env'), ...name('memory'), 0x02, 0x00, ...uleb(pages)]])),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(fns.map((f) => f.code.encode()))),
  ];
  return Uint8Array.from(bytes);
}
