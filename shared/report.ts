// The run report: per feature, rows, duplicates removed, null rate and key coverage, with
// warnings for features that are entirely null or do not cover the window. DATA.md: 224 tables
// were 100 % null and nobody noticed until a person looked; this is where it gets noticed.

import type { RunManifest } from './manifest.js';
import type { RefreshInfo, SchemaDrift } from './chain/refresh.js';
import type { CheckpointRecord } from './ports.js';
import type { GateResult } from './profile/gates.js';
import type { DatasetProfile, ProfileReuse } from './profile/types.js';

export interface FeatureStats {
  feature: string;
  columns: number;
  rows: number;
  sourceRows: number;
  duplicates: number;
  nullRate: number;
  /** Share of the window's label keys this feature has a row for. */
  coverage: number;
  firstKey: string | null;
  lastKey: string | null;
  bytes: number;
  allNull: boolean;
  /** Reused: the earlier run whose checkpoint this run used. Extracted: why it was not reused. */
  reusedFrom?: string;
  reason?: string;
}

export interface RunReport {
  runId: string;
  pair: string;
  window: RunManifest['window'];
  labelRows: number;
  features: FeatureStats[];
  totals: { features: number; columns: number; duplicates: number; nullRate: number; allNullFeatures: number; partialFeatures: number; extracted: number; reused: number };
  warnings: string[];
  /** The dataset profile and the quality gates (shared/profile), once the output is verified. */
  profile?: DatasetProfile;
  /** How many columns the profile measured and took from an earlier dataset with the same rows (shared/profile/reuseStats.ts). */
  profileReuse?: ProfileReuse;
  gates?: GateResult[];
  /** On a refresh: the version it follows and the schema drift since (`refresh.drift`). */
  refresh?: RefreshInfo;
  drift?: SchemaDrift;
}

/** Coverage under this share of the label keys is reported as not covering the window. */
export const COVERAGE_WARNING = 0.95;

export function buildReport(manifest: RunManifest, checkpoints: readonly CheckpointRecord[], labelRows: number): RunReport {
  const byFeature = new Map(checkpoints.map((c) => [c.feature, c]));
  const features: FeatureStats[] = manifest.features.map((f) => {
    const c = byFeature.get(f.feature);
    const rows = c?.rows ?? 0;
    const cells = rows * f.columns.length;
    const nulls = c ? f.columns.reduce((sum, col) => sum + (c.nullCounts[col.output] ?? 0), 0) : 0;
    return {
      feature: f.feature,
      columns: f.columns.length,
      rows,
      sourceRows: c?.sourceRows ?? 0,
      duplicates: c?.duplicates ?? 0,
      nullRate: cells > 0 ? nulls / cells : 1,
      coverage: labelRows > 0 ? Math.min(1, rows / labelRows) : 0,
      firstKey: c?.minKey ?? null,
      lastKey: c?.maxKey ?? null,
      bytes: c?.bytes ?? 0,
      allNull: cells === 0 || nulls === cells,
      ...(c?.reusedFrom ? { reusedFrom: c.reusedFrom } : { reason: f.reason ?? (f.reuse ? 'earlier checkpoint removed' : 'no earlier checkpoint') }),
    };
  });
  const warnings: string[] = [];
  const allNull = features.filter((f) => f.allNull);
  const partial = features.filter((f) => !f.allNull && f.coverage < COVERAGE_WARNING);
  const dupes = features.filter((f) => f.duplicates > 0);
  if (allNull.length > 0) warnings.push(`${allNull.length} feature(s) entirely null: ${sample(allNull.map((f) => f.feature))}`);
  if (partial.length > 0) {
    warnings.push(`${partial.length} feature(s) cover under ${COVERAGE_WARNING * 100}% of the window: ${sample(partial.map((f) => `${f.feature} (${(f.coverage * 100).toFixed(1)}%, from ${f.firstKey})`))}`);
  }
  if (dupes.length > 0) {
    warnings.push(`${dupes.length} feature(s) had duplicate keys, ${dupes.reduce((s, f) => s + f.duplicates, 0)} rows removed: ${sample(dupes.map((f) => `${f.feature} (${f.duplicates})`))}`);
  }
  const totalCells = features.reduce((s, f) => s + labelRows * f.columns, 0);
  // Output nulls: a feature's own nulls plus the label keys it has no row for.
  const totalNulls = features.reduce((s, f) => s + f.nullRate * f.rows * f.columns + (labelRows - Math.min(labelRows, f.rows)) * f.columns, 0);
  return {
    runId: manifest.runId,
    pair: manifest.pair,
    window: manifest.window,
    labelRows,
    features,
    totals: {
      features: features.length,
      columns: manifest.columnCount,
      duplicates: features.reduce((s, f) => s + f.duplicates, 0),
      nullRate: totalCells > 0 ? totalNulls / totalCells : 0,
      allNullFeatures: allNull.length,
      partialFeatures: partial.length,
      extracted: features.filter((f) => !f.reusedFrom).length,
      reused: features.filter((f) => f.reusedFrom).length,
    },
    warnings,
  };
}

/** The first `n` items, and how many more: `a, b, c and 4 more`. */
export function sample(items: readonly string[], n = 5): string {
  return items.length <= n ? items.join(', ') : `${items.slice(0, n).join(', ')} and ${items.length - n} more`;
}
