/**
 * The space of conv tilings and two estimates of their cycles from the timing parameters the
 * cycle-level simulator uses: a closed-form one over the whole space, then a step-level one
 * (conv.ts, the exact load/compute/store plan) over the best of it. `none` takes the best
 * estimate; `quick` and `full` measure the best 6 or 48 in the simulator (search.ts).
 */
import type { VtaConfig } from '../../isa/config.ts';
import type { TimingConfig } from '../../sim/cycle/timing.ts';
import { ceilDiv, convOutputSize, splits, type Conv2dLayer } from './layers.ts';
import { busCycles, fetchCyclesPerInsn } from './cost.ts';
import { convGeometry, estimateConvSteps, type ConvGeometry, type ConvTiling } from './conv.ts';
import { groupPlan } from './pack.ts';

/** Widths kept per (tco, tci): the widest that fit; narrower ones only add halo and instructions. */
const WIDTHS = 6;

/** Legal tilings whose sizes split each dimension evenly (the others only add ragged tiles). */
export function convTilings(cfg: VtaConfig, layer: Conv2dLayer): ConvTiling[] {
  const [oh, ow] = convOutputSize(layer);
  const cob = ceilDiv(layer.outChannels, cfg.BLOCK_OUT);
  const kBlocks = groupPlan(cfg, layer).kBlocks;
  const out: ConvTiling[] = [];
  for (const tco of splits(cob))
    for (const tci of splits(kBlocks)) {
      let widths = 0;
      for (const tw of splits(ow)) {
        if (widths >= WIDTHS) break;
        // For each width only the tallest fitting heights matter: shorter ones load more halo.
        let fitted = 0;
        for (const th of splits(oh)) {
          if (fitted >= 2) break;
          let any = false;
          // With one channel tile or one spatial tile both orders are the same stream.
          const orders = tco === cob || (th === oh && tw === ow) ? (['co'] as const) : (['co', 'spatial'] as const);
          for (const order of orders) {
            const t = { tco, th, tw, tci, order };
            if (typeof convGeometry(cfg, layer, t) !== 'string') {
              out.push(t);
              any = true;
            }
          }
          if (any) fitted++;
        }
        if (fitted > 0) widths++;
      }
    }
  return out;
}

/** Estimated cycles of a tiling (ignores ragged edge tiles beyond their count). */
export function estimateConv(cfg: VtaConfig, g: ConvGeometry, t: TimingConfig): number {
  const { tiling: tl, layer } = g;
  const [kh] = layer.kernel;
  const [sh, sw] = layer.stride;
  const nSpatial = ceilDiv(g.oh, tl.th) * ceilDiv(g.ow, tl.tw);
  const nCo = ceilDiv(g.cob, tl.tco);
  const tiles = g.nb * nSpatial * nCo;
  const steps = tiles * g.nK;
  const hp = g.rowSkip ? tl.th : (tl.th - 1) * sh + kh;
  const wp = (tl.tw - 1) * sw + layer.kernel[1];
  const nci = Math.min(g.cib, g.plan.start[Math.min(g.cob, tl.tco) - 1]! - g.plan.start[0]! + Math.min(tl.tci, g.plan.kBlocks));
  const inpLoads = tl.order === 'spatial' && g.nK === 1 ? g.nb * nSpatial : steps;
  const inpBus = inpLoads * busCycles(cfg, t, nci * hp, wp * cfg.INP_ELEM_BYTES);
  const nkW = g.wgtFull ? g.plan.kBlocks : Math.min(tl.tci, g.plan.kBlocks);
  const wgtOnce = g.nK === 1 || g.wgtFull;
  const wgtLoads = !wgtOnce ? steps : tl.order === 'co' || nCo === 1 ? g.nb * nCo : tiles;
  const wgtBus = wgtLoads * busCycles(cfg, t, tl.tco, nkW * g.kk * cfg.WGT_ELEM_BYTES);
  const tileElems = tl.tco * tl.th * tl.tw;
  const rowsPerTile = tl.tw === g.ow ? tl.tco : tl.tco * tl.th;
  const storeBus = tiles * busCycles(cfg, t, rowsPerTile, (tl.tw === g.ow ? tl.th * tl.tw : tl.tw) * cfg.OUT_ELEM_BYTES);
  const resBus = g.hasResidual ? storeBus : 0;
  // Per-element int32 tensors move ACC elements over the port, on compute's time: whole tiles for
  // ALU operands; for the initial tensor whole tiles, or (mostly zero) its non-zero rows over a reset.
  const tensorTiles = tiles * busCycles(cfg, t, rowsPerTile, (tl.tw === g.ow ? tl.th * tl.tw : tl.tw) * cfg.ACC_ELEM_BYTES);
  const initRows = g.initRows ? busCycles(cfg, t, g.initRows, Math.ceil(g.initNonzero / g.initRows) * cfg.ACC_ELEM_BYTES) : 0;
  const sparseInit = g.initTensor && initRows < tensorTiles;
  const tensorBus = g.nTensor * tensorTiles + (g.initTensor ? Math.min(initRows, tensorTiles) : 0);
  let aluPerElem = 0;
  let aluFills = 0;
  for (const e of g.epilogue) {
    aluPerElem += e.kind === 'imm' ? t.aluCyclesPerUopImm : t.aluCyclesPerUopTensor;
    aluFills += t.aluPipelineFill;
  }
  const resGemm = g.resCopies ? tiles * tileElems * g.resCopies.length : 0;
  const gemm = resGemm + steps * (tl.th * tl.tw * tl.tco * Math.min(tl.tci, g.plan.kBlocks) * g.kk * t.gemmCyclesPerUop + t.gemmPipelineFill);
  const reset = g.initTensor && !sparseInit ? 0 : tileElems * t.gemmCyclesPerUop + t.gemmPipelineFill;
  const compute = gemm + tiles * (tileElems * aluPerElem + aluFills + reset) + resBus + tensorBus;
  // Fetch reads instructions over the same port.
  const operands = (g.resCopies || g.hasResidual ? 1 : 0) + Number(g.initTensor) + g.nTensor;
  const insns = inpLoads * nci + wgtLoads + steps * 2 + tiles * (3 + g.epilogue.length + rowsPerTile * (1 + operands));
  const bus = inpBus + wgtBus + storeBus * (g.resCopies ? 2 : 1) + resBus + tensorBus + insns * fetchCyclesPerInsn(cfg, t);
  // The first step's loads and the last store are not overlapped with anything.
  const fill = (inpBus + wgtBus) / Math.max(1, steps) + storeBus / tiles;
  return Math.max(compute, bus) + fill;
}

/** Candidates re-ranked by the step-level estimate, after the coarse one has pruned the rest. */
const REFINED = 40;
/** Candidates with more steps keep the coarse estimate (the step one costs time per step). */
const REFINE_STEPS = 8192;

/** Legal tilings, best estimate first. */
export function rankConvTilings(cfg: VtaConfig, layer: Conv2dLayer, t: TimingConfig): { tiling: ConvTiling; estimate: number }[] {
  const coarse: { tiling: ConvTiling; g: ConvGeometry; estimate: number }[] = [];
  for (const tiling of convTilings(cfg, layer)) {
    const g = convGeometry(cfg, layer, tiling);
    if (typeof g === 'string') continue;
    coarse.push({ tiling, g, estimate: estimateConv(cfg, g, t) });
  }
  coarse.sort((a, b) => a.estimate - b.estimate);
  const refined = coarse.slice(0, REFINED).map(({ tiling, g, estimate }) => {
    const steps = g.nb * ceilDiv(g.oh, tiling.th) * ceilDiv(g.ow, tiling.tw) * ceilDiv(g.cob, tiling.tco) * g.nK;
    return { tiling, estimate: steps <= REFINE_STEPS ? estimateConvSteps(cfg, g, t) : estimate };
  });
  refined.sort((a, b) => a.estimate - b.estimate);
  return [...refined, ...coarse.slice(REFINED).map(({ tiling, estimate }) => ({ tiling, estimate }))];
}
