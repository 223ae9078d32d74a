/**
 * vta-run: runs a model on a target with inputs and outputs in .npy files.
 * `--target cpu` runs an ONNX model on the CPU reference executor; the VTA targets (sim, cyclesim,
 * intelfocl, tsim, webgpu) run a compiled model (.vta, from vta-compile) through the runtime.
 *
 * Stacking: an input file with one more leading dimension than the model's
 * input is a stack of N inputs; the model runs N times and each output file
 * gets the N results stacked along a new leading dimension.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import pino from 'pino';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runCli } from '../../isa/cli/common.ts';
import { makeConfig, loadConfig } from '../../isa/config.ts';
import { VtaError } from '../../isa/errors.ts';
import { readModelFile } from '../../compiler/artifact/format.ts';
import { execute } from '../../compiler/cpu/execute.ts';
import { formatType, type TensorType } from '../../compiler/ir/graph.ts';
import { importOnnxFile } from '../../compiler/onnx/import.ts';
import { readNpy, writeNpy } from '../../compiler/tensor/npy.ts';
import { Tensor, formatShape, sizeOf } from '../../compiler/tensor/tensor.ts';
import { InputError, TargetError } from '../errors.ts';
import { createRuntime, type InferenceProfile } from '../index.ts';
import { TARGETS } from '../targets.ts';

const log = pino({ name: 'vta-run', level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));

/** A model input as the stacking rule sees it. */
interface Param {
  name: string;
  type: TensorType;
}

function readInput(spec: string, params: readonly Param[]): [Param, Tensor, string] {
  const eq = spec.indexOf('=');
  // NAME=file.npy, or just file.npy for a model with a single input.
  const [name, file] = eq > 0 ? [spec.slice(0, eq), spec.slice(eq + 1)] : [params.length === 1 ? params[0]!.name : '', spec];
  const param = params.find((p) => p.name === name);
  if (!param) {
    const known = params.map((p) => p.name).join(', ');
    throw new InputError(name || spec, name ? `the model has no such input (inputs: ${known})` : `give the input as NAME=${spec} (inputs: ${known})`);
  }
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new InputError(name, `cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  return [param, readNpy(bytes, file), file];
}

/** The number of stacked inputs in `t` for `param` (0 when `t` is a single input). */
function stackSize(param: Param, t: Tensor, file: string): number {
  const want = param.type;
  if (t.dtype !== want.dtype) throw new InputError(param.name, `${file} holds ${t.dtype}, the model expects ${want.dtype}`);
  const same = (shape: readonly number[]) => shape.length === want.shape.length && shape.every((d, i) => d === want.shape[i]);
  if (same(t.shape)) return 0;
  if (t.shape.length === want.shape.length + 1 && same(t.shape.slice(1))) return t.shape[0]!;
  throw new InputError(param.name, `${file} has shape ${formatShape(t.shape)}; the model expects ${formatType(want)} or a stack of them (N, ...)`);
}

function item(t: Tensor, i: number): Tensor {
  const n = sizeOf(t.shape.slice(1));
  return new Tensor(t.dtype, t.shape.slice(1), t.data.subarray(i * n, (i + 1) * n));
}

function stack(parts: readonly Tensor[]): Tensor {
  const out = Tensor.zeros(parts[0]!.dtype, [parts.length, ...parts[0]!.shape]);
  parts.forEach((p, i) => (out.data as Float32Array).set(p.data as Float32Array, i * p.size));
  return out;
}

/** A loaded model, whichever target runs it: its inputs, output names, and one inference. */
interface Runner {
  params: Param[];
  outputNames: string[];
  run(inputs: Tensor[]): Promise<Tensor[]>;
  profile(): InferenceProfile | null;
  clockMhz?: number;
  close(): Promise<void>;
}

function onnxRunner(file: string): Runner {
  if (!file.endsWith('.onnx')) throw new VtaError('VTA_MODEL_FORMAT', `${file}: --target cpu runs ONNX models (.onnx)`);
  const model = importOnnxFile(file);
  return {
    params: model.fn.params.map((p) => ({ name: p.name, type: p.type })),
    outputNames: model.outputNames,
    run: async (inputs) => execute(model.fn, inputs),
    profile: () => null,
    close: async () => {},
  };
}

async function vtaRunner(file: string, target: string, config: string | undefined): Promise<Runner> {
  if (file.endsWith('.onnx')) throw new TargetError(target, `runs compiled models (.vta); compile ${file} first: vta-compile ${file} --target ${target} -o model.vta`);
  // The model's own configuration unless --config names the device's.
  const compiled = await readModelFile(file);
  const cfg = config !== undefined ? loadConfig(config) : makeConfig(JSON.parse(compiled.configJson));
  const rt = await createRuntime({ target: target as (typeof TARGETS)[number], config: cfg, logger: log });
  try {
    const model = await rt.load(file);
    const params = model.inputs.map((i) => ({ name: i.name, type: { shape: i.shape, dtype: i.dtype } }));
    return {
      params,
      outputNames: model.outputs.map((o) => o.name),
      async run(inputs) {
        const out = await model.run(Object.fromEntries(params.map((p, i) => [p.name, inputs[i]!])));
        return model.outputs.map((o) => out[o.name]!);
      },
      profile: () => model.profile(),
      clockMhz: cfg.CLOCK_MHZ,
      close: () => rt.close(),
    };
  } catch (e) {
    await rt.close();
    throw e;
  }
}

function formatProfile(p: InferenceProfile, runs: number): string {
  const lines = [
    `profile (last of ${runs} inference${runs === 1 ? '' : 's'}): ${p.deviceRuns} device run(s), host->device ${p.hostToDeviceBytes} B, device->host ${p.deviceToHostBytes} B, ` +
      `${p.wallMs.toFixed(1)} ms (device runs ${p.deviceMs.toFixed(1)} ms)${p.cycles !== undefined ? `, ${p.cycles} cycles` : ''}`,
  ];
  if (p.layers.length) {
    const rows = [['layer', 'op', 'MACs', 'cycles', 'bytes moved', 'uop cache hits']];
    for (const l of p.layers) {
      const bytes = Object.entries(l.bytes).map(([k, v]) => `${k} ${v}`).join(', ');
      rows.push([l.name, l.op, String(l.macs), l.cycles === undefined ? '-' : String(l.cycles), bytes, String(l.uopCacheHits)]);
    }
    const w = rows[0]!.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
    for (const r of rows) lines.push(`  ${r.map((c, j) => (j === 2 || j === 3 || j === 5 ? c.padStart(w[j]!) : c.padEnd(w[j]!))).join('  ').trimEnd()}`);
  }
  const counters = Object.entries(p.counters);
  if (counters.length) lines.push(`  counters: ${counters.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  return lines.join('\n');
}

/**
 * Chrome trace events: one span per inference (wall clock, on the host track) and, where the target
 * counts cycles, each VTA layer of that inference on the device track at the configured clock.
 */
function traceEvents(inferences: { start: number; profile: InferenceProfile | null; wallMs: number }[], clockMhz: number | undefined): object {
  const events: object[] = [
    { name: 'process_name', ph: 'M', pid: 1, args: { name: 'host' } },
    { name: 'process_name', ph: 'M', pid: 2, args: { name: 'VTA' } },
  ];
  inferences.forEach((inf, k) => {
    const p = inf.profile;
    events.push({ name: `inference ${k}`, ph: 'X', pid: 1, tid: 1, ts: inf.start * 1000, dur: inf.wallMs * 1000, args: p ? { deviceRuns: p.deviceRuns, hostToDeviceBytes: p.hostToDeviceBytes, deviceToHostBytes: p.deviceToHostBytes } : {} });
    if (!p || !clockMhz) return;
    let at = inf.start * 1000;
    for (const l of p.layers) {
      if (l.cycles === undefined) continue;
      const dur = l.cycles / clockMhz;
      events.push({ name: l.name, cat: l.op, ph: 'X', pid: 2, tid: 1, ts: at, dur, args: { cycles: l.cycles, macs: l.macs, ...l.bytes, uopCacheHits: l.uopCacheHits } });
      at += dur;
    }
  });
  return { traceEvents: events, displayTimeUnit: 'ms' };
}

await runCli(async () => {
  const argv = yargs(hideBin(process.argv))
    .scriptName('vta-run')
    .usage(
      '$0 <model> --target cpu|sim|cyclesim|intelfocl|tsim|webgpu --input NAME=in.npy [--input ...] --output out.npy\n' +
        '    [--config preset|file.json] [--profile] [--trace out.json] [--json]\n\n' +
        'Runs a model on a target. --target cpu runs an ONNX model on the CPU reference executor; the VTA\n' +
        'targets run a compiled model (.vta, made by vta-compile) through the runtime.\n' +
        'An input file with one more leading dimension than the model input is a stack of N inputs:\n' +
        'the model runs on each and the outputs are stacked along a new leading dimension.',
    )
    .wrap(Math.min(120, process.stdout.columns || 120))
    .positional('model', { type: 'string', describe: 'the model: .onnx for --target cpu, .vta for the VTA targets' })
    .option('target', { type: 'string', choices: ['cpu', ...TARGETS], describe: 'where to run (default: cpu for an .onnx model, sim otherwise)' })
    .option('config', { type: 'string', describe: 'VTA targets: the device\'s hardware configuration, a preset or a JSON file (default: the one the model was compiled for)' })
    .option('input', { alias: 'i', type: 'string', array: true, default: [] as string[], describe: 'NAME=file.npy for each model input (NAME may be left out for a single-input model)' })
    .option('output', { alias: 'o', type: 'string', array: true, default: [] as string[], describe: '.npy file for the first output; repeat for the following outputs' })
    .option('profile', { type: 'boolean', default: false, describe: 'VTA targets: print the last inference\'s profile (device runs, bytes moved, per-layer cycles on cyclesim, micro-op cache hits)' })
    .option('trace', { type: 'string', describe: 'VTA targets: write a Chrome trace-event JSON file: each inference\'s wall time and, where the target counts cycles (cyclesim), each layer' })
    .option('json', { type: 'boolean', default: false, describe: 'print a JSON summary (outputs, shapes, dtypes, time, and the profile with --profile) on stdout' })
    .demandCommand(1, 'give the model file')
    .strict()
    .help()
    .parseSync();
  const modelFile = String(argv._[0]);
  const target = argv.target ?? (modelFile.endsWith('.onnx') ? 'cpu' : 'sim');
  if (target === 'cpu' && (argv.profile || argv.trace !== undefined)) throw new VtaError('VTA_USAGE', '--profile and --trace are for the VTA targets');

  const runner = target === 'cpu' ? onnxRunner(modelFile) : await vtaRunner(modelFile, target, argv.config);
  try {
    const { params } = runner;
    const given = new Map<Param, [Tensor, string]>();
    for (const spec of argv.input) {
      const [param, t, file] = readInput(spec, params);
      if (given.has(param)) throw new InputError(param.name, 'given twice');
      given.set(param, [t, file]);
    }
    const missing = params.filter((p) => !given.has(p));
    if (missing.length) throw new InputError(missing[0]!.name, `missing (${formatType(missing[0]!.type)}); give it with --input ${missing[0]!.name}=file.npy`);
    if (argv.output.length > runner.outputNames.length) throw new VtaError('VTA_CLI', `${argv.output.length} output files for ${runner.outputNames.length} model outputs`);

    const stacks = params.map((p) => stackSize(p, ...given.get(p)!));
    const n = Math.max(0, ...stacks);
    const bad = params.find((p, i) => stacks[i] !== 0 && stacks[i] !== n);
    if (bad) throw new InputError(bad.name, `stacks of different sizes (${stacks.filter((s) => s).join(' vs ')})`);

    const t0 = performance.now();
    const inferences: { start: number; profile: InferenceProfile | null; wallMs: number }[] = [];
    const once = async (inputs: Tensor[]): Promise<Tensor[]> => {
      const start = performance.now();
      const out = await runner.run(inputs);
      inferences.push({ start: start - t0, profile: runner.profile(), wallMs: performance.now() - start });
      return out;
    };
    let outputs: Tensor[];
    if (n === 0) {
      outputs = await once(params.map((p) => given.get(p)![0]));
    } else {
      const runs: Tensor[][] = [];
      for (let i = 0; i < n; i++) runs.push(await once(params.map((p, j) => (stacks[j] ? item(given.get(p)![0], i) : given.get(p)![0]))));
      outputs = runner.outputNames.map((_, k) => stack(runs.map((r) => r[k]!)));
    }
    const seconds = (performance.now() - t0) / 1000;
    log.info({ model: modelFile, target, runs: Math.max(n, 1), seconds }, 'ran');

    argv.output.forEach((file, k) => {
      try {
        writeFileSync(file, writeNpy(outputs[k]!));
      } catch (e) {
        throw new VtaError('VTA_IO', `cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    });
    if (argv.trace !== undefined) {
      try {
        writeFileSync(argv.trace, JSON.stringify(traceEvents(inferences, runner.clockMhz)));
      } catch (e) {
        throw new VtaError('VTA_IO', `--trace ${argv.trace}: cannot write the trace: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    const profile = runner.profile();
    if (argv.json) {
      const summary = {
        model: modelFile,
        target,
        runs: Math.max(n, 1),
        seconds,
        outputs: runner.outputNames.map((name, k) => ({ name, shape: outputs[k]!.shape, dtype: outputs[k]!.dtype, file: argv.output[k] ?? null })),
        ...(argv.profile ? { profile } : {}),
      };
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    } else if (argv.profile && profile) {
      process.stdout.write(`${formatProfile(profile, Math.max(n, 1))}\n`);
    }
  } finally {
    await runner.close();
  }
});
