/**
 * `vta-sim prog [--config preset|file.json] [--json] [--dump REGION...]`: runs a program (assembly,
 * program image or raw instruction stream) on the functional simulator and prints the profiler
 * counters and the output regions.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadConfig, type VtaConfig } from '../isa/config.ts';
import { readProgram, runCli } from '../isa/cli/common.ts';
import { VtaError } from '../isa/errors.ts';
import { segmentValues, type ProgramImage, type Segment } from '../isa/image.ts';
import { dramRange } from '../isa/validate.ts';
import { Dram } from './dram.ts';
import { COUNTER_NAMES } from '../isa/counters.ts';
import { FunctionalSimulator, placeImage } from './fsim.ts';
import type { KernelChoice } from './state.ts';
import { CYCLE_OPTIONS, simulateCycleLevel, wantsCycleLevel } from './cycle/cli.ts';
import type { CycleResult } from './cycle/engine.ts';
import { formatTimingReport, timingReportJson } from './cycle/report.ts';

function parseArgs(args: string[]) {
  return yargs(args)
    .scriptName('vta-sim')
    .usage(
      '$0 <prog> [--config preset|file.json] [--json] [--dump REGION...] [--timing] [--trace out.json] [--timing-config timing.json]\n\n' +
        'Runs a program on the functional simulator and prints its profiler counters and output regions.\n' +
        'With --timing, --trace or --timing-config it runs on the cycle-level simulator instead (same results, plus cycles).\n' +
        'prog is assembly (.s, .asm, .vasm), a program image (VTAPROG1) or a raw instruction stream.',
    )
    .positional('prog', { type: 'string', describe: 'program file' })
    .option('config', { type: 'string', default: 'default', describe: 'hardware configuration: a preset (default, intelfocl) or a JSON file' })
    .option('json', { type: 'boolean', default: false, describe: 'print {counters, regions} as JSON' })
    .option('dump', {
      type: 'string',
      array: true,
      describe: 'print these regions after the run (default: the zero-initialised output regions)',
    })
    .option('mem', { type: 'number', describe: 'device memory bytes for a raw stream (default: the stream plus every DRAM range it touches)' })
    .option('kernel', { choices: ['auto', 'wasm', 'js'] as const, default: 'auto' as const, describe: 'GEMM kernel: WebAssembly SIMD, plain JS, or the fastest that fits' })
    .options(CYCLE_OPTIONS)
    .demandCommand(1, 'give the program file to run')
    .strict()
    .help()
    .parseSync();
}

type Args = ReturnType<typeof parseArgs>;

/** A raw stream becomes an image with the stream at address 0 and no named regions. */
function rawImage(cfg: VtaConfig, insns: ProgramImage['insns'], mem: number | undefined): ProgramImage {
  let needed = insns.length * 16;
  for (const insn of insns) {
    if (insn.opcode !== 'LOAD' && insn.opcode !== 'STORE') continue;
    const range = dramRange(cfg, insn);
    if (range) needed = Math.max(needed, range[1]);
  }
  return { fingerprint: cfg.fingerprint, insns, segments: [], memBytes: mem ?? needed, insnAddr: 0 };
}

interface SimResult {
  counters: Record<string, number>;
  dram: Dram;
  /** The cycle-level simulator's timing, when it ran. */
  timing?: CycleResult;
}

/** Runs the image on the simulator the options select. */
function simulate(cfg: VtaConfig, image: ProgramImage, argv: Args): SimResult {
  if (wantsCycleLevel(argv)) return simulateCycleLevel(cfg, image, argv, argv.kernel as KernelChoice);
  const sim = new FunctionalSimulator(cfg, new Dram(image.memBytes), { kernel: argv.kernel as KernelChoice });
  placeImage(cfg, sim.dram, image);
  const counters = sim.run(image.insns);
  return { counters: { ...counters }, dram: sim.dram };
}

function chosenRegions(image: ProgramImage, names: string[] | undefined): Segment[] {
  if (!names?.length) return image.segments.filter((s) => s.kind === 'zero');
  return names.map((n) => {
    const seg = image.segments.find((s) => s.name === n);
    if (!seg) {
      const known = image.segments.map((s) => s.name);
      throw new VtaError('VTA_USAGE', `--dump ${n}: no region named ${n} (${known.length ? `regions: ${known.join(', ')}` : 'the program has no named regions'})`);
    }
    return seg;
  });
}

function report(cfg: VtaConfig, image: ProgramImage, result: SimResult, argv: Args): string {
  const regions = chosenRegions(image, argv.dump).map((seg) => ({
    seg,
    values: Array.from(segmentValues({ ...seg, bytes: result.dram.read(seg.addr, seg.bytes.length) })),
  }));
  if (argv.json) {
    const out = {
      config: cfg.fingerprint,
      counters: result.counters,
      regions: Object.fromEntries(regions.map(({ seg, values }) => [seg.name, { addr: seg.addr, dtype: seg.dtype, values }])),
      ...(result.timing ? { timing: timingReportJson(cfg, image.insns, result.timing) } : {}),
    };
    return JSON.stringify(out, null, 1);
  }
  const names = [...COUNTER_NAMES, ...Object.keys(result.counters).filter((k) => !(COUNTER_NAMES as string[]).includes(k))];
  const width = Math.max(...names.map((n) => n.length));
  const lines = ['counters:', ...names.map((n) => `  ${n.padEnd(width)}  ${result.counters[n]}`)];
  for (const { seg, values } of regions) {
    lines.push(`${seg.name} (${seg.dtype} x ${values.length} at byte ${seg.addr}):`);
    for (let i = 0; i < values.length; i += 16) lines.push(`  ${values.slice(i, i + 16).join(' ')}`);
  }
  if (argv.timing && result.timing) lines.push('timing:', formatTimingReport(cfg, image.insns, result.timing, { perInsn: true }));
  return lines.join('\n');
}

await runCli(() => {
  const argv = parseArgs(hideBin(process.argv));
  const cfg = loadConfig(argv.config);
  const prog = readProgram(cfg, String(argv._[0]));
  const image = prog.kind === 'image' ? prog.image : rawImage(cfg, prog.insns, argv.mem);
  console.log(report(cfg, image, simulate(cfg, image, argv), argv));
});
