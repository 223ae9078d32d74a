/** What the simulator drivers (sim, cyclesim) share: reading a stream the way fetch does, and options. */
import type { VtaConfig } from '../isa/config.ts';
import { decodeProgram, INSN_BYTES } from '../isa/codec.ts';
import { VtaError } from '../isa/errors.ts';
import type { Insn } from '../isa/types.ts';
import type { Dram } from './dram.ts';
import type { KernelChoice } from './state.ts';

/** Decodes `count` instructions at byte `insnOffset` of device memory, checking the range first. */
export function readStream(target: string, cfg: VtaConfig, dram: Dram, insnOffset: number, count: number): Insn[] {
  if (!Number.isInteger(insnOffset) || insnOffset % INSN_BYTES !== 0) {
    throw new VtaError('VTA_DRIVER', `${target}: instruction offset ${insnOffset} is not ${INSN_BYTES}-byte aligned`);
  }
  if (!Number.isInteger(count) || count < 0) throw new VtaError('VTA_DRIVER', `${target}: instruction count must be a non-negative integer, got ${count}`);
  dram.check(insnOffset, count * INSN_BYTES, `instruction stream of ${count} instructions`);
  return decodeProgram(cfg, dram.u8.subarray(insnOffset, insnOffset + count * INSN_BYTES));
}

/** `targetOptions.kernel`: auto (default), wasm or js. */
export function kernelOption(target: string, value: unknown): KernelChoice {
  const kernel = (value ?? 'auto') as KernelChoice;
  if (!['auto', 'wasm', 'js'].includes(kernel)) {
    throw new VtaError('VTA_DRIVER', `${target}: targetOptions.kernel must be auto, wasm or js, got ${JSON.stringify(kernel)}`);
  }
  return kernel;
}
