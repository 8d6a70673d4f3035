// `bqx plan <pair> --target bigquery|gcp --sql-out DIR [--json]`: every statement a run of the pair
// would send to BigQuery (up to the dataset profile after the merge), in run order, as the BigQuery
// adapter renders it (shared/plan/), written
// one .sql file each with plan.json, and a summary of what it would read. `bigquery` works offline
// from the embedded warehouse's catalog (the demo is built on first use); `gcp` reads the real
// catalog and asks BigQuery for dry-run byte counts. `--refresh` plans the next version of the pair's
// last succeeded (embedded) dataset, `--since T` a refresh of a version that ended at T: extracts
// read only [T, end) and the merge builds the shards from the one holding T on. With `--refresh`
// the plan asks the previous version what the run asks it (shareShards.ts `refreshBuilds`): the
// shards from the label table's first changed row on (its filled-in tail), the shard holding T
// grown by a part where it may be; `--since T` cannot ask, and plans the shard holding T whole.

import type { Config } from '../config.js';
import { gcpPlanSource } from '../adapters/gcp/bigQueryPlanSource.js';
import { decodeRunRequest, parseTime } from '../chain/messages.js';
import { refreshBase } from '../chain/refresh.js';
import { refreshBuilds } from '../chain/shareShards.js';
import { silentLogger } from '../log.js';
import { InputError } from '../naming.js';
import { planDocument, type DocumentOptions } from '../plan/planDocument.js';
import { PlanStore } from '../plan/planStore.js';
import { PLACEHOLDER_BUCKETS, recordPlan, type CatalogSource, type RecordedPlan } from '../plan/recordPlan.js';
import { checkSqlOut, planSummaryText, writePlan } from '../plan/writePlan.js';
import { openEmbedded } from '../runtime/embedded.js';
import { assertCredentials } from '../runtime/gcpCredentials.js';
import { checkFlags, stringFlag, type Args } from './args.js';
import { ensureDemo } from './demo.js';

export const PLAN_USAGE = `  bqx plan <pair> --target bigquery|gcp [--project P] --sql-out DIR [--json] [--start T --end T] [--refresh | --since T]
                            write every statement a run (or a refresh) would send to BigQuery, and what it would read`;

const TARGETS = ['bigquery', 'gcp'];

export async function planCommand(args: Args, config: Config): Promise<number> {
  checkFlags(args, ['target', 'project', 'sql-out', 'json', 'start', 'end', 'refresh', 'since']);
  if (args.positional.length !== 1) throw new InputError(`plan takes one pair, got ${args.positional.length === 0 ? 'none' : args.positional.join(' ')}`);
  const target = stringFlag(args, 'target') ?? 'bigquery';
  if (!TARGETS.includes(target)) throw new InputError(`--target must be bigquery or gcp, got ${JSON.stringify(target)}`);
  if (args.flags.has('project') && target !== 'gcp') throw new InputError('--project is for --target gcp (--target bigquery plans offline, from the embedded warehouse)');
  const dir = stringFlag(args, 'sql-out');
  if (!dir) throw new InputError('plan needs --sql-out DIR (the folder for the .sql files and plan.json)');
  await checkSqlOut(dir);
  const request = decodeRunRequest(
    { pair: args.positional[0], ...(stringFlag(args, 'start') ? { start: stringFlag(args, 'start') } : {}), ...(stringFlag(args, 'end') ? { end: stringFlag(args, 'end') } : {}) },
    config.currencies,
  );
  const window: { start?: string; end?: string } = { ...(request.start ? { start: request.start } : {}), ...(request.end ? { end: request.end } : {}) };
  const json = args.flags.has('json');
  const sinceFlag = stringFlag(args, 'since');
  let since = sinceFlag === undefined ? undefined : parseTime(sinceFlag, '--since');
  // Offline, --refresh asks the embedded last version where it ended: a --since as well would be ignored.
  if (args.flags.has('refresh') && since !== undefined && target === 'bigquery') throw new InputError('plan --target bigquery takes --refresh (the next version of the last embedded dataset) or --since T (a refresh of a version that ended at T), not both');
  if (args.flags.has('refresh') && since === undefined && target === 'gcp') throw new InputError('plan --refresh --target gcp needs --since T (the end of the version it follows)');

  let recorded: RecordedPlan;
  let options: DocumentOptions;
  if (target === 'gcp') {
    const buckets = { staging: config.gcp.stagingBucket || PLACEHOLDER_BUCKETS.staging, output: config.gcp.outputBucket || PLACEHOLDER_BUCKETS.output };
    const gcp = gcpPlanSource(config, { staging: new PlanStore(buckets.staging), output: new PlanStore(buckets.output) });
    await assertCredentials(['bigquery']);
    recorded = await recordPlan({ config, pair: request.pair, source: gcp.warehouse, window, buckets, ...(since ? { refresh: { since } } : {}) });
    // Counting every feature table would be one query each: the label rows stand in for the estimate.
    options = { target, featureRows: () => recorded.labelRows, dryRun: gcp.dryRun, costPerTbUsd: config.gcp.costPerTbUsd };
  } else {
    const embedded = await openEmbedded(config, { logger: silentLogger });
    try {
      await ensureDemo(embedded, config, [request.pair], undefined, json);
      let from: string | undefined;
      let builds: NonNullable<Parameters<typeof recordPlan>[0]['refresh']>['builds'];
      if (args.flags.has('refresh') && since === undefined) {
        // The version a refresh would follow: its start, and its end as where the new range begins;
        // and what the run would build (from where, growing its last shard by a part or not), asked as the run asks it.
        const base = await refreshBase(embedded.deps, request.pair);
        since = base.run.window.end;
        window.start ??= base.run.window.start;
        from = base.run.runId;
        builds = (next) => refreshBuilds(embedded.deps, base, next);
      }
      const source: CatalogSource = embedded.warehouse;
      recorded = await recordPlan({
        config,
        pair: request.pair,
        source,
        window,
        buckets: { staging: config.gcp.stagingBucket || PLACEHOLDER_BUCKETS.staging, output: config.gcp.outputBucket || PLACEHOLDER_BUCKETS.output },
        ...(since ? { refresh: { since, ...(from ? { from } : {}), ...(builds ? { builds } : {}) } } : {}),
      });
      // Rows each extract reads: the window's, or a refresh's new range (a table partitioned on the key reads only those).
      const rows = new Map<string, number>();
      const range = recorded.refresh?.extractRange ?? recorded.window;
      if (range.start < range.end) for (const f of recorded.manifest.features) rows.set(f.feature, (await source.labelStats(f.dataset, f.feature, range)).rows);
      // Rows of each checkpoint the merge's joins read, where the previous version's export is loaded too (the merge window's months).
      const loaded = recorded.refresh?.loadedWindow;
      const loadedRows = new Map<string, number>();
      if (loaded && loaded.start !== range.start) for (const f of recorded.manifest.features) loadedRows.set(f.feature, (await source.labelStats(f.dataset, f.feature, loaded)).rows);
      options = { target, featureRows: (t) => rows.get(t) ?? recorded.labelRows, ...(loadedRows.size > 0 ? { checkpointRows: (t: string) => loadedRows.get(t) ?? recorded.labelRows } : {}), costPerTbUsd: config.gcp.costPerTbUsd };
    } finally {
      await embedded.close();
    }
  }
  const { document, entries } = await planDocument(recorded, options);
  await writePlan(dir, document, entries);
  const refresh = recorded.refresh;
  if (json) process.stdout.write(`${JSON.stringify({ pair: document.pair, runId: document.runId, target, window: document.window, ...(refresh ? { refresh } : {}), dir, summary: document.summary, profile: document.profile })}\n`);
  else {
    process.stdout.write(`${planSummaryText(document, dir)}\n`);
    if (refresh && refresh.shards === 0) process.stdout.write(`refresh since ${refresh.since}: nothing new (the label table ends there); with the tables unchanged, the run reuses every checkpoint, shares all ${refresh.sharedShards} shard(s) and takes ${document.profile.takenFrom ?? 'the previous version'}'s profile: it sends only the catalog's statements\n`);
    else if (refresh) process.stdout.write(`refresh since ${refresh.since}: ${refresh.extractRange.start === refresh.extractRange.end ? 'nothing new (the label table ends there), but its rows changed in place: no extract (every checkpoint reused);' : `extracts read [${refresh.extractRange.start}, ${refresh.extractRange.end});`} the merge builds ${refresh.shards} shard(s)${refresh.grownShard ? ` (${refresh.grownShard} grown by a part from ${refresh.since}${refresh.grownRelabelled ? ', the label group of its rows before it built again' : ''})` : ''}${refresh.relabelledShards ? ` (of them ${refresh.relabelledShards} whose label rows alone changed: their label group only)` : ''} and shares ${refresh.sharedShards}${refresh.loadedWindow.start !== refresh.extractRange.start ? `; it builds rows before ${refresh.since}, so each feature's previous export is loaded too, partitioned by the key, and its joins read the rows from ${refresh.loadedWindow.start}` : ''}\n`);
  }
  return 0;
}
