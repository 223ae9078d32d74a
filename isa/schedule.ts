/**
 * The dependency-token semantics of SPEC.md §5, executed without data: fetch routes instructions
 * into bounded per-module command queues, each module runs in order, pops wait on empty token
 * queues and pushes wait on full ones. The result is one execution order consistent with the
 * tokens (the functional simulator runs the program in this order), or a typed error for a
 * deadlock, unbalanced tokens, or a FINISH that does not wait for every LOAD/STORE before it.
 *
 * Happens-before is tracked with vector clocks: each token carries the clock of the instruction
 * that pushed it, so FINISH knows which load/store instructions it is ordered after.
 */
import { DeadlockError, ProgramError } from './errors.ts';
import { moduleOf, type Insn } from './types.ts';

export interface ScheduleOptions {
  /** Depth of each token queue (VTA: 8). */
  tokenQueueDepth?: number;
  /** Depth of each module's command queue (VTA: 512). */
  commandQueueDepth?: number;
}

const LOAD = 0;
const COMPUTE = 1;
const STORE = 2;
const MODULE_NAMES = ['load', 'compute', 'store'] as const;

// Token queues, indexed as below.
const L2G = 0; // load push_next -> compute pop_prev
const G2L = 1; // compute push_prev -> load pop_next
const G2S = 2; // compute push_next -> store pop_prev
const S2G = 3; // store push_prev -> compute pop_next
export const TOKEN_QUEUE_NAMES = ['load->compute', 'compute->load', 'compute->store', 'store->compute'] as const;

/** The token queue an instruction of `module` pops (prev, next) or pushes (prev, next); -1 if none. */
const POP_PREV = [-1, L2G, G2S];
const POP_NEXT = [G2L, S2G, -1];
const PUSH_PREV = [-1, G2L, S2G];
const PUSH_NEXT = [L2G, G2S, -1];

function moduleIndex(insn: Insn): number {
  const m = moduleOf(insn);
  return m === 'load' ? LOAD : m === 'compute' ? COMPUTE : STORE;
}

export function scheduleProgram(insns: readonly Insn[], opts: ScheduleOptions = {}): Int32Array {
  const tokenDepth = opts.tokenQueueDepth ?? 8;
  const cmdDepth = opts.commandQueueDepth ?? 512;
  const n = insns.length;
  const mod = new Uint8Array(n);
  for (let i = 0; i < n; i++) mod[i] = moduleIndex(insns[i]!);

  const order = new Int32Array(n);
  let executed = 0;
  let fetched = 0;
  // Per-module command queue: indices into insns, consumed from `head`.
  const cmd: number[][] = [[], [], []];
  const head = [0, 0, 0];
  // Token queues hold the vector clock of each pushed token.
  const tokens: Int32Array[][] = [[], [], [], []];
  const tokenHead = [0, 0, 0, 0];
  const count = (q: number) => tokens[q]!.length - tokenHead[q]!;
  // Clock of each module: the latest instruction index of each module it is ordered after.
  const clock = [Int32Array.of(-1, -1, -1), Int32Array.of(-1, -1, -1), Int32Array.of(-1, -1, -1)];
  // Queues a module still has to push into for the instruction it last executed.
  const pending: number[][] = [[], [], []];
  const pendingIndex = [-1, -1, -1];

  for (;;) {
    let progress = false;
    while (fetched < n && cmd[mod[fetched]!]!.length - head[mod[fetched]!]! < cmdDepth) {
      cmd[mod[fetched]!]!.push(fetched++);
      progress = true;
    }
    for (let m = 0; m < 3; m++) {
      for (;;) {
        const pend = pending[m]!;
        while (pend.length > 0 && count(pend[0]!) < tokenDepth) {
          tokens[pend.shift()!]!.push(clock[m]!.slice());
          progress = true;
        }
        if (pend.length > 0) break;
        const q = cmd[m]!;
        if (head[m]! >= q.length) break;
        const idx = q[head[m]!]!;
        const insn = insns[idx]!;
        const pops: number[] = [];
        if (insn.pop_prev_dep) pops.push(POP_PREV[m]!);
        if (insn.pop_next_dep) pops.push(POP_NEXT[m]!);
        if (pops.some((p) => p < 0 || count(p) === 0)) break;
        for (const p of pops) {
          const c = tokens[p]![tokenHead[p]!++]!;
          const mine = clock[m]!;
          for (let k = 0; k < 3; k++) if (c[k]! > mine[k]!) mine[k] = c[k]!;
        }
        clock[m]![m] = idx;
        order[executed++] = idx;
        head[m]!++;
        progress = true;
        if (insn.opcode === 'FINISH') checkFinishOrdering(insns, mod, idx, clock[m]!);
        if (insn.push_prev_dep && PUSH_PREV[m]! >= 0) pend.push(PUSH_PREV[m]!);
        if (insn.push_next_dep && PUSH_NEXT[m]! >= 0) pend.push(PUSH_NEXT[m]!);
        pendingIndex[m] = idx;
      }
    }
    const pendingLeft = pending.some((p) => p.length > 0);
    if (executed === n && !pendingLeft) break;
    if (!progress) throw describeDeadlock(insns, mod, cmd, head, pending, pendingIndex, count, fetched, cmdDepth);
  }
  for (let q = 0; q < 4; q++) {
    if (count(q) > 0) {
      throw new ProgramError(
        -1,
        `the stream leaves ${count(q)} token(s) in the ${TOKEN_QUEUE_NAMES[q]} queue at its end; every push needs a matching pop, or the next run starts with stale tokens`,
      );
    }
  }
  return order;
}

function checkFinishOrdering(insns: readonly Insn[], mod: Uint8Array, finish: number, c: Int32Array): void {
  for (let i = finish - 1; i >= 0; i--) {
    const m = mod[i]!;
    if (m !== COMPUTE && c[m]! < i) {
      throw new ProgramError(
        finish,
        `FINISH does not wait for the ${insns[i]!.opcode} at instruction ${i} (${MODULE_NAMES[m]} module): chain it to FINISH through dependency tokens`,
      );
    }
  }
}

function describeDeadlock(
  insns: readonly Insn[],
  mod: Uint8Array,
  cmd: number[][],
  head: number[],
  pending: number[][],
  pendingIndex: number[],
  count: (q: number) => number,
  fetched: number,
  cmdDepth: number,
): DeadlockError {
  // Report the blocked instruction earliest in the stream: the root of the wait chain is there.
  let best: DeadlockError | null = null;
  let bestIndex = Infinity;
  for (let m = 0; m < 3; m++) {
    if (pending[m]!.length > 0 && pendingIndex[m]! < bestIndex) {
      bestIndex = pendingIndex[m]!;
      best = new DeadlockError(MODULE_NAMES[m]!, bestIndex, TOKEN_QUEUE_NAMES[pending[m]![0]!]!, 'full');
      continue;
    }
    if (head[m]! >= cmd[m]!.length) continue;
    const idx = cmd[m]![head[m]!]!;
    if (idx >= bestIndex) continue;
    const insn = insns[idx]!;
    const q = insn.pop_prev_dep && (POP_PREV[m]! < 0 || count(POP_PREV[m]!) === 0) ? POP_PREV[m]! : POP_NEXT[m]!;
    bestIndex = idx;
    best = new DeadlockError(MODULE_NAMES[m]!, idx, q >= 0 ? TOKEN_QUEUE_NAMES[q]! : 'nonexistent', 'empty');
  }
  if (best === null || (fetched < insns.length && fetched < bestIndex)) {
    const m = mod[fetched]!;
    return new DeadlockError('fetch', fetched, `${MODULE_NAMES[m]} command (depth ${cmdDepth})`, 'full');
  }
  return best;
}
