/**
 * The device-memory allocator against a model: the free space is recomputed from the live
 * allocations alone (the gaps between them), and the best-fit choice from those gaps.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AllocError, BestFitAllocator, Dram, DramRangeError, OutOfMemoryError } from '../../sim/dram.ts';

/** Free gaps of [base, base + size) given live [addr, addr + bytes) blocks. */
function gaps(base: number, size: number, live: Map<number, number>): { addr: number; size: number }[] {
  const out: { addr: number; size: number }[] = [];
  let at = base;
  for (const [addr, bytes] of [...live].sort((a, b) => a[0] - b[0])) {
    if (addr > at) out.push({ addr: at, size: addr - at });
    at = addr + bytes;
  }
  if (base + size > at) out.push({ addr: at, size: base + size - at });
  return out;
}

describe('BestFitAllocator', () => {
  it('matches the best-fit model on random alloc/free sequences', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('alloc' as const), bytes: fc.integer({ min: 1, max: 3000 }), logAlign: fc.integer({ min: 0, max: 8 }) }),
      fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100 }), fc.array(op, { maxLength: 60 }), (base, ops) => {
        const size = 16384;
        const a = new BestFitAllocator(size, base);
        const live = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'free') {
            if (live.size === 0) continue;
            const addr = [...live.keys()][o.pick % live.size]!;
            a.release(addr);
            live.delete(addr);
          } else {
            const align = 1 << o.logAlign;
            const fits = gaps(base, size, live)
              .map((g) => ({ g, start: Math.ceil(g.addr / align) * align }))
              .filter(({ g, start }) => start + o.bytes <= g.addr + g.size);
            const best = fits.reduce<(typeof fits)[number] | null>((b, f) => (b === null || f.g.size < b.g.size ? f : b), null);
            if (best === null) {
              expect(() => a.alloc(o.bytes, align)).toThrow(OutOfMemoryError);
            } else {
              expect(a.alloc(o.bytes, align)).toBe(best.start);
              live.set(best.start, o.bytes);
            }
          }
          expect(a.freeBlocks()).toEqual(gaps(base, size, live));
          expect(a.freeBytes).toBe(size - [...live.values()].reduce((n, v) => n + v, 0));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('prefers the smallest block that fits', () => {
    const a = new BestFitAllocator(1000);
    const x = a.alloc(100, 1);
    a.alloc(10, 1);
    const y = a.alloc(50, 1);
    a.alloc(10, 1);
    a.release(x); // hole of 100 at 0
    a.release(y); // hole of 50 at 110
    expect(a.alloc(40, 1)).toBe(110);
    expect(a.alloc(60, 1)).toBe(0);
  });

  it('merges freed neighbours on both sides', () => {
    const a = new BestFitAllocator(300);
    const [x, y, z] = [a.alloc(100, 1), a.alloc(100, 1), a.alloc(100, 1)];
    a.release(x);
    a.release(z);
    expect(a.freeBlocks()).toEqual([
      { addr: 0, size: 100 },
      { addr: 200, size: 100 },
    ]);
    a.release(y);
    expect(a.freeBlocks()).toEqual([{ addr: 0, size: 300 }]);
    expect(a.alloc(300, 1)).toBe(0);
  });

  it('running out names the request and the free space', () => {
    const a = new BestFitAllocator(1024);
    a.alloc(512, 64);
    a.alloc(100, 64);
    const e = (() => {
      try {
        a.alloc(600, 64);
      } catch (err) {
        return err as OutOfMemoryError;
      }
      throw new Error('no error');
    })();
    expect(e).toBeInstanceOf(OutOfMemoryError);
    expect(e.code).toBe('VTA_OOM');
    expect(e.message).toBe(
      'out of device memory: cannot allocate 600 bytes (alignment 64); 412 of 1024 bytes are free, the largest free block holds 412',
    );
  });

  it('rejects bad requests and unknown frees', () => {
    const a = new BestFitAllocator(1024);
    expect(() => a.alloc(0)).toThrow(AllocError);
    expect(() => a.alloc(10, 3)).toThrow(/power of two/);
    const p = a.alloc(10);
    a.release(p);
    expect(() => a.release(p)).toThrow(/not a live allocation/);
    expect(() => a.release(5)).toThrow(AllocError);
  });
});

describe('Dram', () => {
  it('reads back what was written, zero elsewhere', () => {
    const d = new Dram(64);
    d.write(10, Uint8Array.of(1, 2, 3));
    expect(Array.from(d.read(9, 5))).toEqual([0, 1, 2, 3, 0]);
  });

  it('rejects accesses outside the memory', () => {
    const d = new Dram(64);
    expect(() => d.write(62, new Uint8Array(3))).toThrow(DramRangeError);
    expect(() => d.read(-1, 2)).toThrow(/bytes \[-1, 1\) fall outside the 64-byte device memory/);
    expect(() => d.read(0, 65)).toThrow(DramRangeError);
  });
});
