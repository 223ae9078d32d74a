import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { disassemble, disassembleImage } from '../asm.ts';
import { loadConfig } from '../config.ts';
import { insnToJson } from '../json.ts';
import { readProgram, runCli } from './common.ts';

await runCli(() => {
  const argv = yargs(hideBin(process.argv))
    .scriptName('vta-disasm')
    .usage('$0 <prog> [--config preset|file.json] [--json]\n\nDisassembles a raw instruction stream or a program image (VTAPROG1).')
    .positional('prog', { type: 'string', describe: 'program file' })
    .option('config', { type: 'string', default: 'default', describe: 'hardware configuration: a preset (default, intelfocl) or a JSON file' })
    .option('json', { type: 'boolean', default: false, describe: 'print a JSON array, one object per instruction, keyed by VTA field names' })
    .demandCommand(1, 'give the program file to disassemble')
    .strict()
    .help()
    .parseSync();
  const cfg = loadConfig(argv.config);
  const prog = readProgram(cfg, String(argv._[0]));
  const insns = prog.kind === 'image' ? prog.image.insns : prog.insns;
  if (argv.json) {
    console.log(JSON.stringify(insns.map((i) => insnToJson(cfg, i)), null, 1));
  } else if (prog.kind === 'image') {
    process.stdout.write(disassembleImage(cfg, prog.image));
  } else {
    console.log(disassemble(cfg, insns, { numbered: true }));
  }
});
