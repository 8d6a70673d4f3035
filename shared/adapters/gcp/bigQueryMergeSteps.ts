// The steps of one merge in BigQuery, as job specs, from the run's manifest and plan alone (pure):
//   keys     the window's label rows into the run's scratch area
//   load_*   each checkpoint's parquet files into a scratch table
//   batch_*  per group, the keys LEFT JOINed to at most `joinBatchTables` checkpoints
//   export_* per time shard and group, the shard's keys joined to the group's batches, sorted
//            and exported with a wildcard into the attempt's own folder
//            (shard-YYYYMMDD/group-NNN/attempt-<hash>/part-*.parquet): no statement sorts more
//            than one shard, and none reads more than one shard's partitions of the keys and
//            batch tables (partitioned by the key's day or month, `loadPartitions`)
// Every scratch table is named after the run (so runs never share one) and expires by itself.

import type { Config } from '../../config.js';
import { assertRunId, paths } from '../../naming.js';
import type { MergeJob, ObjectStore, Window } from '../../ports.js';
import type { ShardUnit } from '../../config.js';
import type { Shard } from '../../shards.js';
import { renderBatch, renderGroupExport, renderKeys, renderLoad, scratchArea, scratchNames, type Rendered } from './bigQuerySql.js';
import { ATTEMPT_DIR, type StepSpec } from './bigQueryJobs.js';
import { planFeatures } from '../../planner.js';

export interface ExportStep extends StepSpec {
  shard: Shard;
  group: number;
  /** Output columns, key first, as the plan gives them. */
  columns: string[];
  /** Object-name prefix of the group's folder in the output store; each attempt writes in its own folder under it. */
  dir: string;
}

export interface MergeSteps {
  area: string;
  keys: StepSpec;
  loads: StepSpec[];
  batches: StepSpec[];
  exports: ExportStep[];
  /** Every rendered statement, for checks and tests. */
  rendered: Map<string, Rendered>;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

/** BigQuery's limit on a table's partitions, less a margin. */
const MAX_LOAD_PARTITIONS = 3900;

/**
 * How a checkpoint holding rows outside the merge window is partitioned when loaded: by day where
 * shards are days or weeks (a refresh's merge window is then a few days), by month where they are
 * months, or where days would pass the partition limit over `window` (the loaded files hold at most
 * the window's rows: a refresh keeps its start).
 */
export function loadPartitions(unit: ShardUnit, window: Window): 'DAY' | 'MONTH' {
  const days = (Date.parse(window.end) - Date.parse(window.start)) / 86_400_000;
  return unit !== 'month' && days < MAX_LOAD_PARTITIONS ? 'DAY' : 'MONTH';
}

export function mergeSteps(job: MergeJob, config: Pick<Config, 'gcp' | 'shard'>, staging: ObjectStore, output: ObjectStore): MergeSteps {
  const { manifest, plan } = job;
  assertRunId(job.runId);
  if (manifest.runId !== job.runId) throw new Error(`manifest of ${manifest.runId} given for run ${job.runId}`);
  if (job.shards.length === 0) throw new Error(`merge of ${job.runId} was given no time shards`);
  const area = scratchArea(job.runId);
  const dataset = config.gcp.scratchDataset;
  const ttlHours = config.gcp.scratchTtlHours;
  const rendered = new Map<string, Rendered>();
  const spec = (key: string, step: string, r: Rendered, labels?: Record<string, string>): StepSpec => {
    rendered.set(key, r);
    return { key, step, sql: r.sql, ...(r.params ? { params: r.params } : {}), ...(labels ? { labels } : {}) };
  };

  // The keys and batch tables are partitioned as a wider checkpoint is loaded: each shard's export
  // then reads its own partitions of them (bigQuerySql.ts `CLUSTER_BY_KEY`).
  const partitionBy = loadPartitions(config.shard, manifest.window);
  const keysTable = scratchNames.keys(area, partitionBy);
  // The label rows as the run froze them, where their version was known (a table, not a view).
  const labelsAsOf = manifest.snapshotAt && manifest.labels.versions?.window ? { asOf: manifest.snapshotAt } : {};
  const keys = spec('keys', 'keys', renderKeys({ dataset, table: keysTable, ttlHours, partitionBy }, { ...manifest.labels, ...labelsAsOf }, job.window));

  // Only the checkpoints of the groups to build are loaded (a run may build only some: shared/chain/shareShards.ts).
  const members = planFeatures(plan);
  const checkpointTable = new Map<string, string>();
  // Checkpoints with files of an earlier run: a refresh that builds rows before the previous end
  // (its partial shard built whole) loads the previous version's export of the feature, which
  // holds that version's whole window. Loaded partitioned by the key, read through the window's
  // filter, the joins bill the window's days or months instead of every earlier row.
  const wider = new Set<string>();
  const loads = manifest.features.flatMap((f, index) => {
    if (!members.has(f.feature)) return [];
    // The files the landing checked, when known; otherwise every part file of the feature.
    const files = job.checkpoints[f.feature] ?? [];
    const uris = files.length > 0 ? files.map((name) => staging.uri(name)) : [staging.uri(`${paths.featureDir(job.runId, f.feature)}part-*.parquet`)];
    const columns = f.columns.map((c) => c.source);
    const earlier = files.some((name) => !name.startsWith(paths.featureDir(job.runId, f.feature)));
    const table = scratchNames.checkpoint(area, index, f.feature, earlier);
    checkpointTable.set(f.feature, table);
    if (earlier) wider.add(f.feature);
    return [spec(`load_${f.feature}`, 'load', renderLoad({ dataset, table, ttlHours }, uris, columns, earlier ? { partitionBy } : {}), { feature: f.feature })];
  });

  const batches: StepSpec[] = [];
  const exports: ExportStep[] = [];
  for (const group of plan.groups) {
    const batchTables = group.batches.map((members, b) => {
      const table = scratchNames.batch(area, group.index, b, partitionBy);
      const r = renderBatch(
        { dataset, table, ttlHours, partitionBy },
        keysTable,
        members.map((m) => {
          const ck = checkpointTable.get(m.feature);
          if (!ck) throw new Error(`plan names feature ${m.feature}, which the manifest does not have`);
          return { table: ck, columns: m.columns, ...(wider.has(m.feature) ? { wider: true } : {}) };
        }),
        plan.maxGroupColumns,
        job.window,
      );
      batches.push(spec(`batch_g${pad(group.index, 3)}_b${pad(b, 3)}`, 'batch', r));
      return { table, columns: r.columns };
    });
    for (const shard of job.shards) {
      const dir = `${job.outputPrefix}shard-${shard.id}/group-${pad(group.index, 3)}/`;
      const r = renderGroupExport({
        scratchDataset: dataset,
        keysTable,
        labelColumns: group.labels ? manifest.labels.columns : [],
        batches: batchTables,
        uri: output.uri(`${dir}${ATTEMPT_DIR}/part-*.parquet`),
        maxColumns: plan.maxGroupColumns,
        shard,
      });
      if (r.columns.join('\n') !== group.columns.join('\n')) {
        throw new Error(`group ${group.index}: the export would write other columns than the plan lists`);
      }
      exports.push({ ...spec(`export_s${shard.id}_g${pad(group.index, 3)}`, 'export', r), shard, group: group.index, columns: group.columns, dir });
    }
  }
  // Shard by shard, each shard's groups in order.
  exports.sort((a, b) => a.shard.index - b.shard.index || a.group - b.group);
  return { area, keys, loads, batches, exports, rendered };
}
