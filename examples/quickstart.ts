/**
 * The quick start's main job: assemble the bundled example program, run it on the functional
 * simulator, and print its result and VTA's profiler counters.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assemble } from '../isa/asm.ts';
import { preset } from '../isa/config.ts';
import { runCli } from '../isa/cli/common.ts';
import { runImage } from '../sim/fsim.ts';

await runCli(() => {
  const cfg = preset('default');
  const path = fileURLToPath(new URL('./matmul-relu.s', import.meta.url));
  const image = assemble(cfg, readFileSync(path, 'utf8'), 'examples/matmul-relu.s');
  console.log(`assembled examples/matmul-relu.s: ${image.insns.length} instructions for ${cfg.fingerprint}`);
  const t0 = performance.now();
  const { counters, regions } = runImage(cfg, image);
  const ms = performance.now() - t0;
  const y = new Int8Array(regions.get('y')!.buffer);
  console.log(`ran on the functional simulator in ${ms.toFixed(1)} ms\n\nresult y (4 x 32, int8):`);
  for (let r = 0; r < 4; r++) console.log(Array.from(y.subarray(r * 32, r * 32 + 32), (v) => String(v).padStart(4)).join(''));
  console.log('\ncounters:');
  for (const [k, v] of Object.entries(counters)) console.log(`  ${k.padEnd(18)} ${v}`);
});
