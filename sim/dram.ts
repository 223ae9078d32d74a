/**
 * Device DRAM: one byte buffer with bounds-checked host access, and a best-fit allocator over an
 * address range. The allocator knows nothing of the simulator or the configuration, so the runtime
 * uses the same one for every target (the driver interface leaves allocation to it).
 */
import { VtaError } from '../isa/errors.ts';

/** An allocation request that no free block can hold. */
export class OutOfMemoryError extends VtaError {
  constructor(
    readonly request: number,
    readonly align: number,
    readonly freeBytes: number,
    readonly largestFree: number,
    readonly capacity: number,
  ) {
    super(
      'VTA_OOM',
      `out of device memory: cannot allocate ${request} bytes (alignment ${align}); ${freeBytes} of ${capacity} bytes are free, the largest free block holds ${largestFree}`,
    );
  }
}

/** A bad argument to the allocator (size, alignment, or an address it never returned). */
export class AllocError extends VtaError {
  constructor(message: string) {
    super('VTA_ALLOC', message);
  }
}

/** A host access or instruction range outside the device memory. */
export class DramRangeError extends VtaError {
  constructor(readonly addr: number, readonly length: number, readonly size: number, what: string) {
    super('VTA_DRAM_RANGE', `${what}: bytes [${addr}, ${addr + length}) fall outside the ${size}-byte device memory`);
  }
}

interface FreeBlock {
  addr: number;
  size: number;
}

const isPow2 = (v: number) => Number.isInteger(v) && v > 0 && (v & (v - 1)) === 0;

/**
 * Best-fit allocation over [base, base + size): a request takes the smallest free block that holds
 * it after alignment; the bytes skipped for alignment and the tail stay free, and freed blocks
 * merge with free neighbours, so fragmentation only comes from the live allocations themselves.
 */
export class BestFitAllocator {
  /** Free blocks sorted by address, never adjacent (adjacent ones are merged). */
  private readonly free: FreeBlock[];
  private readonly live = new Map<number, number>();

  constructor(readonly size: number, readonly base = 0) {
    if (!Number.isInteger(size) || size < 0) throw new AllocError(`allocator size must be a non-negative integer, got ${size}`);
    if (!Number.isInteger(base) || base < 0) throw new AllocError(`allocator base must be a non-negative integer, got ${base}`);
    this.free = size > 0 ? [{ addr: base, size }] : [];
  }

  /** Returns the address of `bytes` bytes aligned to `align` (a power of two). */
  alloc(bytes: number, align = 64): number {
    if (!Number.isInteger(bytes) || bytes <= 0) throw new AllocError(`allocation size must be a positive integer, got ${bytes}`);
    if (!isPow2(align)) throw new AllocError(`alignment must be a power of two, got ${align}`);
    let best = -1;
    let bestStart = 0;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      const start = Math.ceil(b.addr / align) * align;
      if (start + bytes > b.addr + b.size) continue;
      if (best < 0 || b.size < this.free[best]!.size) {
        best = i;
        bestStart = start;
      }
    }
    if (best < 0) throw new OutOfMemoryError(bytes, align, this.freeBytes, this.largestFree, this.size);
    const b = this.free[best]!;
    const pieces: FreeBlock[] = [];
    if (bestStart > b.addr) pieces.push({ addr: b.addr, size: bestStart - b.addr });
    const end = bestStart + bytes;
    if (end < b.addr + b.size) pieces.push({ addr: end, size: b.addr + b.size - end });
    this.free.splice(best, 1, ...pieces);
    this.live.set(bestStart, bytes);
    return bestStart;
  }

  /** Frees an address `alloc` returned. */
  release(addr: number): void {
    const bytes = this.live.get(addr);
    if (bytes === undefined) throw new AllocError(`address ${addr} is not a live allocation (never allocated, or already freed)`);
    this.live.delete(addr);
    // Insert at its sorted position, then merge with the neighbours it touches.
    let i = 0;
    while (i < this.free.length && this.free[i]!.addr < addr) i++;
    this.free.splice(i, 0, { addr, size: bytes });
    const next = this.free[i + 1];
    if (next && addr + bytes === next.addr) {
      this.free[i]!.size += next.size;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.addr + prev.size === addr) {
      prev.size += this.free[i]!.size;
      this.free.splice(i, 1);
    }
  }

  /** Size of a live allocation, or undefined. */
  sizeOf(addr: number): number | undefined {
    return this.live.get(addr);
  }

  get freeBytes(): number {
    return this.free.reduce((n, b) => n + b.size, 0);
  }

  get largestFree(): number {
    return this.free.reduce((n, b) => Math.max(n, b.size), 0);
  }

  get liveCount(): number {
    return this.live.size;
  }

  /** The free blocks, sorted by address (a copy; for diagnostics and tests). */
  freeBlocks(): { addr: number; size: number }[] {
    return this.free.map((b) => ({ ...b }));
  }
}

/**
 * The device memory of a simulator: one zero-initialised byte buffer. Multi-byte values are little
 * endian, as on the device; typed-array views assume a little-endian host (x86, Arm).
 */
export class Dram {
  readonly u8: Uint8Array;
  readonly i8: Int8Array;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 0) throw new AllocError(`device memory size must be a non-negative integer, got ${size}`);
    this.u8 = new Uint8Array(size);
    this.i8 = new Int8Array(this.u8.buffer);
  }

  /** Throws DramRangeError unless [addr, addr + length) lies inside the memory. */
  check(addr: number, length: number, what: string): void {
    if (!Number.isInteger(addr) || !Number.isInteger(length) || addr < 0 || length < 0 || addr + length > this.size) {
      throw new DramRangeError(addr, length, this.size, what);
    }
  }

  write(addr: number, data: Uint8Array): void {
    this.check(addr, data.length, `write of ${data.length} bytes`);
    this.u8.set(data, addr);
  }

  /** A copy of `length` bytes at `addr`. */
  read(addr: number, length: number): Uint8Array {
    this.check(addr, length, `read of ${length} bytes`);
    return this.u8.slice(addr, addr + length);
  }
}
