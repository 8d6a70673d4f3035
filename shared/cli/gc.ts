// `bqx gc [pair] [--keep N] [--dry-run] [--json]`: retention on demand. Per pair (or the one given), the last N
// succeeded datasets (default BQX_KEEP) stay with everything they reference; older runs'
// checkpoints, outputs and scratch go, and what a failed run's merge left without a dataset
// (shared/retention.ts says exactly what stays). A run that is still active is never touched.
// --dry-run removes nothing and says what would go.

import { sizeText } from '../chain/diskRoom.js';
import type { Config } from '../config.js';
import { allPairs, validatePair } from '../naming.js';
import { collectAll, type RetentionResult } from '../retention.js';
import type { Embedded } from '../runtime/embedded.js';
import { embeddedPaths } from '../runtime/paths.js';
import { existsSync } from 'node:fs';
import { checkFlags, intFlag, type Args } from './args.js';

export async function gcCommand(args: Args, config: Config, open: () => Promise<Embedded>): Promise<number> {
  checkFlags(args, ['keep', 'json', 'dry-run']);
  const dryRun = args.flags.has('dry-run');
  const pairs = args.positional.length > 0 ? args.positional.map((p) => validatePair(p, config.currencies)) : allPairs(config.currencies);
  const keep = intFlag(args, 'keep', 1, 1000) ?? config.keep;
  // A home with no run store has nothing to collect: said without creating one (a misspelt BQX_HOME).
  if (!existsSync(embeddedPaths(config.embedded.home).store)) {
    if (args.flags.has('json')) process.stdout.write(`${JSON.stringify({ keep, ...(dryRun ? { dryRun } : {}), pairs: [] })}\n`);
    else process.stdout.write(`no runs in BQX_HOME=${config.embedded.home} yet: nothing to collect\n`);
    return 0;
  }
  const embedded = await open();
  let results: RetentionResult[];
  try {
    results = await collectAll(embedded.deps, pairs, keep, dryRun);
  } finally {
    await embedded.close();
  }
  // Pairs named on the command line are all answered for, those with nothing yet too.
  const touched = args.positional.length > 0 ? results : results.filter((r) => r.kept.length > 0 || r.cleared.length > 0);
  if (args.flags.has('json')) process.stdout.write(`${JSON.stringify({ keep, ...(dryRun ? { dryRun } : {}), pairs: touched })}\n`);
  else if (touched.length === 0) process.stdout.write('no succeeded datasets yet: nothing to collect\n');
  else process.stdout.write(`${touched.map(line).join('\n')}\n`);
  return 0;
}

function line(r: RetentionResult): string {
  const kept = r.kept.length > 0 ? `kept ${r.kept.length} dataset(s) (newest ${r.kept[0]})` : 'no succeeded dataset yet';
  const cleared = r.cleared.length > 0 ? `, the unfinished output of ${r.cleared.length} failed run(s)` : '';
  return `${r.pair}: ${kept}; ${r.dryRun ? 'would remove' : 'removed'} ${r.removed.length} older run(s), checkpoints of ${r.trimmed.length} kept one(s)${cleared}: ${r.objects} object(s), ${sizeText(r.bytes)}${r.dryRun ? ' (--dry-run: nothing removed)' : ''}`;
}
