/** The timing report of a cycle-level run, as text (`vta-sim --timing`) and as JSON (`--json`). */
import { disassembleInsn } from '../../isa/asm.ts';
import type { VtaConfig } from '../../isa/config.ts';
import { moduleOf, type Insn } from '../../isa/types.ts';
import { CATEGORIES, MODULE_NAMES, type CycleResult, type CycleStats } from './engine.ts';
import { timingName, type TimingConfig } from './timing.ts';

export interface TimingReportJson {
  cycles: number;
  clockMHz: number;
  /** cycles / CLOCK_MHZ. */
  microseconds: number;
  modules: Record<string, CycleStats>;
  gemm: CycleResult['gemm'];
  alu: CycleResult['alu'];
  bus: CycleResult['bus'];
  timing: TimingConfig;
  /** `calibrated`, or `custom (...)` with the parameters that differ from it. */
  timingName: string;
  instructions: { index: number; module: string; insn: string; dispatched: number; issue: number; complete: number }[];
}

export function timingReportJson(cfg: VtaConfig, insns: readonly Insn[], r: CycleResult): TimingReportJson {
  return {
    cycles: r.cycles,
    clockMHz: cfg.CLOCK_MHZ,
    microseconds: r.cycles / cfg.CLOCK_MHZ,
    modules: r.modules,
    gemm: r.gemm,
    alu: r.alu,
    bus: r.bus,
    timing: r.timing,
    timingName: timingName(r.timing),
    instructions: insns.map((insn, i) => ({
      index: i,
      module: moduleOf(insn),
      insn: disassembleInsn(cfg, insn),
      dispatched: r.dispatch[i]!,
      issue: r.issue[i]!,
      complete: r.complete[i]!,
    })),
  };
}

const pct = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-');

/**
 * The report as aligned text: totals, the per-module breakdown, GEMM/ALU/DRAM figures, and (with
 * `perInsn`) one line per instruction with its dispatch, issue and completion cycles.
 */
export function formatTimingReport(cfg: VtaConfig, insns: readonly Insn[], r: CycleResult, opts: { perInsn?: boolean } = {}): string {
  const lines: string[] = [];
  const total = r.cycles;
  lines.push(`cycles: ${total} (${(total / cfg.CLOCK_MHZ).toFixed(2)} us at ${cfg.CLOCK_MHZ} MHz, timing ${timingName(r.timing)})`);
  const header = ['module', ...CATEGORIES];
  const rows = MODULE_NAMES.map((m) => [m, ...CATEGORIES.map((c) => `${r.modules[m][c]} (${pct(r.modules[m][c], total)})`)]);
  const widths = header.map((h, k) => Math.max(h.length, ...rows.map((row) => row[k]!.length)));
  const fmt = (cells: string[]) => cells.map((c, k) => (k === 0 ? c.padEnd(widths[k]!) : c.padStart(widths[k]!))).join('  ');
  lines.push(fmt(header), ...rows.map(fmt));
  const g = r.gemm;
  lines.push(
    `GEMM: ${g.uops} uops, utilization ${pct(g.uopCycles, total)}, ${g.macsPerCycle.toFixed(2)} MACs/cycle of peak ${g.peakMacsPerCycle} (${pct(g.macsPerCycle, g.peakMacsPerCycle)})`,
  );
  lines.push(`ALU: ${r.alu.uops} uops, ${r.alu.uopCycles} cycles`);
  lines.push(`DRAM port: ${r.bus.requests} requests, ${r.bus.beats} beats of ${cfg.BUS_BYTES} B, held ${r.bus.busyCycles} cycles (${pct(r.bus.busyCycles, total)})`);
  if (opts.perInsn) {
    lines.push('', 'index  module   dispatched      issue   complete  instruction');
    insns.forEach((insn, i) => {
      lines.push(
        `${String(i).padStart(5)}  ${moduleOf(insn).padEnd(7)}  ${String(r.dispatch[i]).padStart(10)} ${String(r.issue[i]).padStart(10)} ${String(r.complete[i]).padStart(10)}  ${disassembleInsn(cfg, insn)}`,
      );
    });
  }
  return lines.join('\n');
}

/** The counters a DeviceDriver reports for a run: `cycles` plus the per-module figures, flat. */
export function timingCounters(r: CycleResult): Record<string, number> {
  const out: Record<string, number> = { cycles: r.cycles };
  for (const m of MODULE_NAMES) {
    for (const c of CATEGORIES) out[`${m}_${c === 'tokenStall' ? 'token_stall' : c === 'busStall' ? 'bus_stall' : c}_cycles`] = r.modules[m][c];
  }
  out.gemm_uop_cycles = r.gemm.uopCycles;
  out.gemm_macs = r.gemm.macs;
  out.alu_uop_cycles = r.alu.uopCycles;
  out.dram_requests = r.bus.requests;
  out.dram_beats = r.bus.beats;
  out.dram_busy_cycles = r.bus.busyCycles;
  return out;
}
