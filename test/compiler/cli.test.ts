// vta-run --target cpu, run as a user would: through bin/vta-run.mjs from another directory.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { execute } from '../../compiler/cpu/execute.ts';
import { importOnnxFile } from '../../compiler/onnx/import.ts';
import { readNpy, writeNpy } from '../../compiler/tensor/npy.ts';
import { Tensor } from '../../compiler/tensor/tensor.ts';
import { modelFile } from '../data/index.ts';
import { repoRoot } from './helpers.ts';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'vta-run-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

function vtaRun(...args: string[]) {
  const r = spawnSync(process.execPath, [path.join(repoRoot, 'bin/vta-run.mjs'), ...args], { cwd: work, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('vta-run', () => {
  it('runs an ONNX model on the CPU and writes the output .npy', () => {
    const r = vtaRun(modelFile('digits_cnn.onnx'), '--target', 'cpu', '--input', `input=${modelFile('digits_cnn.ref_in.npy')}`, '--output', 'out.npy', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ target: 'cpu', runs: 1, outputs: [{ name: 'output', shape: [1, 10], dtype: 'float32', file: 'out.npy' }] });
    const out = readNpy(fs.readFileSync(path.join(work, 'out.npy'))).toNumbers();
    const ref = readNpy(fs.readFileSync(modelFile('digits_cnn.ref_out.npy'))).toNumbers();
    out.forEach((v, i) => expect(Math.abs(v - ref[i]!)).toBeLessThanOrEqual(1e-4 + 1e-3 * Math.abs(ref[i]!)));
  });

  it('stacks: N inputs in one file give N outputs stacked on a new leading axis', () => {
    const x = readNpy(fs.readFileSync(modelFile('digits_test_x.npy')));
    const n = 5;
    const one = 256;
    const stacked = new Tensor('float32', [n, 1, 1, 16, 16], (x.data as Float32Array).slice(0, n * one));
    fs.writeFileSync(path.join(work, 'stack.npy'), writeNpy(stacked));
    const r = vtaRun(modelFile('digits_cnn.onnx'), '--input', 'stack.npy', '--output', 'stacked_out.npy');
    expect(r.stderr).toBe('');
    const out = readNpy(fs.readFileSync(path.join(work, 'stacked_out.npy')));
    expect(out.shape).toEqual([n, 1, 10]);
    const model = importOnnxFile(modelFile('digits_cnn.onnx'));
    const expected = Array.from({ length: n }, (_, i) => execute(model.fn, [new Tensor('float32', [1, 1, 16, 16], (x.data as Float32Array).slice(i * one, (i + 1) * one))])[0]!.toNumbers()).flat();
    expect(out.toNumbers()).toEqual(expected);
  });

  it('reports errors on one line with a non-zero exit', () => {
    const model = modelFile('digits_cnn.onnx');
    const cases: [string[], RegExp][] = [
      // The VTA targets run compiled models, not ONNX ones.
      [[model, '--target', 'sim'], /^error: target sim: runs compiled models \(\.vta\)/],
      [[model], /^error: input 'input': missing/],
      [[model, '--input', `nope=${modelFile('digits_cnn.ref_in.npy')}`], /^error: input 'nope': the model has no such input/],
      [[model, '--input', modelFile('digits_test_x.npy')], /^error: input 'input': .* has shape \(397, 1, 16, 16\)/],
      [[modelFile('digits_test_x.npy'), '--target', 'cpu', '--input', 'x.npy'], /^error: .*digits_test_x\.npy: --target cpu runs ONNX models/],
      [[path.join(work, 'absent.onnx'), '--input', 'x.npy'], /^error: .*absent\.onnx: cannot read the model/],
    ];
    for (const [args, message] of cases) {
      const r = vtaRun(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });
});
