/**
 * The whole compiler as one call: ONNX import -> the passes (quantize, place, pack, copies, kernel
 * groups) -> lowering and emission of a compiled model, plus a report of what went where: the VTA
 * layers with their instructions, micro-ops, cycles and GEMM utilization, the ops left on the CPU
 * and why, and the device copies.
 *
 * Cycles: with `tune` quick/full the search already measured each conv's chosen schedule; every
 * other layer (and every layer with `tune: 'none'`) is run alone on the cycle-level simulator with
 * functional execution off, which costs milliseconds per layer (`cycles: 'skip'` leaves it out).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { loadConfig, type VtaConfig } from '../isa/config.ts';
import { VtaError } from '../isa/errors.ts';
import type { CompiledModel } from './artifact/format.ts';
import { emitModel, type EmitResult, type EmittedLayer } from './emit.ts';
import { topoOrder, type Call, type IRFunction } from './ir/graph.ts';
import { measureCycles, type ScheduleCache, type TuneLevel } from './lower/index.ts';
import { importOnnxFile } from './onnx/import.ts';
import { VTA_RULES } from './passes/annotate.ts';
import { findKernelGroups } from './passes/fuse.ts';
import { compileForVta, type VtaCompiled } from './passes/pipeline.ts';
import { splitSamples } from './quant/calibrate.ts';
import { readNpy } from './tensor/npy.ts';
import { formatShape, type Tensor } from './tensor/tensor.ts';

export interface CompileProgress {
  phase: 'import' | 'passes' | 'lower' | 'cycles' | 'done';
  done: number;
  total: number;
  /** What was just finished (a layer's source node, for instance). */
  detail?: string;
}

export interface CompileOptions {
  /** A preset name, a configuration file, or a configuration (default: the default preset). */
  config?: string | VtaConfig;
  /** The target recorded in the model: sim, cyclesim, intelfocl, tsim or webgpu. */
  target: string;
  /** Calibration inputs for a float model: a .npy path, a stack of inputs (N, ...) or single inputs. */
  calibration?: string | Tensor | readonly Tensor[];
  tune?: TuneLevel;
  cache?: ScheduleCache;
  /** 'vta' (default) or 'cpu': where the first conv runs (compiler/passes/pipeline.ts). */
  firstConv?: 'cpu' | 'vta';
  /**
   * Samples per inference: the leading dimension of every input (declared 1 in the model). The
   * calibration inputs are then grouped by this many; with a batch that BATCH divides, VTA runs
   * them all in one device run.
   */
  batch?: number;
  /** 'measure' (default): cycles of every layer on the cycle-level simulator; 'skip': not measured. */
  cycles?: 'measure' | 'skip';
  logger?: Logger;
  onProgress?: (p: CompileProgress) => void;
}

export interface LayerReport {
  name: string;
  /** The graph node the layer was made from. */
  source: string;
  op: string;
  /** Input -> output shapes (logical NCHW). */
  shape: string;
  tiling: string;
  instructions: number;
  uops: number;
  macs: number;
  /** Cycles of the layer alone on the cycle-level simulator, or null when not measured. */
  cycles: number | null;
  /** MACs / (cycles x BATCH x BLOCK_IN x BLOCK_OUT), or null without cycles or MACs. */
  gemmUtilization: number | null;
}

/** CPU ops that are there for the same reason. */
export interface CpuOpReport {
  reason: string;
  count: number;
  /** Count per op. */
  ops: Record<string, number>;
  /** Up to three node names. */
  examples: string[];
}

export interface CompileReport {
  model: string;
  target: string;
  config: string;
  opset: number;
  tune: TuneLevel;
  seconds: { import: number; passes: number; lower: number; cycles: number; total: number };
  vta: { layers: number; instructions: number; uops: number; macs: number; cycles: number | null; gemmUtilization: number | null };
  layers: LayerReport[];
  cpu: { ops: number; byReason: CpuOpReport[] };
  /** Kernel groups placed on VTA that the lowering could not run; they run on the CPU. */
  fallbacks: EmitResult['fallbacks'];
  /** Host<->device copy steps in the compiled model (at every inference). */
  deviceCopies: number;
  /** Calls folded to constants, and batch norms / per-channel scales folded into conv weights, before quantization. */
  simplified: VtaCompiled['simplified'];
  /** How cycles were obtained. */
  cyclesNote: string;
}

export interface CompileResult {
  model: CompiledModel;
  report: CompileReport;
  /** The passes' result (placed graph, kernel groups), for --emit ir/dot and for checking. */
  compiled: VtaCompiled;
  emitted: EmitResult;
  outputNames: string[];
}

export class CompileError extends VtaError {
  constructor(message: string) {
    super('VTA_COMPILE', message);
  }
}

function readCalibration(spec: CompileOptions['calibration'], fn: IRFunction): Tensor[] | undefined {
  if (spec === undefined) return undefined;
  const param = fn.params[0];
  if (!param) throw new CompileError('the model has no inputs to calibrate');
  if (fn.params.length > 1) throw new CompileError(`calibration needs a single-input model; this one has ${fn.params.length} inputs`);
  if (Array.isArray(spec)) return [...(spec as readonly Tensor[])];
  let t: Tensor;
  if (typeof spec === 'string') {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(spec);
    } catch (e) {
      throw new VtaError('VTA_IO', `cannot read calibration file ${spec} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    t = readNpy(bytes, spec);
  } else t = spec as Tensor;
  return splitSamples(t, param.type.shape);
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** Ops that only move elements: VTA runs them when a conv's weights or a buffer's addressing absorb them. */
const LAYOUT_OPS = new Set(['reshape', 'transpose', 'squeeze', 'expand_dims', 'strided_slice', 'concatenate']);

const FALLBACK_REASON = 'placed on VTA, but the lowering cannot run its kernel group (see the fallbacks)';

/** Float ops a transformer keeps on the CPU, and why VTA's int8 GEMM and int32 ALU cannot run them. */
const FLOAT_REASONS: Readonly<Record<string, string>> = {
  'nn.softmax': 'Softmax needs exp and a division per row (VTA\'s ALU has MIN/MAX/ADD/SHR/MUL only)',
  sqrt: 'LayerNorm needs a square root and a division by it per row (not ALU operations)',
  divide: 'LayerNorm needs a square root and a division by it per row (not ALU operations)',
  tanh: 'GELU needs tanh (or erf), transcendental: a CPU function, or a lookup table VTA does not have',
  'nn.matmul': 'a MatMul that is not one matrix product (batched over several matrices) does not become a dense',
};

/** Why each CPU op of the placed graph is there, when the graph says. */
function cpuReasons(compiled: VtaCompiled, emitted: EmitResult, firstConv: 'cpu' | 'vta'): CpuOpReport[] {
  const fn = compiled.fn;
  const order = topoOrder(fn);
  const first = order.find((c) => c.op === 'nn.conv2d');
  const groupOf = new Map<Call, Call>();
  for (const g of findKernelGroups(fn)) for (const c of g.calls) groupOf.set(c, g.anchorCall);
  const byName = new Map<string, Call[]>();
  for (const c of order) if (c.device !== 'vta') (byName.get(`${c.op}|${c.name ?? ''}`) ?? byName.set(`${c.op}|${c.name ?? ''}`, []).get(`${c.op}|${c.name ?? ''}`)!).push(c);
  const reason = (c: Call | undefined): string => {
    if (!c) return 'unknown';
    const anchor = groupOf.get(c);
    if (firstConv === 'cpu' && first && (c === first || anchor === first)) return 'the first conv and its epilogue stay on the CPU (--first-conv cpu, as in TVM VTA)';
    if (c.op === 'layout_transform') return 'packs or unpacks VTA\'s blocked layout at the edge of the VTA region';
    if (c.op === 'qnn.quantize' || c.op === 'qnn.dequantize') return 'float <-> int8 at the edge of the integer region';
    if (c.op === 'nn.lrn') return 'LRN needs powers and a division per element, which VTA\'s ALU (ADD, MUL, SHR, MIN, MAX) lacks';
    if (LAYOUT_OPS.has(c.op)) return 'layout-only op that no conv before it absorbs (channel shuffle) and that is not a channel concatenation of VTA results (done by addressing)';
    if (c.type.dtype.startsWith('float') || c.args.some((a) => a.type.dtype.startsWith('float'))) return FLOAT_REASONS[c.op] ?? 'float arithmetic (VTA computes in int8/int32)';
    if (!VTA_RULES[c.op]) return `VTA has no ${c.op}`;
    if (anchor) return 'its kernel group has a node VTA cannot run (shape, dtype or immediate out of range)';
    return 'not part of a kernel group VTA runs';
  };
  const out = new Map<string, CpuOpReport>();
  for (const info of emitted.cpuOps) {
    const why = info.fallback !== undefined ? FALLBACK_REASON : reason(byName.get(`${info.op}|${info.name}`)?.[0]);
    const r = out.get(why) ?? out.set(why, { reason: why, count: 0, ops: {}, examples: [] }).get(why)!;
    r.count++;
    r.ops[info.op] = (r.ops[info.op] ?? 0) + 1;
    if (info.name && r.examples.length < 3 && !r.examples.includes(info.name)) r.examples.push(info.name);
  }
  return [...out.values()];
}

function layerShape(l: EmittedLayer): string {
  const x = l.layer;
  switch (x.kind) {
    case 'conv2d':
      return `${formatShape([x.batch, x.inChannels, x.height, x.width])} k${x.kernel.join('x')} s${x.stride[0]}${x.groups > 1 ? ` g${x.groups}` : ''} -> ${x.outChannels}`;
    case 'dense':
      return `${formatShape([x.batch, x.inFeatures])} -> ${x.outFeatures}`;
    case 'eltwise':
      return formatShape([x.batch, x.channels, x.height, x.width]);
    case 'maxpool':
    case 'sumpool':
      return `${formatShape([x.batch, x.channels, x.height, x.width])} k${x.kernel.join('x')} s${x.stride[0]}`;
  }
}

export function compileOnnx(file: string, opts: CompileOptions): CompileResult {
  const cfg = typeof opts.config === 'object' ? opts.config : loadConfig(opts.config);
  if (cfg.BLOCK_IN !== cfg.BLOCK_OUT) throw new CompileError(`configuration ${cfg.fingerprint}: BLOCK_IN ${cfg.BLOCK_IN} != BLOCK_OUT ${cfg.BLOCK_OUT} is not supported by the passes`);
  const log = opts.logger;
  const tune = opts.tune ?? 'none';
  const firstConv = opts.firstConv ?? 'vta';
  const progress = opts.onProgress ?? (() => {});
  const t0 = performance.now();

  progress({ phase: 'import', done: 0, total: 1 });
  const imported = importOnnxFile(file, opts.batch === undefined ? {} : { batch: opts.batch });
  const tImport = seconds(t0);
  log?.info({ model: file, opset: imported.opset, seconds: tImport }, 'imported');

  const t1 = performance.now();
  progress({ phase: 'passes', done: 0, total: 1 });
  const compiled = compileForVta(imported.fn, {
    target: { batch: cfg.BATCH, block: cfg.BLOCK_IN },
    firstConv,
    calibration: readCalibration(opts.calibration, imported.fn),
  });
  const tPasses = seconds(t1);
  log?.info({ groups: compiled.groups.length, copies: compiled.copies, placement: compiled.placement, seconds: tPasses }, 'placed');

  const t2 = performance.now();
  const emitted = emitModel(cfg, compiled.fn, compiled.groups, {
    target: opts.target,
    source: path.basename(file),
    outputNames: imported.outputNames,
    lower: { tune, cache: opts.cache },
    onLayer: (done, total, name) => {
      progress({ phase: 'lower', done, total, detail: name });
      log?.debug({ done, total, layer: name }, 'lowered');
    },
  });
  const tLower = seconds(t2);
  for (const f of emitted.fallbacks) log?.warn({ group: f.source, anchor: f.anchor, reason: f.reason }, 'kernel group runs on the CPU');
  log?.info({ layers: emitted.layers.length, fallbacks: emitted.fallbacks.length, copies: emitted.copies, seconds: tLower }, 'lowered');

  const t3 = performance.now();
  const measure = (opts.cycles ?? 'measure') === 'measure';
  const vtaSteps = emitted.model.steps.flatMap((s) => (s.kind.case === 'vta' ? [s.kind.value] : []));
  const macsPerCycle = cfg.BATCH * cfg.BLOCK_IN * cfg.BLOCK_OUT;
  const layers: LayerReport[] = emitted.layers.map((l, i) => {
    let cycles = l.scheduled.cycles;
    if (cycles === null && measure) {
      cycles = measureCycles(cfg, l.scheduled.lowered).cycles;
      // The model records what was measured, so a loader or a report can read it back.
      vtaSteps[i]!.estimatedCycles = BigInt(cycles);
    }
    progress({ phase: 'cycles', done: i + 1, total: emitted.layers.length, detail: l.source });
    return {
      name: l.name,
      source: l.source,
      op: l.layer.kind,
      shape: layerShape(l),
      tiling: l.scheduled.lowered.tiling,
      instructions: l.instructions,
      uops: l.uops,
      macs: l.macs,
      cycles,
      gemmUtilization: cycles && l.macs ? l.macs / (cycles * macsPerCycle) : null,
    };
  });
  const tCycles = seconds(t3);

  const sum = (f: (l: LayerReport) => number) => layers.reduce((n, l) => n + f(l), 0);
  const allCycles = layers.every((l) => l.cycles !== null);
  const totalCycles = allCycles ? sum((l) => l.cycles!) : null;
  const macs = sum((l) => l.macs);
  const report: CompileReport = {
    model: file,
    target: opts.target,
    config: cfg.fingerprint,
    opset: imported.opset,
    tune,
    seconds: { import: tImport, passes: tPasses, lower: tLower, cycles: tCycles, total: seconds(t0) },
    vta: {
      layers: layers.length,
      instructions: sum((l) => l.instructions),
      uops: sum((l) => l.uops),
      macs,
      cycles: layers.length ? totalCycles : null,
      gemmUtilization: totalCycles && macs ? macs / (totalCycles * macsPerCycle) : null,
    },
    layers,
    cpu: { ops: emitted.cpuOps.length, byReason: cpuReasons(compiled, emitted, firstConv) },
    fallbacks: emitted.fallbacks,
    deviceCopies: emitted.copies,
    simplified: compiled.simplified,
    cyclesNote: !measure
      ? 'not measured'
      : tune === 'none'
        ? 'each layer alone on the cycle-level simulator (calibrated timing, sim/cycle/timing.json), no tuning'
        : `each layer alone on the cycle-level simulator (calibrated timing, sim/cycle/timing.json), convs as chosen by --tune ${tune}`,
  };
  progress({ phase: 'done', done: 1, total: 1 });
  log?.info({ seconds: report.seconds.total, cycles: report.vta.cycles }, 'compiled');
  return { model: emitted.model, report, compiled, emitted, outputNames: imported.outputNames };
}

const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);

function table(rows: string[][], right: ReadonlySet<number>): string {
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => r[j]!.length)));
  return rows.map((r) => r.map((c, j) => (right.has(j) ? c.padStart(widths[j]!) : c.padEnd(widths[j]!))).join('  ').trimEnd()).join('\n');
}

/** The human summary: totals, the per-layer table, the CPU ops with reasons, fallbacks. */
export function formatReport(r: CompileReport): string {
  const lines: string[] = [];
  lines.push(`${r.model} -> ${r.target} (config ${r.config}, opset ${r.opset}, tune ${r.tune}), compiled in ${r.seconds.total.toFixed(2)} s`);
  lines.push(
    `VTA: ${r.vta.layers} layers, ${r.vta.instructions} instructions, ${r.vta.uops} micro-ops, ${r.vta.macs} MACs, ` +
      `${r.vta.cycles === null ? 'cycles not measured' : `${r.vta.cycles} cycles, GEMM utilization ${pct(r.vta.gemmUtilization)}`}`,
  );
  lines.push(`CPU: ${r.cpu.ops} ops; device_copy steps: ${r.deviceCopies}`);
  const s = r.simplified;
  lines.push(`folded before quantization: ${s.folded} calls to constants, ${s.batchNorms} batch norms and ${s.scales} per-channel scales into conv weights, ${s.biases} adds into biases, ${s.shuffles} channel shuffles into conv weights, ${s.relus} ReLUs of a concatenation onto its inputs`);
  if (r.layers.length) {
    lines.push('');
    const rows = [['layer', 'op', 'source', 'shape', 'tiling', 'insns', 'uops', 'MACs', 'cycles', 'GEMM util']];
    for (const l of r.layers) rows.push([l.name, l.op, l.source, l.shape, l.tiling, String(l.instructions), String(l.uops), String(l.macs), l.cycles === null ? 'not measured' : String(l.cycles), pct(l.gemmUtilization)]);
    lines.push(table(rows, new Set([5, 6, 7, 8, 9])));
  }
  if (r.cpu.byReason.length) {
    lines.push('', 'on the CPU:');
    for (const c of r.cpu.byReason) {
      const ops = Object.entries(c.ops).map(([op, n]) => (n > 1 ? `${op} x${n}` : op)).join(', ');
      lines.push(`  ${String(c.count).padStart(4)}  ${c.reason}: ${ops}${c.examples.length ? ` (e.g. ${c.examples.join(', ')})` : ''}`);
    }
  }
  if (r.fallbacks.length) {
    lines.push('', `fallbacks: ${r.fallbacks.length} kernel group(s) placed on VTA run on the CPU because the lowering cannot run them:`);
    for (const f of r.fallbacks) lines.push(`  ${f.anchor} ${f.source}: ${f.reason}`);
  }
  lines.push('', `cycles: ${r.cyclesNote}`);
  return lines.join('\n');
}
