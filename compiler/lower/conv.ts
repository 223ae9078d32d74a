/**
 * conv2d (and dense, as a 1x1 conv on 1x1 images) lowered to a token-synchronised instruction stream.
 *
 * The output is cut into tiles of `tco` channel blocks x `th` rows x `tw` columns, the reduction into
 * chunks of `tci` input-channel blocks. Each (tile, chunk) is one step: the load stage brings the
 * padded input window (2-D DMA with padding) and the weight blocks into one half of inp/wgt SRAM,
 * and one GEMM covers the whole tile: its two loops walk output rows and columns, its micro-ops
 * enumerate (input block, ky, kx, output block). Input and weight halves alternate between reloads
 * and the accumulator alternates between two tile regions, which is the double buffering of two
 * virtual threads: loads of step s+1 and the store of tile t-1 overlap the GEMM of step s. After the
 * last chunk the epilogue runs as ALU instructions on the tile and the store writes it back. A
 * per-element constant the epilogue adds first is the accumulator's initial value: an ACC load of
 * the tile's slice takes the place of the GEMM's reset, or, when it is mostly zero (planEpilogue
 * moves each channel's common value to a per-channel ADD), loads of its non-zero runs follow the
 * reset (initRuns).
 *
 * Tokens: a load that overwrites a half waits (compute->load) for the last step that read it; the
 * GEMM of a step waits (load->compute) for that step's loads; a tile's first write to an acc region
 * waits (store->compute) for the store of the tile that used it before; the store waits
 * (compute->store) for the epilogue. The stream starts with a compute->load token (so its loads
 * cannot overtake the previous layer) and ends with compute having popped every store token, so
 * streams concatenate and one FINISH orders everything.
 */
import type { VtaConfig } from '../../isa/config.ts';
import type { Uop } from '../../isa/types.ts';
import type { TimingConfig } from '../../sim/cycle/timing.ts';
import { busCycles, fetchCyclesPerInsn } from './cost.ts';
import { ceilDiv, checkLayer, convOutputSize, LowerError, outputShape, maxIter, maxStride, type Conv2dLayer, type DenseLayer, type EpilogueStep } from './layers.ts';
import { groupPlan, planEpilogue, residualCopies, type GroupPlan } from './pack.ts';
import type { LoweredLayer } from './program.ts';
import { AccRing, COMPUTE, InsnQueue, LOAD } from './queue.ts';

export interface ConvTiling {
  /** Output channel blocks per tile. */
  tco: number;
  /** Output rows per tile. */
  th: number;
  /** Output columns per tile. */
  tw: number;
  /** Input channel blocks per reduction chunk (per output block). */
  tci: number;
  /** 'co': channel tiles outermost (weights stay while spatial tiles pass); 'spatial': the reverse. */
  order: 'co' | 'spatial';
}

export function denseAsConv(l: DenseLayer): Conv2dLayer {
  return {
    kind: 'conv2d',
    name: l.name,
    batch: l.batch,
    inChannels: l.inFeatures,
    outChannels: l.outFeatures,
    height: 1,
    width: 1,
    kernel: [1, 1],
    stride: [1, 1],
    padding: [0, 0, 0, 0],
    groups: 1,
    epilogue: l.epilogue,
  };
}

/** Everything about a layer and tiling that the emitter and the search need. */
export interface ConvGeometry {
  layer: Conv2dLayer;
  tiling: ConvTiling;
  plan: GroupPlan;
  /** The epilogue's ALU steps (a residual the GEMM accumulates and an initial tensor are not among them). */
  epilogue: EpilogueStep[];
  /** Scales of the identity blocks when the GEMM accumulates the residual (see residualCopies). */
  resCopies: number[] | null;
  /** The accumulator starts from the first `tensor` (see initRuns). */
  initTensor: boolean;
  /** Per ACC element of the output, whether the initial tensor has a non-zero lane there (when initTensor). */
  initMask: Uint8Array | null;
  /** ACC elements the mask marks, and the rows ([n][co block][y]) holding any: for the coarse estimate. */
  initNonzero: number;
  initRows: number;
  /** Where the residual tile sits in an inp half, after the input window. */
  resInpOff: number;
  /** First wgt element of the identity blocks (the top of wgt SRAM, outside the halves). */
  idBase: number;
  oh: number;
  ow: number;
  cib: number;
  cob: number;
  nb: number;
  kk: number;
  nK: number;
  /** Weights of a whole channel tile (every chunk) fit one half: loaded once per channel tile. */
  wgtFull: boolean;
  /** Input rows are loaded every stride-th row (1-row kernels without vertical padding). */
  rowSkip: boolean;
  inpHalf: number;
  wgtHalf: number;
  accTile: number;
  accBuffers: number;
  constBase: number;
  /** The acc region ACC_8BIT residual and per-element tensor operands are loaded into (when any). */
  resBase: number;
  nChannel: number;
  hasResidual: boolean;
  /** Per-element tensor steps run as ALU passes (the initial one not counted). */
  nTensor: number;
  /** ACC elements of one packed tensor of the `tensor` buffer. */
  tensorSize: number;
}

interface LayerFacts {
  plan: GroupPlan;
  planned: readonly EpilogueStep[];
  copies: number[] | null;
  initMask: Uint8Array | null;
  initNonzero: number;
  initRows: number;
}

// The search asks for the geometry of thousands of tilings of one layer: its tiling-independent facts once.
const factsCache = new WeakMap<Conv2dLayer, { cfg: VtaConfig; facts: LayerFacts }>();

function layerFacts(cfg: VtaConfig, layer: Conv2dLayer): LayerFacts {
  const hit = factsCache.get(layer);
  if (hit && hit.cfg === cfg) return hit.facts;
  const planned = planEpilogue(layer);
  const first = planned[0];
  let initMask: Uint8Array | null = null;
  let initNonzero = 0;
  let initRows = 0;
  if (first?.kind === 'tensor' && first.op === 'ADD') {
    const [N, C, OH, OW] = outputShape(layer);
    const cob = ceilDiv(C, cfg.BLOCK_OUT);
    const plane = OH * OW;
    initMask = new Uint8Array((N / cfg.BATCH) * cob * plane);
    for (let i = 0; i < first.values.length; i++) {
      if (first.values[i] === 0) continue;
      const c = Math.floor(i / plane) % C;
      initMask[(Math.floor(i / (C * plane * cfg.BATCH)) * cob + Math.floor(c / cfg.BLOCK_OUT)) * plane + (i % plane)] = 1;
    }
    for (let r = 0; r < initMask.length; r += OW) {
      const row = initMask.subarray(r, r + OW).reduce((a, b) => a + b, 0);
      initNonzero += row;
      if (row) initRows++;
    }
  }
  const facts = { plan: groupPlan(cfg, layer), planned, copies: residualCopies(cfg, layer, planned), initMask, initNonzero, initRows };
  factsCache.set(layer, { cfg, facts });
  return facts;
}

/** The geometry of a tiling, or a string saying why it does not fit the configuration. */
export function convGeometry(cfg: VtaConfig, layer: Conv2dLayer, t: ConvTiling): ConvGeometry | string {
  const [oh, ow] = convOutputSize(layer);
  const { plan, planned, copies, initMask, initNonzero, initRows } = layerFacts(cfg, layer);
  const cib = ceilDiv(layer.inChannels, cfg.BLOCK_IN);
  const cob = ceilDiv(layer.outChannels, cfg.BLOCK_OUT);
  const [kh, kw] = layer.kernel;
  const [sh, sw] = layer.stride;
  const kk = kh * kw;
  if (t.tco < 1 || t.tco > cob || t.th < 1 || t.th > oh || t.tw < 1 || t.tw > ow || t.tci < 1 || t.tci > plan.kBlocks) {
    return 'tile sizes out of range';
  }
  const nK = ceilDiv(plan.kBlocks, t.tci);
  const rowSkip = kh === 1 && layer.padding[0] === 0 && layer.padding[2] === 0;
  const hp = rowSkip ? t.th : (t.th - 1) * sh + kh;
  const wp = (t.tw - 1) * sw + kw;
  // Input blocks one chunk of a channel tile spans (grouped convolutions span more than tci).
  let nci = 0;
  for (let j0 = 0; j0 < cob; j0 += t.tco) {
    const j1 = Math.min(cob, j0 + t.tco) - 1;
    nci = Math.max(nci, plan.start[j1]! - plan.start[j0]! + Math.min(t.tci, plan.kBlocks));
  }
  const accTile = t.tco * t.th * t.tw;
  const inpHalf = cfg.INP_DEPTH >> 1;
  const resInpOff = nci * hp * wp;
  if (resInpOff > inpHalf) return `input window ${nci}x${hp}x${wp} exceeds half the inp buffer (${inpHalf})`;
  // The residual goes through the GEMM when it can and its tile fits next to the window; else ACC_8BIT.
  const resCopies = resInpOff + accTile <= inpHalf ? copies : null;
  const nId = resCopies?.length ?? 0;
  const wgtHalf = (cfg.WGT_DEPTH - nId) >> 1;
  if (t.tco * t.tci * kk > wgtHalf) return `weight tile ${t.tco}x${t.tci}x${kk} exceeds half the wgt buffer (${wgtHalf})`;
  const wgtFull = t.tco * plan.kBlocks * kk <= wgtHalf;
  if (t.tco * t.tci * kk > cfg.UOP_DEPTH >> 2) return 'GEMM kernel exceeds a quarter of the uop buffer';
  if (sh * wp >= cfg.INP_DEPTH || t.tw >= cfg.ACC_DEPTH) return 'loop factors exceed their fields';
  if (t.th * t.tw > maxIter(cfg) || t.tco > maxIter(cfg)) return 'loop counts exceed their fields';
  const initTensor = planned[0]?.kind === 'tensor' && planned[0].op === 'ADD';
  const epilogue = (resCopies ? planned.filter((s) => s.kind !== 'residual') : planned).slice(initTensor ? 1 : 0);
  const nChannel = epilogue.filter((s) => s.kind === 'channel').length;
  const hasResidual = epilogue.some((s) => s.kind === 'residual');
  const nTensor = epilogue.filter((s) => s.kind === 'tensor').length;
  const operand = hasResidual || nTensor > 0;
  const fixed = nChannel * t.tco + (operand ? accTile : 0);
  let accBuffers = 0;
  if (2 * accTile + fixed <= cfg.ACC_DEPTH) accBuffers = 2;
  else if (accTile + fixed <= cfg.ACC_DEPTH) accBuffers = 1;
  else return `accumulator tile ${t.tco}x${t.th}x${t.tw} (+${fixed}) exceeds the acc buffer (${cfg.ACC_DEPTH})`;
  const resBase = accBuffers * accTile;
  const constBase = resBase + (operand ? accTile : 0);
  return {
    layer,
    tiling: t,
    plan,
    epilogue,
    resCopies,
    initTensor,
    initMask,
    initNonzero,
    initRows,
    resInpOff,
    idBase: cfg.WGT_DEPTH - nId,
    oh,
    ow,
    cib,
    cob,
    nb: layer.batch / cfg.BATCH,
    kk,
    nK,
    wgtFull,
    rowSkip,
    inpHalf,
    wgtHalf,
    accTile,
    accBuffers,
    constBase,
    resBase,
    nChannel,
    hasResidual,
    nTensor,
    tensorSize: layer.batch / cfg.BATCH * cob * oh * ow,
  };
}

interface Tile {
  n: number;
  oy0: number;
  th: number;
  ox0: number;
  tw: number;
  j0: number;
  tco: number;
}

/** One load of a step: the input window of the step, or a weight chunk of `tile`'s channel range. */
interface PlannedLoad {
  /** 'id': the residual's identity blocks, once per layer. */
  kind: 'inp' | 'wgt' | 'id';
  half: number;
  tile: number;
  chunk: number;
  /** Pops a compute->load token first: the half's previous contents may still be read. */
  pop: boolean;
}

interface Step {
  tile: number;
  chunk: number;
  loads: PlannedLoad[];
  inpHalf: number;
  wgtHalf: number;
  /** Compute pushes a compute->load token after this step. */
  push: boolean;
}

function tilesOf(g: ConvGeometry): Tile[] {
  const t = g.tiling;
  const tiles: Tile[] = [];
  for (let n = 0; n < g.nb; n++) {
    const spatial: [number, number, number, number][] = [];
    for (let oy0 = 0; oy0 < g.oh; oy0 += t.th)
      for (let ox0 = 0; ox0 < g.ow; ox0 += t.tw) spatial.push([oy0, Math.min(t.th, g.oh - oy0), ox0, Math.min(t.tw, g.ow - ox0)]);
    const chans: [number, number][] = [];
    for (let j0 = 0; j0 < g.cob; j0 += t.tco) chans.push([j0, Math.min(t.tco, g.cob - j0)]);
    const mk = (s: [number, number, number, number], c: [number, number]) => ({ n, oy0: s[0], th: s[1], ox0: s[2], tw: s[3], j0: c[0], tco: c[1] });
    if (t.order === 'co') for (const c of chans) for (const s of spatial) tiles.push(mk(s, c));
    else for (const s of spatial) for (const c of chans) tiles.push(mk(s, c));
  }
  return tiles;
}

/** Input blocks [lo, hi) that chunk `c` of a tile reads. */
function chunkBlocks(g: ConvGeometry, tile: Tile, c: number): [number, number] {
  const { start, kBlocks } = g.plan;
  const first = c * g.tiling.tci;
  const last = Math.min(kBlocks, first + g.tiling.tci);
  return [start[tile.j0]! + first, start[tile.j0 + tile.tco - 1]! + last];
}

/**
 * Decides what each step loads into which half and which loads must wait for compute. Weights
 * resident for a whole channel tile (`wgtFull`) are loaded chunk by chunk during the first tile of
 * the previous channel tile, so a channel change never stalls compute on one large load.
 */
function planSteps(g: ConvGeometry, tiles: Tile[]): Step[] {
  const steps: Step[] = [];
  // Weight groups (wgtFull): runs of consecutive tiles with the same channel range.
  const group: number[] = [];
  const groupFirst: number[] = [];
  tiles.forEach((t, i) => {
    const same = i > 0 && tiles[i - 1]!.j0 === t.j0;
    group.push(same ? group[i - 1]! : groupFirst.length);
    if (!same) groupFirst.push(i);
  });
  let inpKey = '';
  let wgtKey = '';
  let inpHalf = 1;
  let wgtHalf = 1;
  const lastUse = { inp: [-1, -1], wgt: [-1, -1] };
  // The latest step a load has waited for (-2: the start token is not popped yet).
  let waited = -2;
  tiles.forEach((tile, ti) => {
    for (let c = 0; c < g.nK; c++) {
      const s = steps.length;
      const loads: PlannedLoad[] = [];
      const add = (kind: 'inp' | 'wgt' | 'id', half: number, forTile: number) => {
        const need = kind === 'id' ? -1 : lastUse[kind][half]!;
        let pop = false;
        if (waited === -2) {
          pop = true;
          waited = -1;
        } else if (need > waited) {
          // Tokens are popped in order, so a load waits for the latest step any earlier load waited for.
          pop = true;
          steps[need]!.push = true;
          waited = need;
        }
        loads.push({ kind, half, tile: forTile, chunk: c, pop });
      };
      const [lo, hi] = chunkBlocks(g, tile, c);
      // The residual rides with the last chunk's input window, so that load is never skipped.
      const res = g.resCopies && c === g.nK - 1 ? `|res${ti}` : '';
      const ik = `${tile.n},${tile.oy0},${tile.ox0},${lo},${hi}${res}`;
      if (s === 0 && g.resCopies) add('id', -1, ti);
      if (ik !== inpKey) {
        inpHalf ^= 1;
        inpKey = ik;
        add('inp', inpHalf, ti);
      }
      if (g.wgtFull) {
        const k = group[ti]!;
        wgtHalf = k & 1;
        if (groupFirst[k] === ti) {
          if (k === 0) add('wgt', 0, ti);
          if (k + 1 < groupFirst.length) add('wgt', (k + 1) & 1, groupFirst[k + 1]!);
        }
      } else {
        const wk = `${tile.j0},${c}`;
        if (wk !== wgtKey) {
          wgtHalf ^= 1;
          wgtKey = wk;
          add('wgt', wgtHalf, ti);
        }
      }
      lastUse.inp[inpHalf] = s;
      lastUse.wgt[wgtHalf] = s;
      steps.push({ tile: ti, chunk: c, loads, inpHalf, wgtHalf, push: false });
    }
  });
  return steps;
}

/** Lowers a conv2d (or dense) layer with the given tiling. Throws LowerError if it does not fit. */
export function lowerConv(cfg: VtaConfig, layerIn: Conv2dLayer | DenseLayer, tiling: ConvTiling): LoweredLayer {
  checkLayer(cfg, layerIn);
  const layer = layerIn.kind === 'dense' ? denseAsConv(layerIn) : layerIn;
  if (layer.padding[0] >= layer.kernel[0] || layer.padding[2] >= layer.kernel[0] || layer.padding[1] >= layer.kernel[1] || layer.padding[3] >= layer.kernel[1]) {
    throw new LowerError(layer.name, 'padding must be smaller than the kernel (an output would see only padding)');
  }
  const g = convGeometry(cfg, layer, tiling);
  if (typeof g === 'string') throw new LowerError(layer.name, `tiling ${describeTiling(tiling)} does not fit: ${g}`);
  const q = new InsnQueue(cfg);
  const tiles = tilesOf(g);
  const steps = planSteps(g, tiles);
  const [kh, kw] = layer.kernel;
  const [sh, sw] = layer.stride;
  const { height: H, width: W } = layer;
  const { oh: OH, ow: OW, cib, cob, kk, plan } = g;
  const P = tiling.th * tiling.tw;
  const wgtChunk = (c: number) => Math.min(plan.kBlocks, (c + 1) * tiling.tci) - c * tiling.tci;
  // Resident weights are stored chunk after chunk, each chunk [co][block][ky][kx].
  const pieceOffset = (t: Tile, c: number) => (g.wgtFull ? c * t.tco * tiling.tci * kk : 0);

  // Start token: this layer's loads wait until compute has finished everything before it.
  q.depPush(COMPUTE, LOAD);

  let constTile = -1;
  const ring = new AccRing(q, g.accBuffers);
  steps.forEach((step, s) => {
    const tile = tiles[step.tile]!;
    const c = step.chunk;
    const [lo, hi] = chunkBlocks(g, tile, c);
    const hpT = g.rowSkip ? tile.th : (tile.th - 1) * sh + kh;
    const wpT = (tile.tw - 1) * sw + kw;
    const ciPitch = hpT * wpT;
    const inpBase = step.inpHalf * g.inpHalf;
    const wgtBase = step.wgtHalf * g.wgtHalf;
    const accBase = (step.tile % g.accBuffers) * g.accTile;

    const outPlane = (tile.n * cob + tile.j0) * OH * OW + tile.oy0 * OW + tile.ox0;
    const transfers = tileTransfers(tile, P, OH, OW, maxStride(cfg));

    // --- load stage ---
    for (const ld of step.loads) {
      if (ld.pop) q.depPop(COMPUTE, LOAD);
      if (ld.kind === 'inp') {
        const y0 = tile.oy0 * sh - layer.padding[0];
        const x0 = tile.ox0 * sw - layer.padding[1];
        const xp0 = Math.max(0, -x0);
        const xp1 = Math.max(0, x0 + wpT - W);
        const xs = wpT - xp0 - xp1;
        const plane = (n: number, cb: number) => (n * cib + cb) * H * W;
        if (g.rowSkip) {
          const merged = xs === W && tile.th * sh >= H && ciPitch === H * W && sh === 1 && H * W <= maxStride(cfg);
          if (merged) {
            q.mem('LOAD', 'INP', 'input', plane(tile.n, lo), { sram: inpBase, y: hi - lo, x: H * W, stride: H * W });
          } else {
            for (let cb = lo; cb < hi; cb++) {
              q.mem('LOAD', 'INP', 'input', plane(tile.n, cb) + y0 * W + x0 + xp0, {
                sram: inpBase + (cb - lo) * ciPitch,
                y: tile.th,
                x: xs,
                stride: sh * W,
                pad: [0, xp0, 0, xp1],
              });
            }
          }
        } else {
          const yp0 = Math.max(0, -y0);
          const yp1 = Math.max(0, y0 + hpT - H);
          const ys = hpT - yp0 - yp1;
          if (xs === W && xp0 === 0 && xp1 === 0 && yp0 === 0 && yp1 === 0) {
            // Whole rows without padding: one row per input block (all blocks at once for whole images).
            if (ys === H && H * W <= maxStride(cfg)) q.mem('LOAD', 'INP', 'input', plane(tile.n, lo), { sram: inpBase, y: hi - lo, x: H * W, stride: H * W });
            else
              for (let cb = lo; cb < hi; cb++)
                q.mem('LOAD', 'INP', 'input', plane(tile.n, cb) + y0 * W, { sram: inpBase + (cb - lo) * ciPitch, y: 1, x: ys * W, stride: ys * W });
          } else {
            for (let cb = lo; cb < hi; cb++) {
              q.mem('LOAD', 'INP', 'input', plane(tile.n, cb) + (y0 + yp0) * W + x0 + xp0, {
                sram: inpBase + (cb - lo) * ciPitch,
                y: ys,
                x: xs,
                stride: W,
                pad: [yp0, xp0, yp1, xp1],
              });
            }
          }
        }
      }
      if (ld.kind === 'inp' && g.resCopies && c === g.nK - 1) {
        for (const t of transfers) {
          q.mem('LOAD', 'INP', 'residual', outPlane + t.dram, { sram: inpBase + g.resInpOff + t.sram, y: t.y, x: t.x, stride: t.stride });
        }
      }
      if (ld.kind === 'id') {
        const n = g.resCopies!.length;
        q.mem('LOAD', 'WGT', 'weights', cob * plan.kBlocks * kk, { sram: g.idBase, y: 1, x: n, stride: n });
      }
      if (ld.kind === 'wgt') {
        const wt = tiles[ld.tile]!;
        q.mem('LOAD', 'WGT', 'weights', (wt.j0 * plan.kBlocks + c * tiling.tci) * kk, {
          sram: ld.half * g.wgtHalf + pieceOffset(wt, c),
          y: wt.tco,
          x: wgtChunk(c) * kk,
          stride: plan.kBlocks * kk,
        });
      }
    }
    if (step.loads.length > 0) q.depPush(LOAD, COMPUTE);

    // --- compute stage ---
    if (c === 0) {
      if (g.nChannel > 0 && (constTile < 0 || tiles[constTile]!.j0 !== tile.j0 || tiles[constTile]!.tco !== tile.tco)) {
        constTile = step.tile;
        for (let v = 0; v < g.nChannel; v++) {
          q.mem('LOAD', 'ACC', 'bias', v * cob + tile.j0, { sram: g.constBase + v * tiling.tco, y: 1, x: tile.tco, stride: tile.tco });
        }
      }
      const runs = g.initTensor ? initRuns(g, tile) : [];
      if (runs === null) {
        ring.begin();
        for (const t of transfers) q.mem('LOAD', 'ACC', 'tensor', outPlane + t.dram, { sram: accBase + t.sram, y: t.y, x: t.x, stride: t.stride });
      } else {
        const range = q.kernel(`reset:${accBase}`, () => [{ dst_idx: accBase, src_idx: 0, wgt_idx: 0 }]);
        ring.begin();
        q.gemm(range, true, [tile.tco, P, 0, 0], [tile.th * tile.tw, 1, 0, 0]);
        for (const r of runs) q.mem('LOAD', 'ACC', 'tensor', r.dram, { sram: accBase + r.sram, y: 1, x: r.x, stride: r.x });
      }
    }
    const kc = wgtChunk(c);
    const wOff = pieceOffset(tile, c);
    const rel = Array.from({ length: tile.tco }, (_, j) => plan.start[tile.j0 + j]! - plan.start[tile.j0]!);
    const key = `gemm:${inpBase}:${wgtBase + wOff}:${accBase}:${hpT}x${wpT}:${tile.tco}:${kc}:${rel.join(',')}`;
    const range = q.kernel(key, () => {
      const uops: Uop[] = [];
      for (let r = 0; r < kc; r++)
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++)
            for (let j = 0; j < tile.tco; j++) {
              uops.push({
                dst_idx: accBase + j * P,
                src_idx: inpBase + (rel[j]! + r) * ciPitch + (g.rowSkip ? 0 : ky * wpT) + kx,
                wgt_idx: wgtBase + wOff + (j * kc + r) * kk + ky * kw + kx,
              });
            }
      return uops;
    });
    if (step.loads.length > 0) q.depPop(LOAD, COMPUTE);
    q.gemm(range, false, [tile.th, tile.tw, (g.rowSkip ? 1 : sh) * wpT, 0], [tile.tw, 1, sw, 0]);
    if (c === g.nK - 1 && g.resCopies) {
      const copies = g.resCopies.length;
      const src = inpBase + g.resInpOff;
      const r = q.kernel(`res:${src}:${accBase}:${tile.tco}:${copies}`, () => {
        const uops: Uop[] = [];
        for (let i = 0; i < copies; i++)
          for (let j = 0; j < tile.tco; j++) uops.push({ dst_idx: accBase + j * P, src_idx: src + j * P, wgt_idx: g.idBase + i });
        return uops;
      });
      q.gemm(r, false, [tile.th, tile.tw, tile.tw, 0], [tile.tw, 1, 1, 0]);
    }
    if (step.push) q.depPush(COMPUTE, LOAD);
    if (c !== g.nK - 1) return;

    // --- epilogue and store ---
    let channel = 0;
    let tensor = g.initTensor ? 1 : 0;
    for (const e of g.epilogue) {
      const loops = (srcOut: number, srcIn: number): [[number, number, number], [number, number, number]] => [
        [tile.tco, P, srcOut],
        [tile.th * tile.tw, 1, srcIn],
      ];
      if (e.kind === 'imm') {
        const r = q.kernel(`alu:${accBase}`, () => [{ dst_idx: accBase, src_idx: accBase, wgt_idx: 0 }]);
        q.alu(r, e.op, e.imm, ...loops(0, 0));
      } else if (e.kind === 'channel') {
        const src = g.constBase + channel++ * tiling.tco;
        const r = q.kernel(`alu:${accBase}:${src}`, () => [{ dst_idx: accBase, src_idx: src, wgt_idx: 0 }]);
        q.alu(r, e.op, null, ...loops(1, 0));
      } else {
        // The operand tile: the int8 residual sign-extended, or the slice of a per-element tensor.
        const dram = e.kind === 'tensor' ? tensor++ * g.tensorSize + outPlane : outPlane;
        for (const t of transfers) {
          q.mem('LOAD', e.kind === 'tensor' ? 'ACC' : 'ACC_8BIT', e.kind, dram + t.dram, { sram: g.resBase + t.sram, y: t.y, x: t.x, stride: t.stride });
        }
        const r = q.kernel(`alu:${accBase}:${g.resBase}`, () => [{ dst_idx: accBase, src_idx: g.resBase, wgt_idx: 0 }]);
        q.alu(r, e.op, null, ...loops(P, 1));
      }
    }
    ring.store(() => {
      for (const t of transfers) q.mem('STORE', 'OUT', 'output', outPlane + t.dram, { sram: accBase + t.sram, y: t.y, x: t.x, stride: t.stride });
    });
  });
  ring.finish();

  const ib = cfg.INP_ELEM_BYTES;
  return {
    layer: layerIn,
    insns: q.insns,
    uops: q.uops,
    relocs: q.relocs,
    buffers: {
      input: g.nb * cib * H * W * ib,
      output: g.nb * cob * OH * OW * cfg.OUT_ELEM_BYTES,
      // packWeights appends the identity blocks whenever the layer allows the GEMM residual, even if this tiling does not use it.
      weights: (cob * plan.kBlocks * kk + (layerFacts(cfg, layer).copies?.length ?? 0)) * cfg.WGT_ELEM_BYTES,
      ...(g.nChannel ? { bias: g.nChannel * cob * cfg.ACC_ELEM_BYTES } : {}),
      ...(g.hasResidual || g.resCopies ? { residual: g.nb * cob * OH * OW * cfg.OUT_ELEM_BYTES } : {}),
      ...(g.initTensor || g.nTensor ? { tensor: (Number(g.initTensor) + g.nTensor) * g.tensorSize * cfg.ACC_ELEM_BYTES } : {}),
      uops: q.uops.length * cfg.UOP_ELEM_BYTES,
    },
    tiling: describeTiling(tiling),
  };
}

/** Zero elements a run of the initial tensor bridges rather than start another load (each costs a DRAM latency). */
const RUN_GAP = 4;

/**
 * How a tile's accumulator starts from the initial tensor: null to load the whole slice instead of
 * the GEMM's reset; else the runs (acc offset in the tile region, DRAM ACC element, length) that
 * hold its non-zero elements, loaded over the reset. Both are exact: a run's zeros are the tensor's
 * own. Runs follow rows, or whole tiles when rows are whole (then rows are contiguous in both).
 */
export function initRuns(g: ConvGeometry, tile: Tile): { sram: number; dram: number; x: number }[] | null {
  const mask = g.initMask!;
  const P = g.tiling.th * g.tiling.tw;
  const plane = g.oh * g.ow;
  const whole = tile.tw === g.ow;
  const runs: { sram: number; dram: number; x: number }[] = [];
  let cost = 0;
  for (let j = 0; j < tile.tco; j++) {
    const chan = (tile.n * g.cob + tile.j0 + j) * plane;
    for (let y = 0; y < (whole ? 1 : tile.th); y++) {
      const dram = chan + (tile.oy0 + y) * g.ow + tile.ox0;
      const len = whole ? tile.th * tile.tw : tile.tw;
      let open = -1;
      let last = -1;
      const close = () => {
        runs.push({ sram: j * P + y * tile.tw + open, dram: dram + open, x: last - open + 1 });
        cost += last - open + 1 + RUN_GAP;
      };
      for (let x = 0; x < len; x++) {
        if (!mask[dram + x]) continue;
        if (open >= 0 && x - last > RUN_GAP) close();
        if (open < 0 || x - last > RUN_GAP) open = x;
        last = x;
      }
      if (open >= 0) close();
    }
  }
  return cost < tile.tco * tile.th * tile.tw ? runs : null;
}

/**
 * The 2-D transfers between an acc tile region [co][th][tw] (channel pitch P) and the packed tensor
 * [co][OH][OW]: one for the whole tile when rows are whole and the tile is full, else one per block.
 * Offsets are relative to the tile's first element in each.
 */
function tileTransfers(tile: Tile, P: number, OH: number, OW: number, limit: number): { sram: number; dram: number; y: number; x: number; stride: number }[] {
  const plane = OH * OW;
  if (tile.tw === OW && tile.th * tile.tw === P && plane <= limit) return [{ sram: 0, dram: 0, y: tile.tco, x: P, stride: plane }];
  const out = [];
  for (let j = 0; j < tile.tco; j++) {
    if (tile.tw === OW) out.push({ sram: j * P, dram: j * plane, y: 1, x: tile.th * OW, stride: tile.th * OW });
    else out.push({ sram: j * P, dram: j * plane, y: tile.th, x: tile.tw, stride: OW });
  }
  return out;
}

export function describeTiling(t: ConvTiling): string {
  return `co${t.tco} h${t.th} w${t.tw} ci${t.tci} ${t.order}-outer`;
}

/**
 * A step-level estimate of a tiling's cycles: the exact load/compute/store plan of `lowerConv`,
 * timed with per-step costs and the token waits between the three stages (the DRAM port is
 * approximated as the load stage's, with stores and compute-side loads added to it).
 */
export function estimateConvSteps(cfg: VtaConfig, g: ConvGeometry, t: TimingConfig): number {
  const tiles = tilesOf(g);
  const steps = planSteps(g, tiles);
  const { layer, tiling, plan, kk } = g;
  const [kh, kw] = layer.kernel;
  const [sh, sw] = layer.stride;
  const ib = cfg.INP_ELEM_BYTES;
  let aluPerElem = 0;
  let aluFill = 0;
  for (const e of g.epilogue) {
    aluPerElem += e.kind === 'imm' ? t.aluCyclesPerUopImm : t.aluCyclesPerUopTensor;
    aluFill += t.aluPipelineFill;
  }
  const fetch = fetchCyclesPerInsn(cfg, t);
  const cEnd = new Float64Array(steps.length);
  const sEnd: number[] = [];
  let lEnd = 0;
  let cPrev = 0;
  let busDebt = 0;
  steps.forEach((step, s) => {
    const tile = tiles[step.tile]!;
    const c = step.chunk;
    const kc = Math.min(plan.kBlocks, (c + 1) * tiling.tci) - c * tiling.tci;
    // Fetch shares the port: charge each step's instructions (loads, GEMMs, epilogue, stores) to it.
    const operands = Number(g.hasResidual) + g.nTensor;
    const runs = c === 0 && g.initTensor ? initRuns(g, tile) : [];
    const initInsns = runs === null ? tile.tco : runs.length;
    const insns = step.loads.length + 2 + (c === 0 ? 1 + initInsns : 0) + (c === g.nK - 1 ? g.epilogue.length + (2 + operands) * tile.tco : 0);
    let load = busDebt + insns * fetch;
    busDebt = 0;
    let wait = lEnd;
    const rows = tile.tw === g.ow ? tile.tco : tile.tco * tile.th;
    const bytes = (tile.tw === g.ow ? tile.th * tile.tw : tile.tw) * cfg.OUT_ELEM_BYTES;
    const xfer = busCycles(cfg, t, rows, bytes);
    // An int32 tensor tile moves ACC elements instead of OUT ones.
    const accXfer = busCycles(cfg, t, rows, (bytes / cfg.OUT_ELEM_BYTES) * cfg.ACC_ELEM_BYTES);
    for (const ld of step.loads) {
      if (ld.kind === 'inp') {
        const [lo, hi] = chunkBlocks(g, tile, c);
        const rows = g.rowSkip ? tile.th : (tile.th - 1) * sh + kh;
        load += busCycles(cfg, t, (hi - lo) * rows, ((tile.tw - 1) * sw + kw) * ib);
        if (g.resCopies && c === g.nK - 1) load += xfer;
      } else if (ld.kind === 'id') {
        load += busCycles(cfg, t, 1, g.resCopies!.length * cfg.WGT_ELEM_BYTES);
      } else {
        load += busCycles(cfg, t, tiles[ld.tile]!.tco, kc * kk * cfg.WGT_ELEM_BYTES);
      }
    }
    // A load waits for the compute step whose token it pops (approximated by s - 2).
    if (step.loads.some((l) => l.pop) && s >= 2) wait = Math.max(wait, cEnd[s - 2]!);
    lEnd = wait + load;
    const elems = tile.tco * tile.th * tile.tw;
    let start = Math.max(cPrev, step.loads.length ? lEnd : 0);
    let comp = tile.th * tile.tw * tile.tco * kc * kk * t.gemmCyclesPerUop + t.gemmPipelineFill;
    if (c === 0) {
      // Compute-side loads hold compute and share the DRAM port.
      const init = runs === null ? accXfer : runs.reduce((a, r) => a + busCycles(cfg, t, 1, r.x * cfg.ACC_ELEM_BYTES), 0);
      if (runs !== null) comp += elems * t.gemmCyclesPerUop + t.gemmPipelineFill;
      comp += init;
      busDebt += init;
      const prior = sEnd[step.tile - g.accBuffers];
      if (prior !== undefined) start = Math.max(start, prior);
    }
    if (c === g.nK - 1) {
      if (g.resCopies) comp += elems * g.resCopies.length + t.gemmPipelineFill;
      const operandXfer = (g.hasResidual ? xfer : 0) + g.nTensor * accXfer;
      comp += elems * aluPerElem + aluFill + operandXfer;
      busDebt += xfer + operandXfer;
    }
    cEnd[s] = cPrev = start + comp;
    if (c === g.nK - 1) sEnd.push(Math.max(sEnd[sEnd.length - 1] ?? 0, cPrev) + xfer);
  });
  return sEnd[sEnd.length - 1] ?? cPrev;
}
