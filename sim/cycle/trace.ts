/**
 * The Chrome trace-event JSON of one cycle-level run, which Perfetto UI and chrome://tracing open:
 * a track per module with a slice per instruction (issue to completion) and a slice per stall
 * (waiting for a token, a command-queue slot or the DRAM port), a DRAM-port track with a slice per
 * granted request, and counter tracks for the occupancy of the command and token queues.
 *
 * Timestamps are cycles: the format's unit is the microsecond, so a viewer shows 1 cycle as 1 us.
 * Integer cycles keep back-to-back slices exactly adjacent, which a conversion to real time at a
 * clock like 333 MHz would blur; the clock is in `otherData` for converting by hand.
 */
import { disassembleInsn } from '../../isa/asm.ts';
import type { VtaConfig } from '../../isa/config.ts';
import { moduleOf, type Insn } from '../../isa/types.ts';
import { CATEGORIES, MODULE_NAMES, QUEUE_COUNTERS, type CycleResult } from './engine.ts';

export interface TraceEvent {
  name: string;
  ph: 'X' | 'C' | 'M';
  pid: number;
  tid?: number;
  ts?: number;
  dur?: number;
  cat?: string;
  args?: Record<string, unknown>;
}

export interface ChromeTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ns' | 'ms';
  otherData: Record<string, string | number>;
}

const PID = 1;
/** Thread ids: the four modules, then the DRAM port. */
const TID_MODULE = [1, 2, 3, 4];
const TID_BUS = 5;

/** A short slice name: the opcode, with the memory type or ALU operation. */
function sliceName(insn: Insn): string {
  switch (insn.opcode) {
    case 'LOAD':
    case 'STORE':
      return insn.x_size === 0 ? `${insn.opcode} (sync)` : `${insn.opcode} ${insn.memory_type}`;
    case 'ALU':
      return `ALU ${insn.alu_opcode}${insn.use_imm ? ' imm' : ''}`;
    default:
      return insn.opcode;
  }
}

/** Builds the trace; `result` must come from a run with `trace: true`. */
export function toChromeTrace(cfg: VtaConfig, insns: readonly Insn[], result: CycleResult): ChromeTrace {
  const log = result.trace;
  if (!log) throw new Error('toChromeTrace needs a result simulated with { trace: true }');
  const ev: TraceEvent[] = [];
  ev.push({ name: 'process_name', ph: 'M', pid: PID, args: { name: `VTA ${cfg.fingerprint} (cycle-level)` } });
  const threads: [number, string][] = [...MODULE_NAMES.map((m, k): [number, string] => [TID_MODULE[k]!, m]), [TID_BUS, 'DRAM port']];
  for (const [tid, name] of threads) {
    ev.push({ name: 'thread_name', ph: 'M', pid: PID, tid, args: { name } });
    ev.push({ name: 'thread_sort_index', ph: 'M', pid: PID, tid, args: { sort_index: tid } });
  }
  for (const c of log.fetchChunks) {
    ev.push({
      name: `fetch ${c.first}..${c.first + c.count - 1}`,
      cat: 'fetch',
      ph: 'X',
      pid: PID,
      tid: TID_MODULE[0]!,
      ts: c.start,
      dur: c.end - c.start,
      args: { first: c.first, count: c.count },
    });
  }
  for (let i = 0; i < insns.length; i++) {
    const insn = insns[i]!;
    const m = MODULE_NAMES.indexOf(moduleOf(insn));
    ev.push({
      name: sliceName(insn),
      cat: 'insn',
      ph: 'X',
      pid: PID,
      tid: TID_MODULE[m]!,
      ts: result.issue[i]!,
      dur: result.complete[i]! - result.issue[i]!,
      args: { index: i, insn: disassembleInsn(cfg, insn), dispatched: result.dispatch[i]!, issue: result.issue[i]!, complete: result.complete[i]! },
    });
  }
  // Stalls: a token or queue wait lies between instruction slices, a bus wait inside one.
  const st = log.stalls;
  for (let k = 0; k < st.module.length; k++) {
    const m = st.module[k]!;
    const name = CATEGORIES[st.category[k]!] === 'busStall' ? 'wait: DRAM port' : m === 0 ? 'wait: command queue full' : 'wait: token';
    ev.push({ name, cat: 'stall', ph: 'X', pid: PID, tid: TID_MODULE[m]!, ts: st.start[k]!, dur: st.end[k]! - st.start[k]! });
  }
  const bus = log.bus;
  for (let k = 0; k < bus.length; k++) {
    ev.push({
      name: `${MODULE_NAMES[bus.client[k]!]} ${bus.beats[k]} beats`,
      cat: 'dram',
      ph: 'X',
      pid: PID,
      tid: TID_BUS,
      ts: bus.start[k]!,
      dur: bus.end[k]! - bus.start[k]!,
      args: { client: MODULE_NAMES[bus.client[k]!], beats: bus.beats[k]!, latency: result.timing.busLatency },
    });
  }
  // Every counter starts at zero so its track spans the whole run.
  QUEUE_COUNTERS.forEach((name) => ev.push({ name, ph: 'C', pid: PID, ts: 0, args: { occupancy: 0 } }));
  const c = log.counters;
  for (let k = 0; k < c.id.length; k++) {
    ev.push({ name: QUEUE_COUNTERS[c.id[k]!]!, ph: 'C', pid: PID, ts: c.time[k]!, args: { occupancy: c.value[k]! } });
  }
  return {
    traceEvents: ev,
    displayTimeUnit: 'ns',
    otherData: { timeUnit: '1 trace microsecond = 1 core cycle', clockMHz: cfg.CLOCK_MHZ, cycles: result.cycles, config: cfg.fingerprint },
  };
}
