/**
 * Turns planned instructions into dispatches and submissions. Consecutive instructions that are
 * independent (none writes what another reads or writes) share one `multi` dispatch; otherwise an
 * instruction with much work gets a wide dispatch of its own, and runs of small ones share one
 * `seq` dispatch (one workgroup that runs them in order with barriers between them). Records go to one storage buffer bound with a
 * dynamic offset, so a whole stream is encoded into few command buffers: one per chunk of
 * records, each preceded by the queue write that fills the buffer (queue order keeps a chunk's
 * write after the previous chunk's dispatches).
 */
import type { VtaConfig } from '../isa/config.ts';
import { WebGpuError } from './errors.ts';
import type { Gpu } from './gpu.ts';
import type { Access, PlannedInsn } from './plan.ts';
import { F, KINDS, MULTI_MAX, REC_BYTES, REC_WORDS, SEQ_MAX, SEQ_WG, shaderSource, WIDE_WG, type Kind } from './shaders.ts';

/** Bytes of records one submission carries. */
const CHUNK_BYTES = 1 << 21;
/** The binding's window: what one `seq` dispatch may read. */
const WINDOW_BYTES = (SEQ_MAX + 1) * REC_BYTES;

export interface SramBuffers {
  dram: GPUBuffer;
  inp: GPUBuffer;
  wgt: GPUBuffer;
  acc: GPUBuffer;
}

export interface SubmitStats {
  dispatches: number;
  submissions: number;
  /** Instructions that ran in `multi` dispatches, side by side with others. */
  merged: number;
}

export class Executor {
  private readonly recs: GPUBuffer;
  /** The micro-op words of the GEMM/ALU instructions of one submit, grown as needed. */
  private uops: GPUBuffer;
  private bindGroup: GPUBindGroup;
  private readonly align: number;
  private readonly maxGroups: number;

  private constructor(
    private readonly gpu: Gpu,
    private readonly pipelines: Record<Kind | 'seq' | 'multi', GPUComputePipeline>,
    private readonly layout: GPUBindGroupLayout,
    private readonly buffers: SramBuffers,
    /** Instructions with at least this much work (threads x serial iterations) get a wide dispatch. */
    private readonly wideWork: number,
  ) {
    const { device } = gpu;
    this.align = device.limits.minStorageBufferOffsetAlignment;
    this.maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    const usage = gpu.globals.GPUBufferUsage;
    this.recs = device.createBuffer({ label: 'vta records', size: CHUNK_BYTES + WINDOW_BYTES, usage: usage.STORAGE | usage.COPY_DST });
    this.uops = device.createBuffer({ label: 'vta micro-ops', size: 1 << 16, usage: usage.STORAGE | usage.COPY_DST });
    this.bindGroup = this.bind();
  }

  private bind(): GPUBindGroup {
    return this.gpu.device.createBindGroup({
      label: 'vta state',
      layout: this.layout,
      entries: [
        { binding: 0, resource: { buffer: this.recs, size: WINDOW_BYTES } },
        { binding: 1, resource: { buffer: this.buffers.dram } },
        { binding: 2, resource: { buffer: this.buffers.inp } },
        { binding: 3, resource: { buffer: this.buffers.wgt } },
        { binding: 4, resource: { buffer: this.buffers.acc } },
        { binding: 5, resource: { buffer: this.uops } },
      ],
    });
  }

  /** Writes every planned instruction's micro-op words to the `uops` buffer and points its record at them. */
  private placeUops(planned: readonly PlannedInsn[]): void {
    const total = planned.reduce((n, p) => n + (p.uops?.length ?? 0), 0);
    if (total === 0) return;
    if (total * 4 > this.uops.size) {
      // Work already submitted keeps the old buffer until it completes.
      this.uops.destroy();
      const usage = this.gpu.globals.GPUBufferUsage;
      this.uops = this.gpu.device.createBuffer({ label: 'vta micro-ops', size: 2 ** Math.ceil(Math.log2(total * 4)), usage: usage.STORAGE | usage.COPY_DST });
      this.bindGroup = this.bind();
    }
    const words = new Uint32Array(total);
    let at = 0;
    for (const p of planned) {
      if (!p.uops) continue;
      words.set(p.uops, at);
      p.rec[F.UOPS] = at;
      at += p.uops.length;
    }
    this.gpu.device.queue.writeBuffer(this.uops, 0, words);
  }

  static async create(gpu: Gpu, cfg: VtaConfig, buffers: SramBuffers, wideWork: number): Promise<Executor> {
    const { device } = gpu;
    const code = shaderSource(cfg, { packedDot: gpu.packedDot });
    const module = device.createShaderModule({ label: `vta ${cfg.fingerprint}`, code });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0) {
      throw new WebGpuError(`the VTA shaders did not compile for ${cfg.fingerprint}: ${errors.map((m) => `${m.lineNum}:${m.linePos} ${m.message}`).join('; ')}`);
    }
    const storage = (binding: number, type: GPUBufferBindingType, hasDynamicOffset = false): GPUBindGroupLayoutEntry => ({
      binding,
      visibility: 4 /* GPUShaderStage.COMPUTE */,
      buffer: { type, hasDynamicOffset },
    });
    const layout = device.createBindGroupLayout({
      label: 'vta state',
      entries: [storage(0, 'read-only-storage', true), ...[1, 2, 3, 4].map((b) => storage(b, 'storage')), storage(5, 'read-only-storage')],
    });
    const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [layout] });
    device.pushErrorScope('validation');
    const entries = [...KINDS, 'seq', 'multi'] as const;
    // Synchronous creation: createComputePipelineAsync crashes the process in webgpu 0.6.2 (Dawn for Node).
    const built = entries.map((entryPoint) => device.createComputePipeline({ label: entryPoint, layout: pipelineLayout, compute: { module, entryPoint } }));
    const err = await device.popErrorScope();
    if (err) throw new WebGpuError(`building the VTA pipelines failed: ${err.message}`);
    const pipelines = Object.fromEntries(entries.map((e, i) => [e, built[i]!])) as Record<Kind | 'seq' | 'multi', GPUComputePipeline>;
    return new Executor(gpu, pipelines, layout, buffers, wideWork);
  }

  /** Encodes and submits `planned` in order; resolves once submitted (not completed). */
  submit(planned: readonly PlannedInsn[], stats: SubmitStats): void {
    const { device } = this.gpu;
    this.placeUops(planned);
    // Each instruction takes at most its record, a group header and alignment padding.
    const words = new Uint32Array(Math.min(CHUNK_BYTES, (planned.length + 1) * (2 * REC_BYTES + this.align)) / 4);
    const alignWords = this.align / 4;
    const offsets = new Uint32Array(planned.length + 1);
    type Dispatch = { pipeline: GPUComputePipeline; offset: number; x: number; y: number };
    let dispatches: Dispatch[] = [];
    let used = 0; // words of `words` in use
    const flush = () => {
      if (dispatches.length === 0) return;
      device.queue.writeBuffer(this.recs, 0, words.buffer, 0, used * 4);
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass();
      let current: GPUComputePipeline | null = null;
      // Each call crosses into Dawn: skip those that change nothing, and pass offsets without
      // building an array per dispatch.
      dispatches.forEach((d, i) => (offsets[i] = d.offset));
      dispatches.forEach((d, i) => {
        if (d.pipeline !== current) pass.setPipeline((current = d.pipeline));
        pass.setBindGroup(0, this.bindGroup, offsets, i, 1);
        pass.dispatchWorkgroups(d.x, d.y);
      });
      pass.end();
      device.queue.submit([enc.finish()]);
      stats.dispatches += dispatches.length;
      stats.submissions++;
      dispatches = [];
      used = 0;
    };
    /** Reserves `n` records at an aligned offset, flushing the chunk when they do not fit. */
    const reserve = (n: number): number => {
      let at = Math.ceil(used / alignWords) * alignWords;
      if (at + n * REC_WORDS > words.length) {
        flush();
        at = 0;
      }
      used = at + n * REC_WORDS;
      return at;
    };
    let seq: PlannedInsn[] = [];
    const endSeq = () => {
      if (seq.length === 0) return;
      const at = reserve(seq.length + 1);
      words[at] = seq.length;
      seq.forEach((p, i) => words.set(p.rec, at + (i + 1) * REC_WORDS));
      dispatches.push({ pipeline: this.pipelines.seq, offset: at * 4, x: 1, y: 1 });
      seq = [];
    };
    const wide = (pipeline: GPUComputePipeline, at: number, threads: number) => {
      const groups = Math.ceil(threads / WIDE_WG);
      const x = Math.min(groups, this.maxGroups);
      dispatches.push({ pipeline, offset: at * 4, x, y: Math.ceil(groups / x) });
    };
    let batch: PlannedInsn[] = [];
    let touched: Access[] = [];
    const endBatch = () => {
      if (batch.length === 1) {
        const p = batch[0]!;
        if (p.threads * p.serial < this.wideWork && p.threads <= SEQ_WG * 64) {
          seq.push(p);
          if (seq.length === SEQ_MAX) endSeq();
        } else {
          endSeq();
          const at = reserve(1);
          words.set(p.rec, at);
          wide(this.pipelines[p.kind], at, p.threads);
        }
      } else if (batch.length > 1) {
        endSeq();
        const at = reserve(batch.length + 1);
        words[at] = batch.length;
        let first = 0;
        batch.forEach((p, i) => {
          words[at + 1 + i] = first;
          first += p.threads;
          words.set(p.rec, at + (i + 1) * REC_WORDS);
        });
        words[at + 1 + batch.length] = first;
        wide(this.pipelines.multi, at, first);
        stats.merged += batch.length;
      }
      batch = [];
      touched = [];
    };
    const independent = (p: PlannedInsn) =>
      p.accesses.every((a) => touched.every((b) => a.buf !== b.buf || !(a.write || b.write) || a.hi <= b.lo || b.hi <= a.lo));
    for (const p of planned) {
      if (batch.length === MULTI_MAX || !independent(p)) endBatch();
      batch.push(p);
      touched.push(...p.accesses);
    }
    endBatch();
    endSeq();
    flush();
  }

  destroy(): void {
    this.recs.destroy();
    this.uops.destroy();
  }
}
