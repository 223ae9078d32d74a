import { writeFileSync } from 'node:fs';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { encodeProgram } from '../codec.ts';
import { loadConfig } from '../config.ts';
import { encodeImage } from '../image.ts';
import { validateProgram } from '../validate.ts';
import { readProgram, runCli } from './common.ts';

await runCli(() => {
  const argv = yargs(hideBin(process.argv))
    .scriptName('vta-asm')
    .usage('$0 <prog.s> -o <out> [--raw] [--config preset|file.json]\n\nAssembles a program into a program image (or a raw instruction stream with --raw), after validating it.')
    .option('o', { alias: 'output', type: 'string', demandOption: true, describe: 'output file' })
    .option('raw', { type: 'boolean', default: false, describe: 'write only the 16-byte instruction words, without data regions' })
    .option('config', { type: 'string', default: 'default', describe: 'hardware configuration: a preset (default, intelfocl) or a JSON file' })
    .demandCommand(1, 'give the assembly file')
    .strict()
    .help()
    .parseSync();
  const cfg = loadConfig(argv.config);
  const prog = readProgram(cfg, String(argv._[0]));
  const image = prog.kind === 'image' ? prog.image : null;
  const insns = image ? image.insns : prog.kind === 'raw' ? prog.insns : [];
  validateProgram(cfg, insns, image ? { memBytes: image.memBytes } : {});
  writeFileSync(argv.o, argv.raw || !image ? encodeProgram(cfg, insns) : encodeImage(cfg, image));
});
