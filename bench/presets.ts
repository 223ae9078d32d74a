/**
 * One table per configuration preset (isa/presets/): ResNet-18's VTA part (bench/lower.ts's
 * layer1..layer4 convs, one stream) on the cycle-level simulator under the calibrated timing,
 * untuned and after `--tune quick`: cycles, GEMM utilization (MACs / (cycles x BATCH x BLOCK^2)),
 * images per second of that part at 200 MHz, and the speed-up over the default preset; plus the
 * yosys size estimate of the Chisel core where hw-chisel generates one for the preset.
 *
 * `node --import tsx bench/presets.ts [--quick]` prints the table alone (--quick: untuned only).
 */
import { PRESET_NAMES, preset, type PresetName } from '../isa/config.ts';
import { DEFAULT_TIMING, timingName } from '../sim/cycle/timing.ts';
import type { TuneLevel } from '../compiler/lower/index.ts';
import { synthStats } from './chisel.ts';
import { formatNumber, type BenchRow, type BenchSuite } from './harness.ts';
import { runResnet } from './lower.ts';

const SUITE = 'presets';
const CLOCK_MHZ = 200;
/** The issue's goals: GEMM utilization on the default preset, and the 1x32x32 speed-up. */
const GOAL_TUNED = 0.85;
const GOAL_UNTUNED = 0.7;
const GOAL_SPEEDUP_32 = 3.5;
/** The Chisel core's memory port (hw-chisel/src/main/scala/vta/Core.scala busBits). */
const CHISEL_BUS_BITS = 64;

interface PresetFigures {
  name: PresetName;
  cycles: Partial<Record<TuneLevel, number>>;
  utilization: Partial<Record<TuneLevel, number>>;
}

function measure(name: PresetName, tunes: readonly TuneLevel[]): PresetFigures {
  const cfg = preset(name);
  const out: PresetFigures = { name, cycles: {}, utilization: {} };
  for (const tune of tunes) {
    const { layers, chained } = runResnet(cfg, tune);
    const macs = layers.reduce((n, f) => n + f.macs, 0);
    out.cycles[tune] = chained.cycles;
    out.utilization[tune] = macs / cfg.MACS_PER_UOP / chained.cycles;
  }
  return out;
}

/** The yosys estimate of the Chisel core for the preset, or why there is none. */
function yosys(name: PresetName, log: (msg: string) => void): { stats?: Record<string, number>; why?: string } {
  const cfg = preset(name);
  if (cfg.BUS_WIDTH !== CHISEL_BUS_BITS) return { why: `no Chisel core: its memory port is ${CHISEL_BUS_BITS}-bit, this preset's bus ${cfg.BUS_WIDTH}-bit` };
  if (name !== 'default') return { why: 'estimated for the default core only (yosys on a 1x32x32 core ran past 15 min here)' };
  try {
    return { stats: synthStats(log) };
  } catch (e) {
    return { why: `yosys: ${(e as Error).message.split('\n')[0]}` };
  }
}

export function presetRows(quick: boolean, log: (msg: string) => void): BenchRow[] {
  const tunes: TuneLevel[] = quick ? ['none'] : ['none', 'quick'];
  const figures = PRESET_NAMES.map((name) => {
    log(`${name}: ResNet-18 layer1-4 (${tunes.join(', ')})`);
    return measure(name, tunes);
  });
  const base = figures.find((f) => f.name === 'default')!;
  const rows: BenchRow[] = [];
  for (const f of figures) {
    const cfg = preset(f.name);
    const row = (what: string, value: number, unit: string, extra: Partial<BenchRow> = {}) => rows.push({ suite: SUITE, name: `${f.name} ${what}`, value, unit, ...extra });
    for (const tune of tunes) {
      const cycles = f.cycles[tune]!;
      const util = f.utilization[tune]!;
      const speedup = base.cycles[tune]! / cycles;
      const goal = f.name === 'default' ? (tune === 'none' ? GOAL_UNTUNED : GOAL_TUNED) : undefined;
      row(`resnet18 layer1-4 cycles (tune ${tune})`, cycles, 'cycles', {
        note: `${cfg.fingerprint}, ${cfg.BUS_WIDTH}-bit bus, ${timingName(DEFAULT_TIMING)} timing; ${speedup.toFixed(2)}x fewer than default${f.name === '1x32x32' ? ` (goal >= ${GOAL_SPEEDUP_32}x)` : ''}`,
      });
      row(`resnet18 layer1-4 GEMM utilization (tune ${tune})`, util, 'ratio', goal === undefined ? {} : { reference: { label: 'goal', value: goal, unit: 'ratio' } });
      row(`resnet18 layer1-4 images/s at ${CLOCK_MHZ} MHz (tune ${tune})`, (CLOCK_MHZ * 1e6) / cycles, 'images/s', { note: 'the VTA part alone' });
    }
    const y = yosys(f.name, log);
    if (y.stats) {
      for (const [k, v] of Object.entries(y.stats)) row(`yosys ${k}`, v, k === 'memoryBits' || k === 'flipFlops' ? 'bits' : 'count', { note: 'hw-chisel/synth.ys: word-level, memories kept' });
    } else row('yosys estimate', NaN, '-', { note: y.why! });
  }
  return rows;
}

export const presetsSuite: BenchSuite = {
  name: SUITE,
  async run({ quick, log }) {
    return presetRows(quick, log);
  },
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = presetRows(process.argv.includes('--quick'), (m) => console.error(m));
  for (const r of rows) console.log(`${r.name.padEnd(58)} ${(r.unit === 'ratio' ? `${(r.value * 100).toFixed(1)}%` : Number.isNaN(r.value) ? '-' : formatNumber(r.value)).padStart(12)} ${r.unit === 'ratio' ? '' : r.unit}${r.note ? `  ${r.note}` : ''}`);
}
