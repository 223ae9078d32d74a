/**
 * The quick start's main job: compile the bundled digits CNN (examples/digits/) for VTA, calibrating
 * it on the bundled images, load the compiled model with the runtime, classify the bundled test
 * images on the functional simulator, and print the compile summary, the predictions, the accuracy
 * and the profile of one inference.
 *
 *   node --import tsx examples/quickstart.ts [--target sim|cyclesim]
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runCli } from '../isa/cli/common.ts';
import { encodeModel } from '../compiler/artifact/format.ts';
import { compileOnnx, formatReport } from '../compiler/compile.ts';
import { splitSamples } from '../compiler/quant/calibrate.ts';
import { readNpy } from '../compiler/tensor/npy.ts';
import { createRuntime } from '../runtime/index.ts';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

await runCli(async () => {
  const argv = yargs(hideBin(process.argv))
    .scriptName('quickstart')
    .option('target', { choices: ['sim', 'cyclesim'] as const, default: 'sim' as const, describe: 'the simulator to run on' })
    .strict()
    .help()
    .parseSync();

  const onnx = here('./digits/digits_cnn.onnx');
  const t0 = performance.now();
  const { model, report } = compileOnnx(onnx, { target: argv.target, calibration: here('./digits/calib_x.npy') });
  console.log(formatReport({ ...report, model: 'examples/digits/digits_cnn.onnx' }));
  mkdirSync(here('../build'), { recursive: true });
  const file = here('../build/digits_cnn.vta');
  writeFileSync(file, encodeModel(model));
  console.log(`\nwrote build/digits_cnn.vta (${(performance.now() - t0).toFixed(0)} ms)\n`);

  const images = splitSamples(readNpy(readFileSync(here('./digits/test_x.npy'))), [1, 1, 16, 16]);
  const labels = readNpy(readFileSync(here('./digits/test_y.npy'))).toNumbers();
  const rt = await createRuntime({ target: argv.target });
  try {
    const m = await rt.load(file);
    const predictions: number[] = [];
    const t1 = performance.now();
    for (const x of images) {
      const scores = (await m.run({ input: x })).output!.data as Float32Array;
      predictions.push(scores.indexOf(Math.max(...scores)));
    }
    const ms = performance.now() - t1;
    const correct = predictions.filter((p, i) => p === labels[i]).length;
    console.log(`predictions on ${argv.target} (first 20): ${predictions.slice(0, 20).join(' ')}`);
    console.log(`labels                (first 20): ${labels.slice(0, 20).join(' ')}`);
    console.log(`accuracy: ${correct}/${images.length} = ${((correct / images.length) * 100).toFixed(1)} %, ${(ms / images.length).toFixed(1)} ms per image\n`);
    const p = m.profile()!;
    console.log(`profile of the last inference: ${p.deviceRuns} device run, host->device ${p.hostToDeviceBytes} B, device->host ${p.deviceToHostBytes} B${p.cycles !== undefined ? `, ${p.cycles} cycles` : ''}`);
    for (const l of p.layers) {
      const bytes = Object.entries(l.bytes).map(([k, v]) => `${k} ${v}`).join(', ');
      console.log(`  ${l.name.padEnd(7)} ${l.op.padEnd(8)} ${String(l.macs).padStart(8)} MACs${l.cycles !== undefined ? ` ${String(l.cycles).padStart(7)} cycles` : ''}  ${bytes}; uop cache hits ${l.uopCacheHits}`);
    }
  } finally {
    await rt.close();
  }
});
