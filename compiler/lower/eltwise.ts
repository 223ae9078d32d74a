/**
 * Layers that run on the ALU alone: elementwise ops and pooling (max, and window sums with an epilogue). Their operands reach the
 * accumulator through ACC_8BIT loads (ACC loads for per-element int32 constants), which run on the
 * compute stage, so only the store overlaps: the accumulator alternates between two tile regions,
 * guarded by compute->store/store->compute tokens as in conv.ts. Nothing runs on the load stage, so no start token is needed: compute is
 * already ordered after the previous layer's compute, and that after its stores.
 */
import type { VtaConfig } from '../../isa/config.ts';
import type { Uop } from '../../isa/types.ts';
import { ceilDiv, checkLayer, convOutputSize, LowerError, maxIter, maxStride, splits, type EltwiseLayer, type MaxPoolLayer, type SumPoolLayer } from './layers.ts';
import { planEpilogue } from './pack.ts';
import type { LoweredLayer } from './program.ts';
import { AccRing, InsnQueue } from './queue.ts';

export function lowerEltwise(cfg: VtaConfig, layer: EltwiseLayer): LoweredLayer {
  checkLayer(cfg, layer);
  const steps = planEpilogue(layer);
  const nChannel = steps.filter((s) => s.kind === 'channel').length;
  const hasResidual = steps.some((s) => s.kind === 'residual');
  const nTensor = steps.filter((s) => s.kind === 'tensor').length;
  // One operand region serves the residual and every tensor: each is loaded right before its ALU pass.
  const operand = hasResidual || nTensor > 0;
  const cob = ceilDiv(layer.channels, cfg.BLOCK_OUT);
  const hw = layer.height * layer.width;
  const nb = layer.batch / cfg.BATCH;
  // Whole channel range per tile when possible; pixels fill the rest of the budget.
  // Channel blocks are rows of one transfer, H*W apart: beyond the stride field, one block per tile.
  let tco = hw <= maxStride(cfg) ? cob : 1;
  let np = 0;
  for (;;) {
    const budget = cfg.ACC_DEPTH - nChannel * tco;
    np = Math.min(hw, Math.floor(budget / ((2 + (operand ? 1 : 0)) * tco)), cfg.ACC_DEPTH - 1, maxIter(cfg));
    if (np >= Math.min(hw, 16) || tco === 1) break;
    tco = ceilDiv(tco, 2);
  }
  const accTile = tco * np;
  const resBase = 2 * accTile;
  const constBase = resBase + (operand ? accTile : 0);
  const tensorSize = nb * cob * hw;
  const q = new InsnQueue(cfg);
  const ring = new AccRing(q, 2);
  let constJ = -1;
  for (let n = 0; n < nb; n++)
    for (let j0 = 0; j0 < cob; j0 += tco)
      for (let p0 = 0; p0 < hw; p0 += np) {
        const tc = Math.min(tco, cob - j0);
        const pn = Math.min(np, hw - p0);
        const dram = (n * cob + j0) * hw + p0;
        const accBase = ring.begin() * accTile;
        const xfer = { y: tc, x: pn, stride: tc > 1 ? hw : pn };
        q.mem('LOAD', 'ACC_8BIT', 'input', dram, { sram: accBase, ...xfer });
        if (nChannel && constJ !== j0) {
          constJ = j0;
          for (let v = 0; v < nChannel; v++) q.mem('LOAD', 'ACC', 'bias', v * cob + j0, { sram: constBase + v * tco, y: 1, x: tc, stride: tc });
        }
        let channel = 0;
        let tensor = 0;
        for (const e of steps) {
          if (e.kind === 'imm') {
            const r = q.kernel(`alu:${accBase}`, () => [{ dst_idx: accBase, src_idx: accBase, wgt_idx: 0 }]);
            q.alu(r, e.op, e.imm, [tc, pn, 0], [pn, 1, 0]);
          } else if (e.kind === 'channel') {
            const src = constBase + channel++ * tco;
            const r = q.kernel(`alu:${accBase}:${src}`, () => [{ dst_idx: accBase, src_idx: src, wgt_idx: 0 }]);
            q.alu(r, e.op, null, [tc, pn, 1], [pn, 1, 0]);
          } else {
            if (e.kind === 'tensor') q.mem('LOAD', 'ACC', 'tensor', tensor++ * tensorSize + dram, { sram: resBase, ...xfer });
            else q.mem('LOAD', 'ACC_8BIT', 'residual', dram, { sram: resBase, ...xfer });
            const r = q.kernel(`alu:${accBase}:${resBase}`, () => [{ dst_idx: accBase, src_idx: resBase, wgt_idx: 0 }]);
            q.alu(r, e.op, null, [tc, pn, pn], [pn, 1, 1]);
          }
        }
        ring.store(() => q.mem('STORE', 'OUT', 'output', dram, { sram: accBase, ...xfer }));
      }
  ring.finish();
  const bytes = nb * cob * hw * cfg.OUT_ELEM_BYTES;
  return {
    layer,
    insns: q.insns,
    uops: q.uops,
    relocs: q.relocs,
    buffers: {
      input: bytes,
      output: bytes,
      ...(hasResidual ? { residual: bytes } : {}),
      ...(nChannel ? { bias: nChannel * cob * cfg.ACC_ELEM_BYTES } : {}),
      ...(nTensor ? { tensor: nTensor * tensorSize * cfg.ACC_ELEM_BYTES } : {}),
      uops: q.uops.length * cfg.UOP_ELEM_BYTES,
    },
    tiling: `co${tco} px${np}`,
  };
}

/**
 * Pooling. Max: each tile's output region starts from a GEMM reset (an overwrite that reads
 * nothing, so targets that rename SRAM, such as webgpu, need not wait for the previous tile in the
 * same buffer); a tap that lands inside the image for every output of the tile is ADDed onto it (a
 * copy, one ALU pass fewer than starting at the int8 minimum, ADD -128, and MAXing it); then one MAX
 * per other window tap covers the rectangle of outputs whose tap lands inside the image, so padding
 * is skipped rather than read as zero.
 * Sum: the region starts at 0 (the reset) and each tap ADDs; then the epilogue runs on the tile
 * (immediates; per-channel vectors loaded once per channel tile; per-element tensors loaded into
 * an operand region per tile), as the elementwise layers run theirs.
 */
export function lowerPool(cfg: VtaConfig, layer: MaxPoolLayer | SumPoolLayer): LoweredLayer {
  checkLayer(cfg, layer);
  const sum = layer.kind === 'sumpool';
  const steps = sum ? planEpilogue(layer) : [];
  const nChannel = steps.filter((s) => s.kind === 'channel').length;
  const nTensor = steps.filter((s) => s.kind === 'tensor').length;
  if (steps.some((s) => s.kind === 'residual')) throw new LowerError(layer.name, 'a pooling epilogue cannot add a residual');
  const [OH, OW] = convOutputSize(layer);
  const { height: H, width: W } = layer;
  const [kh, kw] = layer.kernel;
  const [sh, sw] = layer.stride;
  const [pt, pl] = layer.padding;
  const cob = ceilDiv(layer.channels, cfg.BLOCK_OUT);
  const nb = layer.batch / cfg.BATCH;
  let best: [number, number] | null = null;
  for (const tco of H * W <= maxStride(cfg) && OH * OW <= maxStride(cfg) ? splits(cob) : [1])
    for (const th of splits(OH)) {
      const rowsIn = Math.min(H, (th - 1) * sh + kh);
      const extra = (nTensor > 0 ? tco * th * OW : 0) + nChannel * tco;
      if (2 * tco * th * OW + tco * rowsIn * W + extra > cfg.ACC_DEPTH || th * OW >= cfg.ACC_DEPTH || th * OW > maxIter(cfg) || tco > maxIter(cfg)) continue;
      if (!best || tco * th > best[0] * best[1] || (tco * th === best[0] * best[1] && th > best[1])) best = [tco, th];
    }
  if (!best) {
    throw new LowerError(layer.name, `a ${W}-wide row does not fit the accumulator buffer (${cfg.ACC_DEPTH})`);
  }
  const [tco, th] = best;
  const outTile = tco * th * OW;
  const inBase = 2 * outTile;
  const rowsMax = Math.min(H, (th - 1) * sh + kh);
  const operandBase = inBase + tco * rowsMax * W;
  const constBase = operandBase + (nTensor > 0 ? outTile : 0);
  const tensorSize = nb * cob * OH * OW;
  const q = new InsnQueue(cfg);
  const ring = new AccRing(q, 2);
  let constJ = -1;
  for (let n = 0; n < nb; n++)
    for (let j0 = 0; j0 < cob; j0 += tco)
      for (let oy0 = 0; oy0 < OH; oy0 += th) {
        const tc = Math.min(tco, cob - j0);
        const tr = Math.min(th, OH - oy0);
        const r0 = Math.max(0, oy0 * sh - pt);
        const r1 = Math.min(H, (oy0 + tr - 1) * sh - pt + kh);
        const pin = (r1 - r0) * W;
        const pout = tr * OW;
        q.mem('LOAD', 'ACC_8BIT', 'input', ((n * cob + j0) * H + r0) * W, { sram: inBase, y: tc, x: pin, stride: tc > 1 ? H * W : pin });
        const accBase = ring.begin() * outTile;
        const init = q.kernel(`init:${accBase}`, () => [{ dst_idx: accBase, src_idx: 0, wgt_idx: 0 }]);
        q.gemm(init, true, [tc, pout, 0, 0], [pout, 1, 0, 0]);
        const rowsOf = (ky: number) => [Math.max(oy0, ceilDiv(pt - ky, sh)), Math.min(oy0 + tr, Math.floor((H - 1 + pt - ky) / sh) + 1)] as const;
        const colsOf = (kx: number) => [Math.max(0, ceilDiv(pl - kx, sw)), Math.min(OW, Math.floor((W - 1 + pl - kx) / sw) + 1)] as const;
        // Max: a tap inside the image for every output of the tile is ADDed onto the reset first (a
        // copy), the others MAXed; without one, the region starts at the int8 minimum.
        const taps = Array.from({ length: kh * kw }, (_, t) => t);
        const first = sum
          ? -1
          : taps.findIndex((t) => {
              const [ya, yb] = rowsOf(Math.floor(t / kw));
              const [xa, xb] = colsOf(t % kw);
              return ya === oy0 && yb === oy0 + tr && xa === 0 && xb === OW;
            });
        if (!sum && first < 0) q.alu(init, 'ADD', -128, [tc, pout, 0], [pout, 1, 0]);
        if (first > 0) taps.unshift(...taps.splice(first, 1));
        for (const t of taps) {
          const ky = Math.floor(t / kw);
          const kx = t % kw;
          const [ya, yb] = rowsOf(ky);
          const [xa, xb] = colsOf(kx);
          if (ya >= yb || xa >= xb) continue;
          const dst = accBase + (ya - oy0) * OW + xa;
          const src = inBase + (ya * sh + ky - pt - r0) * W + xa * sw + kx - pl;
          const r = q.kernel(`pool:${dst}:${src}:${tc}:${pout}:${pin}`, () => {
            const u: Uop[] = [];
            for (let j = 0; j < tc; j++) u.push({ dst_idx: dst + j * pout, src_idx: src + j * pin, wgt_idx: 0 });
            return u;
          });
          // A single row needs no row factor (and sh*W may not fit the field when the window is one row).
          q.alu(r, sum || t === first ? 'ADD' : 'MAX', null, [yb - ya, OW, yb - ya > 1 ? sh * W : 0], [xb - xa, 1, sw]);
        }
        const out = ((n * cob + j0) * OH + oy0) * OW;
        if (nChannel && constJ !== j0) {
          constJ = j0;
          for (let v = 0; v < nChannel; v++) q.mem('LOAD', 'ACC', 'bias', v * cob + j0, { sram: constBase + v * tco, y: 1, x: tc, stride: tc });
        }
        let channel = 0;
        let tensor = 0;
        for (const e of steps) {
          if (e.kind === 'imm') {
            q.alu(init, e.op, e.imm, [tc, pout, 0], [pout, 1, 0]);
          } else if (e.kind === 'channel') {
            const src = constBase + channel++ * tco;
            const r = q.kernel(`alu:${accBase}:${src}`, () => [{ dst_idx: accBase, src_idx: src, wgt_idx: 0 }]);
            q.alu(r, e.op, null, [tc, pout, 1], [pout, 1, 0]);
          } else if (e.kind === 'tensor') {
            q.mem('LOAD', 'ACC', 'tensor', tensor++ * tensorSize + out, { sram: operandBase, y: tc, x: pout, stride: tc > 1 ? OH * OW : pout });
            const r = q.kernel(`alu:${accBase}:${operandBase}`, () => [{ dst_idx: accBase, src_idx: operandBase, wgt_idx: 0 }]);
            q.alu(r, e.op, null, [tc, pout, pout], [pout, 1, 1]);
          }
        }
        ring.store(() =>
          q.mem('STORE', 'OUT', 'output', ((n * cob + j0) * OH + oy0) * OW, { sram: accBase, y: tc, x: pout, stride: tc > 1 ? OH * OW : pout }),
        );
      }
  ring.finish();
  return {
    layer,
    insns: q.insns,
    uops: q.uops,
    relocs: q.relocs,
    buffers: {
      input: nb * cob * H * W * cfg.INP_ELEM_BYTES,
      output: nb * cob * OH * OW * cfg.OUT_ELEM_BYTES,
      ...(nChannel ? { bias: nChannel * cob * cfg.ACC_ELEM_BYTES } : {}),
      ...(nTensor ? { tensor: nTensor * tensorSize * cfg.ACC_ELEM_BYTES } : {}),
      uops: q.uops.length * cfg.UOP_ELEM_BYTES,
    },
    tiling: `co${tco} h${th}`,
  };
}
