// `bqx plan --target gcp`: the real catalog and label statistics, read by the BigQuery warehouse
// adapter, and BigQuery's dry run of each planned statement (bytes it would process; nothing runs
// and nothing is billed). A statement that reads a scratch table, which exists only during a run,
// cannot be dry-run before the run: its error is returned and the plan keeps its estimate.

import { BigQuery, type JobMetadata } from '@google-cloud/bigquery';
import { ConfigError, type Config } from '../../config.js';
import type { ObjectStore } from '../../ports.js';
import { errorMessage } from '../../log.js';
import { BigQueryWarehouse } from './bigQueryWarehouse.js';
import { jobLabels } from './bigQueryJobs.js';
import type { RecordedStatement } from './recordingBigQuery.js';

export interface GcpPlanSource {
  warehouse: BigQueryWarehouse;
  dryRun(statement: RecordedStatement): Promise<{ bytes: number } | { error: string }>;
}

/** `bigquery` is for tests (a client whose methods are stubbed); by default one for the configured project. */
export function gcpPlanSource(config: Config, stores: { staging: ObjectStore; output: ObjectStore }, bigquery?: BigQuery): GcpPlanSource {
  const { project, location } = config.gcp;
  if (!project) throw new ConfigError('BQX_PROJECT', project, 'is required for --target gcp (or --project P)');
  const client = bigquery ?? new BigQuery({ projectId: project, location });
  const warehouse = new BigQueryWarehouse({ bigquery: client, config, staging: stores.staging, output: stores.output });
  return {
    warehouse,
    async dryRun(s) {
      try {
        const [, response] = await client.createQueryJob({
          query: s.sql,
          ...(Object.keys(s.params).length > 0 ? { params: s.params } : {}),
          location,
          dryRun: true,
          labels: jobLabels(undefined, 'plan_dry_run', s.labels.feature ? { feature: s.labels.feature } : {}),
        });
        const bytes = Number((response as JobMetadata | undefined)?.statistics?.totalBytesProcessed ?? NaN);
        return Number.isFinite(bytes) ? { bytes } : { error: 'the dry run returned no totalBytesProcessed' };
      } catch (error) {
        return { error: errorMessage(error) };
      }
    },
  };
}
