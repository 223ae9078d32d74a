/**
 * The intelfocl target on this machine's OpenCL platform (POCL here): core build + calibration
 * time, GEMM throughput on full 16x16 tiles, ALU and load throughput, host overhead on long
 * streams, the round trip of a tiny program, and whole compiled models (ResNet-18's QDQ model,
 * digits_cnn) through the runtime. Kernel times come from OpenCL profiling; wall times are of
 * `run()` (validation included). The functional simulator runs the same programs through the
 * same driver interface as the reference.
 */
import { preset } from '../isa/config.ts';
import { assemble } from '../isa/asm.ts';
import { encodeProgram } from '../isa/codec.ts';
import type { ProgramImage } from '../isa/image.ts';
import { IntelFoclDriver } from '../hw-opencl/driver.ts';
import type { DeviceDriver } from '../isa/device.ts';
import { createSimDriver } from '../sim/driver.ts';
import { lowerLayer, placeBuffers, relocate, ScheduleCache, uopBytes, withFinish, type Layer } from '../compiler/lower/index.ts';
import type { Insn } from '../isa/types.ts';
import type { VtaConfig } from '../isa/config.ts';
import { VtaError } from '../isa/errors.ts';
import { compileResnet18, modelInput, sameBytes, timeInference } from './models.ts';
import { readFileSync } from 'node:fs';
import { encodeModel } from '../compiler/artifact/format.ts';
import { compileOnnx } from '../compiler/compile.ts';
import { splitSamples } from '../compiler/quant/calibrate.ts';
import { readNpy } from '../compiler/tensor/npy.ts';
import type { Tensor } from '../compiler/tensor/tensor.ts';
import { createRuntime } from '../runtime/index.ts';
import { timeBest, type BenchRow, type BenchSuite } from './harness.ts';
import { modelFile } from '../test/data/index.ts';

const cfg = preset('default');

const ints = (n: number, seed: number) => {
  const out: number[] = [];
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push((s >>> 24) - 128);
  }
  return out.join(' ');
};

/** Loads full input/weight buffers once, then `gemms` GEMMs of 256 micro-ops x 64 x 16 iterations. */
function gemmProgram(gemms: number): string {
  const uops = Array.from({ length: 256 }, (_, i) => `${i},${(i * 7) % cfg.INP_DEPTH},${(i * 3) % cfg.WGT_DEPTH}`).join(' ');
  const lines = [
    `.data x i8 ${ints(cfg.INP_DEPTH * cfg.INP_ELEM_BYTES, 1)}`,
    `.data w i8 ${ints(cfg.WGT_DEPTH * cfg.WGT_ELEM_BYTES, 2)}`,
    `.uops k ${uops}`,
    `.zero y i8 ${cfg.ACC_DEPTH * cfg.OUT_ELEM_BYTES}`,
    'load uop sram_base=0 dram_base=k y_size=1 x_size=256 x_stride=256',
    `load inp sram_base=0 dram_base=x y_size=1 x_size=${cfg.INP_DEPTH} x_stride=${cfg.INP_DEPTH}`,
    `load wgt sram_base=0 dram_base=w y_size=1 x_size=${cfg.WGT_DEPTH} x_stride=${cfg.WGT_DEPTH} push_next_dep`,
    'gemm reset_reg uop_bgn=0 uop_end=256 iter_out=8 iter_in=1 dst_factor_out=256 pop_prev_dep',
  ];
  for (let g = 0; g < gemms; g++) {
    lines.push('gemm uop_bgn=0 uop_end=256 iter_out=64 iter_in=16 dst_factor_out=1 src_factor_out=1 src_factor_in=3 wgt_factor_out=1 wgt_factor_in=2');
  }
  lines.push('alu shr uop_bgn=0 uop_end=256 iter_out=8 iter_in=1 dst_factor_out=256 use_imm imm=8 push_next_dep');
  lines.push(`store out sram_base=0 dram_base=y y_size=1 x_size=${cfg.ACC_DEPTH} x_stride=${cfg.ACC_DEPTH} pop_prev_dep push_prev_dep`);
  lines.push('finish pop_next_dep');
  return lines.join('\n');
}

/** `n` immediate ALU instructions over the whole accumulator. */
function aluProgram(n: number): string {
  const lines = ['.uops k 0,0,0', 'load uop sram_base=0 dram_base=k y_size=1 x_size=1 x_stride=1'];
  for (let i = 0; i < n; i++) lines.push(`alu add uop_bgn=0 uop_end=1 iter_out=${cfg.ACC_DEPTH} iter_in=1 dst_factor_out=1 use_imm imm=${i}`);
  lines.push('finish');
  return lines.join('\n');
}

/** `n` full weight-buffer loads. */
function loadProgram(n: number): string {
  const lines = [`.data w i8 ${ints(cfg.WGT_DEPTH * cfg.WGT_ELEM_BYTES, 3)}`];
  for (let i = 0; i < n; i++) lines.push(`load wgt sram_base=0 dram_base=w y_size=1 x_size=${cfg.WGT_DEPTH} x_stride=${cfg.WGT_DEPTH}${i === n - 1 ? ' push_next_dep' : ''}`);
  lines.push('finish pop_prev_dep');
  return lines.join('\n');
}

/** `n` small load-and-GEMM steps: a long stream whose host-side validation dominates. */
function longStream(n: number): string {
  const lines = ['.uops u 0,0,0 1,1,1', `.data x i8 ${ints(cfg.INP_ELEM_BYTES, 4)}`];
  for (let i = 0; i < n; i++) {
    lines.push('load uop sram_base=0 dram_base=u y_size=1 x_size=2 x_stride=2');
    lines.push('load inp sram_base=0 dram_base=x y_size=1 x_size=1 x_stride=1 push_next_dep');
    lines.push('gemm uop_bgn=0 uop_end=2 iter_out=4 iter_in=4 pop_prev_dep');
  }
  lines.push('finish');
  return lines.join('\n');
}

/**
 * Layers lowered by compiler/lower (schedule search `none`) as one program image: every buffer
 * placed one after another and filled with seeded random bytes (micro-op tables with the real
 * micro-ops), the relocated streams concatenated with one FINISH, as the runtime runs them.
 */
export function loweredImage(cfg: VtaConfig, layers: readonly Layer[], seed: number): ProgramImage {
  const cache = new ScheduleCache();
  const segments: ProgramImage['segments'] = [];
  const insns: Insn[] = [];
  let at = 0;
  let s = seed >>> 0;
  for (const layer of layers) {
    const { lowered } = lowerLayer(cfg, layer, { tune: 'none', cache });
    const placed = placeBuffers(cfg, lowered, at);
    at = placed.end;
    for (const [name, base] of Object.entries(placed.bases)) {
      const bytes =
        name === 'uops'
          ? uopBytes(cfg, lowered)
          : Uint8Array.from({ length: lowered.buffers[name as keyof typeof lowered.buffers]! }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24);
      segments.push({ name: `${layer.name}.${name}`, kind: name === 'uops' ? 'uops' : 'data', dtype: 'i8', addr: base, bytes });
    }
    insns.push(...relocate(cfg, lowered, placed.bases));
  }
  const insnAddr = Math.ceil(at / 256) * 256;
  const stream = withFinish(insns);
  return { fingerprint: cfg.fingerprint, insns: stream, segments, memBytes: insnAddr + stream.length * 16, insnAddr };
}

const modelNpy = (name: string) => readNpy(readFileSync(modelFile(name)), name);
const DIGITS_SHAPE = [1, 1, 16, 16];

/** digits_cnn (float) compiled for VTA: calibrated on 32 of its calibration images, lowered, emitted. */
export function compileDigitsCnn(cfg: VtaConfig): Uint8Array {
  const calibration = splitSamples(modelNpy('digits_calib_x.npy'), DIGITS_SHAPE).slice(0, 32);
  const compiled = compileOnnx(modelFile('digits_cnn.onnx'), { config: cfg, target: 'intelfocl', calibration, cycles: 'skip' });
  return encodeModel(compiled.model);
}

/** The first `n` held-out digits images and their labels. */
export function digitsTestSet(n: number): { images: Tensor[]; labels: number[] } {
  const images = splitSamples(modelNpy('digits_test_x.npy'), DIGITS_SHAPE).slice(0, n);
  const labels = Array.from(modelNpy('digits_test_y.npy').data as BigInt64Array, Number).slice(0, n);
  return { images, labels };
}

export function argmax(t: Tensor): number {
  const d = t.data as Float32Array;
  let best = 0;
  for (let i = 1; i < d.length; i++) if (d[i]! > d[best]!) best = i;
  return best;
}

async function load(drv: DeviceDriver, image: ProgramImage): Promise<void> {
  for (const s of image.segments) await drv.write(s.addr, s.bytes);
  await drv.write(image.insnAddr, encodeProgram(cfg, image.insns));
}

export const openclSuite: BenchSuite = {
  name: 'opencl',
  async run({ quick, log }) {
    const repeat = quick ? 1 : 3;
    const t0 = performance.now();
    const drv = await IntelFoclDriver.open({ config: cfg, memBytes: 16 << 20 });
    const sim = await createSimDriver({ config: cfg, memBytes: 16 << 20 });
    /** Best wall time of `run()` of an image on the simulator. */
    const simWall = async (image: ProgramImage) => {
      await load(sim, image);
      return timeBest(() => sim.run(image.insnAddr, image.insns.length, { timeoutMs: 600_000 }), repeat);
    };
    const openMs = performance.now() - t0;
    const device = drv.platform.deviceName;
    log(`device: ${device} on ${drv.platform.platformName}`);
    const rows: BenchRow[] = [
      { suite: 'opencl', name: 'open: build core + calibrate', value: openMs, unit: 'ms', note: 'POCL kernel cache warm after the first build' },
    ];
    try {
      // Each measurement keeps the fastest kernel time over `repeat` runs.
      const measure = async (text: string, name: string) => {
        const image = assemble(cfg, text, name);
        await load(drv, image);
        let bestNs = Infinity;
        let counters: Record<string, number> = {};
        const wall = await timeBest(async () => {
          const r = await drv.run(image.insnAddr, image.insns.length, { timeoutMs: 600_000 });
          counters = r.counters;
          bestNs = Math.min(bestNs, r.counters.kernel_ns ?? Infinity);
        }, repeat);
        return { ns: bestNs, wall, counters };
      };

      const gemms = quick ? 4 : 16;
      const gemmImage = assemble(cfg, gemmProgram(gemms), 'gemm.s');
      const g = await measure(gemmProgram(gemms), 'gemm.s');
      const macs = g.counters.gemm_counter! * cfg.MACS_PER_UOP;
      rows.push({
        suite: 'opencl',
        name: 'GEMM MAC rate, wall time of run()',
        value: macs / g.wall,
        unit: 'MAC/s',
        reference: { label: 'sim (functional simulator)', value: macs / (await simWall(gemmImage)), unit: 'MAC/s' },
      });
      rows.push({ suite: 'opencl', name: `GEMM ${gemms}x262144 full-tile uops: MAC rate`, value: macs / (g.ns / 1e9), unit: 'MAC/s', note: `${device}; kernel time` });
      rows.push({ suite: 'opencl', name: 'GEMM micro-op rate', value: g.counters.gemm_counter! / (g.ns / 1e9), unit: 'uop/s', note: `wall incl. validation: ${(g.wall * 1e3).toFixed(1)} ms` });
      rows.push({
        suite: 'opencl',
        name: 'GEMM MAC rate vs the FPGA design point',
        value: macs / (g.ns / 1e9),
        unit: 'MAC/s',
        reference: {
          label: `${cfg.MACS_PER_UOP} MAC/cycle at the intelfocl preset's ${preset('intelfocl').CLOCK_MHZ} MHz`,
          value: cfg.MACS_PER_UOP * preset('intelfocl').CLOCK_MHZ * 1e6,
          unit: 'MAC/s',
        },
      });

      const alus = quick ? 16 : 64;
      const a = await measure(aluProgram(alus), 'alu.s');
      rows.push({ suite: 'opencl', name: 'ALU immediate micro-op rate', value: a.counters.alu_counter! / (a.ns / 1e9), unit: 'uop/s', note: device });

      const loads = quick ? 4 : 16;
      const l = await measure(loadProgram(loads), 'loadwgt.s');
      rows.push({ suite: 'opencl', name: 'WGT load bandwidth (DRAM -> on-chip)', value: l.counters.wgt_load_nbytes! / (l.ns / 1e9), unit: 'B/s', note: device });

      const steps = quick ? 1000 : 5000;
      const long = assemble(cfg, longStream(steps), 'long.s');
      await load(drv, long);
      const runLong = () => drv.run(long.insnAddr, long.insns.length, { timeoutMs: 600_000 });
      const t1 = performance.now();
      const first = await runLong();
      const firstMs = performance.now() - t1;
      const again = await timeBest(runLong, repeat);
      rows.push({
        suite: 'opencl',
        name: `${long.insns.length}-instruction stream: first run (validated)`,
        value: firstMs,
        unit: 'ms',
        note: `kernel ${((first.counters.kernel_ns ?? 0) / 1e6).toFixed(1)} ms`,
      });
      rows.push({
        suite: 'opencl',
        name: `${long.insns.length}-instruction stream: repeated run (validation cached)`,
        value: again * 1e3,
        unit: 'ms',
        reference: { label: 'sim', value: (await simWall(long)) * 1e3, unit: 'ms' },
      });

      // The whole compiled ResNet-18 (the QDQ model) through the runtime on both targets: one
      // device run plus the CPU operators at its edges, per inference.
      log('resnet18_int8_qdq: compiling');
      const rn = compileResnet18('resnet18_int8_qdq', 'intelfocl');
      const rnX = modelInput('resnet18_int8_qdq');
      const rnOcl = await timeInference('intelfocl', rn, 'resnet18_int8_qdq', rnX, repeat);
      const rnSim = await timeInference('sim', rn, 'resnet18_int8_qdq', rnX, repeat);
      if (!sameBytes(rnOcl.output, rnSim.output)) {
        throw new VtaError('VTA_BENCH', 'resnet18_int8_qdq: intelfocl and sim outputs differ');
      }
      rows.push({
        suite: 'opencl',
        name: 'resnet18_int8_qdq inference through the runtime (whole compiled model)',
        value: rnOcl.seconds,
        unit: 's/image',
        reference: { label: 'sim (functional simulator)', value: rnSim.seconds, unit: 's/image' },
        note: `${rnOcl.profile.deviceRuns} device run(s), kernel ${((rnOcl.profile.counters.kernel_ns ?? 0) / 1e9).toFixed(2)} s; outputs identical`,
      });

      // digits_cnn end to end through the runtime (CPU operators included), on both targets.
      const digits = compileDigitsCnn(cfg);
      const { images, labels } = digitsTestSet(quick ? 20 : 397);
      const perTarget: Record<string, { ms: number; correct: number }> = {};
      for (const target of ['intelfocl', 'sim'] as const) {
        const rt = await createRuntime({ target, memBytes: 64 << 20 });
        try {
          const m = await rt.load(digits, 'digits_cnn');
          const input = m.inputs[0]!.name;
          await m.run({ [input]: images[0]! });
          let correct = 0;
          const t2 = performance.now();
          for (const [i, x] of images.entries()) if (argmax(Object.values(await m.run({ [input]: x }))[0]!) === labels[i]) correct++;
          perTarget[target] = { ms: (performance.now() - t2) / images.length, correct };
        } finally {
          await rt.close();
        }
      }
      rows.push({
        suite: 'opencl',
        name: 'digits_cnn inference through the runtime',
        value: perTarget.intelfocl!.ms,
        unit: 'ms/image',
        reference: { label: 'sim', value: perTarget.sim!.ms, unit: 'ms/image' },
      });
      rows.push({
        suite: 'opencl',
        name: `digits_cnn accuracy on ${images.length} held-out images`,
        value: perTarget.intelfocl!.correct / images.length,
        unit: 'ratio',
        reference: { label: 'sim', value: perTarget.sim!.correct / images.length, unit: 'ratio' },
        note: 'float model 99.75 % (shared/README)',
      });

      const tiny = await measure('.uops k 0,0,0\nload uop sram_base=0 dram_base=k y_size=1 x_size=1 x_stride=1\nfinish', 'tiny.s');
      rows.push({ suite: 'opencl', name: 'round trip of a 2-instruction run', value: tiny.wall * 1e3, unit: 'ms', note: 'validate + launch + status read' });
    } finally {
      await drv.close();
      await sim.close();
    }
    return rows;
  },
};
