/**
 * Helpers for the intelfocl tests: open the driver on POCL, run an assembled program, read its
 * regions, and observe full 32-bit accumulator values (a STORE only shows their low bytes).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { preset, type VtaConfig } from '../../isa/config.ts';
import { assemble } from '../../isa/asm.ts';
import { encodeProgram } from '../../isa/codec.ts';
import type { ProgramImage } from '../../isa/image.ts';
import type { RunResult } from '../../isa/device.ts';
import { IntelFoclDriver, type IntelFoclOptions } from '../../hw-opencl/driver.ts';
import { ADDON_PATH } from '../../hw-opencl/native.ts';

export const cfg: VtaConfig = preset('default');
export const MEM_BYTES = 8 << 20;

const HW = fileURLToPath(new URL('../../hw-opencl/', import.meta.url));

/**
 * Builds the addon when it is missing or older than its sources. Test files run in parallel
 * processes, so one builds (holding a lock directory) while the others wait for it.
 */
export function ensureAddon(): void {
  const sources = ['binding.gyp', ...readdirSync(`${HW}native`).map((f) => `native/${f}`)];
  const fresh = () => existsSync(ADDON_PATH) && sources.every((f) => statSync(`${HW}${f}`).mtimeMs <= statSync(ADDON_PATH).mtimeMs);
  if (fresh()) return;
  const lock = `${HW}build.lock`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock older than any build is left over from a killed test run.
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 300_000) rmdirSync(lock);
      if (Date.now() > deadline) throw new Error(`${lock} is held for too long: remove it if no build is running`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
      if (fresh()) return;
    }
  }
  try {
    if (fresh()) return;
    const r = spawnSync('sh', [`${HW}build.sh`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm run build:opencl failed:\n${r.stdout}\n${r.stderr}`);
  } finally {
    rmdirSync(lock);
  }
}

export function openPocl(options: IntelFoclOptions = {}, memBytes = MEM_BYTES): Promise<IntelFoclDriver> {
  ensureAddon();
  return IntelFoclDriver.open({ config: cfg, memBytes, targetOptions: { ...options } });
}

export interface Ran {
  image: ProgramImage;
  result: RunResult;
  bytes(name: string): Promise<Uint8Array>;
  i8(name: string): Promise<Int8Array>;
  i32(name: string): Promise<Int32Array>;
}

/** Writes every region and the stream of an image, then runs it. */
export async function loadImage(drv: IntelFoclDriver, image: ProgramImage): Promise<void> {
  if (image.memBytes > drv.memBytes) throw new Error(`the program needs ${image.memBytes} bytes`);
  for (const s of image.segments) await drv.write(s.addr, s.bytes);
  await drv.write(image.insnAddr, encodeProgram(cfg, image.insns));
}

export async function runImage(drv: IntelFoclDriver, image: ProgramImage, timeoutMs = 30_000): Promise<Ran> {
  await loadImage(drv, image);
  const result = await drv.run(image.insnAddr, image.insns.length, { timeoutMs });
  const bytes = async (name: string) => {
    const seg = image.segments.find((s) => s.name === name);
    if (!seg) throw new Error(`no region ${name}`);
    return drv.read(seg.addr, seg.bytes.length);
  };
  return {
    image,
    result,
    bytes,
    i8: async (name) => new Int8Array((await bytes(name)).slice().buffer),
    i32: async (name) => new Int32Array((await bytes(name)).slice().buffer),
  };
}

export function runAsm(drv: IntelFoclDriver, text: string, name = 'test.s'): Promise<Ran> {
  return runImage(drv, assemble(cfg, text, name));
}

export const list = (values: ArrayLike<number>) => Array.from(values).join(' ');

/**
 * Assembly that copies acc rows [src, src + rows) into four byte planes at acc rows
 * [scratch, scratch + 4 rows) (plane k = row >> 8k), stores them to region `dump`, and ends the
 * program. The copy zeroes the plane and adds the source, so it uses only GEMM reset, ALU ADD
 * and ALU SHR by a non-negative immediate. `uopSlot` is a free uop-buffer index (4 used).
 */
export function dumpAcc(src: number, rows: number, scratch: number, uopSlot = 8000): string {
  const uops = [0, 1, 2, 3].map((k) => `${scratch + k * rows},${src},0`).join(' ');
  const lines = [
    `.uops dumpu ${uops}`,
    `.zero dump i8 ${4 * rows * cfg.BLOCK_OUT}`,
    `load uop sram_base=${uopSlot} dram_base=dumpu y_size=1 x_size=4 x_stride=4`,
  ];
  for (let k = 0; k < 4; k++) {
    const u = `uop_bgn=${uopSlot + k} uop_end=${uopSlot + k + 1} iter_out=${rows} iter_in=1 dst_factor_out=1`;
    lines.push(`gemm reset_reg ${u}`);
    lines.push(`alu add ${u} src_factor_out=1`);
    lines.push(`alu shr ${u} use_imm imm=${8 * k}${k === 3 ? ' push_next_dep' : ''}`);
  }
  lines.push(`store out sram_base=${scratch} dram_base=dump y_size=1 x_size=${4 * rows} x_stride=${4 * rows} pop_prev_dep push_prev_dep`);
  lines.push('finish pop_next_dep');
  return lines.join('\n');
}

/** The int32 lanes of `rows` acc rows from a dumpAcc region. */
export function fromPlanes(dump: Uint8Array, rows: number): Int32Array {
  const lanes = cfg.BATCH * cfg.BLOCK_OUT;
  const out = new Int32Array(rows * lanes);
  for (let i = 0; i < rows * lanes; i++) {
    let v = 0;
    for (let k = 0; k < 4; k++) v |= dump[k * rows * lanes + i]! << (8 * k);
    out[i] = v;
  }
  return out;
}
