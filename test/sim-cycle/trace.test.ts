/**
 * The Chrome trace-event export: checked against the format's rules as Perfetto's and
 * chrome://tracing's JSON importers read them (an object with a `traceEvents` array; complete
 * events 'X' with numeric ts/dur on a pid/tid; counter events 'C' with numeric args; metadata 'M'
 * naming processes and threads), plus what this trace promises: a named track per module, one
 * slice per instruction on its module's track matching the run's issue/completion cycles, stall
 * slices adding up to the run's stall figures, slices on a track nesting properly, and
 * queue-occupancy counters within their queue depths.
 */
import { describe, expect, it } from 'vitest';
import { moduleOf, preset } from '../../isa/index.ts';
import { Dram } from '../../sim/dram.ts';
import { placeImage } from '../../sim/fsim.ts';
import { CycleSimulator } from '../../sim/cycle/cyclesim.ts';
import { toChromeTrace } from '../../sim/cycle/trace.ts';
import { DEFAULT_TIMING } from '../../sim/cycle/timing.ts';
import { testPrograms } from '../programs/index.ts';

const cfg = preset('default');

describe('Chrome trace export', () => {
  it('is a structurally valid trace-event file with a track per module and a slice per instruction', () => {
    const prog = testPrograms(cfg).find((p) => p.name.includes('double'))!;
    const dram = new Dram(prog.image.memBytes);
    placeImage(cfg, dram, prog.image);
    const run = new CycleSimulator(cfg, dram, DEFAULT_TIMING).run(prog.image.insns, { trace: true });
    const insns = prog.image.insns;
    // Round-trip through text, as a viewer gets it.
    const trace = JSON.parse(JSON.stringify(toChromeTrace(cfg, insns, run.timing))) as Record<string, unknown>;

    expect(Array.isArray(trace.traceEvents)).toBe(true);
    expect(['ns', 'ms']).toContain(trace.displayTimeUnit);
    const events = trace.traceEvents as Record<string, unknown>[];
    const threadNames = new Map<string, string>();
    const slicesByTrack = new Map<string, { ts: number; dur: number }[]>();
    const counters = new Map<string, number[]>();
    for (const e of events) {
      expect(typeof e.name).toBe('string');
      expect(Number.isInteger(e.pid)).toBe(true);
      switch (e.ph) {
        case 'M': {
          expect(['process_name', 'thread_name', 'thread_sort_index']).toContain(e.name);
          const args = e.args as Record<string, unknown>;
          if (e.name === 'thread_name') {
            expect(Number.isInteger(e.tid)).toBe(true);
            expect(typeof args.name).toBe('string');
            threadNames.set(`${e.pid}:${e.tid}`, args.name as string);
          }
          break;
        }
        case 'X': {
          expect(Number.isInteger(e.tid)).toBe(true);
          expect(typeof e.ts).toBe('number');
          expect(typeof e.dur).toBe('number');
          expect(e.ts as number).toBeGreaterThanOrEqual(0);
          expect(e.dur as number).toBeGreaterThanOrEqual(0);
          const key = `${e.pid}:${e.tid}`;
          if (!slicesByTrack.has(key)) slicesByTrack.set(key, []);
          slicesByTrack.get(key)!.push({ ts: e.ts as number, dur: e.dur as number });
          break;
        }
        case 'C': {
          expect(typeof e.ts).toBe('number');
          const values = Object.values(e.args as Record<string, unknown>);
          expect(values.length).toBeGreaterThan(0);
          for (const v of values) expect(typeof v).toBe('number');
          if (!counters.has(e.name as string)) counters.set(e.name as string, []);
          counters.get(e.name as string)!.push(values[0] as number);
          break;
        }
        default:
          throw new Error(`unexpected phase ${String(e.ph)}`);
      }
    }
    // A named track per module (and the DRAM port); every slice lies on a named track.
    expect([...threadNames.values()].sort()).toEqual(['DRAM port', 'compute', 'fetch', 'load', 'store']);
    // Slices on a track nest properly: each lies after, or wholly inside, the ones open before it.
    for (const [key, slices] of slicesByTrack) {
      expect(threadNames.has(key)).toBe(true);
      slices.sort((a, b) => a.ts - b.ts || b.dur - a.dur);
      const open: { ts: number; dur: number }[] = [];
      for (const s of slices) {
        while (open.length && open.at(-1)!.ts + open.at(-1)!.dur <= s.ts) open.pop();
        if (open.length) expect(s.ts + s.dur).toBeLessThanOrEqual(open.at(-1)!.ts + open.at(-1)!.dur);
        open.push(s);
      }
    }
    // Every stall the run counted appears as a slice on its module's track.
    const stallCycles = new Map<string, number>();
    for (const e of events.filter((e) => e.cat === 'stall')) {
      const track = threadNames.get(`${e.pid}:${e.tid}`)!;
      const kind = (e.name as string).includes('DRAM') ? 'busStall' : 'tokenStall';
      stallCycles.set(`${track}.${kind}`, (stallCycles.get(`${track}.${kind}`) ?? 0) + (e.dur as number));
    }
    for (const m of ['fetch', 'load', 'compute', 'store'] as const) {
      expect(stallCycles.get(`${m}.busStall`) ?? 0).toBe(run.timing.modules[m].busStall);
      expect(stallCycles.get(`${m}.tokenStall`) ?? 0).toBe(run.timing.modules[m].tokenStall);
    }
    // One slice per instruction, on its module's track, spanning issue to completion.
    const insnSlices = events.filter((e) => e.cat === 'insn');
    expect(insnSlices.length).toBe(insns.length);
    for (const e of insnSlices) {
      const i = (e.args as { index: number }).index;
      expect(threadNames.get(`${e.pid}:${e.tid}`)).toBe(moduleOf(insns[i]!));
      expect(e.ts).toBe(run.timing.issue[i]);
      expect((e.ts as number) + (e.dur as number)).toBe(run.timing.complete[i]);
    }
    // Queue occupancy: command queues within their depth, token queues within theirs, all empty at the end.
    expect(counters.size).toBe(7);
    for (const [name, values] of counters) {
      const depth = name.startsWith('tokens') ? DEFAULT_TIMING.tokenQueueDepth : DEFAULT_TIMING.commandQueueDepth;
      for (const v of values) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(depth);
      }
      expect(values.at(-1)).toBe(0);
    }
    expect(Math.max(...counters.get('tokens load->compute')!)).toBeGreaterThan(0);
  });
});
