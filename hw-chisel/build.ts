/**
 * Builds the tsim target from Node: runs hw-chisel/build.sh, which skips up-to-date steps and
 * serializes concurrent callers on a lock, so tests and benchmarks call it unconditionally.
 *
 * The checked-in sources are the core of the default configuration (IsaConstants.scala, generated
 * by `npm run gen`). For another configuration, `buildTsim(cfg)` keeps a copy of the sources under
 * `target/configs/<fingerprint>_bus<bits>/` with IsaConstants.scala generated for it, and builds
 * there: the Chisel core generated for that configuration, its Verilator model and its own addon
 * (about a minute from scratch). Only 64-bit buses: the core's memory port is 64 bits wide.
 * From the shell: `node --import tsx hw-chisel/build.ts --config PRESET|FILE`.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, preset, type VtaConfig } from '../isa/config.ts';
import { VtaError } from '../isa/errors.ts';
import { scalaObject } from '../isa/gen/scala.ts';

const HW = fileURLToPath(new URL('./', import.meta.url));
/** The memory port of the core (Core.scala busBits). */
export const CORE_BUS_BITS = 64;

/** Whether the checked-in sources are this configuration's core. */
function isCheckedIn(cfg: VtaConfig): boolean {
  const d = preset('default');
  return cfg.fingerprint === d.fingerprint && cfg.BUS_WIDTH === d.BUS_WIDTH;
}

/** The folder the configuration's core is built in (hw-chisel/ itself for the default one). */
export function tsimBuildDir(cfg: VtaConfig = preset('default')): string {
  return isCheckedIn(cfg) ? HW : join(HW, 'target', 'configs', `${cfg.fingerprint}_bus${cfg.BUS_WIDTH}`) + '/';
}

/** Writes `content` unless the file already holds it, so the build's freshness checks hold. */
function syncFile(path: string, content: Buffer | string): void {
  try {
    if (readFileSync(path).equals(Buffer.from(content))) return;
  } catch {
    // missing: written below
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

function syncTree(rel: string, to: string): void {
  const from = join(HW, rel);
  if (statSync(from).isDirectory()) {
    for (const name of readdirSync(from)) syncTree(join(rel, name), to);
  } else syncFile(join(to, rel), readFileSync(from));
}

export function buildTsim(cfg: VtaConfig = preset('default')): void {
  const script = fileURLToPath(new URL('./build.sh', import.meta.url));
  const env = { ...process.env };
  if (!isCheckedIn(cfg)) {
    if (cfg.BUS_WIDTH !== CORE_BUS_BITS) {
      throw new VtaError('VTA_CONFIG_MISMATCH', `tsim: configuration ${cfg.name} has a ${cfg.BUS_WIDTH}-bit bus; the Chisel core's memory port is ${CORE_BUS_BITS}-bit`);
    }
    const dir = tsimBuildDir(cfg);
    for (const rel of ['pom.xml', 'binding.gyp', 'harness', 'src/main']) syncTree(rel, dir);
    syncFile(join(dir, 'src/main/scala/vta/IsaConstants.scala'), scalaObject(cfg));
    env.VTA_TSIM_DIR = dir;
  }
  const r = spawnSync('sh', [script], { encoding: 'utf8', maxBuffer: 1 << 26, env });
  if (r.status !== 0) throw new VtaError('VTA_TSIM_BUILD', `hw-chisel/build.sh failed (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const at = process.argv.indexOf('--config');
  buildTsim(loadConfig(at > 0 ? process.argv[at + 1] : undefined));
}
