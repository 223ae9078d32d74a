import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { formatTable, type BenchRow, type BenchSuite } from './harness.ts';
import { suites } from './suites.ts';

const argv = await yargs(hideBin(process.argv))
  .scriptName('npm run bench --')
  .usage('$0 [--json] [--quick] [--suite NAME...]')
  .option('json', { type: 'boolean', default: false, describe: 'print the figures as JSON' })
  .option('quick', { type: 'boolean', default: false, describe: 'fewer repetitions' })
  .option('suite', { type: 'string', array: true, describe: `run only these suites (${suites.map((s) => s.name).join(', ')})` })
  .strict()
  .help()
  .parse();

const chosen: BenchSuite[] = argv.suite?.length ? suites.filter((s) => argv.suite!.includes(s.name)) : suites;
if (argv.suite?.length && chosen.length !== argv.suite.length) {
  const known = new Set(suites.map((s) => s.name));
  console.error(`unknown suite: ${argv.suite.filter((s) => !known.has(s)).join(', ')} (known: ${[...known].join(', ')})`);
  process.exit(2);
}
const rows: BenchRow[] = [];
for (const suite of chosen) {
  const log = (msg: string) => process.stderr.write(`[${suite.name}] ${msg}\n`);
  log('running');
  rows.push(...(await suite.run({ quick: argv.quick, log })));
}
console.log(argv.json ? JSON.stringify(rows, null, 2) : formatTable(rows));
