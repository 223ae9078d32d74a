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
const IMPOSSIBLE = -2;

function moduleIndex(insn: Insn): number {
  const m = moduleOf(insn);
  return m === 'load' ? LOAD : m === 'compute' ? COMPUTE : STORE;
}

export function scheduleProgram(insns: readonly Insn[], opts: ScheduleOptions = {}): Int32Array {
  const tokenDepth = opts.tokenQueueDepth ?? 8;
  const cmdDepth = opts.commandQueueDepth ?? 512;
  const n = insns.length;
  // Flags decoded once into queue ids (-1: none; IMPOSSIBLE: a flag the module does not have).
  const mod = new Uint8Array(n);
  const popA = new Int8Array(n);
  const popB = new Int8Array(n);
  const pushA = new Int8Array(n);
  const pushB = new Int8Array(n);
  const perModule = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    const insn = insns[i]!;
    const m = moduleIndex(insn);
    mod[i] = m;
    perModule[m]!++;
    popA[i] = insn.pop_prev_dep ? (POP_PREV[m]! < 0 ? IMPOSSIBLE : POP_PREV[m]!) : -1;
    popB[i] = insn.pop_next_dep ? (POP_NEXT[m]! < 0 ? IMPOSSIBLE : POP_NEXT[m]!) : -1;
    pushA[i] = insn.push_prev_dep ? PUSH_PREV[m]! : -1;
    pushB[i] = insn.push_next_dep ? PUSH_NEXT[m]! : -1;
  }
  // Each module's command queue is the subsequence of its instructions: fetched ones are
  // [head, tail) of `queue[m]`.
  const queue = perModule.map((c) => new Int32Array(c));
  const tail = [0, 0, 0];
  const head = [0, 0, 0];
  // Token queues are rings of `tokenDepth` vector clocks (3 ints each).
  const tokClock = new Int32Array(4 * tokenDepth * 3);
  const tokHead = [0, 0, 0, 0];
  const tokCount = [0, 0, 0, 0];
  // Clock of each module: the latest instruction index of each module it is ordered after.
  const clock = new Int32Array(9).fill(-1);
  // Queues a module still has to push into for the instruction it last executed.
  const pendA = [-1, -1, -1];
  const pendB = [-1, -1, -1];
  const pendingIndex = [-1, -1, -1];

  const push = (q: number, m: number): boolean => {
    if (tokCount[q]! >= tokenDepth) return false;
    const slot = ((tokHead[q]! + tokCount[q]!) % tokenDepth) * 3 + q * tokenDepth * 3;
    tokClock[slot] = clock[m * 3]!;
    tokClock[slot + 1] = clock[m * 3 + 1]!;
    tokClock[slot + 2] = clock[m * 3 + 2]!;
    tokCount[q]!++;
    return true;
  };
  const pop = (q: number, m: number): void => {
    const slot = tokHead[q]! * 3 + q * tokenDepth * 3;
    for (let k = 0; k < 3; k++) if (tokClock[slot + k]! > clock[m * 3 + k]!) clock[m * 3 + k] = tokClock[slot + k]!;
    tokHead[q] = (tokHead[q]! + 1) % tokenDepth;
    tokCount[q]!--;
  };
  const ready = (q: number): boolean => q === -1 || (q >= 0 && tokCount[q]! > 0);

  const order = new Int32Array(n);
  let executed = 0;
  let fetched = 0;
  for (;;) {
    let progress = false;
    while (fetched < n) {
      const m = mod[fetched]!;
      if (tail[m]! - head[m]! >= cmdDepth) break;
      queue[m]![tail[m]!++] = fetched++;
      progress = true;
    }
    for (let m = 0; m < 3; m++) {
      for (;;) {
        if (pendA[m]! >= 0 && push(pendA[m]!, m)) {
          pendA[m] = -1;
          progress = true;
        }
        if (pendB[m]! >= 0 && push(pendB[m]!, m)) {
          pendB[m] = -1;
          progress = true;
        }
        if (pendA[m]! >= 0 || pendB[m]! >= 0 || head[m]! >= tail[m]!) break;
        const idx = queue[m]![head[m]!]!;
        const a = popA[idx]!;
        const b = popB[idx]!;
        if (!ready(a) || !ready(b)) break;
        if (a >= 0) pop(a, m);
        if (b >= 0) pop(b, m);
        clock[m * 3 + m] = idx;
        order[executed++] = idx;
        head[m]!++;
        progress = true;
        if (insns[idx]!.opcode === 'FINISH') checkFinishOrdering(insns, mod, idx, clock.subarray(m * 3, m * 3 + 3));
        pendA[m] = pushA[idx]!;
        pendB[m] = pushB[idx]!;
        pendingIndex[m] = idx;
      }
    }
    const pendingLeft = pendA.some((q) => q >= 0) || pendB.some((q) => q >= 0);
    if (executed === n && !pendingLeft) break;
    if (!progress) {
      throw describeDeadlock(mod, queue, head, tail, pendA, pendB, pendingIndex, popA, popB, tokCount, fetched, cmdDepth);
    }
  }
  for (let q = 0; q < 4; q++) {
    if (tokCount[q]! > 0) {
      throw new ProgramError(
        -1,
        `the stream leaves ${tokCount[q]} token(s) in the ${TOKEN_QUEUE_NAMES[q]} queue at its end; every push needs a matching pop, or the next run starts with stale tokens`,
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
  mod: Uint8Array,
  queue: Int32Array[],
  head: number[],
  tail: number[],
  pendA: number[],
  pendB: number[],
  pendingIndex: number[],
  popA: Int8Array,
  popB: Int8Array,
  tokCount: number[],
  fetched: number,
  cmdDepth: number,
): DeadlockError {
  // Report the blocked instruction earliest in the stream: the root of the wait chain is there.
  let best: DeadlockError | null = null;
  let bestIndex = Infinity;
  for (let m = 0; m < 3; m++) {
    const full = pendA[m]! >= 0 ? pendA[m]! : pendB[m]!;
    if (full >= 0) {
      if (pendingIndex[m]! < bestIndex) {
        bestIndex = pendingIndex[m]!;
        best = new DeadlockError(MODULE_NAMES[m]!, bestIndex, TOKEN_QUEUE_NAMES[full]!, 'full');
      }
      continue;
    }
    if (head[m]! >= tail[m]!) continue;
    const idx = queue[m]![head[m]!]!;
    if (idx >= bestIndex) continue;
    const a = popA[idx]!;
    const q = a === IMPOSSIBLE || (a >= 0 && tokCount[a] === 0) ? a : popB[idx]!;
    bestIndex = idx;
    best = new DeadlockError(MODULE_NAMES[m]!, idx, q >= 0 ? TOKEN_QUEUE_NAMES[q]! : 'nonexistent', 'empty');
  }
  if (best === null || (fetched < mod.length && fetched < bestIndex)) {
    return new DeadlockError('fetch', fetched, `${MODULE_NAMES[mod[fetched]!]} command (depth ${cmdDepth})`, 'full');
  }
  return best;
}
