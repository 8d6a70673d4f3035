// The feature view on BigQuery: the source groups a view needs are loaded from the dataset's
// output files into the run's scratch area, then one EXPORT DATA per (shard, view group) writes
// the chosen columns (bigQueryViewSql.ts). Jobs are deterministic (bigQueryJobs.ts), so a call
// that returns `pending` is simply called again and attaches to what is running.

import type { Config } from '../../config.js';
import type { ObjectStore, Pending, ViewJob, ViewResult, ViewShard } from '../../ports.js';
import { ATTEMPT_DIR, attemptDir, type JobRunner, type RunContext, type StepSpec } from './bigQueryJobs.js';
import { renderLoad, scratchArea } from './bigQuerySql.js';
import { loadPartitions } from './bigQueryMergeSteps.js';
import { renderViewExport, viewScratchTable } from './bigQueryViewSql.js';

const pad = (n: number, width: number) => String(n).padStart(width, '0');

interface ViewExportStep extends StepSpec {
  shard: ViewJob['shards'][number];
  group: number;
  dir: string;
}

/** Every statement of a view, as job specs (pure). */
export function viewSteps(job: ViewJob, config: Pick<Config, 'gcp' | 'shard'>, output: ObjectStore): { loads: StepSpec[]; exports: ViewExportStep[] } {
  const area = scratchArea(job.runId);
  const dataset = config.gcp.scratchDataset;
  // Loaded partitioned by the key as the merge's tables are: each shard's export reads its own partitions.
  const partitionBy = job.shards.length > 0 ? loadPartitions(config.shard, { start: job.shards[0]!.start, end: job.shards.at(-1)!.end }) : 'MONTH';
  const table = (index: number) => viewScratchTable(area, job.name, index, partitionBy);
  const home = new Map<string, number>();
  for (const g of job.sourceGroups) for (const c of g.columns.slice(1)) home.set(c, g.index);
  const perGroup = job.groups.map((group) => {
    const byGroup = new Map<number, string[]>();
    for (const c of group.columns.slice(1)) {
      const index = home.get(c);
      if (index === undefined) throw new Error(`column ${c} is in no group of the source dataset`);
      byGroup.set(index, [...(byGroup.get(index) ?? []), c]);
    }
    return { group, sources: [...byGroup.entries()].sort((a, b) => a[0] - b[0]) };
  });
  const used = [...new Set(perGroup.flatMap((g) => g.sources.map(([index]) => index)))].sort((a, b) => a - b);
  const loads = used.map((index) => {
    const source = job.sourceGroups.find((g) => g.index === index)!;
    const files = job.shards.flatMap((s) => s.groups.find((g) => g.index === index)?.files ?? []);
    const r = renderLoad({ dataset, table: table(index), ttlHours: config.gcp.scratchTtlHours }, files.map((f) => output.uri(f)), source.columns.slice(1), { partitionBy });
    return { key: `view_${job.name}_load_g${pad(index, 3)}`, step: 'view_load', sql: r.sql };
  });
  const exports: ViewExportStep[] = [];
  for (const shard of job.shards) {
    for (const { group, sources } of perGroup) {
      const dir = `${job.outputPrefix}shard-${shard.id}/group-${pad(group.index, 3)}/`;
      const r = renderViewExport({
        scratchDataset: dataset,
        sources: sources.map(([index, columns]) => ({ table: table(index), columns })),
        uri: output.uri(`${dir}${ATTEMPT_DIR}/part-*.parquet`),
        shard,
      });
      if (r.columns.join('\n') !== group.columns.join('\n')) throw new Error(`view group ${group.index}: the export would write other columns than planned`);
      exports.push({ key: `view_${job.name}_export_s${shard.id}_g${pad(group.index, 3)}`, step: 'view_export', sql: r.sql, params: r.params!, shard, group: group.index, dir });
    }
  }
  return { loads, exports };
}

export async function viewBigQuery(jobs: JobRunner, config: Config, output: ObjectStore, job: ViewJob, ctx: RunContext, deadline: number, pending: (detail: string) => Pending): Promise<ViewResult> {
  const steps = viewSteps(job, config, output);
  const written = async (dir: string, jobId: string) => {
    const at = `${dir}${attemptDir(jobId)}/`;
    return (await output.list(at)).filter((o) => /^[^/]+\.parquet$/.test(o.name.slice(at.length))).sort((a, b) => (a.name < b.name ? -1 : 1));
  };
  // An export whose files are gone (the view was removed) runs again under its next attempt.
  const exports = steps.exports.map((e) => ({
    ...e,
    isStale: async (m: { jobReference?: { jobId?: string }; statistics?: { query?: { exportDataStatistics?: { fileCount?: string | number | null } } } }) =>
      (await written(e.dir, m.jobReference?.jobId ?? '')).length < Number(m.statistics?.query?.exportDataStatistics?.fileCount ?? 0),
  }));
  const loaded = await jobs.runAll(ctx, steps.loads, deadline);
  if (loaded.state === 'pending') return pending(`view ${job.name} of ${job.runId}: loading, ${loaded.done} of ${loaded.total} done`);
  const exported = await jobs.runAll(ctx, exports, deadline);
  if (exported.state === 'pending') return pending(`view ${job.name} of ${job.runId}: exporting, ${exported.done} of ${exported.total} done`);
  const shards: ViewShard[] = [];
  for (const shard of job.shards) {
    const groups: ViewShard['groups'] = [];
    for (const step of exports.filter((e) => e.shard.id === shard.id)) {
      const files = await written(step.dir, exported.jobIds.get(step.key)!);
      const stats = exported.metadata.get(step.key)?.statistics?.query?.exportDataStatistics;
      const rows = stats?.rowCount === undefined || stats.rowCount === null ? shard.rows : Number(stats.rowCount);
      if (rows !== shard.rows) throw new Error(`view ${job.name}: shard ${shard.id} group ${step.group} exported ${rows} rows, the shard has ${shard.rows}`);
      if (files.length === 0) throw new Error(`view ${job.name}: shard ${shard.id} group ${step.group} wrote no parquet files`);
      groups.push({ index: step.group, files: files.map((f) => f.name), rows, bytes: files.reduce((n, f) => n + f.size, 0) });
    }
    shards.push({ id: shard.id, start: shard.start, end: shard.end, rows: shard.rows, groups });
  }
  return { state: 'done', shards };
}
