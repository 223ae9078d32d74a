/**
 * What every CLI of the toolchain shares: reading a program in any of its forms, and turning
 * typed errors into one line on stderr with a non-zero exit instead of a stack trace.
 */
import { readFileSync } from 'node:fs';
import type { VtaConfig } from '../config.ts';
import { assemble } from '../asm.ts';
import { decodeProgram } from '../codec.ts';
import { VtaError } from '../errors.ts';
import { decodeImage, isImageFile, type ProgramImage } from '../image.ts';
import type { Insn } from '../types.ts';

export type LoadedProgram = { kind: 'image'; image: ProgramImage } | { kind: 'raw'; insns: Insn[] };

const ASM_EXTENSIONS = ['.s', '.asm', '.vasm'];

/** Reads assembly text (by extension), a program image (by magic) or a raw instruction stream. */
export function readProgram(cfg: VtaConfig, path: string): LoadedProgram {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new VtaError('VTA_IO', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (ASM_EXTENSIONS.some((ext) => path.endsWith(ext))) {
    return { kind: 'image', image: assemble(cfg, new TextDecoder().decode(bytes), path) };
  }
  if (isImageFile(bytes)) return { kind: 'image', image: decodeImage(cfg, bytes, path) };
  try {
    return { kind: 'raw', insns: decodeProgram(cfg, bytes) };
  } catch (e) {
    if (e instanceof VtaError) throw new VtaError(e.code, `${path}: ${e.message}`);
    throw e;
  }
}

/** Runs a CLI's main function; typed errors become `error: message` and exit code 1. */
export async function runCli(main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (e) {
    if (e instanceof VtaError) {
      process.stderr.write(`error: ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
}
