// The run summary: one JSON object for --json, and a table for people.

import { describeDrift, type SchemaDrift } from '../chain/refresh.js';
import type { RunRecord } from '../ports.js';

export interface RunSummary {
  runId: string;
  pair: string;
  status: string;
  expected: number;
  landed: number;
  /** Features extracted by this run, and those whose checkpoint was reused from an earlier run. */
  extracted: number;
  reused: number;
  /** Extracted features per reason (`data changed`, `new table`, ...). */
  reasons: Record<string, number>;
  /** `manifest` is null once retention removed the dataset (`removed`: when). */
  /** `consolidated`: the one file `--consolidate` wrote. */
  output: { manifest: string | null; rows: number; columns: number; files: number; consolidated?: string };
  removed?: string;
  warnings: string[];
  timings: Record<string, number>;
  /** Rows read from the warehouse: by the extracts, and label rows by the merge (shards it built). */
  rowsRead?: { features: number; labels: number; total: number };
  /** On a refresh: the version it follows, output shards shared with it and rebuilt, the schema drift. */
  /** `grownShards`: rebuilt shards that kept the earlier version's files and grew by a part. */
  refresh?: { from: string; sharedShards: number; rebuiltShards: number; grownShards?: string[]; drift: SchemaDrift };
  /**
   * Output files taken by reference from an earlier dataset (shared/chain/shareShards.ts): whole
   * shards, and shards built; `builtGroups` when the built shards built only those column groups.
   */
  sharing?: { from: string; sharedShards: number; rebuiltShards: number; builtGroups?: number[] };
  /** What the run's BigQuery jobs cost on demand (RunRecord costUsd), and the bytes they billed; absent embedded. */
  cost?: { usd: number; bytesBilled?: number };
  error?: string;
}

export function summarise(run: RunRecord, landed: number, manifestPath: string | null): RunSummary {
  const removed = run.collected?.scope === 'all' ? run.collected.at : undefined;
  return {
    runId: run.runId,
    pair: run.pair,
    status: run.state,
    expected: run.expected,
    landed,
    extracted: run.reuse?.extracted ?? run.expected,
    reused: run.reuse?.reused ?? 0,
    reasons: run.reuse?.reasons ?? {},
    output: { manifest: removed ? null : manifestPath, rows: run.output?.rows ?? 0, columns: run.output?.columns ?? 0, files: run.output?.files.length ?? 0 },
    ...(removed ? { removed } : {}),
    warnings: run.warnings,
    timings: run.timings,
    ...(run.rowsRead ? { rowsRead: { ...run.rowsRead, total: run.rowsRead.features + run.rowsRead.labels } } : {}),
    ...(run.refresh ? { refresh: { from: run.refresh.from, sharedShards: run.refresh.sharedShards, rebuiltShards: run.refresh.rebuiltShards, ...(run.refresh.shards?.grown ? { grownShards: run.refresh.shards.grown.map((g) => g.id) } : {}), drift: run.refresh.drift } } : {}),
    ...(run.sharing ? { sharing: { from: run.sharing.from, sharedShards: run.sharing.shared.length, rebuiltShards: run.sharing.rebuilt.length, ...(run.sharing.groups ? { builtGroups: run.sharing.groups } : {}) } } : {}),
    ...(run.costUsd !== undefined ? { cost: { usd: run.costUsd, ...(run.bytesBilled !== undefined ? { bytesBilled: run.bytesBilled } : {}) } } : {}),
    ...(run.error ? { error: run.error } : {}),
  };
}

/** `: data changed 3, new table 1`, most frequent first. */
function reasons(counts: Record<string, number> | undefined): string {
  const entries = Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1]);
  return entries.length ? `: ${entries.map(([r, n]) => `${r} ${n}`).join(', ')}` : '';
}

/**
 * How to finish a failed run on the embedded runtime, for the table's `next` row: its missing
 * extracts, or its merge again once every checkpoint landed (a merge or profile that failed), after
 * freeing disk when that was the cause. None for a run that failed a quality gate: its dataset is
 * there, and running it again would fail the same gate (`bqx report` says which).
 */
export function nextStep(s: RunSummary): string | undefined {
  if (s.status !== 'failed' || s.output.manifest) return undefined;
  const rerun = `bqx rerun ${s.runId} ${s.landed < s.expected ? '--missing' : '--merge'}`;
  if (s.error && /ENOSPC|no space left on device/i.test(s.error)) return `free disk space (\`bqx gc --keep 1\` removes older datasets and this run's unfinished output), then ${rerun}`;
  return rerun;
}

/**
 * What `--quiet` still says: nothing for a success, one line for a failure (its exit code alone
 * would leave a script's user with no reason), with the next step where there is one.
 */
export function quietFailure(s: RunSummary, next?: string): string {
  if (s.status === 'succeeded') return '';
  return `bqx: run ${s.runId} ${s.status}: ${s.error ?? 'no reason recorded'}${next ? ` (next: ${next})` : ''}\n`;
}

export function summaryTable(s: RunSummary, extra: [string, string][] = [], next?: string): string {
  const seconds = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
  const rows: [string, string][] = [
    ['run', s.runId],
    ['pair', s.pair],
    ['status', s.status],
    ['features landed', `${s.landed} / ${s.expected}`],
    ['reused', `${s.reused} (extracted ${s.extracted}${reasons(s.reasons)})`],
    ['rows', s.output.rows.toLocaleString('en-US')],
    ['columns', s.output.columns.toLocaleString('en-US')],
    ['files', String(s.output.files)],
    ...(s.rowsRead ? ([['rows read', `${s.rowsRead.total.toLocaleString('en-US')} (features ${s.rowsRead.features.toLocaleString('en-US')}, labels ${s.rowsRead.labels.toLocaleString('en-US')})`]] as [string, string][]) : []),
    ['manifest', s.removed ? `- (the dataset was removed by retention at ${s.removed})` : (s.output.manifest ?? '-')],
    ['discover', seconds(s.timings.discover_ms)],
    ['extract', seconds(s.timings.extract_ms)],
    ['merge', seconds(s.timings.merge_ms)],
    ['profile', seconds(s.timings.profile_ms)],
    ['total', seconds(s.timings.total_ms)],
    ...(s.cost ? ([['cost', `$${s.cost.usd.toFixed(4)} on demand${s.cost.bytesBilled !== undefined ? ` (${(s.cost.bytesBilled / 2 ** 30).toFixed(2)} GiB billed)` : ''}`]] as [string, string][]) : []),
    ...(s.refresh ? ([
      ['refreshed from', `${s.refresh.from} (shards shared ${s.refresh.sharedShards}, rebuilt ${s.refresh.rebuiltShards}${s.refresh.grownShards?.length ? `, of which grown by a part: ${s.refresh.grownShards.join(', ')}` : ''})`],
      ['schema drift', describeDrift(s.refresh.drift)],
    ] as [string, string][]) : []),
    ...(s.sharing?.builtGroups ? ([['shared', `column groups other than ${s.sharing.builtGroups.join(', ')} of ${s.sharing.rebuiltShards} shard(s), from ${s.sharing.from}`]] as [string, string][]) : []),
    ...(s.sharing && !s.sharing.builtGroups && !s.refresh ? ([['shared', `${s.sharing.sharedShards} shard(s) whole, from ${s.sharing.from} (built ${s.sharing.rebuiltShards})`]] as [string, string][]) : []),
    ...extra,
  ];
  if (s.error) rows.push(['error', s.error]);
  if (next) rows.push(['next', next]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`);
  if (s.warnings.length > 0) lines.push('  warnings:', ...s.warnings.map((w) => `    - ${w}`));
  return lines.join('\n');
}
