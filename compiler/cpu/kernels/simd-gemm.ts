/**
 * A float32 GEMM in WebAssembly SIMD for the convolutions' float path, about
 * four times the throughput of the scalar JS kernel. A is packed in panels of
 * 4 rows and B in panels of 8 columns (both [k][lanes]); each step of k loads
 * one B row pair as two f32x4 vectors, splats the 4 A values and updates a
 * 4 x 8 tile held in eight vector accumulators. Sums are float32, as in
 * onnxruntime's kernels. The module is emitted with sim/'s WebAssembly writer.
 */
import { buildModule, Code, I32, V128, webAssembly, type WasmMemory } from '../../../sim/wasm.ts';


export const A_PANEL = 4;
export const B_PANEL = 8;

function gemmCode(): Code {
  // Parameters: byte addresses of A, B and C, K, the panel counts, C's row pitch in bytes.
  const c = new Code([I32, I32, I32, I32, I32, I32, I32]);
  const [A, B, C, K, M_PANELS, N_PANELS, LDC] = [0, 1, 2, 3, 4, 5, 6];
  const jp = c.local(I32), ip = c.local(I32), pa = c.local(I32), pb = c.local(I32), pc = c.local(I32), k = c.local(I32);
  const acc = Array.from({ length: 8 }, () => c.local(V128));
  const b0 = c.local(V128), b1 = c.local(V128), av = c.local(V128);
  c.i32(0).set(jp);
  c.loopBegin();
  c.i32(0).set(ip);
  c.loopBegin();
  for (const a of acc) c.v128Zero().set(a);
  c.get(A).get(ip).get(K).mul().i32(4).shl().add().set(pa);
  c.get(B).get(jp).get(K).mul().i32(5).shl().add().set(pb);
  c.get(K).set(k);
  c.loopBegin();
  c.get(pb).v128Load(0).set(b0);
  c.get(pb).v128Load(16).set(b1);
  for (let r = 0; r < A_PANEL; r++) {
    c.get(pa).v128Load32Splat(4 * r).set(av);
    for (const [slot, b] of [[2 * r, b0], [2 * r + 1, b1]] as const) {
      c.get(acc[slot]!).get(av).get(b);
      c.f32x4Mul();
      c.f32x4Add();
      c.set(acc[slot]!);
    }
  }
  c.get(pa).i32(4 * A_PANEL).add().set(pa);
  c.get(pb).i32(4 * B_PANEL).add().set(pb);
  c.get(k).i32(1).sub().tee(k).brIf(0);
  c.loopEnd();
  c.get(C).get(ip).get(LDC).mul().i32(2).shl().add().get(jp).i32(5).shl().add().set(pc);
  for (let r = 0; r < A_PANEL; r++) {
    c.get(pc).get(acc[2 * r]!).v128Store(0);
    c.get(pc).get(acc[2 * r + 1]!).v128Store(16);
    c.get(pc).get(LDC).add().set(pc);
  }
  c.get(ip).i32(1).add().tee(ip).get(M_PANELS).ltU().brIf(0);
  c.loopEnd();
  c.get(jp).i32(1).add().tee(jp).get(N_PANELS).ltU().brIf(0);
  c.loopEnd();
  return c;
}

export interface GemmBuffers {
  /** A panels: ceil(M/4) x K x 4. */
  a: Float32Array;
  /** B panels: ceil(N/8) x K x 8. */
  b: Float32Array;
  /** C, row-major with `ldc` elements per row, rows and columns rounded up to whole panels. */
  c: Float32Array;
  ldc: number;
}

export interface SimdGemm {
  /** Lays out buffers for an M x (up to maxN) x K product; the views stay valid until the next call. */
  prepare(M: number, maxN: number, K: number): GemmBuffers;
  /** C = A x B for the first N (<= maxN) columns of the prepared buffers; K and M must be positive. */
  run(N: number): void;
}

interface GrowableMemory extends WasmMemory {
  grow(pages: number): number;
}

function create(): SimdGemm | null {
  if (!webAssembly) return null;
  const bytes = buildModule(1, [{ name: 'gemm', code: gemmCode() }]);
  if (!webAssembly.validate(bytes)) return null;
  const memory = new webAssembly.Memory({ initial: 1 }) as GrowableMemory;
  const gemm = new webAssembly.Instance(new webAssembly.Module(bytes), { env: { memory } }).exports.gemm as (...args: number[]) => void;
  let layout = { M: 0, K: 0, ldc: 0, a: 0, b: 0, c: 0 };
  return {
    prepare(M, maxN, K) {
      const mPanels = Math.ceil(M / A_PANEL);
      const nPanels = Math.ceil(maxN / B_PANEL);
      const ldc = nPanels * B_PANEL;
      const aBytes = mPanels * A_PANEL * K * 4;
      const bBytes = nPanels * B_PANEL * K * 4;
      const need = aBytes + bBytes + mPanels * A_PANEL * ldc * 4;
      const have = memory.buffer.byteLength;
      if (need > have) memory.grow(Math.ceil((need - have) / 65536));
      layout = { M, K, ldc, a: 0, b: aBytes, c: aBytes + bBytes };
      const buf = memory.buffer;
      return {
        a: new Float32Array(buf, layout.a, aBytes / 4),
        b: new Float32Array(buf, layout.b, bBytes / 4),
        c: new Float32Array(buf, layout.c, mPanels * A_PANEL * ldc),
        ldc,
      };
    },
    run(N) {
      gemm(layout.a, layout.b, layout.c, layout.K, Math.ceil(layout.M / A_PANEL), Math.ceil(N / B_PANEL), layout.ldc * 4);
    },
  };
}

/** The kernel, or null where this Node has no WebAssembly SIMD (the scalar kernel is used then). */
export const simdGemm: SimdGemm | null = create();
