/**
 * Byte ranges of device memory, as the driver tracks them: the stale parts of the host's copy of
 * DRAM (the driver reads instructions and micro-ops on the host to validate and plan a run, and
 * answers `read` from this copy where it is current; STOREs make their ranges stale until they are
 * read back from the GPU), and what a kept run's STOREs write and UOP loads read.
 */
export class ByteRanges {
  /** Sorted, disjoint, non-adjacent [start, end) byte ranges. */
  private ranges: [number, number][] = [];

  /** The index of the first range that ends at or after `at`. */
  private first(at: number): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ranges[mid]![1] < at) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  add(start: number, end: number): void {
    if (start >= end) return;
    const i = this.first(start);
    let j = i;
    let s = start;
    let e = end;
    // Ranges that overlap or touch [start, end) merge into it.
    while (j < this.ranges.length && this.ranges[j]![0] <= end) {
      s = Math.min(s, this.ranges[j]![0]);
      e = Math.max(e, this.ranges[j]![1]);
      j++;
    }
    this.ranges.splice(i, j - i, [s, e]);
  }

  remove(start: number, end: number): void {
    if (start >= end) return;
    const i = this.first(start + 1);
    let j = i;
    const keep: [number, number][] = [];
    while (j < this.ranges.length && this.ranges[j]![0] < end) {
      const [s, e] = this.ranges[j]!;
      if (s < start) keep.push([s, start]);
      if (e > end) keep.push([end, e]);
      j++;
    }
    this.ranges.splice(i, j - i, ...keep);
  }

  /** The smallest range covering every stale byte of [start, end), or null if none is stale. */
  within(start: number, end: number): [number, number] | null {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = this.first(start + 1); i < this.ranges.length && this.ranges[i]![0] < end; i++) {
      const [s, e] = this.ranges[i]!;
      lo = Math.min(lo, Math.max(s, start));
      hi = Math.max(hi, Math.min(e, end));
    }
    return lo < hi ? [lo, hi] : null;
  }

  /** Whether every byte of [start, end) is in the set. */
  covers(start: number, end: number): boolean {
    if (start >= end) return true;
    const r = this.ranges[this.first(start + 1)];
    return r !== undefined && r[0] <= start && r[1] >= end;
  }

  /** The stale ranges, merged. */
  list(): readonly (readonly [number, number])[] {
    return this.ranges;
  }
}
