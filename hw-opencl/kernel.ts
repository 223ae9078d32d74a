/**
 * The OpenCL C source of the core for a configuration: the C header generated from isa/ for that
 * configuration, then src/vta.cl (which includes the checked-in default header only when built
 * offline by aoc). Any OpenCL platform compiles this string; Intel's FPGA platform loads an .aocx
 * built from the same files instead.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LOG_PARAMETERS, type VtaConfig } from '../isa/config.ts';
import { cHeader } from '../isa/gen/c-header.ts';

export const CORE_SOURCE_PATH = fileURLToPath(new URL('./src/vta.cl', import.meta.url));
export const CORE_KERNEL_NAME = 'vta_core';

/** Indices of the status words the core writes (VTA_STATUS_* in src/vta.cl). */
export const STATUS = {
  state: 0,
  index: 1,
  executed: 2,
  work: 3,
  inp_load_nbytes: 4,
  wgt_load_nbytes: 5,
  acc_load_nbytes: 6,
  uop_load_nbytes: 7,
  out_store_nbytes: 8,
  gemm_counter: 9,
  alu_counter: 10,
  config: 11,
} as const;

/** VTA_STATE_* in src/vta.cl. */
export const STATE = {
  FINISHED: 1,
  BUDGET: 2,
  NO_FINISH: 3,
  DEADLOCK: 4,
  DRAM_RANGE: 5,
  SRAM_RANGE: 6,
  BAD_INSN: 7,
} as const;

/** VTA_CONFIG_SIGNATURE of src/vta.cl: the nine LOG_* parameters, 5 bits each. */
export function configSignature(cfg: VtaConfig): number {
  return LOG_PARAMETERS.reduce((sig, p, i) => sig + cfg[p] * 2 ** (5 * i), 0);
}

export interface CoreBuildOptions {
  /** VTA_ACC_FORWARD_DEPTH (see src/vta.cl); 0 on CPU-like devices. */
  accForwardDepth?: number;
}

export function coreSource(cfg: VtaConfig): string {
  // #line keeps compiler messages pointing into vta.cl.
  return `${cHeader(cfg)}\n#line 1 "vta.cl"\n${readFileSync(CORE_SOURCE_PATH, 'utf8')}`;
}

export function coreBuildOptions(opts: CoreBuildOptions = {}): string {
  return [`-cl-std=CL1.2`, `-DVTA_ACC_FORWARD_DEPTH=${opts.accForwardDepth ?? 0}`].join(' ');
}
