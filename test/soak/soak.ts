/**
 * The soak (`npm run soak`, not part of the vitest suites): several models loaded on one device at
 * once, many callers calling `run` concurrently for a bounded time, every output compared byte for
 * byte with the same model's output for the same input from a single run on a fresh runtime, some
 * runs made to pass their timeout on purpose (the runtime must report them and keep serving), and
 * the device memory allocator back to its starting state once the models close.
 *
 *   npm run soak -- [--target sim] [--minutes 3] [--callers 16] [--timeout-faults 0.02] [--seed 18] [--json]
 *
 * Exits 1 on any wrong output, unexpected error, or device memory not given back.
 */
import { isDeepStrictEqual } from 'node:util';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { encodeModel } from '../../compiler/artifact/format.ts';
import type { Tensor } from '../../compiler/tensor/tensor.ts';
import { preset } from '../../isa/config.ts';
import { runCli } from '../../isa/cli/common.ts';
import { createRuntime, RunTimeoutError, type InputValue, type Model, type RuntimeOptions } from '../../runtime/index.ts';
import { TARGETS } from '../../runtime/targets.ts';
import type { TargetName } from '../../isa/device.ts';
import { compiledDigits, digitImages } from '../runtime/fault-helpers.ts';
import { matmulModel, referenceLayer } from '../runtime/model-builder.ts';
import { rng } from '../rng.ts';

const cfg = preset('default');


interface SoakModel {
  name: string;
  bytes: Uint8Array;
  inputs: Record<string, InputValue>[];
  /** Output bytes of each input from a single run, by output name. */
  expected: Map<string, Uint8Array>[];
}

const bytesOf = (t: Tensor) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

function soakModels(target: TargetName, random: () => number): SoakModel[] {
  const int8 = (n: number, scale: number) => Int8Array.from({ length: n }, () => Math.trunc((Math.floor(random() * 256) - 128) / scale));
  const images = digitImages(16).map((x) => ({ input: x }));
  const matmul = (layers: number, shift: number) => {
    const weights = Array.from({ length: layers }, () => int8(32 * 32, 8));
    const inputs = Array.from({ length: 16 }, () => int8(128, 2));
    // An oracle besides the single run: the naive reference of the layers.
    const naive = inputs.map((x) => weights.reduce<Int8Array>((a, w) => referenceLayer(a, w, shift), x));
    return { bytes: encodeModel(matmulModel(cfg, { weights, shift })), inputs: inputs.map((x) => ({ x })), naive };
  };
  const m2 = matmul(2, 6);
  const m4 = matmul(4, 7);
  return [
    { name: 'digits_cnn', bytes: compiledDigits(target), inputs: images, expected: [] },
    { name: 'digits_cnn (first conv on the CPU)', bytes: compiledDigits(target, { firstConv: 'cpu' }), inputs: images, expected: [] },
    { name: 'matmul x2', bytes: m2.bytes, inputs: m2.inputs, expected: m2.naive.map((y) => new Map([['y', new Uint8Array(y.buffer)]])) },
    { name: 'matmul x4', bytes: m4.bytes, inputs: m4.inputs, expected: m4.naive.map((y) => new Map([['y', new Uint8Array(y.buffer)]])) },
  ];
}

/** Each model alone on a fresh runtime, one input at a time: the outputs the soak must reproduce. */
async function singleRuns(opts: RuntimeOptions, models: SoakModel[]): Promise<void> {
  for (const m of models) {
    const rt = await createRuntime(opts);
    try {
      const model = await rt.load(m.bytes, m.name);
      for (let i = 0; i < m.inputs.length; i++) {
        const out = await model.run(m.inputs[i]!);
        const got = new Map(Object.entries(out).map(([k, t]) => [k, bytesOf(t).slice()]));
        const naive = m.expected[i];
        if (naive && !isDeepStrictEqual(got, naive)) throw new Error(`${m.name}: input ${i} differs from the naive reference in a single run`);
        m.expected[i] = got;
      }
    } finally {
      await rt.close();
    }
  }
}

interface Figures {
  target: TargetName;
  seed: number;
  callers: number;
  models: string[];
  minutes: number;
  runs: number;
  runsPerModel: Record<string, number>;
  outputsChecked: number;
  bytesChecked: number;
  mismatches: string[];
  timeoutFaultsAsked: number;
  timeoutFaultsReported: number;
  unexpectedErrors: string[];
  callLatencyMs: { p50: number; p99: number; max: number };
  deviceMemory: {
    before: { freeBytes: number; liveAllocations: number; freeBlocks: number };
    loaded: { freeBytes: number; liveAllocations: number; freeBlocks: number };
    afterClose: { freeBytes: number; liveAllocations: number; freeBlocks: number };
    sameAsBefore: boolean;
  };
  hostRssMiB: { afterLoad: number; end: number };
}

async function soak(opts: { target: TargetName; minutes: number; callers: number; timeoutFaults: number; seed: number }): Promise<Figures> {
  const random = rng(opts.seed);
  const models = soakModels(opts.target, random);
  const rtOpts: RuntimeOptions = { target: opts.target, config: cfg, memBytes: 32 << 20 };
  await singleRuns(rtOpts, models);

  const rt = await createRuntime(rtOpts);
  const before = rt.memoryState();
  const loaded: Model[] = [];
  for (const m of models) loaded.push(await rt.load(m.bytes, m.name));
  const whileLoaded = rt.memoryState();
  const rssAfterLoad = process.memoryUsage().rss;

  const f: Figures = {
    target: opts.target,
    seed: opts.seed,
    callers: opts.callers,
    models: models.map((m) => m.name),
    minutes: 0,
    runs: 0,
    runsPerModel: Object.fromEntries(models.map((m) => [m.name, 0])),
    outputsChecked: 0,
    bytesChecked: 0,
    mismatches: [],
    timeoutFaultsAsked: 0,
    timeoutFaultsReported: 0,
    unexpectedErrors: [],
    callLatencyMs: { p50: 0, p99: 0, max: 0 },
    deviceMemory: undefined!,
    hostRssMiB: undefined!,
  };
  const latencies: number[] = [];
  const t0 = performance.now();
  const deadline = t0 + opts.minutes * 60_000;
  const caller = async (id: number) => {
    const r = rng(opts.seed * 1000 + id);
    while (performance.now() < deadline) {
      const k = Math.floor(r() * models.length);
      const m = models[k]!;
      const i = Math.floor(r() * m.inputs.length);
      const fault = r() < opts.timeoutFaults;
      const started = performance.now();
      try {
        const out = await loaded[k]!.run(m.inputs[i]!, fault ? { timeoutMs: 1e-6 } : undefined);
        latencies.push(performance.now() - started);
        f.runs++;
        f.runsPerModel[m.name]!++;
        const want = m.expected[i]!;
        if (Object.keys(out).length !== want.size) f.mismatches.push(`${m.name} input ${i}: outputs ${Object.keys(out).join(', ')}`);
        for (const [name, bytes] of want) {
          const got = out[name];
          f.outputsChecked++;
          f.bytesChecked += bytes.length;
          if (!got || !Buffer.from(bytesOf(got)).equals(bytes)) f.mismatches.push(`${m.name} input ${i} output ${name} (caller ${id}, run ${f.runs})`);
        }
      } catch (e) {
        if (fault && e instanceof RunTimeoutError) f.timeoutFaultsReported++;
        else f.unexpectedErrors.push(`${m.name} input ${i}: ${String(e)}`);
      }
      if (fault) f.timeoutFaultsAsked++;
    }
  };
  await Promise.all(Array.from({ length: opts.callers }, (_, id) => caller(id)));
  f.minutes = (performance.now() - t0) / 60_000;

  for (const m of loaded) await m.close();
  const after = rt.memoryState();
  await rt.close();
  latencies.sort((a, b) => a - b);
  const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  f.callLatencyMs = { p50: pct(0.5), p99: pct(0.99), max: latencies[latencies.length - 1] ?? 0 };
  const brief = (s: typeof before) => ({ freeBytes: s.freeBytes, liveAllocations: s.liveAllocations, freeBlocks: s.freeBlocks.length });
  f.deviceMemory = { before: brief(before), loaded: brief(whileLoaded), afterClose: brief(after), sameAsBefore: isDeepStrictEqual(before, after) };
  f.hostRssMiB = { afterLoad: rssAfterLoad / 2 ** 20, end: process.memoryUsage().rss / 2 ** 20 };
  return f;
}

await runCli(async () => {
  const argv = yargs(hideBin(process.argv))
    .scriptName('soak')
    .option('target', { choices: TARGETS, default: 'sim' as TargetName, describe: 'the device to soak' })
    .option('minutes', { type: 'number', default: 3, describe: 'how long the callers keep calling' })
    .option('callers', { type: 'number', default: 16, describe: 'concurrent callers' })
    .option('timeout-faults', { type: 'number', default: 0.02, describe: 'fraction of runs given a timeout they must pass (reported as RunTimeoutError)' })
    .option('seed', { type: 'number', default: 18 })
    .option('json', { type: 'boolean', default: false, describe: 'print the figures as JSON' })
    .strict()
    .help()
    .parseSync();
  const f = await soak({ target: argv.target, minutes: argv.minutes, callers: argv.callers, timeoutFaults: argv.timeoutFaults, seed: argv.seed });
  if (argv.json) console.log(JSON.stringify(f, null, 2));
  else {
    const mem = f.deviceMemory;
    console.log(`soak on ${f.target}: ${f.models.length} models loaded at once (${f.models.join('; ')}), ${f.callers} callers, ${f.minutes.toFixed(2)} minutes`);
    console.log(`runs ${f.runs} (${Object.entries(f.runsPerModel).map(([k, v]) => `${k} ${v}`).join(', ')}), ${(f.runs / (f.minutes * 60)).toFixed(1)} runs/s`);
    console.log(`outputs checked ${f.outputsChecked} (${f.bytesChecked} bytes) against single runs: ${f.mismatches.length} differ`);
    console.log(`timeouts asked ${f.timeoutFaultsAsked}, reported as RunTimeoutError ${f.timeoutFaultsReported}; unexpected errors ${f.unexpectedErrors.length}`);
    console.log(`call latency (queueing included): p50 ${f.callLatencyMs.p50.toFixed(1)} ms, p99 ${f.callLatencyMs.p99.toFixed(1)} ms, max ${f.callLatencyMs.max.toFixed(1)} ms`);
    console.log(
      `device memory free: before ${mem.before.freeBytes} B (${mem.before.freeBlocks} block, ${mem.before.liveAllocations} live), loaded ${mem.loaded.freeBytes} B (${mem.loaded.liveAllocations} live), after close ${mem.afterClose.freeBytes} B (${mem.afterClose.freeBlocks} block, ${mem.afterClose.liveAllocations} live): ${mem.sameAsBefore ? 'same allocator state as before' : 'DIFFERENT'}`,
    );
    console.log(`host RSS: ${f.hostRssMiB.afterLoad.toFixed(0)} MiB after loading, ${f.hostRssMiB.end.toFixed(0)} MiB at the end`);
    for (const m of [...f.mismatches, ...f.unexpectedErrors].slice(0, 10)) console.log(`  ${m}`);
  }
  if (f.mismatches.length > 0 || f.unexpectedErrors.length > 0 || !f.deviceMemory.sameAsBefore || f.runs === 0) process.exitCode = 1;
});
