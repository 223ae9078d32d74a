/**
 * The host's copy of device memory. The driver reads instructions and micro-ops on the host (to
 * validate and plan a run) and answers `read` from this copy where it is current; STOREs make
 * their ranges stale until they are read back from the GPU.
 */
export class StaleRanges {
  /** Sorted, disjoint, non-adjacent [start, end) byte ranges. */
  private ranges: [number, number][] = [];

  add(start: number, end: number): void {
    if (start >= end) return;
    const out: [number, number][] = [];
    let s = start;
    let e = end;
    for (const r of this.ranges) {
      if (r[1] < s || r[0] > e) out.push(r);
      else {
        s = Math.min(s, r[0]);
        e = Math.max(e, r[1]);
      }
    }
    out.push([s, e]);
    out.sort((a, b) => a[0] - b[0]);
    this.ranges = out;
  }

  remove(start: number, end: number): void {
    if (start >= end) return;
    const out: [number, number][] = [];
    for (const [s, e] of this.ranges) {
      if (e <= start || s >= end) out.push([s, e]);
      else {
        if (s < start) out.push([s, start]);
        if (e > end) out.push([end, e]);
      }
    }
    this.ranges = out;
  }

  /** The smallest range covering every stale byte of [start, end), or null if none is stale. */
  within(start: number, end: number): [number, number] | null {
    let lo = Infinity;
    let hi = -Infinity;
    for (const [s, e] of this.ranges) {
      if (e <= start || s >= end) continue;
      lo = Math.min(lo, Math.max(s, start));
      hi = Math.max(hi, Math.min(e, end));
    }
    return lo < hi ? [lo, hi] : null;
  }
}
