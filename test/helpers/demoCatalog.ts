// The demo warehouse's catalog without its data: the tables and columns `bqx demo` would build
// (shared/demo/names.ts), typed as BigQuery lists them, and label statistics for a window of
// `rows` minutes. Enough to plan a full-width run (667 features, 17,038 columns) in a second.

import type { Config } from '../../shared/config.js';
import { LABEL_COLUMNS, demoTables } from '../../shared/demo/names.js';
import { KEY_COLUMN } from '../../shared/naming.js';
import type { CatalogTable, LabelStats, Window } from '../../shared/ports.js';
import type { CatalogSource } from '../../shared/plan/recordPlan.js';

export const DEMO_START = '2020-01-06T00:00:00.000Z';

export function demoCatalogSource(config: Config, pair: string, rows = 10_000): CatalogSource {
  const key = { name: KEY_COLUMN, type: 'TIMESTAMP' };
  const features: CatalogTable[] = demoTables([pair]).map((t) => ({
    table: t.table,
    columns: [key, ...t.metadata.map((name) => ({ name, type: 'STRING' })), ...t.columns.map((name) => ({ name, type: 'FLOAT64' }))],
  }));
  const labels: CatalogTable[] = [{ table: `${config.labelTablePrefix}${pair}`, columns: [key, ...LABEL_COLUMNS.map((name) => ({ name, type: 'FLOAT64' }))] }];
  const last = new Date(Date.parse(DEMO_START) + (rows - 1) * 60_000).toISOString();
  return {
    async listTables(dataset: string) {
      return dataset === config.featuresDataset ? features : dataset === config.labelsDataset ? labels : [];
    },
    async labelStats(_dataset: string, _table: string, window?: Window): Promise<LabelStats> {
      if (!window) return { rows, minKey: DEMO_START, maxKey: last };
      const from = Math.max(Date.parse(window.start), Date.parse(DEMO_START));
      const to = Math.min(Date.parse(window.end), Date.parse(last) + 60_000);
      const n = Math.max(0, Math.ceil((to - from) / 60_000));
      return { rows: n, minKey: n ? new Date(from).toISOString() : null, maxKey: n ? new Date(to - 60_000).toISOString() : null };
    },
  };
}
