// plan.json: one entry per recorded statement (its file, kind, typed parameters, tables read and
// created, result width, bytes it would read) and a summary (statements by kind, widest result,
// longest text, most tables in one statement, bytes per kind).

import type { RecordedStatement } from '../adapters/gcp/recordingBigQuery.js';
import type { Window } from '../ports.js';
import { TableSizes } from './estimateBytes.js';
import type { RecordedPlan } from './recordPlan.js';
import { statementInfo } from './statementInfo.js';

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
  dryRuns: number;
}

export interface PlanDocument {
  pair: string;
  runId: string;
  target: string;
  window: Window;
  statements: PlannedStatement[];
  summary: PlanSummary;
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
  dryRun?: DryRun;
}

const fileName = (index: number, width: number, s: RecordedStatement) =>
  `${String(index + 1).padStart(width, '0')}-${s.step}${s.labels.feature ? `-${s.labels.feature}` : ''}.sql`;

export async function planDocument(plan: RecordedPlan, options: DocumentOptions): Promise<{ document: PlanDocument; entries: PlanEntry[] }> {
  const { manifest } = plan;
  const byFeature = new Map(manifest.features.map((f) => [f.feature, f]));
  const loadColumns = (feature: string) => byFeature.get(feature)?.columns.map((c) => c.source) ?? [];
  const sizes = new TableSizes();
  sizes.addCatalog(plan.datasets.labels, plan.labelCatalog, () => plan.labelRows);
  sizes.addCatalog(plan.datasets.features, plan.featureCatalog, options.featureRows);

  const width = Math.max(4, String(plan.statements.length).length);
  const entries: PlanEntry[] = [];
  for (const [i, s] of plan.statements.entries()) {
    const info = statementInfo(s, loadColumns);
    let bytes = sizes.bytesRead(s.sql, info.reads, s.step);
    let bytesFrom: PlannedStatement['bytesFrom'] = 'estimate';
    let dryRunError: string | undefined;
    if (options.dryRun) {
      const dry = await options.dryRun(s);
      if ('bytes' in dry) {
        bytes = dry.bytes;
        bytesFrom = 'dry-run';
      } else {
        dryRunError = dry.error;
      }
    }
    if (info.creates) {
      const rows = s.step === 'load' ? options.featureRows(s.labels.feature ?? '') : plan.labelRows;
      sizes.addCreated(info.creates, info.columns, rows);
    }
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
        ...(dryRunError ? { dryRunError } : {}),
      },
    });
  }
  const statements = entries.map((e) => e.statement);
  return {
    entries,
    document: { pair: plan.pair, runId: plan.runId, target: options.target, window: plan.window, statements, summary: summarise(statements) },
  };
}

function summarise(statements: readonly PlannedStatement[]): PlanSummary {
  const byKind: Record<string, number> = {};
  const bytesByKind: Record<string, number> = {};
  const top = <K extends 'columns' | 'chars'>(key: K) => statements.reduce((a, b) => (b[key] > a[key] ? b : a), statements[0]!);
  for (const s of statements) {
    byKind[s.kind] = (byKind[s.kind] ?? 0) + 1;
    bytesByKind[s.kind] = (bytesByKind[s.kind] ?? 0) + s.bytes;
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
    dryRuns: statements.filter((s) => s.bytesFrom === 'dry-run').length,
  };
}
