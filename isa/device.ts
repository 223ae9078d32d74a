/**
 * The narrow interface every device target implements (sim, cyclesim, intelfocl, tsim, webgpu).
 *
 * A device owns one contiguous DRAM buffer of `memBytes` bytes. Addresses are byte offsets into
 * that buffer; an instruction's `dram_base` is such an offset divided by the element size of its
 * memory type (as in VTA's intelfocl driver, where the physical address is the buffer offset).
 * Allocation inside the buffer is the runtime's job (one best-fit allocator for every target), so a
 * driver only moves bytes and runs instruction streams.
 *
 * It lives in the bottom layer because the simulators implement it as well as the hardware drivers,
 * and the runtime only consumes it.
 */
import type { VtaConfig } from './config.ts';

export type TargetName = 'sim' | 'cyclesim' | 'intelfocl' | 'tsim' | 'webgpu';

export interface DriverOptions {
  config: VtaConfig;
  /** Size of the device buffer in bytes. */
  memBytes: number;
  /** Target-specific settings, e.g. an OpenCL platform name or a Verilator DRAM latency. */
  targetOptions?: Record<string, unknown>;
}

/** What one run of an instruction stream reports. Counter names follow VTA's profiler where one exists. */
export interface RunResult {
  /** e.g. inp_load_nbytes, wgt_load_nbytes, acc_load_nbytes, uop_load_nbytes, out_store_nbytes,
   * gemm_counter, alu_counter, and `cycles` on targets that count them. */
  counters: Record<string, number>;
  /** Completion cycle of each instruction, in stream order (targets that model time: cyclesim, tsim). */
  insnCycles?: ArrayLike<number>;
}

export interface DeviceDriver {
  readonly target: TargetName;
  readonly config: VtaConfig;
  readonly memBytes: number;
  /** Host -> device copy of `data` to byte offset `offset`. */
  write(offset: number, data: Uint8Array): Promise<void>;
  /** Device -> host copy of `length` bytes from byte offset `offset`. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /**
   * Runs `count` instructions stored at byte offset `insnOffset` (16-byte aligned) until FINISH.
   * Rejects with a typed error on a malformed stream (checked before the device sees it), on a
   * device error, or when `timeoutMs` passes; the driver stays usable for the next run.
   */
  run(insnOffset: number, count: number, opts: { timeoutMs: number }): Promise<RunResult>;
  /** Frees the device. Further calls reject. */
  close(): Promise<void>;
}

export type DriverFactory = (opts: DriverOptions) => Promise<DeviceDriver>;
