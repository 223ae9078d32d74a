/**
 * vta-compile: an ONNX model -> a compiled model (.vta) for a VTA target, with a summary of what
 * runs where. `--emit` prints one view of the result instead of the summary (the placed IR, the
 * disassembly of every layer, the Graphviz graph, or the report).
 */
import { writeFileSync } from 'node:fs';
import { pino, type Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { disassemble } from '../../isa/asm.ts';
import { runCli } from '../../isa/cli/common.ts';
import { loadConfig, PRESET_NAMES } from '../../isa/config.ts';
import { decodeProgram } from '../../isa/codec.ts';
import { VtaError } from '../../isa/errors.ts';
import { encodeModel } from '../artifact/format.ts';
import { compileOnnx, formatReport, type CompileProgress } from '../compile.ts';
import { printFunction } from '../ir/printer.ts';
import { TUNE_LEVELS, ScheduleCache } from '../lower/index.ts';
import { toDot } from '../passes/dot.ts';

const TARGETS = ['intelfocl', 'sim', 'tsim', 'cyclesim', 'webgpu'] as const;
const EMITS = ['ir', 'asm', 'dot', 'report'] as const;
const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function parseArgs(args: string[]) {
  return yargs(args)
    .scriptName('vta-compile')
    .usage(
      '$0 <model.onnx> --target intelfocl|sim|tsim|cyclesim|webgpu [--config preset|file.json] [--calib x.npy]\n' +
        '    [--tune none|quick|full] [--first-conv cpu|vta] [--batch N] -o model.vta [--emit ir|asm|dot|report] [--json]\n\n' +
        'Compiles an ONNX model (float with --calib, or int8 QDQ) for VTA: quantizes it, places its int8 middle on\n' +
        'VTA, lowers every VTA layer to instructions and micro-ops, and writes one .vta file for vta-run and the\n' +
        'runtime. Ops VTA cannot run stay on the CPU; the summary says which and why.',
    )
    .wrap(Math.min(120, process.stdout.columns || 120))
    .positional('model', { type: 'string', describe: 'the ONNX model' })
    .option('target', { alias: 't', choices: TARGETS, demandOption: true, describe: 'the device the model is for (recorded in the .vta file)' })
    .option('config', { type: 'string', default: 'default', describe: `hardware configuration: a preset (${PRESET_NAMES.join(', ')}) or a JSON file` })
    .option('calib', { type: 'string', describe: 'calibration inputs for a float model: a .npy of N inputs stacked on a leading axis' })
    .option('tune', { choices: TUNE_LEVELS, default: 'none' as const, describe: 'schedule search: none (best estimate), quick or full (measured on the cycle-level simulator)' })
    .option('tune-cache', { type: 'string', describe: 'JSON file that keeps tuned schedules between runs' })
    .option('first-conv', { choices: ['cpu', 'vta'] as const, default: 'vta' as const, describe: 'vta (default): the first conv runs on VTA, its input rearranged by the host so few channels are padding; cpu: it stays on the CPU (TVM VTA\'s choice)' })
    .option('batch', { type: 'number', describe: 'compile for N samples per inference (the inputs\' leading dimension; a multiple of the configuration\'s BATCH runs on VTA)' })
    .option('cycles', { type: 'boolean', default: true, describe: 'measure every layer on the cycle-level simulator for the summary (--no-cycles: not measured)' })
    .option('output', { alias: 'o', type: 'string', describe: 'the compiled model to write (.vta); required unless --emit is given' })
    .option('emit', { choices: EMITS, describe: 'print this instead of the summary: ir (the placed graph), asm (each layer\'s instructions), dot (Graphviz), report' })
    .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON on stdout (the summary, or --emit report)' })
    .option('log-level', { choices: LEVELS, default: 'info' as const, describe: 'pino log level (logs go to stderr: pretty on a terminal, JSON lines otherwise)' })
    .demandCommand(1, 'give the ONNX model to compile')
    .strict()
    .help()
    .parseSync();
}

function makeLogger(level: string): Logger {
  if (process.stderr.isTTY) {
    // Formatted synchronously, so logs and the summary come out in order; each log line first clears
    // the progress line it would otherwise be appended to.
    const prettify = prettyFactory({ colorize: true, ignore: 'pid,hostname' });
    return pino({ name: 'vta-compile', level }, { write: (line: string) => process.stderr.write(`\r\x1b[K${prettify(line)}`) });
  }
  return pino({ name: 'vta-compile', level }, pino.destination(2));
}

/** A one-line progress display on a terminal; nothing otherwise (the logs say the same). */
function progressLine(): (p: CompileProgress) => void {
  if (!process.stderr.isTTY) return () => {};
  return (p) => {
    const text = p.phase === 'done' ? '' : `${p.phase} ${p.total > 1 ? `${p.done}/${p.total}` : '...'}${p.detail ? ` ${p.detail}` : ''}`;
    process.stderr.write(`\r\x1b[K${text.slice(0, (process.stderr.columns || 80) - 1)}`);
  };
}

await runCli(() => {
  const argv = parseArgs(hideBin(process.argv));
  const file = String(argv._[0]);
  if (!argv.output && !argv.emit) throw new VtaError('VTA_USAGE', 'give the output file with -o model.vta (or print a view with --emit)');
  const log = makeLogger(argv['log-level']);
  const cfg = loadConfig(argv.config);
  const cache = argv['tune-cache'] ? new ScheduleCache(argv['tune-cache']) : undefined;
  const result = compileOnnx(file, {
    config: cfg,
    target: argv.target,
    calibration: argv.calib,
    tune: argv.tune,
    cache,
    firstConv: argv['first-conv'],
    batch: argv.batch,
    cycles: argv.cycles ? 'measure' : 'skip',
    logger: log,
    onProgress: progressLine(),
  });
  cache?.save();
  if (argv.output) {
    try {
      writeFileSync(argv.output, encodeModel(result.model));
    } catch (e) {
      throw new VtaError('VTA_IO', `cannot write ${argv.output}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    log.info({ file: argv.output }, 'written');
  }
  const { report } = result;
  let text: string;
  switch (argv.emit) {
    case 'ir':
      text = printFunction(result.compiled.fn);
      break;
    case 'dot':
      text = toDot(result.compiled.fn, result.compiled.groups);
      break;
    case 'asm':
      text = result.model.steps
        .flatMap((s) => (s.kind.case === 'vta' ? [s.kind.value] : []))
        .map((l) => {
          const src = result.emitted.layers.find((e) => e.name === l.name)?.source ?? '';
          const byBuffer = new Map<number, number[]>();
          for (const r of l.relocations) (byBuffer.get(r.bufferId) ?? byBuffer.set(r.bufferId, []).get(r.bufferId)!).push(r.insn);
          const relocs = [...byBuffer].map(([id, insns]) => `;   ${result.model.buffers[id]?.name ?? id} (${result.model.buffers[id]?.kind ?? '?'}): # ${insns.join(' ')}`);
          return [`; ${l.name} ${l.op} ${src}`, '; dram_base is relative to the buffer of each instruction:', ...relocs, disassemble(cfg, decodeProgram(cfg, l.insns), { numbered: true })].join('\n');
        })
        .join('\n\n');
      break;
    default:
      text = argv.json ? JSON.stringify(report, null, 2) : formatReport(report);
  }
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
});
