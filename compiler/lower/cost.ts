/** DRAM-port costs as the cycle-level simulator's timing model charges them, for the estimates. */
import type { VtaConfig } from '../../isa/config.ts';
import type { TimingConfig } from '../../sim/cycle/timing.ts';

/** Cycles of a transfer of `rows` rows of `bytes` bytes each: every burst pays the latency. */
export function busCycles(cfg: VtaConfig, t: TimingConfig, rows: number, bytes: number): number {
  const beats = Math.ceil(bytes / cfg.BUS_BYTES);
  return rows * (beats + t.busLatency * Math.ceil(beats / t.maxBurstBeats));
}

/** Port cycles fetch spends per instruction: one request per fetchBufferInsns instructions. */
export function fetchCyclesPerInsn(cfg: VtaConfig, t: TimingConfig): number {
  return busCycles(cfg, t, 1, t.fetchBufferInsns * 16) / t.fetchBufferInsns;
}
