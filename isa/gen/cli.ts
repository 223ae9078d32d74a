/**
 * `npm run gen` writes the generated C header and Scala object; `npm run gen -- --check` exits
 * non-zero if they are out of date; `--config X --c FILE` / `--scala FILE` generate for another
 * configuration.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { loadConfig } from '../config.ts';
import { VtaError } from '../errors.ts';
import { generatedArtifacts } from './artifacts.ts';
import { cHeader } from './c-header.ts';
import { scalaObject } from './scala.ts';

const argv = yargs(hideBin(process.argv))
  .scriptName('npm run gen --')
  .usage('$0 [--check] | --config PRESET|FILE [--c OUT.h] [--scala OUT.scala]')
  .option('check', { type: 'boolean', default: false, describe: 'fail if the checked-in files differ from what would be generated' })
  .option('config', { type: 'string', describe: 'generate for this configuration instead of the checked-in default' })
  .option('c', { type: 'string', describe: 'with --config: write the C header here' })
  .option('scala', { type: 'string', describe: 'with --config: write the Scala object here' })
  .strict()
  .help()
  .parseSync();

try {
  if (argv.config) {
    const cfg = loadConfig(argv.config);
    if (!argv.c && !argv.scala) throw new VtaError('VTA_USAGE', '--config needs --c and/or --scala');
    if (argv.c) writeFileSync(argv.c, cHeader(cfg));
    if (argv.scala) writeFileSync(argv.scala, scalaObject(cfg));
  } else {
    let stale = 0;
    for (const a of generatedArtifacts()) {
      let current = '';
      try {
        current = readFileSync(a.absolutePath, 'utf8');
      } catch {
        // missing counts as stale
      }
      if (current === a.content) continue;
      if (argv.check) {
        console.error(`out of date: ${a.path} (run npm run gen)`);
        stale++;
      } else {
        mkdirSync(dirname(a.absolutePath), { recursive: true });
        writeFileSync(a.absolutePath, a.content);
        console.log(`wrote ${a.path}`);
      }
    }
    if (stale) process.exit(1);
  }
} catch (e) {
  if (e instanceof VtaError) {
    console.error(`error: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
