// Faults mid-run on the tsim target (the Chisel core under Verilator): a run past its wall-clock
// timeout, and a core that never reaches FINISH (a stream without FINISH, a dependency-token
// deadlock; sent past the host's validation with the diagnostic checkStreams: false) stopped by
// the cycle budget. Each is a typed error, the core is reset, and the same loaded model then gives
// exactly its earlier outputs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTsim } from '../../hw-chisel/build.ts';
import { TsimCycleBudgetError, TsimDriver } from '../../hw-chisel/driver.ts';
import { encodeProgram } from '../../isa/codec.ts';
import { preset } from '../../isa/config.ts';
import { RunTimeoutError } from '../../isa/device-errors.ts';
import { NO_DEPS, type Insn } from '../../isa/types.ts';
import type { Model, Runtime } from '../../runtime/index.ts';
import type { DeviceMemory } from '../../runtime/memory.ts';
import { compiledDigits, digitImages, expectSurvives, outputsOf, runtimeOver } from '../runtime/fault-helpers.ts';

const cfg = preset('default');
const MEM_BYTES = 8 << 20;
/** The digits CNN takes about 45,000 cycles per inference; a hung core is stopped after this many. */
const CYCLE_BUDGET = 500_000;
const images = digitImages(2);

const uopLoad: Insn = { ...NO_DEPS, opcode: 'LOAD', memory_type: 'UOP', sram_base: 0, dram_base: 0, y_size: 1, x_size: 1, x_stride: 1, y_pad_0: 0, y_pad_1: 0, x_pad_0: 0, x_pad_1: 0 };
const gemm = (deps: Partial<typeof NO_DEPS>): Insn => ({
  ...NO_DEPS,
  ...deps,
  opcode: 'GEMM', reset_reg: 1, uop_bgn: 0, uop_end: 1, iter_out: 1, iter_in: 1, dst_factor_out: 0, dst_factor_in: 0, src_factor_out: 0, src_factor_in: 0, wgt_factor_out: 0, wgt_factor_in: 0,
});
/** Streams the core never finishes. */
const HANGS: [string, Insn[]][] = [
  ['a stream without FINISH', [uopLoad, gemm({})]],
  // The GEMM waits for a token the load module never pushes.
  ['a dependency-token deadlock', [uopLoad, gemm({ pop_prev_dep: 1 }), { ...NO_DEPS, opcode: 'FINISH' }]],
];

describe('faults on tsim', () => {
  let driver: TsimDriver;
  let rt: Runtime;
  let memory: DeviceMemory;
  let model: Model;
  const expected: Record<string, number[]>[] = [];

  beforeAll(async () => {
    buildTsim();
    driver = await TsimDriver.open({ config: cfg, memBytes: MEM_BYTES, targetOptions: { cycleBudget: CYCLE_BUDGET, checkStreams: false } });
    ({ rt, memory } = runtimeOver(driver, MEM_BYTES));
    model = await rt.load(compiledDigits('tsim'), 'digits');
    for (const x of images) expected.push(await outputsOf(model, x));
  }, 300_000);
  afterAll(async () => {
    await rt?.close();
  });

  it('reports a run past its timeout, resets the core and then runs bit-exactly', async () => {
    await expectSurvives(model, images, expected, () => outputsOf(model, images[1]!, { timeoutMs: 1e-6 }), { code: 'VTA_TIMEOUT', target: 'tsim' });
  }, 60_000);

  it.each(HANGS)('stops a core that never reaches FINISH (%s) at the cycle budget, then runs bit-exactly', async (_, stream) => {
    const bytes = encodeProgram(cfg, stream);
    // Beside the loaded model, in memory the runtime hands out (the uop load reads element 0, the model's first buffer).
    const at = memory.alloc(bytes.length);
    try {
      await driver.write(at, bytes);
      const hung = () => driver.run(at, stream.length, { timeoutMs: 60_000 });
      await expectSurvives(model, images, expected, hung, { code: 'VTA_TIMEOUT', target: 'tsim', cycleBudget: CYCLE_BUDGET });
      const err = await hung().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TsimCycleBudgetError);
      expect(err).toBeInstanceOf(RunTimeoutError);
      expect((err as Error).message).toMatch(/did not reach FINISH within its budget of 500000 cycles.*the core was reset/);
    } finally {
      memory.free(at);
    }
  }, 60_000);

  it('with the host checks on (the default), refuses those streams before the core sees them', async () => {
    const checked = await TsimDriver.open({ config: cfg, memBytes: 1 << 16 });
    try {
      for (const [, stream] of HANGS) {
        await checked.write(0, encodeProgram(cfg, stream));
        await expect(checked.run(0, stream.length, { timeoutMs: 60_000 })).rejects.toMatchObject({ code: expect.not.stringMatching(/^VTA_TIMEOUT$/) });
      }
    } finally {
      await checked.close();
    }
  });
});
