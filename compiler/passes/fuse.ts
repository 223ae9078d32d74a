/**
 * Kernel groups: the unit the VTA lowering consumes and the unit of device
 * placement. A group is an anchor (conv2d, dense, max_pool2d, or a widened int8
 * tensor: an add of two int8 tensors, or a per-channel multiply-add) followed by its int32 epilogue, the ordered ALU steps that
 * bias, requantize, clip and optionally add a residual, ending in the narrowing
 * to int8 (VTA's STORE of the accumulator's low bytes).
 *
 * For the lowering, a group reads as:
 *
 *   acc   = anchor(data, weight)              conv2d/dense: int8 x int8 -> int32 (GEMM); the weights are
 *                                               a constant, or (weightInput) an int8 value computed at
 *                                               run time in the same packed layout
 *                                             max_pool2d: int8 window max (ALU MAX; taps in the
 *                                               padding are skipped, never read as 0)
 *                                             add: acc = data widened to int32 (LOAD ACC_8BIT);
 *                                               its epilogue holds a residual, bias or scale step
 *   for step of epilogue:                     in order, on every int32 lane of acc
 *     bias      acc += value                  int32 constant: per channel [1, C/16, 1, 1, 1, 16]
 *                                               or per element [1, C/16, H, W, 1, 16] (LOAD ACC + ADD)
 *     scale     acc *= value                  the same shapes (LOAD ACC + MUL, low 32 bits): an
 *                                               average pool's per-position 1/count multiplier
 *     alu       acc = OP(acc, imm)            ADD, MUL (low 32 bits), SHR (SPEC §4 ALU: arithmetic
 *                                               right shift, negative = left), MIN, MAX (signed);
 *                                               imm is a signed 16-bit immediate
 *     residual  r = widen(input); r = OP(r, imm) for each of pre (empty from realizeQdq); acc += r
 *                                             (LOAD ACC_8BIT of an int8 tensor of the output's
 *                                               shape, then ADD with src = r)
 *   output = low 8 bits of acc                the epilogue always clips into [-128, 127] first
 *
 * Tensors inside groups are in VTA's packed layouts (compiler/passes/pack.ts):
 * activations NCHW{BATCH}n{BLOCK}c, conv weights OIHW{BLOCK}o{BLOCK}i. The CPU
 * executor runs the very same IR nodes, so a lowered group can be checked bit
 * for bit against the executor's value of `output`.
 *
 * Per-element biases appear only where a conv pads an input whose zero point is
 * not 0 (onnxruntime's asymmetric activations: ReLU outputs use -128): VTA pads
 * with 0, not with the zero point, so the zero-point correction Σ zx·w over the
 * taps inside the input differs at the borders. Calibrated float models use
 * symmetric scales and only ever get per-channel biases.
 */
import { topoOrder, type Call, type Constant, type IRFunction, type Value } from '../ir/graph.ts';
import { consumers } from './rewrite.ts';

export type AluOp = 'ADD' | 'MUL' | 'SHR' | 'MIN' | 'MAX';

export interface AluStep {
  readonly kind: 'alu';
  readonly op: AluOp;
  readonly imm: number;
}

export interface BiasStep {
  readonly kind: 'bias';
  /** int32; per channel when its spatial extent is 1, else one value per output element. */
  readonly value: Constant;
  readonly perChannel: boolean;
}

/** Multiplication by an int32 constant tensor (MUL with an ACC operand); shapes as a BiasStep's. */
export interface ScaleStep {
  readonly kind: 'scale';
  readonly value: Constant;
  readonly perChannel: boolean;
}

export interface ResidualStep {
  readonly kind: 'residual';
  /** The int8 tensor added, sign-extended (same shape and layout as the group's output). */
  readonly input: Value;
  /**
   * ALU steps on the widened residual before the add. realizeQdq adds residuals unscaled, so
   * these are empty for the graphs this toolchain makes; other integer graphs may need them.
   */
  readonly pre: readonly AluStep[];
}

export type EpilogueStep = AluStep | BiasStep | ScaleStep | ResidualStep;

export type AnchorOp = 'conv2d' | 'dense' | 'max_pool2d' | 'add';

export interface VtaKernelGroup {
  readonly anchor: AnchorOp;
  /** The anchor's IR node (for add: the widening cast of `data`). */
  readonly anchorCall: Call;
  /** The int8 input: packed activation (conv2d, max_pool2d, add's first operand). */
  readonly data: Value;
  /** int8 weights (conv2d: OIHW{BLOCK}o{BLOCK}i; dense: [N, K]). */
  readonly weight?: Constant;
  /** Weights computed at run time instead (a dense of two activations), in the same layout. */
  readonly weightInput?: Value;
  /** The anchor's attributes (strides, padding, dilation, groups, pool_size, layouts). */
  readonly attrs: Call['attrs'];
  readonly epilogue: readonly EpilogueStep[];
  /** The int8 result node. */
  readonly output: Call;
  /** Every IR node of the group, in topological order. */
  readonly calls: readonly Call[];
}

const ALU_BY_OP: Readonly<Record<string, AluOp>> = { add: 'ADD', multiply: 'MUL', right_shift: 'SHR', minimum: 'MIN', maximum: 'MAX' };

function scalar(v: Value): number | undefined {
  return v.kind === 'constant' && v.value.size === 1 && v.type.dtype === 'int32' ? Number(v.value.data[0]) : undefined;
}

/** One epilogue op applied to `cur` as ALU steps, or undefined when `node` is not one. */
function aluSteps(node: Call, cur: Value): AluStep[] | undefined {
  if (node.type.dtype !== 'int32' || node.args[0] !== cur) return undefined;
  if (node.op === 'clip') {
    return [
      { kind: 'alu', op: 'MAX', imm: Number(node.attrs['a_min']) },
      { kind: 'alu', op: 'MIN', imm: Number(node.attrs['a_max']) },
    ];
  }
  const op = ALU_BY_OP[node.op];
  const imm = node.args[1] ? scalar(node.args[1]) : undefined;
  return op && imm !== undefined ? [{ kind: 'alu', op, imm }] : undefined;
}

const isWiden = (v: Value): boolean => v.kind === 'call' && v.op === 'cast' && v.type.dtype === 'int32' && v.args[0]!.type.dtype === 'int8';

/** Every kernel group of `fn` (on any device), in execution order. */
export function findKernelGroups(fn: IRFunction): VtaKernelGroup[] {
  const readers = consumers(fn);
  const results = new Set(fn.results);
  const taken = new Set<Call>();
  const only = (v: Value): Call | undefined => {
    const r = readers.get(v);
    return r?.length === 1 && !results.has(v) ? r[0] : undefined;
  };

  /**
   * The residual operand of an add: the widening (ACC_8BIT load) of an int8 tensor, possibly
   * followed by ALU steps of its own, each read only by the next.
   */
  const residualChain = (v: Value): { input: Value; pre: AluStep[]; calls: Call[] } | undefined => {
    const calls: Call[] = [];
    const pre: AluStep[] = [];
    let cur = v;
    while (cur.kind === 'call' && !isWiden(cur)) {
      const src = cur.args[0]!;
      const steps = aluSteps(cur, src);
      if (!steps || only(src) !== cur) return undefined;
      pre.unshift(...steps);
      calls.unshift(cur);
      cur = src;
    }
    if (cur.kind !== 'call' || only(cur) === undefined) return undefined;
    const all = [cur, ...calls];
    return all.some((c) => taken.has(c)) ? undefined : { input: cur.args[0]!, pre, calls: all };
  };

  /**
   * Extends a group from `start` through its epilogue, appending to `steps` and `calls`; returns
   * the int8 output, or undefined when the chain does not end in a narrowing the group can own.
   */
  const extend = (start: Value, steps: EpilogueStep[], calls: Call[]): Call | undefined => {
    let cur = start;
    for (;;) {
      const next = only(cur);
      if (!next || taken.has(next)) return undefined;
      if (next.op === 'cast' && next.type.dtype === 'int8' && next.args[0]!.type.dtype === 'int32') {
        calls.push(next);
        // A clipped narrowing followed by a re-widening into a residual add continues the group:
        // the int8 value stays in the accumulator (narrow + widen is the identity after the clip).
        const [lo, hi] = steps.slice(-2);
        const clipped = lo?.kind === 'alu' && lo.op === 'MAX' && lo.imm >= -128 && hi?.kind === 'alu' && hi.op === 'MIN' && hi.imm <= 127;
        const rewiden = only(next);
        if (!clipped || !rewiden || !isWiden(rewiden) || taken.has(rewiden)) return next;
        const saved = { steps: steps.length, calls: calls.length };
        calls.push(rewiden);
        const more = extend(rewiden, steps, calls);
        if (more && steps.slice(saved.steps).some((s) => s.kind === 'residual')) return more;
        steps.length = saved.steps;
        calls.length = saved.calls;
        return next;
      }
      const alu = aluSteps(next, cur);
      if (alu) {
        steps.push(...alu);
      } else if (next.op === 'add' && next.type.dtype === 'int32' && next.args[0] === cur && next.args[1]!.kind === 'constant') {
        steps.push({ kind: 'bias', value: next.args[1] as Constant, perChannel: isPerChannel(next.args[1]!) });
      } else if (next.op === 'multiply' && next.type.dtype === 'int32' && next.args[0] === cur && next.args[1]!.kind === 'constant') {
        steps.push({ kind: 'scale', value: next.args[1] as Constant, perChannel: isPerChannel(next.args[1]!) });
      } else if (next.op === 'add' && next.type.dtype === 'int32' && next.args[0] === cur) {
        // The accumulator is the add's first operand (realizeQdq puts the rescaled one there).
        const r = residualChain(next.args[1]!);
        if (!r) return undefined;
        steps.push({ kind: 'residual', input: r.input, pre: r.pre });
        calls.push(...r.calls);
      } else {
        return undefined;
      }
      calls.push(next);
      cur = next;
    }
  };

  const groups: VtaKernelGroup[] = [];
  const order = topoOrder(fn);
  const commit = (g: VtaKernelGroup) => {
    groups.push(g);
    g.calls.forEach((c) => taken.add(c));
  };
  for (const c of order) {
    if (taken.has(c)) continue;
    // Run-time weights: a dense of two activations, or the 1x1 conv packLayouts makes of it.
    const w = c.args[1];
    const weightOk = w?.kind === 'constant' || (w?.type.dtype === 'int8' && (c.op === 'nn.dense' || w.type.shape.length === 6));
    if ((c.op === 'nn.conv2d' || c.op === 'nn.dense') && c.type.dtype === 'int32' && c.args[0]!.type.dtype === 'int8' && weightOk) {
      const steps: EpilogueStep[] = [];
      const calls: Call[] = [c];
      const output = extend(c, steps, calls);
      const weights = w!.kind === 'constant' ? { weight: w } : { weightInput: w! };
      if (output) commit({ anchor: c.op === 'nn.conv2d' ? 'conv2d' : 'dense', anchorCall: c, data: c.args[0]!, ...weights, attrs: c.attrs, epilogue: steps, output, calls: sortCalls(calls, order) });
    } else if (c.op === 'nn.max_pool2d' && c.type.dtype === 'int8') {
      commit({ anchor: 'max_pool2d', anchorCall: c, data: c.args[0]!, attrs: c.attrs, epilogue: [], output: c, calls: [c] });
    }
  }
  // Elementwise groups: an int8 tensor widened into the accumulator and its ALU steps: a residual
  // add no conv group absorbed, per-channel constants (a batch norm with no conv before it), or a
  // requantization alone (a concat input at another scale).
  for (const c of order) {
    if (taken.has(c) || !isWiden(c)) continue;
    const steps: EpilogueStep[] = [];
    const calls: Call[] = [c];
    const output = extend(c, steps, calls);
    if (output) {
      commit({ anchor: 'add', anchorCall: c, data: c.args[0]!, attrs: {}, epilogue: steps, output, calls: sortCalls(calls, order) });
    }
  }
  // In execution order: a group runs after every group whose output it reads.
  const position = new Map(order.map((c, i) => [c, i]));
  return groups.sort((a, b) => position.get(a.output)! - position.get(b.output)!);
}

/** Per channel: [1, C, 1, 1] plain, [1, C/16, 1, 1, 1, 16] packed, or a dense's [1, N]. */
function isPerChannel(v: Value): boolean {
  const s = v.type.shape;
  return s.length === 2 || (s[2] === 1 && s[3] === 1);
}

function sortCalls(calls: readonly Call[], order: readonly Call[]): Call[] {
  const set = new Set(calls);
  return order.filter((c) => set.has(c));
}
