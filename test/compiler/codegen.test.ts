// The checked-in protobuf code must be what `npm run gen:onnx` makes from compiler/onnx/onnx.proto.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { repoRoot } from './helpers.ts';

it('compiler/onnx/gen is up to date with onnx.proto', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'vta-gen-onnx-'));
  try {
    execFileSync(process.execPath, [
      path.join(repoRoot, 'node_modules/@bufbuild/buf/bin/buf'), 'generate', 'compiler/onnx',
      '--template', 'compiler/onnx/buf.gen.yaml', '-o', out,
    ], { cwd: repoRoot, stdio: 'pipe' });
    const gen = path.join(repoRoot, 'compiler/onnx/gen');
    const fresh = path.join(out, 'compiler/onnx/gen');
    expect(fs.readdirSync(fresh).sort()).toEqual(fs.readdirSync(gen).sort());
    for (const f of fs.readdirSync(fresh)) {
      expect(fs.readFileSync(path.join(gen, f), 'utf8'), `${f} differs: run npm run gen:onnx`).toBe(fs.readFileSync(path.join(fresh, f), 'utf8'));
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
