/**
 * The hardware configuration: VTA's LOG_* parameters plus target properties, and every value
 * derived from them (TVM's `Environment` plays this role upstream). One `VtaConfig` object travels
 * through the whole toolchain; the instruction layout is computed from it (see layout.ts).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from './errors.ts';
import { computeLayout, type IsaLayout } from './layout.ts';

/** The JSON format of a configuration file (the presets in isa/presets/ are examples). */
export interface VtaConfigJson {
  name?: string;
  LOG_INP_WIDTH: number;
  LOG_WGT_WIDTH: number;
  LOG_ACC_WIDTH: number;
  LOG_BATCH: number;
  LOG_BLOCK: number;
  LOG_UOP_BUFF_SIZE: number;
  LOG_INP_BUFF_SIZE: number;
  LOG_WGT_BUFF_SIZE: number;
  LOG_ACC_BUFF_SIZE: number;
  /** Width of the DRAM data bus in bits. */
  BUS_WIDTH: number;
  /** Core clock in MHz. */
  CLOCK_MHZ: number;
}

export const LOG_PARAMETERS = [
  'LOG_INP_WIDTH',
  'LOG_WGT_WIDTH',
  'LOG_ACC_WIDTH',
  'LOG_BATCH',
  'LOG_BLOCK',
  'LOG_UOP_BUFF_SIZE',
  'LOG_INP_BUFF_SIZE',
  'LOG_WGT_BUFF_SIZE',
  'LOG_ACC_BUFF_SIZE',
] as const;

export type MemoryTypeName = 'UOP' | 'WGT' | 'INP' | 'ACC' | 'OUT' | 'ACC_8BIT';

export interface VtaConfig extends Readonly<Required<VtaConfigJson>> {
  readonly BATCH: number;
  readonly BLOCK_IN: number;
  readonly BLOCK_OUT: number;
  readonly INP_WIDTH: number;
  readonly WGT_WIDTH: number;
  readonly ACC_WIDTH: number;
  readonly OUT_WIDTH: number;
  /** Bits of one buffer element: INP = BATCH x BLOCK_IN values, WGT = BLOCK_OUT x BLOCK_IN, ACC/OUT = BATCH x BLOCK_OUT. */
  readonly INP_ELEM_BITS: number;
  readonly WGT_ELEM_BITS: number;
  readonly ACC_ELEM_BITS: number;
  readonly OUT_ELEM_BITS: number;
  readonly UOP_ELEM_BITS: number;
  readonly INP_ELEM_BYTES: number;
  readonly WGT_ELEM_BYTES: number;
  readonly ACC_ELEM_BYTES: number;
  readonly OUT_ELEM_BYTES: number;
  readonly UOP_ELEM_BYTES: number;
  readonly LOG_OUT_BUFF_SIZE: number;
  readonly LOG_UOP_DEPTH: number;
  readonly LOG_INP_DEPTH: number;
  readonly LOG_WGT_DEPTH: number;
  readonly LOG_ACC_DEPTH: number;
  readonly LOG_OUT_DEPTH: number;
  readonly UOP_DEPTH: number;
  readonly INP_DEPTH: number;
  readonly WGT_DEPTH: number;
  readonly ACC_DEPTH: number;
  readonly OUT_DEPTH: number;
  /** Bytes per beat of the DRAM bus. */
  readonly BUS_BYTES: number;
  /** Multiply-accumulates the GEMM core does per micro-op: BATCH x BLOCK_IN x BLOCK_OUT. */
  readonly MACS_PER_UOP: number;
  /** VTA's bitstream tag, e.g. `1x16_i8w8a32_15_15_18_17`; compiled models carry it. */
  readonly fingerprint: string;
  readonly layout: IsaLayout;
}

/** Bytes of one DRAM element for each memory type: what `dram_base` and `x_stride` count in. */
export function elemBytes(cfg: VtaConfig, memoryType: MemoryTypeName): number {
  switch (memoryType) {
    case 'UOP':
      return cfg.UOP_ELEM_BYTES;
    case 'WGT':
      return cfg.WGT_ELEM_BYTES;
    case 'INP':
      return cfg.INP_ELEM_BYTES;
    case 'ACC':
      return cfg.ACC_ELEM_BYTES;
    case 'OUT':
      return cfg.OUT_ELEM_BYTES;
    case 'ACC_8BIT':
      return cfg.BATCH * cfg.BLOCK_OUT;
  }
}

/** SRAM depth (elements) addressed by a LOAD or STORE of this memory type. */
export function sramDepth(cfg: VtaConfig, memoryType: MemoryTypeName): number {
  switch (memoryType) {
    case 'UOP':
      return cfg.UOP_DEPTH;
    case 'WGT':
      return cfg.WGT_DEPTH;
    case 'INP':
      return cfg.INP_DEPTH;
    case 'ACC':
    case 'ACC_8BIT':
      return cfg.ACC_DEPTH;
    case 'OUT':
      return cfg.OUT_DEPTH;
  }
}

const SUPPORTED_BUS_WIDTHS = [8, 16, 32, 64, 128, 256, 512, 1024];

function checkInt(json: Record<string, unknown>, key: string, min: number, max: number, why: string): number {
  const v = json[key];
  if (v === undefined) throw new ConfigError(key, 'missing');
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new ConfigError(key, `must be an integer, got ${JSON.stringify(v)}`);
  if (v < min || v > max) throw new ConfigError(key, `${v} is out of range [${min}, ${max}]: ${why}`);
  return v;
}

/** Validates a configuration and derives every dependent value. Throws ConfigError naming the parameter. */
export function makeConfig(input: unknown): VtaConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ConfigError('config', 'must be a JSON object');
  }
  const json = input as Record<string, unknown>;
  const known = new Set<string>([...LOG_PARAMETERS, 'BUS_WIDTH', 'CLOCK_MHZ', 'name']);
  for (const key of Object.keys(json)) {
    if (!known.has(key)) throw new ConfigError(key, `unknown parameter (known: ${[...known].join(', ')})`);
  }
  const name = json.name === undefined ? 'custom' : json.name;
  if (typeof name !== 'string' || name.length === 0) throw new ConfigError('name', 'must be a non-empty string');

  // The cores, simulators and compiler implement int8 inputs and weights with an int32 accumulator.
  const LOG_INP_WIDTH = checkInt(json, 'LOG_INP_WIDTH', 3, 3, 'only int8 inputs (3) are implemented');
  const LOG_WGT_WIDTH = checkInt(json, 'LOG_WGT_WIDTH', 3, 3, 'only int8 weights (3) are implemented');
  const LOG_ACC_WIDTH = checkInt(json, 'LOG_ACC_WIDTH', 5, 5, 'only an int32 accumulator (5) is implemented');
  const LOG_BATCH = checkInt(json, 'LOG_BATCH', 0, 4, 'batch 1 to 16');
  const LOG_BLOCK = checkInt(json, 'LOG_BLOCK', 1, 6, 'block 2 to 64');
  const LOG_UOP_BUFF_SIZE = checkInt(json, 'LOG_UOP_BUFF_SIZE', 2, 24, 'log2 of the uop buffer bytes');
  const LOG_INP_BUFF_SIZE = checkInt(json, 'LOG_INP_BUFF_SIZE', 0, 30, 'log2 of the input buffer bytes');
  const LOG_WGT_BUFF_SIZE = checkInt(json, 'LOG_WGT_BUFF_SIZE', 0, 30, 'log2 of the weight buffer bytes');
  const LOG_ACC_BUFF_SIZE = checkInt(json, 'LOG_ACC_BUFF_SIZE', 0, 30, 'log2 of the accumulator buffer bytes');
  const BUS_WIDTH = checkInt(json, 'BUS_WIDTH', 8, 1024, 'bus width in bits');
  if (!SUPPORTED_BUS_WIDTHS.includes(BUS_WIDTH)) {
    throw new ConfigError('BUS_WIDTH', `${BUS_WIDTH} must be a power of two from 8 to 1024 bits`);
  }
  const CLOCK_MHZ = json.CLOCK_MHZ;
  if (typeof CLOCK_MHZ !== 'number' || !(CLOCK_MHZ > 0) || !Number.isFinite(CLOCK_MHZ)) {
    throw new ConfigError('CLOCK_MHZ', `must be a positive number, got ${JSON.stringify(CLOCK_MHZ)}`);
  }

  const BATCH = 1 << LOG_BATCH;
  const BLOCK = 1 << LOG_BLOCK;
  const INP_WIDTH = 1 << LOG_INP_WIDTH;
  const WGT_WIDTH = 1 << LOG_WGT_WIDTH;
  const ACC_WIDTH = 1 << LOG_ACC_WIDTH;
  const OUT_WIDTH = INP_WIDTH;
  const logInpElemBits = LOG_INP_WIDTH + LOG_BATCH + LOG_BLOCK;
  const logWgtElemBits = LOG_WGT_WIDTH + LOG_BLOCK + LOG_BLOCK;
  const logAccElemBits = LOG_ACC_WIDTH + LOG_BATCH + LOG_BLOCK;
  const LOG_OUT_BUFF_SIZE = LOG_ACC_BUFF_SIZE + LOG_INP_WIDTH - LOG_ACC_WIDTH;

  // Depth = buffer bytes / element bytes; a buffer must hold at least one element, and SRAM
  // indices must fit the 16-bit sram_base field of LOAD/STORE.
  const depth = (param: string, logSize: number, logElemBits: number): number => {
    const logDepth = logSize - logElemBits + 3;
    if (logDepth < 0) {
      throw new ConfigError(param, `${logSize} gives a buffer of ${2 ** logSize} bytes, smaller than one ${2 ** (logElemBits - 3)}-byte element`);
    }
    if (logDepth > 16) {
      throw new ConfigError(param, `${logSize} gives ${2 ** logDepth} elements; SRAM indices are limited to 16 bits (65536 elements)`);
    }
    return logDepth;
  };
  const LOG_UOP_DEPTH = depth('LOG_UOP_BUFF_SIZE', LOG_UOP_BUFF_SIZE, 5);
  const LOG_INP_DEPTH = depth('LOG_INP_BUFF_SIZE', LOG_INP_BUFF_SIZE, logInpElemBits);
  const LOG_WGT_DEPTH = depth('LOG_WGT_BUFF_SIZE', LOG_WGT_BUFF_SIZE, logWgtElemBits);
  const LOG_ACC_DEPTH = depth('LOG_ACC_BUFF_SIZE', LOG_ACC_BUFF_SIZE, logAccElemBits);
  const LOG_OUT_DEPTH = LOG_ACC_DEPTH;

  const base = {
    name,
    LOG_INP_WIDTH,
    LOG_WGT_WIDTH,
    LOG_ACC_WIDTH,
    LOG_BATCH,
    LOG_BLOCK,
    LOG_UOP_BUFF_SIZE,
    LOG_INP_BUFF_SIZE,
    LOG_WGT_BUFF_SIZE,
    LOG_ACC_BUFF_SIZE,
    BUS_WIDTH,
    CLOCK_MHZ,
    BATCH,
    BLOCK_IN: BLOCK,
    BLOCK_OUT: BLOCK,
    INP_WIDTH,
    WGT_WIDTH,
    ACC_WIDTH,
    OUT_WIDTH,
    INP_ELEM_BITS: 2 ** logInpElemBits,
    WGT_ELEM_BITS: 2 ** logWgtElemBits,
    ACC_ELEM_BITS: 2 ** logAccElemBits,
    OUT_ELEM_BITS: OUT_WIDTH * BATCH * BLOCK,
    UOP_ELEM_BITS: 32,
    INP_ELEM_BYTES: 2 ** (logInpElemBits - 3),
    WGT_ELEM_BYTES: 2 ** (logWgtElemBits - 3),
    ACC_ELEM_BYTES: 2 ** (logAccElemBits - 3),
    OUT_ELEM_BYTES: (OUT_WIDTH * BATCH * BLOCK) / 8,
    UOP_ELEM_BYTES: 4,
    LOG_OUT_BUFF_SIZE,
    LOG_UOP_DEPTH,
    LOG_INP_DEPTH,
    LOG_WGT_DEPTH,
    LOG_ACC_DEPTH,
    LOG_OUT_DEPTH,
    UOP_DEPTH: 2 ** LOG_UOP_DEPTH,
    INP_DEPTH: 2 ** LOG_INP_DEPTH,
    WGT_DEPTH: 2 ** LOG_WGT_DEPTH,
    ACC_DEPTH: 2 ** LOG_ACC_DEPTH,
    OUT_DEPTH: 2 ** LOG_OUT_DEPTH,
    BUS_BYTES: BUS_WIDTH / 8,
    MACS_PER_UOP: BATCH * BLOCK * BLOCK,
    fingerprint: `${BATCH}x${BLOCK}_i${INP_WIDTH}w${WGT_WIDTH}a${ACC_WIDTH}_${LOG_UOP_BUFF_SIZE}_${LOG_INP_BUFF_SIZE}_${LOG_WGT_BUFF_SIZE}_${LOG_ACC_BUFF_SIZE}`,
  };
  const layout = computeLayout(base);
  return Object.freeze({ ...base, layout });
}

export const PRESET_NAMES = ['default', 'intelfocl', '1x32x32', '1x64x64'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

const presetDir = fileURLToPath(new URL('./presets/', import.meta.url));
const presetCache = new Map<string, VtaConfig>();

export function preset(name: PresetName): VtaConfig {
  let cfg = presetCache.get(name);
  if (!cfg) {
    cfg = makeConfig(JSON.parse(readFileSync(`${presetDir}${name}.json`, 'utf8')));
    presetCache.set(name, cfg);
  }
  return cfg;
}

/**
 * Resolves a `--config` argument: a preset name, or a path to a JSON file in the format above.
 * Errors name the file and the parameter.
 */
export function loadConfig(spec: string | undefined): VtaConfig {
  if (spec === undefined || spec === '') return preset('default');
  if ((PRESET_NAMES as readonly string[]).includes(spec)) return preset(spec as PresetName);
  let text: string;
  try {
    text = readFileSync(spec, 'utf8');
  } catch (e) {
    throw new ConfigError('config', `${spec} is neither a preset (${PRESET_NAMES.join(', ')}) nor a readable file: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError('config', `${spec} is not valid JSON: ${(e as Error).message}`);
  }
  try {
    return makeConfig(json);
  } catch (e) {
    if (e instanceof ConfigError) throw new ConfigError(e.parameter, `${spec}: ${e.message.slice(e.parameter.length + 2)}`);
    throw e;
  }
}

/** The JSON form of a configuration (what a file holds), without derived values. */
export function configJson(cfg: VtaConfig): VtaConfigJson & { name: string } {
  const out: Record<string, unknown> = { name: cfg.name };
  for (const p of LOG_PARAMETERS) out[p] = cfg[p];
  out.BUS_WIDTH = cfg.BUS_WIDTH;
  out.CLOCK_MHZ = cfg.CLOCK_MHZ;
  return out as unknown as VtaConfigJson & { name: string };
}
