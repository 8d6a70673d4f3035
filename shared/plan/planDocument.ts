// plan.json: one entry per recorded statement (its file, kind, typed parameters, tables read and
// created, result width, bytes it would read), a summary (statements by kind, widest result,
// longest text, most tables in one statement, bytes per kind) and what the profile after the
// merge is planned over.

import { estimateCost } from '../cost.js';
import type { RecordedStatement } from '../adapters/gcp/recordingBigQuery.js';
import { KEY_COLUMN } from '../naming.js';
import type { Window } from '../ports.js';
import { TableSizes, billedBytes, billedFromTotal, paramRange } from './estimateBytes.js';
import type { PlannedOutput } from './planOutput.js';
import { profileSummary, type ProfileSummary } from './planProfile.js';
import type { RecordedPlan } from './recordPlan.js';
import { isLoad, statementInfo } from './statementInfo.js';

export interface PlannedStatement {
  file: string;
  kind: string;
  /** Parameter name -> BigQuery type. */
  params: Record<string, string>;
  reads: string[];
  creates?: string;
  columns: number;
  chars: number;
  /** Bytes BigQuery would read (scan) for it. */
  bytes: number;
  /** Where `bytes` comes from: BigQuery's dry run, or table sizes. */
  bytesFrom: 'dry-run' | 'estimate';
  /** What on-demand pricing bills for it: `bytes` with its 10 MB minimums, per table referenced and per query (estimateBytes.ts `billedBytes`). */
  billed: number;
  /** Why a dry run gave no figure (e.g. a scratch table that exists only during a run). */
  dryRunError?: string;
}

export interface PlanSummary {
  statements: number;
  byKind: Record<string, number>;
  widest: { file: string; columns: number };
  longest: { file: string; chars: number };
  mostTables: { file: string; tables: number };
  bytesByKind: Record<string, number>;
  bytesTotal: number;
  /** Bytes billed on demand, by kind and in all: what `costUsd` prices. */
  billedByKind: Record<string, number>;
  billedTotal: number;
  dryRuns: number;
  /** What `bytesTotal` costs at on-demand prices, at `costPerTbUsd` a TiB (BQX_COST_PER_TB_USD), where given. */
  costUsd?: number;
  costPerTbUsd?: number;
}

export interface PlanDocument {
  pair: string;
  runId: string;
  target: string;
  window: Window;
  /** The run's snapshot (here, the plan's time): every read of a table is of the table as it was then (FOR SYSTEM_TIME AS OF). */
  snapshotAt?: string;
  statements: PlannedStatement[];
  summary: PlanSummary;
  profile: ProfileSummary;
}

/** One statement's SQL and what plan.json says of it. */
export interface PlanEntry {
  sql: string;
  statement: PlannedStatement;
  recorded: RecordedStatement;
  /** Result column names (plan.json keeps only their count). */
  columnNames: string[];
}

export type DryRun = (s: RecordedStatement) => Promise<{ bytes: number } | { error: string }>;

export interface DocumentOptions {
  target: string;
  /** Rows of a feature table in the window (the label rows when not known). */
  featureRows: (table: string) => number;
  /** Rows of a feature's checkpoint as the merge loads it, where they differ from `featureRows` (a refresh loading the previous version's export too). */
  checkpointRows?: (feature: string) => number;
  dryRun?: DryRun;
  /** On-demand price of a TiB read (BQX_COST_PER_TB_USD): the summary then says what the bytes cost. */
  costPerTbUsd?: number;
}

const fileName = (index: number, width: number, s: RecordedStatement) =>
  `${String(index + 1).padStart(width, '0')}-${s.step}${s.labels.feature ? `-${s.labels.feature}` : ''}.sql`;

/** The output files a LOAD DATA names (the profile's loads): their group's columns and their rows together. */
function outputLoad(s: RecordedStatement, files: PlannedOutput['files']): { columns: string[]; rows: number } {
  const uris = [.../uris=\[([^\]]*)\]/.exec(s.sql)?.[1]?.matchAll(/'([^']+)'/g) ?? []].map((m) => m[1]!);
  const loaded = uris.map((uri) => files.get(uri));
  if (uris.length === 0 || loaded.some((f) => f === undefined)) throw new Error(`plan: ${s.step} loads files the planned output does not hold (${uris[0] ?? 'none'})`);
  return { columns: loaded[0]!.columns, rows: loaded.reduce((n, f) => n + f!.rows, 0) };
}

/** A CREATE TABLE partitioned by the key (the merge's keys and batch tables). */
const PARTITIONED = /\nPARTITION BY TIMESTAMP_TRUNC\(/;

/**
 * The planned label rows of a key range made of the planned dataset's shards (a grown shard in two
 * pieces: its rows before the part, and the part): the rows of the pieces inside it, none where
 * no planned shard meets it (a shard without label rows, a weekend day, is not in the dataset);
 * undefined where it cuts a piece.
 */
function plannedRows(dataset: RecordedPlan['dataset']): (range: { start: string; end: string }) => number | undefined {
  const iso = (t: string) => new Date(t).toISOString();
  const pieces = dataset.shards.flatMap((s) => {
    const [start, end] = [iso(s.start), iso(s.end)];
    const g = dataset.grown?.id === s.id ? dataset.grown : undefined;
    if (!g) return [{ start, end, rows: s.rows }];
    const from = iso(g.from);
    return [{ start, end: from, rows: g.rowsBefore }, { start: from, end, rows: s.rows - g.rowsBefore }];
  });
  return (range) => {
    let rows = 0;
    for (const p of pieces) {
      if (p.end <= range.start || p.start >= range.end) continue;
      if (p.start < range.start || p.end > range.end) return undefined;
      rows += p.rows;
    }
    return rows;
  };
}

export async function planDocument(plan: RecordedPlan, options: DocumentOptions): Promise<{ document: PlanDocument; entries: PlanEntry[] }> {
  const { manifest } = plan;
  const rowsIn = plannedRows(plan.dataset);
  const byFeature = new Map(manifest.features.map((f) => [f.feature, f]));
  // The table a LOAD DATA makes: a checkpoint's (the job's `feature` label) with the feature's rows
  // (loaded partitioned with the previous version's export, `checkpointRows`), or output files' (the profile's).
  const loaded = (s: RecordedStatement) => {
    const feature = s.labels.feature;
    if (feature === undefined) return outputLoad(s, plan.dataset.files);
    const rows = (PARTITIONED.test(s.sql) ? (options.checkpointRows ?? options.featureRows) : options.featureRows)(feature);
    return { columns: [KEY_COLUMN, ...(byFeature.get(feature)?.columns.map((c) => c.source) ?? [])], rows };
  };
  // The label rows of the merge under way (its keys statement's window): its keys and batch tables hold them.
  let mergeRows = plan.labelRows;
  const sizes = new TableSizes();
  sizes.addCatalog(plan.datasets.labels, plan.labelCatalog, () => plan.labelRows);
  sizes.addCatalog(plan.datasets.features, plan.featureCatalog, options.featureRows);
  // startRun's label statistics read the whole label table (a table not partitioned on the key
  // bills its columns' every row): sized by its rows, not the merge's (0 for a refresh with
  // nothing new).
  const labelStatsSizes = new TableSizes();
  labelStatsSizes.addCatalog(plan.datasets.labels, plan.labelCatalog, () => plan.labelTableRows);

  const width = Math.max(4, String(plan.statements.length).length);
  const entries: PlanEntry[] = [];
  for (const [i, s] of plan.statements.entries()) {
    const info = statementInfo(s, (load) => loaded(load).columns);
    const perTable = (s.step === 'label_stats' ? labelStatsSizes : sizes).tableBytes(s.sql, info.reads, s.params);
    let bytes = perTable.reduce((n, b) => n + b, 0);
    let billed = billedBytes(perTable);
    let bytesFrom: PlannedStatement['bytesFrom'] = 'estimate';
    let dryRunError: string | undefined;
    if (options.dryRun) {
      const dry = await options.dryRun(s);
      if ('bytes' in dry) {
        bytes = dry.bytes;
        billed = isLoad(s.sql) ? 0 : billedFromTotal(dry.bytes, info.reads.length);
        bytesFrom = 'dry-run';
      } else {
        dryRunError = dry.error;
      }
    }
    // Scratch tables: a load's rows are its files'; the merge's keys and batches hold the label rows it builds.
    // Those partitioned by the key hold, in a shard's range, the planned shard's rows (or its part's).
    const range = paramRange(s.params);
    if (s.step === 'keys') mergeRows = (range && rowsIn(range)) ?? plan.labelRows;
    if (info.creates) sizes.addCreated(info.creates, info.columns, isLoad(s.sql) ? loaded(s).rows : mergeRows, !isLoad(s.sql) && PARTITIONED.test(s.sql) ? rowsIn : undefined);
    entries.push({
      sql: s.sql,
      recorded: s,
      columnNames: info.columns,
      statement: {
        file: fileName(i, width, s),
        kind: s.step,
        params: info.params,
        reads: info.reads,
        ...(info.creates ? { creates: info.creates } : {}),
        columns: info.columns.length,
        chars: s.sql.length,
        bytes,
        bytesFrom,
        billed,
        ...(dryRunError ? { dryRunError } : {}),
      },
    });
  }
  const statements = entries.map((e) => e.statement);
  return {
    entries,
    document: { pair: plan.pair, runId: plan.runId, target: options.target, window: plan.window, ...(plan.manifest.snapshotAt ? { snapshotAt: plan.manifest.snapshotAt } : {}), statements, summary: priced(summarise(statements), options.costPerTbUsd), profile: profileSummary(plan.profile) },
  };
}

/** The summary with what its bytes cost on demand (the warehouse's own estimate, estimateCost). */
function priced(summary: PlanSummary, costPerTbUsd: number | undefined): PlanSummary {
  return costPerTbUsd === undefined ? summary : { ...summary, costUsd: estimateCost(summary.billedTotal, costPerTbUsd), costPerTbUsd };
}

function summarise(statements: readonly PlannedStatement[]): PlanSummary {
  const byKind: Record<string, number> = {};
  const bytesByKind: Record<string, number> = {};
  const billedByKind: Record<string, number> = {};
  const top = <K extends 'columns' | 'chars'>(key: K) => statements.reduce((a, b) => (b[key] > a[key] ? b : a), statements[0]!);
  for (const s of statements) {
    byKind[s.kind] = (byKind[s.kind] ?? 0) + 1;
    bytesByKind[s.kind] = (bytesByKind[s.kind] ?? 0) + s.bytes;
    billedByKind[s.kind] = (billedByKind[s.kind] ?? 0) + s.billed;
  }
  const widest = top('columns');
  const longest = top('chars');
  const most = statements.reduce((a, b) => (b.reads.length + (b.creates ? 1 : 0) > a.reads.length + (a.creates ? 1 : 0) ? b : a), statements[0]!);
  return {
    statements: statements.length,
    byKind,
    widest: { file: widest.file, columns: widest.columns },
    longest: { file: longest.file, chars: longest.chars },
    mostTables: { file: most.file, tables: most.reads.length + (most.creates ? 1 : 0) },
    bytesByKind,
    bytesTotal: statements.reduce((n, s) => n + s.bytes, 0),
    billedByKind,
    billedTotal: statements.reduce((n, s) => n + s.billed, 0),
    dryRuns: statements.filter((s) => s.bytesFrom === 'dry-run').length,
  };
}
