// The column ledger: every output column with the table and column it came from, its family and
// the window or variant its name carries (DATA.md: the modellers kept this ledger by hand, and
// three naming schemes for the same columns silently dropped features). Derived from the run's
// frozen manifest alone, so every dataset's _manifest.json can carry it.

import type { RunManifest } from './manifest.js';

export interface LedgerEntry {
  column: string;
  role: 'key' | 'label' | 'feature';
  table: string;
  source: string;
  /** The first token of the table's name: agg, mom, corr, tri, csi, var, mkt, lag, regime, ... (target for labels). */
  family: string;
  /** The table-name tokens between the family and the pair or currencies: idx, bqx, bqx_ibkr, etf_idx, ... */
  variant?: string;
  /** The window in minutes the name carries: the column's trailing number, else the table's. */
  window?: number;
  /** Labels: minutes ahead (`_h30`). */
  horizon?: number;
}

/** A table's family: the first token of its name (DATA.md: agg, corr, tri, ...). */
export function tableFamily(table: string): string {
  return table.split('_')[0]!;
}

/** family, variant and window of a feature column, from its table's and column's names. */
export function describeFeature(table: string, source: string, pair: string, currencies: readonly string[]): Pick<LedgerEntry, 'family' | 'variant' | 'window'> {
  const tokens = table.split('_');
  const family = tableFamily(table);
  // The variant runs until the pair, a currency, a pair-like token or a number.
  const variant: string[] = [];
  for (const t of tokens.slice(1)) {
    if (t === pair || /^\d+$/.test(t) || currencies.includes(t) || (t.length === 6 && currencies.includes(t.slice(0, 3)) && currencies.includes(t.slice(3)))) break;
    variant.push(t);
  }
  const columnWindow = /_(\d+)$/.exec(source)?.[1];
  const tableWindow = /_(\d+)$/.exec(table)?.[1];
  const window = columnWindow ?? tableWindow;
  return { family, ...(variant.length > 0 ? { variant: variant.join('_') } : {}), ...(window ? { window: Number(window) } : {}) };
}

export function columnLedger(manifest: RunManifest, currencies: readonly string[]): LedgerEntry[] {
  const labelsTable = manifest.labels.table;
  const entries: LedgerEntry[] = [{ column: manifest.key, role: 'key', table: labelsTable, source: manifest.key, family: 'key' }];
  for (const label of manifest.labels.columns) {
    const m = /^target_([a-z]+?)(\d+)_h(\d+)$/.exec(label);
    entries.push({
      column: label,
      role: 'label',
      table: labelsTable,
      source: label,
      family: 'target',
      ...(m ? { variant: m[1]!, window: Number(m[2]), horizon: Number(m[3]) } : {}),
    });
  }
  for (const f of manifest.features) {
    for (const c of f.columns) {
      entries.push({ column: c.output, role: 'feature', table: f.feature, source: c.source, ...describeFeature(f.feature, c.source, manifest.pair, currencies) });
    }
  }
  return entries;
}
