/** `vta-sim` end to end: assembly, image and raw-stream inputs, JSON output, errors. */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assemble, encodeImage, encodeProgram, NO_DEPS, preset, type Insn } from '../../isa/index.ts';
import { testPrograms } from '../programs/index.ts';
import { referenceRun } from './reference.ts';
import { readFileSync } from 'node:fs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = join(root, 'bin/vta-sim.mjs');
const cfg = preset('default');
const tmp = mkdtempSync(join(tmpdir(), 'vta-sim-'));

function vtaSim(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // From another directory: the launcher must not depend on the working directory.
    execFile(process.execPath, [bin, ...args], { cwd: tmp }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const i8 = (bytes: Uint8Array) => Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length));

describe('vta-sim', () => {
  it('runs the bundled assembly example', async () => {
    const path = join(root, 'examples/matmul-relu.s');
    const image = assemble(cfg, readFileSync(path, 'utf8'));
    const ref = referenceRun(cfg, image);
    const y = image.segments.find((s) => s.name === 'y')!;
    const r = await vtaSim([path, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.counters).toEqual({ ...ref.machine.counters });
    expect(out.regions.y.values).toEqual(i8(ref.memory.subarray(y.addr, y.addr + y.bytes.length)));
    const text = await vtaSim([path]);
    expect(text.stdout).toMatch(/gemm_counter +16/);
    expect(text.stdout).toMatch(/^y \(i8 x 128 at byte \d+\):/m);
  });

  it('runs a program image and dumps the regions asked for', async () => {
    const p = testPrograms(cfg).find((q) => q.name === 'strided-stores')!;
    const file = join(tmp, 'strided.vta');
    writeFileSync(file, encodeImage(cfg, p.image));
    const ref = referenceRun(cfg, p.image);
    const r = await vtaSim([file, '--json', '--dump', 'out2', 'acc', '--kernel', 'js']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out.regions)).toEqual(['out2', 'acc']);
    const seg = p.image.segments.find((s) => s.name === 'out2')!;
    expect(out.regions.out2.values).toEqual(i8(ref.memory.subarray(seg.addr, seg.addr + seg.bytes.length)));
  });

  it('runs a raw stream with memory sized from its ranges', async () => {
    const insns: Insn[] = [
      { ...NO_DEPS, opcode: 'LOAD', memory_type: 'ACC', sram_base: 0, dram_base: 100, y_size: 2, x_size: 3, x_stride: 4, y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0, push_next_dep: 1 },
      { ...NO_DEPS, opcode: 'STORE', memory_type: 'OUT', sram_base: 0, dram_base: 7, y_size: 1, x_size: 6, x_stride: 6, y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0, pop_prev_dep: 1, push_prev_dep: 1 },
      { ...NO_DEPS, opcode: 'FINISH', pop_next_dep: 1 },
    ];
    const file = join(tmp, 'raw.bin');
    writeFileSync(file, encodeProgram(cfg, insns));
    const r = await vtaSim([file, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).counters).toMatchObject({ acc_load_nbytes: 6 * 64, out_store_nbytes: 6 * 16 });
    const small = await vtaSim([file, '--mem', '1024']);
    expect(small.code).toBe(1);
    expect(small.stderr).toMatch(/^error: instruction 0: LOAD: DRAM bytes \[6400, 6848\) fall outside the 1024-byte device memory/);
  });

  it('prints typed errors as one line and exits 1', async () => {
    const dead = join(tmp, 'dead.s');
    writeFileSync(dead, 'gemm uop_bgn=0 uop_end=0 iter_out=1 iter_in=1 pop_prev_dep\nfinish\n');
    const r = await vtaSim([dead]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: deadlock: the compute module is blocked at instruction 0: the load->compute queue is empty and nothing can fill it\n');
    const missing = await vtaSim([join(tmp, 'nope.s')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: cannot read .*nope\.s/);
    const region = await vtaSim([join(root, 'examples/matmul-relu.s'), '--dump', 'zz']);
    expect(region.stderr).toMatch(/^error: --dump zz: no region named zz/);
  });
});
