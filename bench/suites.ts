import type { BenchSuite } from './harness.ts';
import { compilerSuite } from './compiler.ts';
import { openclSuite } from './opencl.ts';
import { cyclesimSuite } from './cyclesim.ts';
import { simSuite } from './sim.ts';
import { lowerSuite } from './lower.ts';

/** Every benchmark suite, in the order `npm run bench` runs them. */
export const suites: BenchSuite[] = [];
suites.push(openclSuite);
suites.push(cyclesimSuite);
suites.push(simSuite);
suites.push(compilerSuite);
suites.push(lowerSuite);
import { webgpuSuite } from './webgpu.ts';
suites.push(webgpuSuite);
import { chiselSuite } from './chisel.ts';
suites.push(chiselSuite);
import { runtimeSuite } from './runtime.ts';
suites.push(runtimeSuite);
import { presetsSuite } from './presets.ts';
suites.push(presetsSuite);
