/**
 * Every timing parameter of the cycle-level simulator, in one object. The defaults are estimates
 * from VTA's Chisel core and its De10 shell (../shared/reference/vta-hardware.md §5, §8); the
 * Chisel core in hw-chisel/ will calibrate them, so any subset can be overridden from a JSON file
 * (`loadTiming`) without touching code.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../isa/errors.ts';

export interface TimingConfig {
  /**
   * Cycles from a DRAM request being granted the port to its first beat. The port holds one
   * request at a time, so the latency occupies it (default 32: a DDR controller behind an AXI
   * interconnect at 100 MHz).
   */
  busLatency: number;
  /** Longest burst in beats; a longer row is split and every piece pays `busLatency` (default 16: De10's lenBits 4). */
  maxBurstBeats: number;
  /** Pipeline fill a GEMM instruction pays once, before its first micro-op (default 5: Chisel's 4-5 stage TensorGemm). */
  gemmPipelineFill: number;
  /** Cycles per GEMM micro-op once the pipeline is full (default 1). */
  gemmCyclesPerUop: number;
  /** Pipeline fill an ALU instruction pays once (default 4: Chisel's 4-stage TensorAlu). */
  aluPipelineFill: number;
  /** Cycles per ALU micro-op with an immediate operand (default 1). */
  aluCyclesPerUopImm: number;
  /** Cycles per tensor-tensor ALU micro-op: one acc read port, read src then dst (default 2). */
  aluCyclesPerUopTensor: number;
  /** SRAM write cycles per padding element of a LOAD; padding never uses the bus (default 1). */
  padCyclesPerElem: number;
  /** Cycles of an instruction that only carries flags: x_size = 0 LOAD/STORE, and FINISH (default 1: Chisel's Sync state). */
  syncCycles: number;
  /** Cycles from a token push until the popping module sees it (default 1: a registered semaphore). */
  tokenLatency: number;
  /** Cycles fetch spends routing one instruction into a command queue (default 1). */
  fetchDispatchCycles: number;
  /**
   * Instructions fetch reads per DRAM request; it drains them all before the next request (as
   * Chisel's Fetch64Bit does with its 2^(lenBits-1)-entry queue). Default 8: one 16-beat burst of
   * a 64-bit bus.
   */
  fetchBufferInsns: number;
  /** Depth of each module's command queue (default 512, as VTA). */
  commandQueueDepth: number;
  /** Depth of each token queue (default 8, as VTA). */
  tokenQueueDepth: number;
}

export const DEFAULT_TIMING: Readonly<TimingConfig> = Object.freeze({
  busLatency: 32,
  maxBurstBeats: 16,
  gemmPipelineFill: 5,
  gemmCyclesPerUop: 1,
  aluPipelineFill: 4,
  aluCyclesPerUopImm: 1,
  aluCyclesPerUopTensor: 2,
  padCyclesPerElem: 1,
  syncCycles: 1,
  tokenLatency: 1,
  fetchDispatchCycles: 1,
  fetchBufferInsns: 8,
  commandQueueDepth: 512,
  tokenQueueDepth: 8,
});

export const TIMING_PARAMETERS = Object.keys(DEFAULT_TIMING) as (keyof TimingConfig)[];

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
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    throw new ConfigError(source, 'a timing configuration must be a JSON object');
  }
  const out: TimingConfig = { ...DEFAULT_TIMING };
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
