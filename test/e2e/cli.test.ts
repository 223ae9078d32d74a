// vta-compile and vta-run as a user runs them (bin/*.mjs from another directory): digits_cnn compiled
// to a .vta file that vta-run runs on sim, checked bit for bit against the CPU executor running the
// placed graph; the --emit views; --help; and errors as one `error:` line with exit code 1.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readModelFile } from '../../compiler/artifact/format.ts';
import { execute } from '../../compiler/cpu/execute.ts';
import { importOnnxFile } from '../../compiler/onnx/import.ts';
import { compileForVta } from '../../compiler/passes/pipeline.ts';
import { splitSamples } from '../../compiler/quant/calibrate.ts';
import { readNpy, writeNpy } from '../../compiler/tensor/npy.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { npy, repoRoot } from './helpers.ts';
import { modelFile } from '../data/index.ts';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'vta-e2e-cli-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function run(tool: 'vta-compile' | 'vta-run', ...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin', `${tool}.mjs`), ...args], { cwd: work, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const cnn = modelFile('digits_cnn.onnx');
const qdq = modelFile('digits_cnn_int8_qdq.onnx');
const calib = modelFile('digits_calib_x.npy');

describe('vta-compile + vta-run on digits_cnn', () => {
  it('compiles to a .vta that vta-run runs on sim, equal to the CPU executor on the placed graph', async () => {
    const c = run('vta-compile', cnn, '--target', 'sim', '--calib', calib, '-o', 'digits.vta', '--log-level', 'warn');
    expect(c.stderr).toBe('');
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/VTA: 7 layers, \d+ instructions, \d+ micro-ops, \d+ MACs, \d+ cycles, GEMM utilization [\d.]+%/);
    expect(c.stdout).toMatch(/on the CPU:\n/);
    // The first conv runs on VTA by default, its input rearranged on the host (the 9 taps as channels).
    expect(c.stdout).toMatch(/layer0 +conv2d +\/f\/f\.0\/Conv +\(1, 16, 16, 16\) k1x1 s1 -> 16/);
    const model = await readModelFile(path.join(work, 'digits.vta'));
    expect(model.target).toBe('sim');

    const n = 20;
    const x = npy('digits_test_x.npy');
    fs.writeFileSync(path.join(work, 'x20.npy'), writeNpy(new Tensor('float32', [n, 1, 1, 16, 16], (x.data as Float32Array).slice(0, n * 256))));
    const r = run('vta-run', 'digits.vta', '--target', 'sim', '--input', 'input=x20.npy', '--output', 'out.npy', '--profile', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ target: 'sim', runs: n, outputs: [{ name: 'output', shape: [n, 1, 10], dtype: 'float32', file: 'out.npy' }] });
    expect(summary.profile.deviceRuns).toBe(1);
    expect(summary.profile.layers).toHaveLength(7);
    const out = readNpy(fs.readFileSync(path.join(work, 'out.npy')));

    const placed = compileForVta(importOnnxFile(cnn).fn, { calibration: splitSamples(npy('digits_calib_x.npy'), [1, 1, 16, 16]) }).fn;
    const expected = splitSamples(x, [1, 1, 16, 16])
      .slice(0, n)
      .flatMap((img) => Array.from(execute(placed, [img])[0]!.data as Float32Array));
    expect(Array.from(out.data as Float32Array)).toEqual(expected);
  });

  it('prints a profile table and writes a trace on cyclesim', () => {
    const r = run('vta-run', 'digits.vta', '--target', 'cyclesim', '--input', `input=${modelFile('digits_cnn.ref_in.npy')}`, '--profile', '--trace', 'trace.json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/1 device run\(s\)/);
    expect(r.stdout).toMatch(/layer3 +conv2d +\d+ +\d+/);
    expect(r.stdout).toMatch(/layer5 +sumpool +\d+ +\d+/);
    expect(r.stdout).toMatch(/layer6 +dense +\d+ +\d+/);
    const trace = JSON.parse(fs.readFileSync(path.join(work, 'trace.json'), 'utf8'));
    const layers = trace.traceEvents.filter((e: { pid: number; ph: string }) => e.pid === 2 && e.ph === 'X');
    expect(layers.map((e: { name: string }) => e.name)).toEqual(['layer0', 'layer1', 'layer2', 'layer3', 'layer4', 'layer5', 'layer6']);
  });
});

describe('the quick start (npm run example)', () => {
  it('compiles the bundled digits model and classifies the bundled images on sim', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'examples/quickstart.ts')], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/VTA: 7 layers/);
    const correct = Number(/accuracy: (\d+)\/100/.exec(r.stdout)?.[1]);
    expect(correct).toBeGreaterThanOrEqual(97);
    expect(r.stdout).toMatch(/profile of the last inference: 1 device run/);
  });
});

describe('vta-compile views and help', () => {
  it('--help lists every option', () => {
    const r = run('vta-compile', '--help');
    expect(r.code).toBe(0);
    for (const opt of ['--target', '--config', '--calib', '--tune', '--tune-cache', '--first-conv', '--cycles', '--output', '-o', '--emit', '--json', '--log-level', '--help']) expect(r.stdout).toContain(opt);
    for (const t of ['intelfocl', 'sim', 'tsim', 'cyclesim', 'webgpu']) expect(r.stdout).toContain(`"${t}"`);
  });

  it('--emit ir, asm, dot and report print the placed graph, the instructions, Graphviz and the report', () => {
    const ir = run('vta-compile', qdq, '-t', 'sim', '--emit', 'ir', '--log-level', 'silent');
    expect(ir.code).toBe(0);
    expect(ir.stdout).toMatch(/device_copy\(.*device=vta/);
    const asm = run('vta-compile', qdq, '-t', 'sim', '--emit', 'asm', '--log-level', 'silent');
    expect(asm.code).toBe(0);
    expect(asm.stdout.match(/^; layer\d+ \S+ \S+$/gm)).toEqual(['; layer0 conv2d /f/f.0/Conv', '; layer1 conv2d /f/f.3/Conv', '; layer2 maxpool /f/f.6/MaxPool', '; layer3 conv2d /f/f.7/Conv', '; layer4 conv2d /f/f.10/Conv', '; layer5 sumpool /f/f.13/GlobalAveragePool', '; layer6 dense /f/f.15/Gemm']);
    expect(asm.stdout).toMatch(/^gemm /m);
    const dot = run('vta-compile', qdq, '-t', 'sim', '--emit', 'dot', '--log-level', 'silent');
    expect(dot.stdout.startsWith('digraph')).toBe(true);
    const rep = run('vta-compile', qdq, '-t', 'cyclesim', '--emit', 'report', '--json', '--no-cycles', '--log-level', 'silent');
    expect(rep.code).toBe(0);
    const report = JSON.parse(rep.stdout);
    expect(report).toMatchObject({ target: 'cyclesim', tune: 'none', cyclesNote: 'not measured' });
    expect(report.vta.cycles).toBeNull();
    expect(report.cpu.ops).toBeGreaterThan(0);
    // Every CPU op is accounted for under some reason.
    expect(report.cpu.byReason.reduce((n: number, c: { count: number }) => n + c.count, 0)).toBe(report.cpu.ops);
  });
});

describe('errors', () => {
  it('print one error line and exit 1', () => {
    const cases: [ReturnType<typeof run>, RegExp][] = [
      [run('vta-compile', path.join(work, 'absent.onnx'), '-t', 'sim', '-o', 'x.vta', '--log-level', 'silent'), /^error: .*absent\.onnx: cannot read the model/],
      [run('vta-compile', cnn, '-t', 'sim', '-o', 'x.vta', '--log-level', 'silent'), /^error: .*calibration/],
      [run('vta-compile', qdq, '-t', 'sim', '--log-level', 'silent'), /^error: give the output file with -o/],
      [run('vta-compile', qdq, '-t', 'sim', '-o', 'x.vta', '--config', 'nope.json', '--log-level', 'silent'), /^error: .*nope\.json is neither a preset/],
      [run('vta-run', cnn, '--target', 'sim', '--input', 'x.npy'), /^error: target sim: runs compiled models \(\.vta\)/],
      [run('vta-run', path.join(work, 'absent.vta'), '--input', 'x.npy'), /^error: .*absent\.vta: cannot read/],
    ];
    for (const [r, message] of cases) {
      expect(r.code, r.stderr).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
