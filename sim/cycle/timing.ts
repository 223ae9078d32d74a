/**
 * Every timing parameter of the cycle-level simulator, in one object. The defaults are the
 * parameters calibrated against the Chisel core (`timing.json` beside this file: the one timing
 * source of the simulator, the compiler's cost model and the schedule search); any subset can be
 * overridden from a JSON file (`loadTiming`) without touching code.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../isa/errors.ts';

export interface TimingConfig {
  /**
   * Cycles from a DRAM request being granted the port to its first beat. The port holds one
   * request at a time, so the latency occupies it (calibrated 33: the harness's DRAM latency of 32
   * plus the cycle the Chisel arbiter takes to grant).
   */
  busLatency: number;
  /** Longest burst in beats; a longer row is split and every piece pays `busLatency` (calibrated 256: the Chisel core's AXI bursts). */
  maxBurstBeats: number;
  /** Pipeline fill a GEMM instruction pays once, before its first micro-op (calibrated 6). */
  gemmPipelineFill: number;
  /** Cycles per GEMM micro-op once the pipeline is full (calibrated 1). */
  gemmCyclesPerUop: number;
  /** Pipeline fill an ALU instruction pays once (calibrated 6). */
  aluPipelineFill: number;
  /** Cycles per ALU micro-op with an immediate operand (calibrated 1). */
  aluCyclesPerUopImm: number;
  /** Cycles per tensor-tensor ALU micro-op: one acc read port, read src then dst (calibrated 2). */
  aluCyclesPerUopTensor: number;
  /** SRAM write cycles per padding element of a LOAD; padding never uses the bus (calibrated 1). */
  padCyclesPerElem: number;
  /** Cycles of an instruction that only carries flags: x_size = 0 LOAD/STORE, and FINISH (calibrated 2: take + Sync). */
  syncCycles: number;
  /** Cycles from a token push until the popping module sees it (calibrated 1: a registered semaphore). */
  tokenLatency: number;
  /** Cycles fetch spends routing one instruction into a command queue (calibrated 1). */
  fetchDispatchCycles: number;
  /**
   * Instructions fetch reads per DRAM request; it drains them all before the next request (as
   * Chisel's Fetch64Bit does with its 2^(lenBits-1)-entry queue). Calibrated 8: one 16-beat burst
   * of a 64-bit bus.
   */
  fetchBufferInsns: number;
  /** Depth of each module's command queue (calibrated 512, as VTA). */
  commandQueueDepth: number;
  /** Depth of each token queue (calibrated 8, as VTA). */
  tokenQueueDepth: number;
}

/** The parameter names, in the order reports print them. */
export const TIMING_PARAMETERS: readonly (keyof TimingConfig)[] = [
  'busLatency',
  'maxBurstBeats',
  'gemmPipelineFill',
  'gemmCyclesPerUop',
  'aluPipelineFill',
  'aluCyclesPerUopImm',
  'aluCyclesPerUopTensor',
  'padCyclesPerElem',
  'syncCycles',
  'tokenLatency',
  'fetchDispatchCycles',
  'fetchBufferInsns',
  'commandQueueDepth',
  'tokenQueueDepth',
];

/** Parameters that must be at least 1 (a queue of depth 0 or a zero-cycle step would stall forever or break time order). */
const AT_LEAST_ONE = new Set<keyof TimingConfig>([
  'maxBurstBeats',
  'gemmCyclesPerUop',
  'aluCyclesPerUopImm',
  'aluCyclesPerUopTensor',
  'syncCycles',
  'fetchDispatchCycles',
  'fetchBufferInsns',
  'commandQueueDepth',
  'tokenQueueDepth',
]);

/**
 * The defaults with `overrides` applied, checked: every value a non-negative integer (some at
 * least 1). Throws ConfigError naming the parameter; `source` names the file in the message.
 */
export function makeTiming(overrides: unknown = {}, source = 'timing'): TimingConfig {
  return checkedTiming(DEFAULT_TIMING, overrides, source);
}

function checkedTiming(base: Readonly<Partial<TimingConfig>>, overrides: unknown, source: string): TimingConfig {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    throw new ConfigError(source, 'a timing configuration must be a JSON object');
  }
  const out = { ...base } as TimingConfig;
  for (const [key, value] of Object.entries(overrides)) {
    if (!(TIMING_PARAMETERS as string[]).includes(key)) {
      throw new ConfigError(key, `${source}: unknown timing parameter (known: ${TIMING_PARAMETERS.join(', ')})`);
    }
    const k = key as keyof TimingConfig;
    const min = AT_LEAST_ONE.has(k) ? 1 : 0;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 2 ** 30) {
      throw new ConfigError(key, `${source}: must be an integer from ${min} to 2^30, got ${JSON.stringify(value)}`);
    }
    out[k] = value;
  }
  return out;
}

/** Reads a JSON file of overrides (any subset of the parameters) and applies it to the defaults. */
export function loadTiming(path: string): TimingConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError('timing', `${path} cannot be read: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError('timing', `${path} is not valid JSON: ${(e as Error).message}`);
  }
  return makeTiming(json, path);
}

/** Where the default timing comes from: the parameters calibrated against the Chisel core (hw-chisel/, DRAM latency 32). */
export const CALIBRATED_TIMING_FILE = 'sim/cycle/timing.json';

/**
 * The one default timing of the toolchain (cycle-level simulator, the compiler's estimates, the
 * schedule search): `timing.json`, measured on the Chisel core by `npm run bench -- --suite chisel`.
 * Every parameter must be in the file.
 */
export const DEFAULT_TIMING: Readonly<TimingConfig> = Object.freeze(readCalibrated());

function readCalibrated(): TimingConfig {
  const json = JSON.parse(readFileSync(new URL('./timing.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  const missing = TIMING_PARAMETERS.filter((k) => !(k in json));
  if (missing.length) throw new ConfigError('timing', `${CALIBRATED_TIMING_FILE} lacks ${missing.join(', ')}`);
  return checkedTiming({}, json, CALIBRATED_TIMING_FILE);
}

/**
 * Names a timing for reports: `calibrated` when it is the default, else `custom` with the
 * parameters that differ from it.
 */
export function timingName(t: Readonly<TimingConfig>): string {
  const diff = TIMING_PARAMETERS.filter((k) => t[k] !== DEFAULT_TIMING[k]);
  return diff.length === 0 ? 'calibrated' : `custom (${diff.map((k) => `${k}=${t[k]}`).join(', ')})`;
}
