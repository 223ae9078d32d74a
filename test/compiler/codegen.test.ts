// The checked-in protobuf code must be what `npm run gen:onnx` / `gen:artifact` make from the schemas.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';
import { repoRoot } from './helpers.ts';

it.each([
  { dir: 'compiler/onnx', script: 'gen:onnx' },
  { dir: 'compiler/artifact', script: 'gen:artifact' },
])('$dir/gen is up to date with its schema', ({ dir, script }) => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'vta-gen-'));
  try {
    execFileSync(process.execPath, [
      path.join(repoRoot, 'node_modules/@bufbuild/buf/bin/buf'), 'generate', dir,
      '--template', `${dir}/buf.gen.yaml`, '-o', out,
    ], { cwd: repoRoot, stdio: 'pipe' });
    const gen = path.join(repoRoot, dir, 'gen');
    const fresh = path.join(out, dir, 'gen');
    expect(fs.readdirSync(fresh).sort()).toEqual(fs.readdirSync(gen).sort());
    for (const f of fs.readdirSync(fresh)) {
      expect(fs.readFileSync(path.join(gen, f), 'utf8'), `${f} differs: run npm run ${script}`).toBe(fs.readFileSync(path.join(fresh, f), 'utf8'));
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
