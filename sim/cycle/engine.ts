/**
 * The event-driven timing model of the VTA core (README.md in this folder states it in full).
 *
 * Time only advances to the next moment something can change: an instruction step ending, a bus
 * transfer ending, a dispatched instruction or a pushed token becoming visible. At each such
 * moment every module advances as far as it can (repeated until none moves, so a token pushed or
 * a slot freed by one module is seen by the others in the same cycle), then the DRAM port is
 * granted. Each module carries a numeric state and the cycle it next needs attention, so one
 * instruction costs a handful of steps whatever its length in cycles.
 *
 * Functional execution is not done here: `onComplete` is called with each instruction's index
 * at its completion, in completion-time order, which the dependency tokens make an order the
 * functional core may execute in (every instruction lasts at least one cycle, so a consumer
 * always completes after the producer whose token it popped).
 */
import { elemBytes, type VtaConfig } from '../../isa/config.ts';
import { DeadlockError } from '../../isa/errors.ts';
import { INSN_BYTES } from '../../isa/codec.ts';
import { TOKEN_QUEUE_NAMES } from '../../isa/schedule.ts';
import { moduleOf, type Insn } from '../../isa/types.ts';
import type { TimingConfig } from './timing.ts';

export const MODULE_NAMES = ['fetch', 'load', 'compute', 'store'] as const;
export type CycleModuleName = (typeof MODULE_NAMES)[number];
const FETCH = 0;
const LOAD = 1;
const COMPUTE = 2;
const STORE = 3;

/** How a module's cycles are classified; the four add up to the total for every module. */
export const CATEGORIES = ['busy', 'tokenStall', 'busStall', 'idle'] as const;
const BUSY = 0;
const TOKEN_STALL = 1;
const BUS_STALL = 2;
const IDLE = 3;

// Token queues, in the order of TOKEN_QUEUE_NAMES.
const L2G = 0;
const G2L = 1;
const G2S = 2;
const S2G = 3;
// Indexed by module (fetch, load, compute, store): the queue each dependency flag pops or pushes.
const POP_PREV = [-1, -1, L2G, G2S];
const POP_NEXT = [-1, G2L, S2G, -1];
const PUSH_PREV = [-1, -1, G2L, S2G];
const PUSH_NEXT = [-1, L2G, G2S, -1];

// Module states.
const S_IDLE = 0; // looking for its next instruction
const S_POP = 1; // head instruction waits for a token
const S_RUN = 2; // a fixed-length step ends at wake
const S_BUS_WAIT = 3; // asked for the DRAM port
const S_BUS = 4; // a transfer holds the port until wake
const S_PUSH = 5; // finished instruction waits for room in a token queue
const S_DONE = 6;
const S_ROUTE = 7; // fetch: routes its next buffered instruction (waits while the command queue is full)

// Memory-instruction phases.
const PH_PRE = 0;
const PH_ROWS = 1;
const PH_POST = 2;
const PH_END = 3;

// What a fixed-length instruction counts toward (0: neither GEMM nor ALU).
const OP_GEMM = 1;
const OP_ALU_IMM = 2;
const OP_ALU_TENSOR = 3;

const INF = Number.POSITIVE_INFINITY;

export interface CycleStats {
  busy: number;
  tokenStall: number;
  busStall: number;
  idle: number;
}

export interface SimulateOptions {
  timing: TimingConfig;
  /** Called with each instruction's index when it completes (functional execution hooks in here). */
  onComplete?: (index: number) => void;
  /** Records what a Chrome trace needs (bus grants, queue occupancy); off by default for speed. */
  trace?: boolean;
}

/** What `toChromeTrace` draws, recorded only when asked for. */
export interface TraceLog {
  /** Per DRAM request: client module, grant cycle, end cycle, beats. */
  bus: { client: Int8Array; start: Float64Array; end: Float64Array; beats: Int32Array; length: number };
  /** Fetch requests: first instruction, instruction count, request cycle, end of dispatch. */
  fetchChunks: { first: number; count: number; start: number; end: number }[];
  /** Occupancy changes: counter id (0-2 command queues load/compute/store, 3-6 token queues), cycle, value. */
  counters: { id: number[]; time: number[]; value: number[] };
  /** Stretches a module spent stalled: module, category (tokenStall or busStall), start, end. */
  stalls: { module: number[]; category: number[]; start: number[]; end: number[] };
}

export const QUEUE_COUNTERS = [
  'cmd queue load',
  'cmd queue compute',
  'cmd queue store',
  ...TOKEN_QUEUE_NAMES.map((q) => `tokens ${q}`),
] as const;

export interface CycleResult {
  /** Cycle at which the last module finished (FINISH's completion for a valid stream). */
  cycles: number;
  modules: Record<CycleModuleName, CycleStats>;
  /** Per instruction: cycle it reached its module (routing done), cycle it started (tokens popped), cycle it completed. */
  dispatch: Float64Array;
  issue: Float64Array;
  complete: Float64Array;
  gemm: {
    /** Micro-ops issued, reset ones included. */
    uops: number;
    /** Cycles the GEMM unit issued a micro-op (uops x gemmCyclesPerUop). */
    uopCycles: number;
    macs: number;
    /** uopCycles / cycles. */
    utilization: number;
    macsPerCycle: number;
    peakMacsPerCycle: number;
  };
  alu: { uops: number; uopCycles: number };
  bus: { requests: number; beats: number; busyCycles: number; utilization: number };
  timing: TimingConfig;
  trace?: TraceLog;
}

/** Runs the timing model over `insns` (already validated). */
export function simulateCycles(cfg: VtaConfig, insns: readonly Insn[], opts: SimulateOptions): CycleResult {
  return new CycleEngine(cfg, insns, opts).run();
}

class CycleEngine {
  private readonly n: number;
  private readonly t: TimingConfig;
  private readonly onComplete: ((index: number) => void) | undefined;

  // Per instruction, precomputed.
  private readonly mod: Uint8Array;
  private readonly isMem: Uint8Array;
  private readonly dur: Float64Array; // fixed-length instructions
  private readonly op: Uint8Array;
  private readonly uops: Float64Array;
  private readonly reset: Uint8Array;
  private readonly rows: Int32Array;
  private readonly beatsPerRow: Float64Array;
  private readonly pre: Float64Array;
  private readonly between: Float64Array;
  private readonly post: Float64Array;
  private readonly pops: Int8Array; // two slots per instruction, -1 for none
  private readonly pushes: Int8Array;

  private readonly dispatch: Float64Array;
  private readonly issue: Float64Array;
  private readonly complete: Float64Array;

  // Per module (index 0 = fetch).
  private readonly modInsns: Int32Array[];
  private readonly state = new Uint8Array(4);
  private readonly wake = new Float64Array(4);
  private readonly started = new Int32Array(4); // position in modInsns of the next instruction
  private readonly dispatched = new Int32Array(4);
  private readonly cur = new Int32Array(4).fill(-1);
  private readonly phase = new Uint8Array(4);
  private readonly row = new Int32Array(4);
  private readonly left = new Float64Array(4); // beats left in the current row (or fetch chunk)
  private readonly reqBeats = new Float64Array(4);
  private readonly pushSlot = new Uint8Array(4); // next push slot still to do
  private readonly cat = new Uint8Array(4);
  private readonly since = new Float64Array(4);
  private readonly acc = new Float64Array(16); // module * 4 + category
  private readonly doneAt = new Float64Array(4);

  // Fetch.
  private fetched = 0; // instructions read from DRAM
  private dispatchNext = 0; // next instruction to route
  private chunkStart = 0;
  private chunkFirst = 0;

  // Token queues: ring buffers of the cycle each token becomes visible.
  private readonly tokVisible: Float64Array[];
  private readonly tokHead = new Int32Array(4);
  private readonly tokCount = new Int32Array(4);

  // DRAM port.
  private busFreeAt = 0;
  private lastGrant = STORE; // round-robin pointer: fetch is asked first at the start
  private busRequests = 0;
  private busBeats = 0;
  private busBusy = 0;

  private gemmUops = 0;
  private gemmMacUops = 0;
  private aluUops = 0;
  private aluUopCycles = 0;

  private readonly log: TraceLog | undefined;
  /**
   * Set when a module does something another may be waiting on (routes an instruction, starts one
   * and so frees a command slot, pushes or pops a token): the modules then advance again at the
   * same cycle. Bus requests need no signal: the port is granted after all modules have advanced.
   */
  private signal = false;

  constructor(
    private readonly cfg: VtaConfig,
    insns: readonly Insn[],
    opts: SimulateOptions,
  ) {
    const n = (this.n = insns.length);
    const t = (this.t = opts.timing);
    this.onComplete = opts.onComplete;
    this.mod = new Uint8Array(n);
    this.isMem = new Uint8Array(n);
    this.dur = new Float64Array(n);
    this.op = new Uint8Array(n);
    this.uops = new Float64Array(n);
    this.reset = new Uint8Array(n);
    this.rows = new Int32Array(n);
    this.beatsPerRow = new Float64Array(n);
    this.pre = new Float64Array(n);
    this.between = new Float64Array(n);
    this.post = new Float64Array(n);
    this.pops = new Int8Array(2 * n).fill(-1);
    this.pushes = new Int8Array(2 * n).fill(-1);
    this.dispatch = new Float64Array(n);
    this.issue = new Float64Array(n);
    this.complete = new Float64Array(n);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < n; i++) {
      const insn = insns[i]!;
      const m = MODULE_NAMES.indexOf(moduleOf(insn));
      this.mod[i] = m;
      counts[m]!++;
      this.precompute(i, insn);
      let k = 0;
      if (insn.pop_prev_dep && POP_PREV[m]! >= 0) this.pops[2 * i + k++] = POP_PREV[m]!;
      if (insn.pop_next_dep && POP_NEXT[m]! >= 0) this.pops[2 * i + k++] = POP_NEXT[m]!;
      k = 0;
      if (insn.push_prev_dep && PUSH_PREV[m]! >= 0) this.pushes[2 * i + k++] = PUSH_PREV[m]!;
      if (insn.push_next_dep && PUSH_NEXT[m]! >= 0) this.pushes[2 * i + k++] = PUSH_NEXT[m]!;
    }
    this.modInsns = counts.map((c) => new Int32Array(c));
    counts.fill(0);
    for (let i = 0; i < n; i++) this.modInsns[this.mod[i]!]![counts[this.mod[i]!]!++] = i;
    this.tokVisible = [0, 1, 2, 3].map(() => new Float64Array(t.tokenQueueDepth));
    if (opts.trace) {
      this.log = {
        bus: { client: new Int8Array(64), start: new Float64Array(64), end: new Float64Array(64), beats: new Int32Array(64), length: 0 },
        fetchChunks: [],
        counters: { id: [], time: [], value: [] },
        stalls: { module: [], category: [], start: [], end: [] },
      };
    }
  }

  private precompute(i: number, insn: Insn): void {
    const t = this.t;
    switch (insn.opcode) {
      case 'GEMM': {
        const uops = insn.iter_out * insn.iter_in * (insn.uop_end - insn.uop_bgn);
        this.op[i] = OP_GEMM;
        this.uops[i] = uops;
        this.reset[i] = insn.reset_reg;
        this.dur[i] = Math.max(1, t.gemmPipelineFill + uops * t.gemmCyclesPerUop);
        return;
      }
      case 'ALU': {
        const uops = insn.iter_out * insn.iter_in * (insn.uop_end - insn.uop_bgn);
        this.op[i] = insn.use_imm ? OP_ALU_IMM : OP_ALU_TENSOR;
        this.uops[i] = uops;
        this.dur[i] = Math.max(1, t.aluPipelineFill + uops * (insn.use_imm ? t.aluCyclesPerUopImm : t.aluCyclesPerUopTensor));
        return;
      }
      case 'FINISH':
        this.dur[i] = t.syncCycles;
        return;
      case 'LOAD':
      case 'STORE': {
        if (insn.x_size === 0) {
          this.dur[i] = t.syncCycles;
          return;
        }
        const rowElems = insn.x_pad_0 + insn.x_size + insn.x_pad_1;
        const pc = t.padCyclesPerElem;
        const rows = insn.y_size;
        let pre: number;
        let post: number;
        if (rows === 0) {
          pre = (insn.y_pad_0 + insn.y_pad_1) * rowElems * pc;
          post = 0;
        } else {
          pre = (insn.y_pad_0 * rowElems + insn.x_pad_0) * pc;
          post = (insn.x_pad_1 + insn.y_pad_1 * rowElems) * pc;
        }
        if (rows === 0 && pre === 0) {
          this.dur[i] = t.syncCycles;
          return;
        }
        this.isMem[i] = 1;
        this.rows[i] = rows;
        this.beatsPerRow[i] = Math.ceil((insn.x_size * elemBytes(this.cfg, insn.memory_type)) / this.cfg.BUS_BYTES);
        this.pre[i] = pre;
        this.between[i] = (insn.x_pad_1 + insn.x_pad_0) * pc;
        this.post[i] = post;
        return;
      }
    }
  }

  run(): CycleResult {
    let now = 0;
    for (;;) {
      // First the modules whose time has come; then, while one signals, all of them.
      const w = this.wake;
      this.signal = false;
      if (w[FETCH]! <= now) this.advanceFetch(now);
      if (w[LOAD]! <= now) this.advance(LOAD, now);
      if (w[COMPUTE]! <= now) this.advance(COMPUTE, now);
      if (w[STORE]! <= now) this.advance(STORE, now);
      while (this.signal) {
        this.signal = false;
        this.advanceFetch(now);
        this.advance(LOAD, now);
        this.advance(COMPUTE, now);
        this.advance(STORE, now);
      }
      if (this.busFreeAt <= now) this.arbitrate(now);
      let next = w[0]!;
      if (w[1]! < next) next = w[1]!;
      if (w[2]! < next) next = w[2]!;
      if (w[3]! < next) next = w[3]!;
      if (next === INF) break;
      now = next;
    }
    for (let m = 0; m < 4; m++) {
      if (this.state[m] !== S_DONE) throw this.deadlock(m);
    }
    return this.result();
  }

  // ---- accounting ----

  private setCat(m: number, c: number, now: number): void {
    const prev = this.cat[m]!;
    if (prev === c) return;
    this.acc[m * 4 + prev] += now - this.since[m]!;
    if (this.log && (prev === TOKEN_STALL || prev === BUS_STALL) && now > this.since[m]!) {
      const st = this.log.stalls;
      st.module.push(m);
      st.category.push(prev);
      st.start.push(this.since[m]!);
      st.end.push(now);
    }
    this.since[m] = now;
    this.cat[m] = c;
  }

  private counter(id: number, now: number, value: number): void {
    const c = this.log!.counters;
    c.id.push(id);
    c.time.push(now);
    c.value.push(value);
  }

  // ---- DRAM port ----

  private request(m: number, beats: number, now: number): void {
    this.reqBeats[m] = beats;
    this.state[m] = S_BUS_WAIT;
    this.wake[m] = INF;
    this.setCat(m, BUS_STALL, now);
  }

  /**
   * Round-robin over fetch, load, compute, store, starting after the last module granted.
   *
   * The port's next grants are made here too, as long as they come before any module outside
   * the port's queue next wakes: until then only the modules holding or awaiting the port act,
   * and each, when its burst ends, either asks at once for its next burst (known from its row)
   * or stops the run of grants. So the grants are exactly those a step per burst would make,
   * without the steps, even while several modules take turns.
   */
  private arbitrate(now: number): void {
    const w = this.wake;
    // Modules waiting for the port have wake = INF, so this is the first wake of any other module.
    let others = w[0]!;
    if (w[1]! < others) others = w[1]!;
    if (w[2]! < others) others = w[2]!;
    if (w[3]! < others) others = w[3]!;
    let m = this.pickNext(this.lastGrant);
    if (m < 0) return;
    let start = now;
    let beats = this.reqBeats[m]!;
    let end = this.grant(m, start, beats);
    while (end < others) {
      const next = this.followingBurst(m, beats);
      if (next === 0) break;
      // m asks again when its burst ends; the port goes round-robin among those waiting.
      this.reqBeats[m] = next;
      this.state[m] = S_BUS_WAIT;
      this.setCat(m, BUS_STALL, end);
      m = this.pickNext(m);
      start = end;
      beats = this.reqBeats[m]!;
      end = this.grant(m, start, beats);
    }
    this.busFreeAt = end;
    this.reqBeats[m] = beats;
    this.wake[m] = end;
  }

  /** The first module waiting for the port after `after` in round-robin order, or -1. */
  private pickNext(after: number): number {
    for (let k = 1; k <= 4; k++) {
      const m = (after + k) & 3;
      if (this.state[m] === S_BUS_WAIT) return m;
    }
    return -1;
  }

  /** Gives `m` the port from `start` for one burst; returns when the burst ends. */
  private grant(m: number, start: number, beats: number): number {
    const end = start + this.t.busLatency + beats;
    this.lastGrant = m;
    this.state[m] = S_BUS;
    this.setCat(m, BUSY, start);
    this.busRequests++;
    this.busBeats += beats;
    this.busBusy += end - start;
    if (this.log) {
      const b = this.log.bus;
      if (b.length === b.client.length) this.growBusLog();
      b.client[b.length] = m;
      b.start[b.length] = start;
      b.end[b.length] = end;
      b.beats[b.length] = beats;
      b.length++;
    }
    return end;
  }

  /**
   * The beats of the burst module `m` requests the moment its current one (of `beats`) ends, or 0
   * if it does something else first (pads, completes). Consumes the current burst, as the end of
   * a transfer does.
   */
  private followingBurst(m: number, beats: number): number {
    const maxBurst = this.t.maxBurstBeats;
    const left = this.left[m]! - beats;
    if (left > 0) {
      this.left[m] = left;
      return left < maxBurst ? left : maxBurst;
    }
    if (m === FETCH) return 0;
    const i = this.cur[m]!;
    if (this.between[i] !== 0 || this.row[m]! + 1 >= this.rows[i]!) return 0;
    this.row[m]++;
    const bpr = this.beatsPerRow[i]!;
    this.left[m] = bpr;
    return bpr < maxBurst ? bpr : maxBurst;
  }

  private growBusLog(): void {
    const b = this.log!.bus;
    const grow = <T extends Int8Array | Int32Array | Float64Array>(a: T): T => {
      const out = new (a.constructor as new (n: number) => T)(a.length * 2);
      out.set(a);
      return out;
    };
    b.client = grow(b.client);
    b.start = grow(b.start);
    b.end = grow(b.end);
    b.beats = grow(b.beats);
  }

  // ---- fetch ----

  private advanceFetch(now: number): void {
    const st = this.state;
    for (;;) {
      switch (st[FETCH]) {
        case S_IDLE: {
          if (this.fetched === this.n) {
            st[FETCH] = S_DONE;
            this.wake[FETCH] = INF;
            this.doneAt[FETCH] = now;
            this.setCat(FETCH, IDLE, now);
            return;
          }
          const count = Math.min(this.t.fetchBufferInsns, this.n - this.fetched);
          this.chunkStart = now;
          this.chunkFirst = this.fetched;
          this.fetched += count;
          this.left[FETCH] = Math.ceil((count * INSN_BYTES) / this.cfg.BUS_BYTES);
          this.request(FETCH, Math.min(this.left[FETCH]!, this.t.maxBurstBeats), now);
          return;
        }
        case S_BUS:
          if (this.wake[FETCH]! > now) return;
          this.left[FETCH] -= this.reqBeats[FETCH]!;
          if (this.left[FETCH]! > 0) {
            this.request(FETCH, Math.min(this.left[FETCH]!, this.t.maxBurstBeats), now);
            return;
          }
          st[FETCH] = S_ROUTE;
          continue;
        case S_RUN:
          if (this.wake[FETCH]! > now) return;
          st[FETCH] = S_ROUTE;
          continue;
        case S_ROUTE: {
          const i = this.dispatchNext;
          if (i === this.fetched) {
            if (this.log) this.log.fetchChunks.push({ first: this.chunkFirst, count: i - this.chunkFirst, start: this.chunkStart, end: now });
            st[FETCH] = S_IDLE;
            continue;
          }
          const m = this.mod[i]!;
          const occupancy = this.dispatched[m]! - this.started[m]!;
          if (occupancy >= this.t.commandQueueDepth) {
            this.wake[FETCH] = INF;
            this.setCat(FETCH, TOKEN_STALL, now);
            return;
          }
          const ready = now + this.t.fetchDispatchCycles;
          this.dispatch[i] = ready;
          this.dispatched[m]++;
          this.signal = true;
          this.dispatchNext++;
          if (this.log) this.counter(m - 1, now, occupancy + 1);
          st[FETCH] = S_RUN;
          this.wake[FETCH] = ready;
          this.setCat(FETCH, BUSY, now);
          return;
        }
        default: // S_BUS_WAIT, S_DONE
          return;
      }
    }
  }

  // ---- load, compute, store ----

  private advance(m: number, now: number): void {
    const st = this.state;
    for (;;) {
      switch (st[m]) {
        case S_IDLE: {
          const p = this.started[m]!;
          const list = this.modInsns[m]!;
          if (p === list.length) {
            st[m] = S_DONE;
            this.wake[m] = INF;
            this.doneAt[m] = now;
            this.setCat(m, IDLE, now);
            return;
          }
          if (p === this.dispatched[m]) {
            this.wake[m] = INF;
            this.setCat(m, IDLE, now);
            return;
          }
          const i = list[p]!;
          const ready = this.dispatch[i]!;
          if (ready > now) {
            this.wake[m] = ready;
            this.setCat(m, IDLE, now);
            return;
          }
          this.cur[m] = i;
          st[m] = S_POP;
          continue;
        }
        case S_POP: {
          const i = this.cur[m]!;
          const a = this.pops[2 * i]!;
          const b = this.pops[2 * i + 1]!;
          let wait = now;
          if (a >= 0) wait = this.tokenReady(a, wait);
          if (b >= 0) wait = this.tokenReady(b, wait);
          if (wait > now) {
            this.wake[m] = wait;
            this.setCat(m, TOKEN_STALL, now);
            return;
          }
          if (a >= 0) this.pop(a, now);
          if (b >= 0) this.pop(b, now);
          this.started[m]++;
          this.signal = true;
          if (this.log) this.counter(m - 1, now, this.dispatched[m]! - this.started[m]!);
          this.issue[i] = now;
          this.setCat(m, BUSY, now);
          if (this.isMem[i]) {
            this.phase[m] = PH_PRE;
            if (this.memStep(m, i, now)) continue;
            return;
          }
          this.countUops(i);
          st[m] = S_RUN;
          this.wake[m] = now + this.dur[i]!;
          return;
        }
        case S_RUN: {
          if (this.wake[m]! > now) return;
          const i = this.cur[m]!;
          if (!this.isMem[i]) {
            this.finish(m, i, now);
            continue;
          }
          if (this.memStep(m, i, now)) continue;
          return;
        }
        case S_BUS: {
          if (this.wake[m]! > now) return;
          const i = this.cur[m]!;
          this.left[m] -= this.reqBeats[m]!;
          if (this.memStep(m, i, now)) continue;
          return;
        }
        case S_PUSH: {
          const i = this.cur[m]!;
          for (let s = this.pushSlot[m]!; s < 2; s++) {
            const q = this.pushes[2 * i + s]!;
            if (q < 0) break;
            if (this.tokCount[q]! >= this.t.tokenQueueDepth) {
              this.pushSlot[m] = s;
              this.wake[m] = INF;
              this.setCat(m, TOKEN_STALL, now);
              return;
            }
            this.push(q, now);
          }
          st[m] = S_IDLE;
          continue;
        }
        default: // S_BUS_WAIT, S_DONE
          return;
      }
    }
  }

  /**
   * Moves a memory instruction to its next step at `now`: padding cycles, a burst request, or
   * completion. Returns true when the instruction completed (the caller continues with the next).
   */
  private memStep(m: number, i: number, now: number): boolean {
    const t = this.t;
    for (;;) {
      switch (this.phase[m]) {
        case PH_PRE:
          this.phase[m] = PH_ROWS;
          this.row[m] = 0;
          this.left[m] = this.beatsPerRow[i]!;
          if (this.pre[i]! > 0) return this.runFor(m, now, this.pre[i]!);
          continue;
        case PH_ROWS: {
          if (this.row[m]! < this.rows[i]!) {
            const left = this.left[m]!;
            if (left > 0) {
              this.request(m, left < t.maxBurstBeats ? left : t.maxBurstBeats, now);
              return false;
            }
            this.row[m]++;
            this.left[m] = this.beatsPerRow[i]!;
            if (this.row[m]! < this.rows[i]! && this.between[i]! > 0) return this.runFor(m, now, this.between[i]!);
            continue;
          }
          this.phase[m] = PH_POST;
          if (this.post[i]! > 0) return this.runFor(m, now, this.post[i]!);
          continue;
        }
        case PH_POST:
          this.phase[m] = PH_END;
          this.finish(m, i, now);
          return true;
        default:
          throw new Error(`memory step of instruction ${i} after its end`);
      }
    }
  }

  private runFor(m: number, now: number, cycles: number): false {
    this.state[m] = S_RUN;
    this.wake[m] = now + cycles;
    this.setCat(m, BUSY, now);
    return false;
  }

  private finish(m: number, i: number, now: number): void {
    this.complete[i] = now;
    this.onComplete?.(i);
    this.pushSlot[m] = 0;
    this.state[m] = S_PUSH;
  }

  private countUops(i: number): void {
    const uops = this.uops[i]!;
    switch (this.op[i]) {
      case OP_GEMM:
        this.gemmUops += uops;
        if (!this.reset[i]) this.gemmMacUops += uops;
        return;
      case OP_ALU_IMM:
        this.aluUops += uops;
        this.aluUopCycles += uops * this.t.aluCyclesPerUopImm;
        return;
      case OP_ALU_TENSOR:
        this.aluUops += uops;
        this.aluUopCycles += uops * this.t.aluCyclesPerUopTensor;
        return;
    }
  }

  // ---- tokens ----

  /** The later of `wait` and the cycle the head token of `q` becomes visible; INF if there is none. */
  private tokenReady(q: number, wait: number): number {
    if (this.tokCount[q] === 0) return INF;
    const v = this.tokVisible[q]![this.tokHead[q]!]!;
    return v > wait ? v : wait;
  }

  private pop(q: number, now: number): void {
    this.tokHead[q] = (this.tokHead[q]! + 1) % this.t.tokenQueueDepth;
    this.tokCount[q]--;
    this.signal = true;
    if (this.log) this.counter(3 + q, now, this.tokCount[q]!);
  }

  private push(q: number, now: number): void {
    const depth = this.t.tokenQueueDepth;
    this.tokVisible[q]![(this.tokHead[q]! + this.tokCount[q]!) % depth] = now + this.t.tokenLatency;
    this.tokCount[q]++;
    this.signal = true;
    if (this.log) this.counter(3 + q, now, this.tokCount[q]!);
  }

  // ---- results ----

  private deadlock(m: number): DeadlockError {
    const i = this.cur[m]!;
    const st = this.state[m];
    if (m === FETCH) return new DeadlockError('fetch', this.dispatchNext, `${MODULE_NAMES[this.mod[this.dispatchNext]!]} command`, 'full');
    if (st === S_PUSH) return new DeadlockError(MODULE_NAMES[m]!, i, TOKEN_QUEUE_NAMES[this.pushes[2 * i + this.pushSlot[m]!]!]!, 'full');
    const q = this.pops[2 * i]! >= 0 && this.tokCount[this.pops[2 * i]!] === 0 ? this.pops[2 * i]! : this.pops[2 * i + 1]!;
    return new DeadlockError(MODULE_NAMES[m]!, st === S_POP ? i : this.modInsns[m]![this.started[m]!] ?? -1, q >= 0 ? TOKEN_QUEUE_NAMES[q]! : 'command', 'empty');
  }

  private result(): CycleResult {
    let cycles = 0;
    for (let m = 0; m < 4; m++) cycles = Math.max(cycles, this.doneAt[m]!);
    for (let m = 0; m < 4; m++) {
      this.acc[m * 4 + this.cat[m]!] += cycles - this.since[m]!;
      this.since[m] = cycles;
    }
    const stats = (m: number): CycleStats => ({
      busy: this.acc[m * 4 + BUSY]!,
      tokenStall: this.acc[m * 4 + TOKEN_STALL]!,
      busStall: this.acc[m * 4 + BUS_STALL]!,
      idle: this.acc[m * 4 + IDLE]!,
    });
    const peak = this.cfg.MACS_PER_UOP;
    const uopCycles = this.gemmUops * this.t.gemmCyclesPerUop;
    const macs = this.gemmMacUops * peak;
    const out: CycleResult = {
      cycles,
      modules: { fetch: stats(FETCH), load: stats(LOAD), compute: stats(COMPUTE), store: stats(STORE) },
      dispatch: this.dispatch,
      issue: this.issue,
      complete: this.complete,
      gemm: {
        uops: this.gemmUops,
        uopCycles,
        macs,
        utilization: cycles > 0 ? uopCycles / cycles : 0,
        macsPerCycle: cycles > 0 ? macs / cycles : 0,
        peakMacsPerCycle: peak,
      },
      alu: { uops: this.aluUops, uopCycles: this.aluUopCycles },
      bus: { requests: this.busRequests, beats: this.busBeats, busyCycles: this.busBusy, utilization: cycles > 0 ? this.busBusy / cycles : 0 },
      timing: this.t,
    };
    if (this.log) out.trace = this.log;
    return out;
  }
}
