// The fingerprint of a feature's checkpoint: what its content depends on, hashed. Two checkpoints
// with the same fingerprint hold the same rows and values, so a later run can reuse one instead of
// extracting again (dbt's state:modified, by content, never by name). It has four parts, each a
// hash of its own, so a run that cannot reuse can say which part moved:
//   schema    the table (dataset, name) and all its columns with their types, in order
//   data      the data version of the table's rows in the window, from the warehouse (changes
//             with every write to them; rows written after the window leave it alone)
//   window    the run's [start, end)
//   settings  what the extract does with the table: columns kept and dropped, the key, the
//             deduplication rule, and the checkpoint format and layout (with the shard unit,
//             where the warehouse's checkpoint files follow the shard grid)
// A table whose data version is unknown has no fingerprint: its checkpoints are never reused.

import { createHash } from 'node:crypto';
import { KEY_COLUMN } from './naming.js';
import type { CatalogTable, Window } from './ports.js';

/**
 * Bump when the checkpoint files an extract writes change shape (file layout, row groups,
 * encoding, dedup rule): older checkpoints then stop matching and are extracted again.
 */
export const CHECKPOINT_LAYOUT_VERSION = 1;
/** Of duplicate keys, the row kept is the first by all its columns, nulls last (both runtimes). */
export const DEDUP_RULE = 'first-row-by-all-columns-asc-nulls-last';

export const FINGERPRINT_PARTS = ['schema', 'data', 'window', 'settings'] as const;
export type FingerprintPart = (typeof FINGERPRINT_PARTS)[number];

const PART = /^[0-9a-f]{16}$/;

const hash = (value: unknown): string => createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);

export interface FingerprintInput {
  dataset: string;
  table: CatalogTable;
  version: string | null;
  window: Window;
  /** Source columns the extract keeps (besides the key), in order. */
  kept: readonly string[];
  /** Metadata columns left out. */
  dropped: readonly string[];
  /**
   * The shard unit, where the checkpoint's files follow the shard grid (Warehouse
   * `checkpointsFollowShards`). Left out of the hash when absent, so BigQuery's fingerprints do
   * not move.
   */
  shard?: string;
}

/** `<schema>-<data>-<window>-<settings>`, 16 hex digits each; undefined without a data version. */
export function featureFingerprint(input: FingerprintInput): string | undefined {
  if (input.version === null) return undefined;
  return [
    hash({ dataset: input.dataset, table: input.table.table, columns: input.table.columns.map((c) => [c.name, c.type]) }),
    dataPart(input.dataset, input.table.table, input.version),
    hash({ start: input.window.start, end: input.window.end }),
    hash({ key: KEY_COLUMN, kept: input.kept, dropped: input.dropped, dedup: DEDUP_RULE, layout: CHECKPOINT_LAYOUT_VERSION, ...(input.shard ? { shard: input.shard } : {}) }),
  ].join('-');
}

/** The data part of a fingerprint, for a table's data version. */
export function dataPart(dataset: string, table: string, version: string): string {
  return hash({ dataset, table, version });
}

/** One part of a fingerprint. */
export function partOf(fingerprint: string, part: FingerprintPart): string {
  return fingerprint.split('-')[FINGERPRINT_PARTS.indexOf(part)]!;
}

export function isFingerprint(value: unknown): value is string {
  return typeof value === 'string' && value.split('-').length === 4 && value.split('-').every((p) => PART.test(p));
}

/** The parts in which two fingerprints differ, in the order schema, data, window, settings. */
export function differingParts(a: string, b: string): FingerprintPart[] {
  const pa = a.split('-');
  const pb = b.split('-');
  return FINGERPRINT_PARTS.filter((_, i) => pa[i] !== pb[i]);
}
