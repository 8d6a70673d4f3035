// The run manifest: the tables, columns and output column names of one run, frozen when the run
// starts. Everything later (expected count, checks, merge, verification) reads this, never the
// live catalog, since table names change over time.

import { selectTables } from './catalog.js';
import type { Config } from './config.js';
import { InputError, KEY_COLUMN, isIdentifier } from './naming.js';
import type { CatalogTable, Window } from './ports.js';

export interface ManifestColumn {
  /** Column in the source table. */
  source: string;
  /** Column in the merged output. */
  output: string;
  type: string;
}

export interface ManifestFeature {
  feature: string;
  dataset: string;
  columns: ManifestColumn[];
  /** Metadata columns (pair, pair1, pair2) present in the table and left out. */
  dropped: string[];
  /** What the checkpoint's content depends on (shared/fingerprint.ts); absent when unknown. */
  fingerprint?: string;
  /**
   * The table's data version of the window's rows when the run froze it (in `fingerprint` too):
   * the extract reads the table as it was then, or is refused if it has moved (ExtractJob.asOf).
   * Absent when the warehouse could not tell, and for a feature a rerun reads as its table is now.
   */
  version?: string;
  /** Set when startRun found an earlier checkpoint with the same fingerprint (shared/chain/reuse.ts). */
  reuse?: { runId: string; entry: string };
  /** Why the feature is extracted rather than reused. */
  reason?: string;
  /**
   * A refresh extracting only `range` (shared/chain/incremental.ts): the checkpoint is the earlier
   * run's files (unchanged rows of the previous window) followed by the new range's.
   */
  incremental?: {
    from: string;
    files: string[];
    /** Bytes of each of `files` when the refresh was planned (they are never rewritten): the reuse index takes them from here. */
    sizes?: number[];
    rows: number;
    sourceRows: number;
    duplicates: number;
    range: Window;
    /** The trailing files of `files` holding the previous window's partial last cell (incremental.ts). */
    carry?: string[];
  };
}

export interface RunManifest {
  version: 1;
  runId: string;
  pair: string;
  createdAt: string;
  key: string;
  window: Window;
  labels: {
    dataset: string;
    table: string;
    columns: string[];
    rows: number;
    /**
     * Data versions of the label rows in the window, and in the window less its last 2,880 minutes
     * (labels look ahead: those can change on an append): a refresh shares output shards only where
     * they have not moved (shared/chain/shareShards.ts).
     */
    versions?: { window: string | null; settled: { end: string; version: string | null } | null };
  };
  features: ManifestFeature[];
  /**
   * When the run froze its tables' data versions (ISO, just after asking them): BigQuery reads
   * every table as it was then (FOR SYSTEM_TIME AS OF), so a table changed while the run extracts
   * or after it was interrupted does not mix into it. Absent in manifests written before.
   */
  snapshotAt?: string;
  /** Output columns in total: key + labels + every feature column. */
  columnCount: number;
}

const NUMERIC_TYPES = new Set(['FLOAT64', 'FLOAT', 'DOUBLE', 'INT64', 'INTEGER', 'NUMERIC', 'BIGNUMERIC', 'BOOL', 'BOOLEAN']);
const KEY_TYPES = new Set(['TIMESTAMP']);

/** The table name with the pair token removed: `corr_bqx_ibkr_eurusd_ewa` -> `corr_bqx_ibkr_ewa`. */
export function tablePrefix(table: string, pair: string): string {
  const tokens = table.split('_').filter((t) => t !== pair);
  return tokens.length > 0 ? tokens.join('_') : table;
}

/**
 * Output names for every (table, column): `<table minus pair>_<column>`. Names are unique by
 * construction where possible; where two sources (or a source and a label or the key) would still
 * share a name, every clashing feature column falls back to `<full table>__<column>`, then to a
 * numbered suffix. The result depends only on the set of inputs, so it is deterministic.
 */
export function assignOutputNames(
  pair: string,
  reserved: readonly string[],
  sources: readonly { table: string; column: string }[],
): string[] {
  const proposed = sources.map((s) => `${tablePrefix(s.table, pair)}_${s.column}`);
  const taken = new Set(reserved);
  const counts = new Map<string, number>();
  for (const name of proposed) counts.set(name, (counts.get(name) ?? 0) + 1);
  const clashes = (name: string) => (counts.get(name) ?? 0) > 1 || taken.has(name);
  const firstPass = proposed.map((name, i) => (clashes(name) ? `${sources[i]!.table}__${sources[i]!.column}` : name));
  // Second pass: anything still not unique gets a numbered suffix, in input order.
  const used = new Set(reserved);
  return firstPass.map((name) => {
    let candidate = name;
    for (let n = 2; used.has(candidate); n++) candidate = `${name}__${n}`;
    used.add(candidate);
    return candidate;
  });
}

export interface BuildManifestInput {
  runId: string;
  pair: string;
  createdAt: string;
  window: Window;
  labelRows: number;
  featureCatalog: readonly CatalogTable[];
  labelTable: CatalogTable;
  config: Pick<Config, 'featuresDataset' | 'labelsDataset' | 'tableRules' | 'metadataColumns'>;
}

/** Builds the frozen manifest from the catalog; refuses a catalog the run could not use. */
export function buildManifest(input: BuildManifestInput): RunManifest {
  const { pair, config } = input;
  const byName = new Map(input.featureCatalog.map((t) => [t.table, t]));
  const selected = selectTables([...byName.keys()], pair, config.tableRules);
  if (selected.length === 0) {
    throw new InputError(`no feature tables for pair "${pair}" in dataset ${config.featuresDataset} (rules: ${config.tableRules.join(', ')})`);
  }
  const metadata = new Set(config.metadataColumns);

  const labelColumns = checkedColumns(input.labelTable, metadata).map((c) => c.name);
  const features: { feature: string; columns: { name: string; type: string }[]; dropped: string[] }[] = [];
  for (const table of selected) {
    const info = byName.get(table)!;
    if (!isIdentifier(table)) throw new InputError(`feature table name ${JSON.stringify(table)} is not a plain identifier`);
    features.push({
      feature: table,
      columns: checkedColumns(info, metadata),
      dropped: info.columns.filter((c) => metadata.has(c.name)).map((c) => c.name),
    });
  }

  const sources = features.flatMap((f) => f.columns.map((c) => ({ table: f.feature, column: c.name })));
  const names = assignOutputNames(pair, [KEY_COLUMN, ...labelColumns], sources);
  let i = 0;
  const manifestFeatures: ManifestFeature[] = features.map((f) => ({
    feature: f.feature,
    dataset: config.featuresDataset,
    columns: f.columns.map((c) => ({ source: c.name, output: names[i++]!, type: c.type })),
    dropped: f.dropped,
  }));
  return {
    version: 1,
    runId: input.runId,
    pair,
    createdAt: input.createdAt,
    key: KEY_COLUMN,
    window: input.window,
    labels: { dataset: config.labelsDataset, table: input.labelTable.table, columns: labelColumns, rows: input.labelRows },
    features: manifestFeatures,
    columnCount: 1 + labelColumns.length + sources.length,
  };
}

/** The non-key, non-metadata columns of a table, after checking the key and the column names. */
function checkedColumns(table: CatalogTable, metadata: Set<string>): { name: string; type: string }[] {
  const key = table.columns.find((c) => c.name === KEY_COLUMN);
  if (!key) throw new InputError(`table ${table.table} has no ${KEY_COLUMN} column`);
  if (!KEY_TYPES.has(key.type)) throw new InputError(`table ${table.table}: ${KEY_COLUMN} is ${key.type}, expected TIMESTAMP`);
  const columns = table.columns.filter((c) => c.name !== KEY_COLUMN && !metadata.has(c.name));
  for (const c of columns) {
    if (!isIdentifier(c.name)) throw new InputError(`table ${table.table}: column ${JSON.stringify(c.name)} is not a plain identifier`);
    if (!NUMERIC_TYPES.has(c.type)) throw new InputError(`table ${table.table}: column ${c.name} is ${c.type}, expected a number`);
  }
  if (columns.length === 0) throw new InputError(`table ${table.table} has no feature columns`);
  return columns;
}

/** Output column names in output order: key, labels, then features in manifest order. */
export function outputColumns(manifest: RunManifest): string[] {
  return [manifest.key, ...manifest.labels.columns, ...manifest.features.flatMap((f) => f.columns.map((c) => c.output))];
}

/** Maps every output column back to its source (table, column). */
export function columnMapping(manifest: RunManifest): Record<string, { table: string; column: string }> {
  const mapping: Record<string, { table: string; column: string }> = {};
  mapping[manifest.key] = { table: manifest.labels.table, column: manifest.key };
  for (const c of manifest.labels.columns) mapping[c] = { table: manifest.labels.table, column: c };
  for (const f of manifest.features) for (const c of f.columns) mapping[c.output] = { table: f.feature, column: c.source };
  return mapping;
}
