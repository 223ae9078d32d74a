/**
 * The benchmark harness: each suite returns rows of figures; `npm run bench` prints
 * them as one table, or as JSON with `--json`. A row carries its reference (measured
 * in the same run) when one exists, so ratios are never against remembered numbers.
 */
export interface BenchRow {
  suite: string;
  name: string;
  value: number;
  unit: string;
  /** What the figure is compared with, e.g. a target from an issue or a reference tool's figure. */
  reference?: { label: string; value: number; unit: string };
  /** Free text, such as the target the figure is held to. */
  note?: string;
}

export interface BenchSuite {
  name: string;
  /** Runs the suite; `quick` asks for fewer repetitions (used by smoke tests). */
  run(opts: { quick: boolean; log: (msg: string) => void }): Promise<BenchRow[]>;
}

export function formatTable(rows: BenchRow[]): string {
  const header = ['suite', 'benchmark', 'value', 'unit', 'reference', 'note'];
  const body = rows.map((r) => [
    r.suite,
    r.name,
    formatNumber(r.value),
    r.unit,
    r.reference ? `${r.reference.label}: ${formatNumber(r.reference.value)} ${r.reference.unit}` : '',
    r.note ?? '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString('en-US');
  const a = Math.abs(v);
  if (a >= 1e6 || (a > 0 && a < 1e-3)) return v.toExponential(3);
  return v.toFixed(a >= 100 ? 1 : 4);
}

/** Wall time of `fn` in seconds: the best of `repeat` runs after one warm-up. */
export async function timeBest(fn: () => unknown | Promise<unknown>, repeat: number): Promise<number> {
  await fn();
  let best = Infinity;
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  return best;
}
