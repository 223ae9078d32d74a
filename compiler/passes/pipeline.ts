/**
 * The passes in VTA's order: simplify, quantize (calibrate + QDQ for a float
 * model, or the model's own QDQ), annotate devices, pack layouts, insert
 * device copies, propagate devices, and collect the fused kernel groups the
 * lowering consumes. The result still runs on the CPU executor, which is how
 * accuracy is measured and how lowered VTA groups are checked.
 */
import type { IRFunction } from '../ir/graph.ts';
import { topoOrder } from '../ir/graph.ts';
// The passes build calls of any op: an entry point registers the whole op set once.
import '../ir/ops/index.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { insertQdq, type QuantizeOptions } from '../quant/insert-qdq.ts';
import { realizeQdq } from '../quant/realize.ts';
import { CalibrationError } from '../quant/calibrate.ts';
import { annotateDevices, DEFAULT_TARGET, type VtaTarget } from './annotate.ts';
import { copyStats, insertDeviceCopies, propagateDevices } from './devices.ts';
import { rearrangeFirstConv } from './first-conv.ts';
import { findKernelGroups, type VtaKernelGroup } from './fuse.ts';
import { packLayouts } from './pack.ts';
import { emptyStats, simplify, type SimplifyStats } from './simplify.ts';

export interface VtaCompileOptions {
  target?: VtaTarget;
  /**
   * 'vta' (default): the first conv runs on VTA, its input rearranged by the host so that few
   * channels are padding (first-conv.ts); 'cpu' (TVM VTA's choice): it stays on the CPU, in float
   * for a float model. digits_cnn scores 99.75 % either way; a QDQ model gives the same integers.
   */
  firstConv?: 'cpu' | 'vta';
  /** Calibration inputs, each of the parameter's shape; required for a float model. */
  calibration?: readonly Tensor[];
  quantize?: Partial<Omit<QuantizeOptions, 'firstConv'>>;
  /**
   * QDQ models: 'exact' (default) follows the model's zero points, which gives per-element biases
   * where a conv pads an input with a nonzero zero point; 'symmetric' re-quantizes those tensors
   * with zero point 0 (one bit less) so every bias is per channel.
   */
  qdqZeroPoints?: 'exact' | 'symmetric';
}

export interface VtaCompiled {
  /** The placed graph: packed layouts, device copies, every node's device set. */
  fn: IRFunction;
  /** The same integer arithmetic before packing and copies (NCHW, devices annotated). */
  quantized: IRFunction;
  groups: VtaKernelGroup[];
  copies: number;
  /** Calls per device. */
  placement: Record<string, number>;
  /** What constant folding and batch-norm folding did. */
  simplified: SimplifyStats;
}

export function isQdqModel(fn: IRFunction): boolean {
  return topoOrder(fn).some((c) => c.op === 'qnn.quantize' || c.op === 'qnn.dequantize');
}

/** The integer graph with its int8 middle placed on VTA (before packing, copies and fusion). */
export function quantizeModel(fn: IRFunction, opts: VtaCompileOptions = {}, stats: SimplifyStats = emptyStats()): IRFunction {
  const simple = simplify(fn, stats);
  if (isQdqModel(simple)) return realizeQdq(simple, { symmetricActivations: opts.qdqZeroPoints === 'symmetric' });
  if (!opts.calibration?.length) throw new CalibrationError('a float model needs calibration inputs (--calib) to be quantized');
  const q: QuantizeOptions = { method: 'mse', scaleMode: 'float', ...opts.quantize, firstConv: opts.firstConv ?? 'vta' };
  return realizeQdq(insertQdq(simple, opts.calibration, q), { symmetricClip: true });
}

export function compileForVta(fn: IRFunction, opts: VtaCompileOptions = {}): VtaCompiled {
  const target = opts.target ?? DEFAULT_TARGET;
  const simplified = emptyStats();
  const quantized = annotateDevices(quantizeModel(fn, opts, simplified), { target, firstConvOnCpu: opts.firstConv === 'cpu' });
  const placed = insertDeviceCopies(packLayouts(rearrangeFirstConv(quantized, target), target));
  propagateDevices(placed);
  const groups = findKernelGroups(placed).filter((g) => g.calls.every((c) => c.device === 'vta'));
  const placement: Record<string, number> = {};
  for (const c of topoOrder(placed)) placement[c.device ?? 'cpu'] = (placement[c.device ?? 'cpu'] ?? 0) + 1;
  return { fn: placed, quantized, groups, copies: copyStats(placed).copies, placement, simplified };
}
