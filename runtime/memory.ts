/**
 * Device memory as the runtime sees it: the driver's one buffer, carved up by the best-fit
 * allocator shared with the simulators. Alignment comes from the configuration: the largest DRAM
 * element (a weight block), so any buffer can hold any memory type's elements.
 */
import { BestFitAllocator } from '../sim/dram.ts';
import type { VtaConfig } from '../isa/config.ts';

export class DeviceMemory {
  private readonly allocator: BestFitAllocator;
  readonly align: number;

  constructor(cfg: VtaConfig, readonly size: number) {
    this.allocator = new BestFitAllocator(size);
    this.align = Math.max(cfg.WGT_ELEM_BYTES, cfg.ACC_ELEM_BYTES, cfg.INP_ELEM_BYTES, 64);
  }

  alloc(bytes: number): number {
    return this.allocator.alloc(bytes, this.align);
  }

  free(addr: number): void {
    this.allocator.release(addr);
  }

  get freeBytes(): number {
    return this.allocator.freeBytes;
  }

  /** The allocator's state: equal snapshots mean the same blocks are free and the same number live. */
  state(): DeviceMemoryState {
    return { size: this.size, freeBytes: this.allocator.freeBytes, liveAllocations: this.allocator.liveCount, freeBlocks: this.allocator.freeBlocks() };
  }
}

export interface DeviceMemoryState {
  size: number;
  freeBytes: number;
  liveAllocations: number;
  /** Sorted by address; adjacent free blocks are merged, so a fully free memory is one block. */
  freeBlocks: { addr: number; size: number }[];
}
