/**
 * The functional simulator: validates a stream (which also yields an execution order that honours
 * the dependency tokens, or a DeadlockError naming the blocked module, instruction and queue), then
 * executes it in that order on the execution core. No timing; `timeoutMs` bounds wall time.
 */
import type { VtaConfig } from '../isa/config.ts';
import { encodeProgram } from '../isa/codec.ts';
import type { Counters } from '../isa/counters.ts';
import { VtaError } from '../isa/errors.ts';
import type { ProgramImage } from '../isa/image.ts';
import type { ScheduleOptions } from '../isa/schedule.ts';
import type { Insn } from '../isa/types.ts';
import { validateProgram } from '../isa/validate.ts';
import { RunTimeoutError } from '../isa/device-errors.ts';
import type { TargetName } from '../isa/device.ts';
import { Dram } from './dram.ts';
import { VtaMachine, type MachineOptions } from './exec.ts';

/** The simulators' RunTimeoutError, with how far the run got. */
export class SimTimeoutError extends RunTimeoutError {
  constructor(target: TargetName, timeoutMs: number, readonly executed: number, readonly total: number) {
    super(target, timeoutMs, `the run exceeded its ${timeoutMs} ms limit after ${executed} of ${total} instructions`);
  }
}

export interface RunOptions extends ScheduleOptions {
  /** Wall-clock limit; the run stops with SimTimeoutError between instructions. */
  timeoutMs?: number;
}

/** How many instructions run between clock reads. */
const CLOCK_EVERY = 16;

export class FunctionalSimulator {
  readonly machine: VtaMachine;

  constructor(readonly cfg: VtaConfig, readonly dram: Dram, opts: MachineOptions = {}) {
    this.machine = new VtaMachine(cfg, dram, opts);
  }

  /** Validates and runs a stream; returns the counters of this run. */
  run(insns: readonly Insn[], opts: RunOptions = {}): Counters {
    return this.execute(insns, this.validate(insns, opts), opts);
  }

  /** `validateProgram` against this simulator's configuration and memory: the execution order. */
  validate(insns: readonly Insn[], opts: ScheduleOptions = {}): Int32Array {
    return validateProgram(this.cfg, insns, { ...opts, memBytes: this.dram.size });
  }

  /** Runs a stream that `validate` accepted, in the order it returned. */
  execute(insns: readonly Insn[], order: Int32Array, opts: RunOptions = {}): Counters {
    const m = this.machine;
    m.resetCounters();
    const deadline = opts.timeoutMs === undefined ? Infinity : performance.now() + opts.timeoutMs;
    for (let n = 0; n < order.length; n++) {
      const index = order[n]!;
      m.exec(insns[index]!, index);
      if (n % CLOCK_EVERY === CLOCK_EVERY - 1 && performance.now() > deadline) {
        throw new SimTimeoutError('sim', opts.timeoutMs!, n + 1, order.length);
      }
    }
    return { ...m.counters };
  }
}

/** Writes an image's regions and its encoded stream into device memory. */
export function placeImage(cfg: VtaConfig, dram: Dram, image: ProgramImage): void {
  if (image.fingerprint !== cfg.fingerprint) {
    throw new VtaError('VTA_IMAGE', `the program was assembled for configuration ${image.fingerprint}, but the simulator runs ${cfg.fingerprint}`);
  }
  for (const seg of image.segments) dram.write(seg.addr, seg.bytes);
  dram.write(image.insnAddr, encodeProgram(cfg, image.insns));
}

export interface ImageRun {
  counters: Counters;
  /** Every region's bytes after the run, by name. */
  regions: Map<string, Uint8Array>;
  sim: FunctionalSimulator;
}

/** Runs a program image on a fresh simulator with `image.memBytes` of device memory. */
export function runImage(cfg: VtaConfig, image: ProgramImage, opts: RunOptions & MachineOptions = {}): ImageRun {
  const sim = new FunctionalSimulator(cfg, new Dram(image.memBytes), opts);
  placeImage(cfg, sim.dram, image);
  const counters = sim.run(image.insns, opts);
  const regions = new Map(image.segments.map((s) => [s.name, sim.dram.read(s.addr, s.bytes.length)]));
  return { counters, regions, sim };
}
