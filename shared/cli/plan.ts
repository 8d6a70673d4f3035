// `bqx plan <pair> --target bigquery|gcp --sql-out DIR [--json]`: every statement a run of the pair
// would send to BigQuery, in run order, as the BigQuery adapter renders it (shared/plan/), written
// one .sql file each with plan.json, and a summary of what it would read. `bigquery` works offline
// from the embedded warehouse's catalog (the demo is built on first use); `gcp` reads the real
// catalog and asks BigQuery for dry-run byte counts.

import type { Config } from '../config.js';
import { gcpPlanSource } from '../adapters/gcp/bigQueryPlanSource.js';
import { decodeRunRequest } from '../chain/messages.js';
import { silentLogger } from '../log.js';
import { InputError } from '../naming.js';
import { planDocument, type DocumentOptions } from '../plan/planDocument.js';
import { PlanStore } from '../plan/planStore.js';
import { PLACEHOLDER_BUCKETS, recordPlan, type CatalogSource, type RecordedPlan } from '../plan/recordPlan.js';
import { planSummaryText, writePlan } from '../plan/writePlan.js';
import { openEmbedded } from '../runtime/embedded.js';
import { checkFlags, stringFlag, type Args } from './args.js';
import { ensureDemo } from './demo.js';

export const PLAN_USAGE = `  bqx plan <pair> --target bigquery|gcp --sql-out DIR [--json] [--start T --end T]
                            write every statement a run would send to BigQuery, and what it would read`;

const TARGETS = ['bigquery', 'gcp'];

export async function planCommand(args: Args, config: Config): Promise<number> {
  checkFlags(args, ['target', 'sql-out', 'json', 'start', 'end']);
  if (args.positional.length !== 1) throw new InputError(`plan takes one pair, got ${args.positional.length === 0 ? 'none' : args.positional.join(' ')}`);
  const target = stringFlag(args, 'target') ?? 'bigquery';
  if (!TARGETS.includes(target)) throw new InputError(`--target must be bigquery or gcp, got ${JSON.stringify(target)}`);
  const dir = stringFlag(args, 'sql-out');
  if (!dir) throw new InputError('plan needs --sql-out DIR (the folder for the .sql files and plan.json)');
  const request = decodeRunRequest(
    { pair: args.positional[0], ...(stringFlag(args, 'start') ? { start: stringFlag(args, 'start') } : {}), ...(stringFlag(args, 'end') ? { end: stringFlag(args, 'end') } : {}) },
    config.currencies,
  );
  const window = { ...(request.start ? { start: request.start } : {}), ...(request.end ? { end: request.end } : {}) };
  const json = args.flags.has('json');

  let recorded: RecordedPlan;
  let options: DocumentOptions;
  if (target === 'gcp') {
    const buckets = { staging: config.gcp.stagingBucket || PLACEHOLDER_BUCKETS.staging, output: config.gcp.outputBucket || PLACEHOLDER_BUCKETS.output };
    const gcp = gcpPlanSource(config, { staging: new PlanStore(buckets.staging), output: new PlanStore(buckets.output) });
    recorded = await recordPlan({ config, pair: request.pair, source: gcp.warehouse, window, buckets });
    // Counting every feature table would be one query each: the label rows stand in for the estimate.
    options = { target, featureRows: () => recorded.labelRows, dryRun: gcp.dryRun };
  } else {
    const embedded = await openEmbedded(config, { logger: silentLogger });
    try {
      await ensureDemo(embedded, config, [request.pair], undefined, json);
      const source: CatalogSource = embedded.warehouse;
      recorded = await recordPlan({
        config,
        pair: request.pair,
        source,
        window,
        buckets: { staging: config.gcp.stagingBucket || PLACEHOLDER_BUCKETS.staging, output: config.gcp.outputBucket || PLACEHOLDER_BUCKETS.output },
      });
      const rows = new Map<string, number>();
      for (const f of recorded.manifest.features) rows.set(f.feature, (await source.labelStats(f.dataset, f.feature, recorded.window)).rows);
      options = { target, featureRows: (t) => rows.get(t) ?? recorded.labelRows };
    } finally {
      await embedded.close();
    }
  }
  const { document, entries } = await planDocument(recorded, options);
  await writePlan(dir, document, entries);
  if (json) process.stdout.write(`${JSON.stringify({ pair: document.pair, runId: document.runId, target, window: document.window, dir, summary: document.summary })}\n`);
  else process.stdout.write(`${planSummaryText(document, dir)}\n`);
  return 0;
}
