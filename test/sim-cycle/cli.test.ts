/**
 * `vta-sim --timing / --trace / --timing-config`: the CLI runs the cycle-level simulator, prints
 * the same regions as the functional run, reports the cycles the library computes for the same
 * program and timing, writes a trace, and turns bad input into one `error:` line.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assemble, preset } from '../../isa/index.ts';
import { simulateCycles } from '../../sim/cycle/engine.ts';
import { makeTiming } from '../../sim/cycle/timing.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = join(root, 'bin/vta-sim.mjs');
const prog = join(root, 'examples/matmul-relu.s');
const dir = mkdtempSync(join(tmpdir(), 'vta-cyclesim-cli-'));
const sim = (...args: string[]) => execFileSync(process.execPath, [bin, prog, ...args], { encoding: 'utf8' });

describe('vta-sim cycle-level options', () => {
  it('--json --timing --trace: same regions as the functional run, the library’s cycles, a trace file', () => {
    const timingFile = join(dir, 'timing.json');
    writeFileSync(timingFile, JSON.stringify({ busLatency: 12 }));
    const traceFile = join(dir, 'trace.json');
    const plain = JSON.parse(sim('--json'));
    const timed = JSON.parse(sim('--json', '--timing', '--trace', traceFile, '--timing-config', timingFile));
    expect(timed.regions).toEqual(plain.regions);
    const cfg = preset('default');
    const { insns } = assemble(cfg, readFileSync(prog, 'utf8'));
    const expected = simulateCycles(cfg, insns, { timing: makeTiming({ busLatency: 12 }) });
    expect(timed.timing.cycles).toBe(expected.cycles);
    expect(timed.counters.cycles).toBe(expected.cycles);
    expect(timed.timing.instructions.map((r: { complete: number }) => r.complete)).toEqual([...expected.complete]);
    const trace = JSON.parse(readFileSync(traceFile, 'utf8'));
    expect(trace.traceEvents.filter((e: { cat?: string }) => e.cat === 'insn')).toHaveLength(insns.length);
  });

  it('--timing prints the report after the counters', () => {
    const out = sim('--timing');
    expect(out).toMatch(/^timing:$/m);
    expect(out).toMatch(/^cycles: \d+ \(/m);
    expect(out).toMatch(/^compute\s+\d+/m);
    expect(out).toMatch(/GEMM: \d+ uops, utilization/);
  });

  it('a bad timing file is one error line and exit code 1', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{"gemmPipelineFill": "five"}');
    const r = spawnSync(process.execPath, [bin, prog, '--timing-config', bad], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^error: gemmPipelineFill: .*bad\.json: must be an integer/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
