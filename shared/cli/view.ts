// `bqx view <runId|pair> --name NAME [--include ..] [--exclude ..] [--drop ..] [--max-null-share S]
// [--labels ..] [--json]`: a feature view of a finished dataset (shared/view/), written under the
// run's output folder as views/<name>/ and checked with `bqx verify` before it is reported.
// Every option is validated before anything is opened: bad input is one line and exit 2.

import type { Config } from '../config.js';
import { InputError, NotFoundError, assertRunId, validatePair } from '../naming.js';
import { assertNotRemoved } from './report.js';
import type { RunRecord } from '../ports.js';
import type { Embedded } from '../runtime/embedded.js';
import { openRecords } from '../runtime/records.js';
import { createView } from '../view/createView.js';
import { parseDrop, parsePatterns, parseShare, viewName, type ViewSelection } from '../view/select.js';
import { checkFlags, stringFlag, type Args } from './args.js';
import { verifyManifest } from './verify.js';

export const VIEW_FLAGS = ['name', 'include', 'exclude', 'drop', 'max-null-share', 'labels', 'json'];

export function viewSelection(args: Args): ViewSelection {
  const flag = (name: string) => stringFlag(args, name);
  const patterns = (name: string) => (flag(name) === undefined ? {} : { [name]: parsePatterns(name, flag(name)!) });
  return {
    name: viewName(flag('name')),
    ...patterns('include'),
    ...patterns('exclude'),
    ...patterns('labels'),
    drop: flag('drop') === undefined ? [] : parseDrop(flag('drop')!),
    ...(flag('max-null-share') === undefined ? {} : { maxNullShare: parseShare('max-null-share', flag('max-null-share')!) }),
  };
}

/** The run a target names: a run id, or a pair's last succeeded run. */
async function findRun(embedded: Pick<Embedded, 'store'>, config: Config, target: string): Promise<RunRecord> {
  if (/^[a-z]{6}$/.test(target)) {
    const pair = validatePair(target, config.currencies);
    const runs = (await embedded.store.listRuns(pair)).filter((r) => r.state === 'succeeded' && r.output && !r.collected);
    if (runs.length === 0) throw new NotFoundError(`pair ${pair} has no succeeded dataset to make a view of`);
    return runs[runs.length - 1]!;
  }
  const run = await embedded.store.getRun(assertRunId(target));
  if (!run) throw new NotFoundError(`run ${target} not found`);
  return run;
}

export async function viewCommand(args: Args, config: Config, open: () => Promise<Embedded>): Promise<number> {
  checkFlags(args, VIEW_FLAGS);
  const target = args.positional[0];
  if (!target || args.positional.length > 1) throw new InputError('view takes one run id or pair');
  if (!/^[a-z]{6}$/.test(target)) assertRunId(target);
  const selection = viewSelection(args);
  const began = Date.now();
  // The run is found in the records alone: a home without it (a misspelt BQX_HOME) is left as it was.
  const records = openRecords(config);
  const run = await findRun(records, config, target).finally(() => records.close());
  assertNotRemoved(run);
  const embedded = await open();
  let outcome;
  try {
    outcome = await createView({ config, warehouse: embedded.warehouse, output: embedded.output, clock: { now: () => new Date() } }, run, selection);
  } finally {
    await embedded.close();
  }
  if ('state' in outcome) throw new Error(`view ${selection.name} is still being written: ${outcome.detail}`);
  const writeMs = Date.now() - began;
  const verified = await verifyManifest(outcome.manifest);
  const summary = { ...outcome, verified: verified.ok, problems: verified.problems, write_ms: writeMs, ms: Date.now() - began };
  if (args.flags.has('json')) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else {
    const d = outcome.dropped;
    process.stdout.write(
      [
        `view ${outcome.name} of ${outcome.runId}: ${outcome.rows.toLocaleString('en-US')} rows x ${outcome.columns.toLocaleString('en-US')} columns (${outcome.labels} labels, ${outcome.features} features) in ${outcome.files} file(s), ${(summary.ms / 1000).toFixed(1)} s`,
        `dropped: ${d.constant.length} constant, ${d.duplicates.length} duplicate, ${d.stale.length} stale, ${d.leakage.length} leaking, ${d.nullShare.length} over the null share`,
        `manifest: ${outcome.manifest}`,
        verified.ok ? 'verify: ok' : `verify FAILED:\n${verified.problems.map((p) => `  - ${p}`).join('\n')}`,
      ].join('\n') + '\n',
    );
  }
  return verified.ok ? 0 : 1;
}
