/**
 * Schedule search: rank a layer's legal tilings by the analytical estimate, measure the best few
 * (`quick`) or many (`full`) in the cycle-level simulator with functional execution off, keep the
 * fewest cycles. `none` takes the best estimate without simulating. Results are cached by layer
 * shape and configuration, in memory and optionally in a JSON file.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { VtaConfig } from '../../isa/config.ts';
import { VtaError } from '../../isa/errors.ts';
import { Dram } from '../../sim/dram.ts';
import { CycleSimulator } from '../../sim/cycle/cyclesim.ts';
import { DEFAULT_TIMING, type TimingConfig } from '../../sim/cycle/timing.ts';
import type { CycleResult } from '../../sim/cycle/engine.ts';
import { convGeometry, denseAsConv, lowerConv, type ConvTiling } from './conv.ts';
import { lowerEltwise, lowerPool } from './eltwise.ts';
import { LowerError, type Conv2dLayer, type Layer } from './layers.ts';
import { planEpilogue, residualCopies } from './pack.ts';
import { placeBuffers, relocate, withFinish, type LoweredLayer } from './program.ts';
import { rankConvTilings } from './tiling.ts';

export const TUNE_LEVELS = ['none', 'quick', 'full'] as const;
export type TuneLevel = (typeof TUNE_LEVELS)[number];

/** Candidates measured in the simulator per level. */
const MEASURED: Record<TuneLevel, number> = { none: 0, quick: 6, full: 48 };

interface CacheEntry {
  tiling: ConvTiling;
  cycles: number | null;
  tune: TuneLevel;
}

/** Layer-shape + configuration keyed tilings; `file` makes it persistent across runs. */
export class ScheduleCache {
  private readonly map = new Map<string, CacheEntry>();

  constructor(readonly file?: string) {
    if (file && existsSync(file)) {
      let json: unknown;
      try {
        json = JSON.parse(readFileSync(file, 'utf8'));
      } catch (e) {
        throw new VtaError('VTA_TUNE_CACHE', `${file}: not a schedule cache (${(e as Error).message})`);
      }
      if (typeof json !== 'object' || json === null || Array.isArray(json)) {
        throw new VtaError('VTA_TUNE_CACHE', `${file}: a schedule cache is a JSON object of entries`);
      }
      for (const [k, v] of Object.entries(json as Record<string, CacheEntry>)) {
        const t = v?.tiling as unknown as Record<string, unknown> | undefined;
        const sizes = ['tco', 'th', 'tw', 'tci'].every((f) => Number.isInteger(t?.[f]) && (t![f] as number) >= 1);
        if (!sizes || (t!.order !== 'co' && t!.order !== 'spatial') || !TUNE_LEVELS.includes(v.tune)) {
          throw new VtaError('VTA_TUNE_CACHE', `${file}: entry ${JSON.stringify(k)} is not a tiling with tco, th, tw, tci, order and tune`);
        }
        this.map.set(k, v);
      }
    }
  }

  get(key: string, tune: TuneLevel): CacheEntry | undefined {
    const e = this.map.get(key);
    // A cached result from a shallower search does not answer a deeper one.
    if (e && TUNE_LEVELS.indexOf(e.tune) >= TUNE_LEVELS.indexOf(tune)) return e;
    return undefined;
  }

  set(key: string, entry: CacheEntry): void {
    this.map.set(key, entry);
  }

  save(): void {
    if (this.file) writeFileSync(this.file, JSON.stringify(Object.fromEntries(this.map), null, 1));
  }
}

/** The cache key: everything about the layer that changes its stream, and the configuration. */
export function scheduleKey(cfg: VtaConfig, layer: Conv2dLayer): string {
  const steps = layer.epilogue.map((s) => (s.kind === 'imm' ? `${s.op}i` : `${s.op}${s.kind[0]}`)).join(',');
  const shape = [layer.batch, layer.inChannels, layer.outChannels, layer.height, layer.width, ...layer.kernel, ...layer.stride, ...layer.padding, layer.groups];
  // Whether the residual can ride the GEMM depends on the constants' magnitudes, and whether a
  // per-element constant splits into a per-channel part on their values, so both are in the key.
  const planned = planEpilogue(layer);
  const res = residualCopies(cfg, layer, planned)?.length ?? 0;
  const plan = planned.map((s) => s.kind[0]).join('');
  return `${cfg.fingerprint}/bus${cfg.BUS_WIDTH}|${shape.join('x')}|${steps}|r${res}|${plan}`;
}

/** Cycles of one layer's stream alone (with a FINISH), functional execution off. */
export function measureCycles(cfg: VtaConfig, lowered: LoweredLayer, timing: TimingConfig = DEFAULT_TIMING): CycleResult {
  const { bases, end } = placeBuffers(cfg, lowered);
  const insns = withFinish(relocate(cfg, lowered, bases));
  const sim = new CycleSimulator(cfg, new Dram(end), timing);
  return sim.run(insns, { functional: false }).timing;
}

export interface LowerOptions {
  tune?: TuneLevel;
  cache?: ScheduleCache;
  timing?: TimingConfig;
  /** Use this tiling instead of searching (conv and dense only). */
  tiling?: ConvTiling;
}

export interface ScheduledLayer {
  lowered: LoweredLayer;
  /** Simulated cycles when the search measured the chosen tiling, else null. */
  cycles: number | null;
}

/** Lowers any layer; conv and dense get their tiling from the search (or `opts.tiling`). */
export function lowerLayer(cfg: VtaConfig, layer: Layer, opts: LowerOptions = {}): ScheduledLayer {
  if (layer.kind === 'eltwise') return { lowered: lowerEltwise(cfg, layer), cycles: null };
  if (layer.kind === 'maxpool' || layer.kind === 'sumpool') return { lowered: lowerPool(cfg, layer), cycles: null };
  if (opts.tiling) return { lowered: lowerConv(cfg, layer, opts.tiling), cycles: null };
  const conv = layer.kind === 'dense' ? denseAsConv(layer) : layer;
  const tune = opts.tune ?? 'none';
  const timing = opts.timing ?? DEFAULT_TIMING;
  const key = scheduleKey(cfg, conv);
  const hit = opts.cache?.get(key, tune);
  // A cached tiling that no longer fits (a cache from another version of the lowering) is searched again.
  if (hit && typeof convGeometry(cfg, conv, hit.tiling) !== 'string') return { lowered: lowerConv(cfg, layer, hit.tiling), cycles: hit.cycles };
  const ranked = rankConvTilings(cfg, conv, timing);
  if (ranked.length === 0) throw new LowerError(layer.name, `no tiling fits configuration ${cfg.fingerprint}`);
  let best: ScheduledLayer | null = null;
  let bestTiling = ranked[0]!.tiling;
  if (tune === 'none') {
    best = { lowered: lowerConv(cfg, layer, bestTiling), cycles: null };
  } else {
    for (const { tiling } of ranked.slice(0, MEASURED[tune])) {
      const lowered = lowerConv(cfg, layer, tiling);
      const cycles = measureCycles(cfg, lowered, timing).cycles;
      if (!best || cycles < best.cycles!) {
        best = { lowered, cycles };
        bestTiling = tiling;
      }
    }
  }
  opts.cache?.set(key, { tiling: bestTiling, cycles: best!.cycles, tune });
  return best!;
}
