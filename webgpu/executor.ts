/**
 * Turns a schedule (schedule.ts) into GPU work. `prepare` writes the schedule's records and
 * micro-op words into buffers of its own, once: a level is one dispatch of the `run` entry point
 * (more where its records do not fit one window), and each dispatch reads its window of records
 * through a dynamic offset. `run` then only encodes the dispatches into one command buffer and
 * submits it, so running a kept schedule again (the next inference) costs a few microseconds of
 * host time per level.
 */
import type { VtaConfig } from '../isa/config.ts';
import { WebGpuError } from './errors.ts';
import type { Gpu } from './gpu.ts';
import type { Schedule, Unit } from './schedule.ts';
import { F, headerWords, KIND_CODE, KINDS, REC_WORDS, shaderSource, WG, WINDOW_RECS } from './shaders.ts';

const WINDOW_BYTES = WINDOW_RECS * REC_WORDS * 4;
/** A part of a prepared schedule gets no more record or micro-op bytes than this (so bindings stay small). */
const PART_BYTES = 1 << 24;

export interface SramBuffers {
  dram: GPUBuffer;
  inp: GPUBuffer;
  wgt: GPUBuffer;
  acc: GPUBuffer;
}

export interface SubmitStats {
  dispatches: number;
  submissions: number;
  /** Levels of the schedules run. */
  levels: number;
  /** GEMM/ALU instructions fused into a unit started by an earlier one. */
  fused: number;
  /** `copy` units (gathering SRAM elements into one copy). */
  copies: number;
}

/** A schedule whose records and micro-ops are on the GPU. */
export interface Prepared {
  parts: { recs: GPUBuffer; uops: GPUBuffer; bind: GPUBindGroup }[];
  /** Per dispatch: part, byte offset of its window, workgroups x and y . */
  dispatches: Uint32Array;
  /** Per dispatch: its pipeline. */
  pipelines: GPUComputePipeline[];
  levels: number;
  fused: number;
  copies: number;
}

export class Executor {
  private readonly align: number;
  private readonly maxGroups: number;
  private readonly pipelines: GPUComputePipeline[] = [];

  private constructor(
    private readonly gpu: Gpu,
    private readonly module: GPUShaderModule,
    private readonly pipelineLayout: GPUPipelineLayout,
    private readonly layout: GPUBindGroupLayout,
    private readonly buffers: SramBuffers,
  ) {
    this.align = gpu.device.limits.minStorageBufferOffsetAlignment;
    this.maxGroups = gpu.device.limits.maxComputeWorkgroupsPerDimension;
  }

  static async create(gpu: Gpu, cfg: VtaConfig, buffers: SramBuffers): Promise<Executor> {
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
    const executor = new Executor(gpu, module, pipelineLayout, layout, buffers);
    device.pushErrorScope('validation');
    executor.pipeline(2 ** KINDS.length - 1);
    const err = await device.popErrorScope();
    if (err) throw new WebGpuError(`building the VTA pipeline failed: ${err.message}`);
    return executor;
  }

  /** The pipeline for dispatches holding the kinds in `mask` (bit i: KINDS[i]), built on first use. */
  private pipeline(mask: number): GPUComputePipeline {
    let p = this.pipelines[mask];
    if (!p) {
      // Synchronous creation: createComputePipelineAsync crashes the process in webgpu 0.6.2 (Dawn for Node).
      p = this.gpu.device.createComputePipeline({
        label: `vta run ${mask}`,
        layout: this.pipelineLayout,
        compute: { module: this.module, entryPoint: 'run', constants: { KINDS: mask } },
      });
      this.pipelines[mask] = p;
    }
    return p;
  }

  /** Writes `schedule`'s records and micro-op words to new GPU buffers. */
  prepare(schedule: Schedule): Prepared {
    const alignWords = this.align / 4;
    type Window = { units: Unit[]; members: number; uops: number };
    const headRecs = (w: Window) => Math.ceil(headerWords(w.units.length) / REC_WORDS);
    /** A window's words: its header and records, padded to the offset alignment. */
    const windowWords = (w: Window) => Math.ceil(((headRecs(w) + w.members) * REC_WORDS) / alignWords) * alignWords;
    // Dispatch windows: each level's units, split where they would not fit one window.
    const windows: Window[] = [];
    for (const level of schedule.levels) {
      let w: Window | null = null;
      for (const u of level) {
        if (w && Math.ceil(headerWords(w.units.length + 1) / REC_WORDS) + w.members + u.members.length > WINDOW_RECS) w = null;
        if (!w) windows.push((w = { units: [], members: 0, uops: 0 }));
        w.units.push(u);
        w.members += u.members.length;
        w.uops += u.members.reduce((n, p) => n + (p.uops?.length ?? 0), 0);
      }
    }
    // Parts: consecutive windows whose records and micro-ops stay under PART_BYTES.
    const partsOf: Window[][] = [];
    let recBytes = 0;
    let uopBytes = 0;
    for (const w of windows) {
      const r = windowWords(w) * 4;
      if (partsOf.length === 0 || recBytes + r > PART_BYTES || uopBytes + w.uops * 4 > PART_BYTES) {
        partsOf.push([]);
        recBytes = 0;
        uopBytes = 0;
      }
      partsOf[partsOf.length - 1]!.push(w);
      recBytes += r;
      uopBytes += w.uops * 4;
    }
    const dispatches = new Uint32Array(windows.length * 4);
    const pipelines: GPUComputePipeline[] = [];
    let d = 0;
    const parts = partsOf.map((ws, part) => {
      const recWords = ws.reduce((n, w) => n + windowWords(w), 0);
      const uopWords = Math.max(1, ws.reduce((n, w) => n + w.uops, 0));
      const usage = this.gpu.globals.GPUBufferUsage;
      // The last window's binding reaches WINDOW_BYTES past its offset.
      const recs = this.gpu.device.createBuffer({ label: 'vta records', size: recWords * 4 + WINDOW_BYTES, usage: usage.STORAGE, mappedAtCreation: true });
      const uops = this.gpu.device.createBuffer({ label: 'vta micro-ops', size: uopWords * 4, usage: usage.STORAGE, mappedAtCreation: true });
      const words = new Uint32Array(recs.getMappedRange());
      const uopArr = new Uint32Array(uops.getMappedRange());
      let at = 0;
      let u = 0;
      for (const w of ws) {
        const m = w.units.length;
        words[at] = m;
        let thread = 0;
        let rec = headRecs(w);
        let mask = 0;
        w.units.forEach((unit, i) => {
          words[at + 1 + i] = thread;
          thread += unit.threads;
          words[at + m + 2 + 2 * i] = rec;
          words[at + m + 3 + 2 * i] = unit.members.length;
          for (const p of unit.members) {
            mask |= 1 << KIND_CODE[p.kind];
            const r = at + rec++ * REC_WORDS;
            words.set(p.rec, r);
            if (p.uops) {
              uopArr.set(p.uops, u);
              words[r + F.UOPS] = u;
              u += p.uops.length;
            }
          }
        });
        words[at + 1 + m] = thread;
        const groups = Math.ceil(thread / WG);
        const x = Math.min(groups, this.maxGroups);
        dispatches.set([part, at * 4, x, Math.ceil(groups / x)], 4 * d++);
        pipelines.push(this.pipeline(mask));
        at += windowWords(w);
      }
      recs.unmap();
      uops.unmap();
      return { recs, uops, bind: this.bind(recs, uops) };
    });
    return { parts, dispatches, pipelines, levels: schedule.levels.length, fused: schedule.fused, copies: schedule.copies };
  }

  /** Encodes and submits a prepared schedule; returns once submitted (not completed). */
  run(prepared: Prepared, stats: SubmitStats): void {
    const { device } = this.gpu;
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    const { dispatches, parts, pipelines } = prepared;
    let current: GPUComputePipeline | null = null;
    // Each call crosses into Dawn: skip those that change nothing, and pass the offset without
    // building an array per dispatch.
    for (let i = 0; i < dispatches.length; i += 4) {
      const pipeline = pipelines[i / 4]!;
      if (pipeline !== current) pass.setPipeline((current = pipeline));
      pass.setBindGroup(0, parts[dispatches[i]!]!.bind, dispatches, i + 1, 1);
      pass.dispatchWorkgroups(dispatches[i + 2]!, dispatches[i + 3]!);
    }
    pass.end();
    device.queue.submit([enc.finish()]);
    stats.dispatches += dispatches.length / 4;
    stats.submissions++;
    stats.levels += prepared.levels;
    stats.fused += prepared.fused;
    stats.copies += prepared.copies;
  }

  /** Frees a prepared schedule's buffers (work already submitted keeps them until it completes). */
  release(prepared: Prepared): void {
    for (const p of prepared.parts) {
      p.recs.destroy();
      p.uops.destroy();
    }
  }

  private bind(recs: GPUBuffer, uops: GPUBuffer): GPUBindGroup {
    return this.gpu.device.createBindGroup({
      label: 'vta state',
      layout: this.layout,
      entries: [
        { binding: 0, resource: { buffer: recs, size: WINDOW_BYTES } },
        { binding: 1, resource: { buffer: this.buffers.dram } },
        { binding: 2, resource: { buffer: this.buffers.inp } },
        { binding: 3, resource: { buffer: this.buffers.wgt } },
        { binding: 4, resource: { buffer: this.buffers.acc } },
        { binding: 5, resource: { buffer: uops } },
      ],
    });
  }
}
