// A damaged .vta file (bytes flipped, cut short, bytes added) must be refused with ModelFormatError
// before anything reaches the device: no write, no run, no device memory taken.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeModel, ModelFormatError } from '../../compiler/artifact/format.ts';
import { writeNpy } from '../../compiler/tensor/npy.ts';
import { compileOnnx } from '../../compiler/compile.ts';
import { splitSamples } from '../../compiler/quant/calibrate.ts';
import { readNpy } from '../../compiler/tensor/npy.ts';
import { preset } from '../../isa/config.ts';
import { createRuntime, Runtime } from '../../runtime/index.ts';
import type { DeviceDriver } from '../../isa/device.ts';
import { DeviceMemory } from '../../runtime/memory.ts';
import { createSimDriver } from '../../sim/driver.ts';
import { rng } from '../rng.ts';

const example = (p: string) => fileURLToPath(new URL(`../../examples/digits/${p}`, import.meta.url));
const cfg = preset('default');
const MEM = 4 << 20;


interface Variant {
  what: string;
  bytes: Uint8Array;
}

/** 400 files with 1 to 8 bytes changed (an eighth of them inside the first 64 bytes, where the envelope's header is), 150 cut short, 20 grown. */
function variants(good: Uint8Array, seed: number): Variant[] {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const out: Variant[] = [];
  for (let k = 0; k < 400; k++) {
    const bytes = good.slice();
    const flips: string[] = [];
    const n = 1 + int(8);
    for (let j = 0; j < n; j++) {
      const at = k % 8 === 0 ? int(Math.min(64, good.length)) : int(good.length);
      const xor = 1 + int(255);
      bytes[at]! ^= xor;
      flips.push(`${at}^${xor}`);
    }
    // Flips that undo each other leave the file whole; such a variant tests nothing.
    if (Buffer.from(bytes).equals(good)) continue;
    out.push({ what: `flip ${flips.join(' ')}`, bytes });
  }
  for (let k = 0; k < 150; k++) {
    const len = k === 0 ? 0 : k === 1 ? good.length - 1 : int(good.length);
    out.push({ what: `cut to ${len} of ${good.length} bytes`, bytes: good.slice(0, len) });
  }
  for (let k = 0; k < 20; k++) {
    const extra = Uint8Array.from({ length: 1 + int(16) }, () => int(256));
    const bytes = new Uint8Array(good.length + extra.length);
    bytes.set(good);
    bytes.set(extra, good.length);
    out.push({ what: `${extra.length} bytes appended`, bytes });
  }
  return out;
}

/** The functional simulator's driver, counting what reaches it. */
function countingDriver(inner: DeviceDriver) {
  const seen = { writes: 0, runs: 0 };
  const driver: DeviceDriver = {
    target: inner.target,
    config: inner.config,
    memBytes: inner.memBytes,
    write: (o, d) => (seen.writes++, inner.write(o, d)),
    read: (o, l) => inner.read(o, l),
    run: (o, c, opts) => (seen.runs++, inner.run(o, c, opts)),
    close: () => inner.close(),
  };
  return { driver, seen };
}

describe('damaged compiled models', () => {
  let good: Uint8Array;
  let image: Float32Array;

  beforeAll(() => {
    good = encodeModel(compileOnnx(example('digits_cnn.onnx'), { target: 'sim', calibration: example('calib_x.npy') }).model);
    image = splitSamples(readNpy(readFileSync(example('test_x.npy'))), [1, 1, 16, 16])[0]!.data as Float32Array;
  }, 120_000);

  it('refuses each of 570 seeded corruptions of the digits CNN with ModelFormatError, before the device sees anything', async () => {
    const memory = new DeviceMemory(cfg, MEM);
    const { driver, seen } = countingDriver(await createSimDriver({ config: cfg, memBytes: MEM }));
    const rt = new Runtime('sim', cfg, driver, memory, pino({ level: 'silent' }), 10_000);
    const free = memory.freeBytes;

    // The untouched file loads and runs: the refusals below are about the damage.
    const whole = await rt.load(good, 'digits.vta');
    const expected = (await whole.run({ input: image })).output!.data;
    await whole.close();
    expect(memory.freeBytes).toBe(free);
    const before = { ...seen };

    const all = variants(good, 18);
    expect(all.length).toBeGreaterThanOrEqual(500);
    const wrong: string[] = [];
    for (const v of all) {
      try {
        await rt.load(v.bytes, 'digits.vta');
        wrong.push(`${v.what}: loaded`);
      } catch (e) {
        if (!(e instanceof ModelFormatError) || e.code !== 'VTA_MODEL_FORMAT' || !/^digits\.vta: /.test(e.message)) wrong.push(`${v.what}: ${String(e)}`);
      }
    }
    expect(wrong).toEqual([]);
    expect(seen).toEqual(before);
    expect(memory.freeBytes).toBe(free);

    // The runtime still serves a whole model, with the same answer.
    const again = await rt.load(good, 'digits.vta');
    expect((await again.run({ input: image })).output!.data).toEqual(expected);
    await rt.close();
  }, 120_000);

  it('says which file is damaged and why', async () => {
    const rt = await createRuntime({ target: 'sim', memBytes: MEM });
    const flipped = good.slice();
    flipped[good.length - 100]! ^= 0x10;
    await expect(rt.load(flipped, 'models/digits.vta')).rejects.toThrow(/^models\/digits\.vta: the file is damaged \(its contents do not match their SHA-256 digest\)/);
    await expect(rt.load(good.slice(0, good.length >> 1), 'cut.vta')).rejects.toThrow(/^cut\.vta: .*the file is damaged/);
    await expect(rt.load(new Uint8Array(0), 'empty.vta')).rejects.toThrow(/^empty\.vta: not a compiled VTA model \(the file is empty\)/);
    await rt.close();
  });

  it('vta-run refuses a damaged file with one error line and exit code 1, and runs the whole one', () => {
    const work = mkdtempSync(join(tmpdir(), 'vta-damaged-'));
    try {
      const flipped = good.slice();
      flipped[good.length >> 1]! ^= 0x01;
      writeFileSync(join(work, 'good.vta'), good);
      writeFileSync(join(work, 'bad.vta'), flipped);
      const [x] = splitSamples(readNpy(readFileSync(example('test_x.npy'))), [1, 1, 16, 16]);
      writeFileSync(join(work, 'x.npy'), writeNpy(x!));
      const vtaRun = (file: string) =>
        spawnSync(process.execPath, [fileURLToPath(new URL('../../bin/vta-run.mjs', import.meta.url)), file, '--target', 'sim', '--input', 'input=x.npy', '--output', 'y.npy'], { cwd: work, encoding: 'utf8' });
      const bad = vtaRun('bad.vta');
      expect(bad.status).toBe(1);
      expect(bad.stderr.trim()).toMatch(/^error: bad\.vta: the file is damaged \(its contents do not match their SHA-256 digest\)[^\n]*$/);
      expect(bad.stdout).toBe('');
      const ok = vtaRun('good.vta');
      expect(ok.stderr).toBe('');
      expect(ok.status).toBe(0);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }, 60_000);

  it('names the version of a file written in format version 1 (a bare CompiledModel)', async () => {
    // Version 1 files began with field 1, the version, as a varint: 08 01, then the fingerprint.
    const fingerprint = new TextEncoder().encode(cfg.fingerprint);
    const v1 = Uint8Array.from([0x08, 0x01, 0x12, fingerprint.length, ...fingerprint]);
    const rt = await createRuntime({ target: 'sim', memBytes: MEM });
    await expect(rt.load(v1, 'old.vta')).rejects.toThrow(/^old\.vta: compiled model format version 1, but this runtime reads version 2: recompile it/);
    await rt.close();
  });
});
