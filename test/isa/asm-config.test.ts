/**
 * The assembler against its disassembler (assemble(disassemble(x)) == x), configurations that
 * must be rejected with the parameter named, and the generated C/Scala files being up to date.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  assemble,
  AsmError,
  ConfigError,
  configJson,
  decodeImage,
  disassemble,
  disassembleImage,
  encodeImage,
  makeConfig,
  preset,
} from '../../isa/index.ts';
import { testPrograms } from '../programs/index.ts';
import { insnArb } from './arbitraries.ts';

const cfg = preset('default');
const root = fileURLToPath(new URL('../..', import.meta.url));

describe('assembler', () => {
  it('assemble(disassemble(x)) == x for random instructions', () => {
    fc.assert(
      fc.property(fc.array(insnArb(cfg), { minLength: 1, maxLength: 20 }), (insns) => {
        expect(assemble(cfg, disassemble(cfg, insns)).insns).toEqual(insns);
      }),
      { numRuns: 200 },
    );
  });

  it.each(testPrograms(cfg).map((p) => [p.name, p] as const))('reproduces the image of %s through text and binary', (_n, p) => {
    const again = assemble(cfg, disassembleImage(cfg, p.image));
    expect(again).toEqual(p.image);
    expect(decodeImage(cfg, encodeImage(cfg, p.image))).toEqual(p.image);
  });

  it('resolves region names to element addresses of the memory type', () => {
    const image = assemble(cfg, '.data a i8 1 2 3\n.data b @1024 i32 7\nload acc sram_base=0 dram_base=b+2 y_size=1 x_size=1 x_stride=1\nload inp sram_base=0 dram_base=a y_size=1 x_size=1 x_stride=1\nfinish');
    expect(image.insns[0]).toMatchObject({ memory_type: 'ACC', dram_base: 1024 / 64 + 2 });
    expect(image.insns[1]).toMatchObject({ memory_type: 'INP', dram_base: image.segments[0]!.addr / 16 });
  });

  it('reports errors with the line', () => {
    expect(() => assemble(cfg, 'finish\nload inp sram_base=0 nonsense=1', 'p.s')).toThrow(AsmError);
    expect(() => assemble(cfg, 'finish\nload inp sram_base=0 nonsense=1', 'p.s')).toThrow(/^p\.s:2: load has no field nonsense/);
    expect(() => assemble(cfg, 'gemm uop_bgn=x', 'q.s')).toThrow(/q\.s:1: uop_bgn=x is not a number/);
  });
});

describe('configurations', () => {
  const base = configJson(preset('default'));
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ['int16 inputs', { LOG_INP_WIDTH: 4 }, 'LOG_INP_WIDTH', /only int8 inputs/],
    ['int16 weights', { LOG_WGT_WIDTH: 4 }, 'LOG_WGT_WIDTH', /only int8 weights/],
    ['int64 accumulators', { LOG_ACC_WIDTH: 6 }, 'LOG_ACC_WIDTH', /int32 accumulator/],
    ['a block of 128', { LOG_BLOCK: 7 }, 'LOG_BLOCK', /out of range/],
    ['a buffer smaller than one element', { LOG_ACC_BUFF_SIZE: 5 }, 'LOG_ACC_BUFF_SIZE', /smaller than one 64-byte element/],
    ['more than 2^16 elements', { LOG_INP_BUFF_SIZE: 21 }, 'LOG_INP_BUFF_SIZE', /limited to 16 bits/],
    ['fields past bit 128', { LOG_BLOCK: 1 }, 'LOG_WGT_BUFF_SIZE', /past the 128-bit instruction/],
    ['a bus of 100 bits', { BUS_WIDTH: 100 }, 'BUS_WIDTH', /power of two/],
    ['a zero clock', { CLOCK_MHZ: 0 }, 'CLOCK_MHZ', /positive number/],
    ['a fractional parameter', { LOG_BATCH: 0.5 }, 'LOG_BATCH', /must be an integer/],
    ['an unknown key', { LOG_FOO: 1 }, 'LOG_FOO', /unknown parameter/],
  ];
  it.each(cases)('rejects %s naming the parameter', (_name, over, parameter, message) => {
    let err: unknown;
    try {
      makeConfig({ ...base, ...over });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).parameter).toBe(parameter);
    expect((err as ConfigError).message).toMatch(new RegExp(`^${parameter}: `));
    expect((err as ConfigError).message).toMatch(message);
  });

  it('rejects a missing parameter by name', () => {
    const { LOG_BATCH: _omit, ...rest } = base;
    expect(() => makeConfig(rest)).toThrow(/^LOG_BATCH: missing/);
  });

  it('derives the default values of SPEC.md §1', () => {
    expect([cfg.UOP_DEPTH, cfg.INP_DEPTH, cfg.WGT_DEPTH, cfg.ACC_DEPTH]).toEqual([8192, 2048, 1024, 2048]);
    expect([cfg.INP_ELEM_BYTES, cfg.WGT_ELEM_BYTES, cfg.ACC_ELEM_BYTES, cfg.OUT_ELEM_BYTES]).toEqual([16, 256, 64, 16]);
    expect(cfg.fingerprint).toBe('1x16_i8w8a32_15_15_18_17');
    expect(preset('intelfocl').BUS_WIDTH).toBe(512);
  });
});

describe('generated files', () => {
  it('npm run gen -- --check passes (the C header and Scala object are up to date)', async () => {
    const result = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', 'isa/gen/cli.ts', '--check'], { cwd: root }, (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
      });
    });
    expect(result.out).not.toMatch(/out of date/);
    expect(result.code).toBe(0);
  });
});
