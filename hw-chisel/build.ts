/**
 * Builds the tsim target from Node: runs hw-chisel/build.sh, which skips up-to-date steps and
 * serializes concurrent callers on a lock, so tests and benchmarks call it unconditionally.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { VtaError } from '../isa/errors.ts';

export function buildTsim(): void {
  const script = fileURLToPath(new URL('./build.sh', import.meta.url));
  const r = spawnSync('sh', [script], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new VtaError('VTA_TSIM_BUILD', `hw-chisel/build.sh failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
}
