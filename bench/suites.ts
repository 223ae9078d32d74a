import type { BenchSuite } from './harness.ts';

/** Every benchmark suite, in the order `npm run bench` runs them. */
export const suites: BenchSuite[] = [];
