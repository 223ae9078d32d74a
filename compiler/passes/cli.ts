/**
 * vta-compile (front half): imports an ONNX model, quantizes it (calibrating a
 * float model on --calib samples, or following a QDQ model's own scales),
 * places its int8 middle on VTA and prints the result: the IR with each node's
 * device and the copies (--emit ir), a Graphviz graph coloured by device with
 * the kernel groups boxed (--emit dot), or the kernel groups the lowering
 * consumes (--emit groups, JSON).
 *
 *   node --import tsx compiler/passes/cli.ts model.onnx [--calib x.npy] [--config intelfocl] [--emit dot] [-o out.dot]
 */
import { readFileSync, writeFileSync } from 'node:fs';
import pino from 'pino';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { runCli } from '../../isa/cli/common.ts';
import { loadConfig } from '../../isa/config.ts';
import { VtaError } from '../../isa/errors.ts';
import { printFunction } from '../ir/printer.ts';
import { importOnnxFile } from '../onnx/import.ts';
import { readNpy } from '../tensor/npy.ts';
import { splitSamples } from '../quant/calibrate.ts';
import { vtaTarget } from './annotate.ts';
import { toDot } from './dot.ts';
import type { VtaKernelGroup } from './fuse.ts';
import { compileForVta } from './pipeline.ts';

const log = pino({ name: 'vta-compile', level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination(2));

function describeGroups(groups: readonly VtaKernelGroup[]): unknown {
  return groups.map((g) => ({
    anchor: g.anchor,
    name: g.anchorCall.name,
    data: g.data.type.shape,
    weight: g.weight?.type.shape,
    output: g.output.type.shape,
    epilogue: g.epilogue.map((s) =>
      s.kind === 'alu' ? `${s.op} ${s.imm}` : s.kind === 'bias' || s.kind === 'scale' ? `${s.kind} ${s.perChannel ? 'per-channel' : 'per-element'} ${JSON.stringify(s.value.type.shape)}` : `residual ${JSON.stringify(s.input.type.shape)} pre [${s.pre.map((p) => `${p.op} ${p.imm}`).join(', ')}]`),
  }));
}

await runCli(() => {
  const argv = yargs(hideBin(process.argv))
    .scriptName('vta-compile')
    .usage('$0 <model.onnx> [--calib samples.npy] [--first-conv cpu|vta] [--emit ir|dot|groups] [-o file]\n\nQuantizes a model and places its int8 middle on VTA; prints the placed graph.')
    .positional('model', { type: 'string', describe: 'the ONNX model (float, or QDQ from onnxruntime)' })
    .option('calib', { type: 'string', describe: 'calibration inputs for a float model: a .npy of N inputs stacked on a leading axis' })
    .option('first-conv', { choices: ['cpu', 'vta'] as const, default: 'vta' as const, describe: 'vta (default): the first conv runs on VTA, its input rearranged by the host (first-conv.ts); cpu: it stays on the CPU (in float for a float model)' })
    .option('scale-mode', { choices: ['float', 'pow2'] as const, default: 'float' as const, describe: 'float model: per-tensor scales as calibrated, or rounded up to powers of two (shift-only requantization)' })
    .option('calib-method', { choices: ['max', 'percentile', 'mse'] as const, default: 'mse' as const, describe: 'float model: how an activation range becomes a threshold' })
    .option('qdq-zero-points', { choices: ['exact', 'symmetric'] as const, default: 'exact' as const, describe: "QDQ model: follow its zero points exactly (per-element biases where a conv pads a zero-point input), or re-quantize such tensors symmetrically (per-channel biases only)" })
    .option('config', { type: 'string', describe: 'VTA configuration: a preset (default, intelfocl) or a JSON file; sets BATCH and BLOCK for packing' })
    .option('emit', { choices: ['ir', 'dot', 'groups'] as const, default: 'ir' as const, describe: 'what to print' })
    .option('output', { alias: 'o', type: 'string', describe: 'write to this file instead of stdout' })
    .demandCommand(1, 'give the model file')
    .strict()
    .help()
    .parseSync();
  const modelFile = String(argv._[0]);
  const model = importOnnxFile(modelFile);
  let calibration;
  if (argv.calib) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(argv.calib);
    } catch (e) {
      throw new VtaError('VTA_IO', `cannot read ${argv.calib} (${(e as NodeJS.ErrnoException).code ?? e})`);
    }
    calibration = splitSamples(readNpy(bytes, argv.calib), model.fn.params[0]!.type.shape);
  }
  const r = compileForVta(model.fn, {
    target: vtaTarget(loadConfig(argv.config)),
    calibration,
    firstConv: argv['first-conv'],
    qdqZeroPoints: argv['qdq-zero-points'],
    quantize: { scaleMode: argv['scale-mode'], method: argv['calib-method'] },
  });
  log.info({ model: modelFile, copies: r.copies, placement: r.placement, groups: r.groups.length }, 'placed');
  const text = argv.emit === 'dot' ? toDot(r.fn, r.groups) : argv.emit === 'groups' ? `${JSON.stringify(describeGroups(r.groups), null, 2)}\n` : `${printFunction(r.fn)}\n`;
  if (argv.output) writeFileSync(argv.output, text);
  else process.stdout.write(text);
});
