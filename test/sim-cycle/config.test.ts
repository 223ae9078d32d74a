/** The timing configuration: defaults, JSON overrides, and typed errors naming the parameter. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, assemble, preset } from '../../isa/index.ts';
import { simulateCycles } from '../../sim/cycle/engine.ts';
import { readFileSync } from 'node:fs';
import { timingReportJson, formatTimingReport } from '../../sim/cycle/report.ts';
import { DEFAULT_TIMING, TIMING_PARAMETERS, loadTiming, makeTiming, timingName } from '../../sim/cycle/timing.ts';

const dir = mkdtempSync(join(tmpdir(), 'vta-timing-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

describe('timing configuration', () => {
  it('the default is the calibrated file, every parameter given there, and reports name it', () => {
    const calibrated = JSON.parse(readFileSync(new URL('../../sim/cycle/timing.json', import.meta.url), 'utf8'));
    expect(Object.keys(calibrated).sort()).toEqual([...TIMING_PARAMETERS].sort());
    expect({ ...DEFAULT_TIMING }).toEqual(calibrated);
    expect(timingName(DEFAULT_TIMING)).toBe('calibrated');
    expect(timingName(makeTiming({ busLatency: 7, syncCycles: 1 }))).toBe('custom (busLatency=7, syncCycles=1)');
    const cfg = preset('default');
    const { insns } = assemble(cfg, 'finish');
    const r = simulateCycles(cfg, insns, { timing: DEFAULT_TIMING });
    expect(timingReportJson(cfg, insns, r).timingName).toBe('calibrated');
    expect(formatTimingReport(cfg, insns, r)).toMatch(/timing calibrated/);
  });

  it('overrides any subset of the defaults from a JSON file', () => {
    const t = loadTiming(file('t.json', JSON.stringify({ busLatency: 7, gemmPipelineFill: 0 })));
    expect(t).toEqual({ ...DEFAULT_TIMING, busLatency: 7, gemmPipelineFill: 0 });
    expect(Object.keys(t).sort()).toEqual([...TIMING_PARAMETERS].sort());
  });

  it('the overrides change the simulated time as the rules say', () => {
    const cfg = preset('default');
    const { insns } = assemble(cfg, 'gemm uop_bgn=0 uop_end=10 iter_out=1 iter_in=1\nfinish');
    const a = simulateCycles(cfg, insns, { timing: makeTiming({ gemmPipelineFill: 5 }) });
    const b = simulateCycles(cfg, insns, { timing: makeTiming({ gemmPipelineFill: 25 }) });
    expect(b.cycles - a.cycles).toBe(20);
    const c = simulateCycles(cfg, insns, { timing: makeTiming({ gemmCyclesPerUop: 4 }) });
    expect(c.complete[0]! - c.issue[0]!).toBe(DEFAULT_TIMING.gemmPipelineFill + 40);
  });

  it('rejects unknown parameters, bad values and bad files with a ConfigError naming them', () => {
    expect(() => makeTiming({ busLatancy: 3 })).toThrow(/busLatancy.*unknown timing parameter/);
    expect(() => makeTiming({ busLatency: -1 })).toThrow(ConfigError);
    expect(() => makeTiming({ tokenQueueDepth: 0 })).toThrow(/tokenQueueDepth.*from 1/);
    expect(() => makeTiming({ maxBurstBeats: 1.5 })).toThrow(/maxBurstBeats/);
    expect(() => makeTiming([])).toThrow(ConfigError);
    const bad = file('bad.json', '{ "busLatency": ');
    expect(() => loadTiming(bad)).toThrow(/bad\.json is not valid JSON/);
    expect(() => loadTiming(join(dir, 'missing.json'))).toThrow(/missing\.json cannot be read/);
    const wrong = file('wrong.json', '{ "syncCycles": "one" }');
    try {
      loadTiming(wrong);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).parameter).toBe('syncCycles');
      expect((e as Error).message).toContain('wrong.json');
    }
  });
});
