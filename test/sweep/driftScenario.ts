// The sweep's refresh after schema drift (laterVersion.ts): the refresh's first version, then a
// table added to the warehouse that the table rules take (mkt_vol_extra, a family of the first
// column group), then `{"refresh": true}`. The refresh reports the table added, extracts it whole
// beside the other tables' new minutes, rebuilds the column group it joins in every shard, and
// shares or grows the rest as a plain refresh does. The table is added once, on the base's
// warehouse, after the first world's first version: memory stores only.

import { recordTableChanges } from '../../shared/adapters/local/tableVersions.js';
import { quoteIdent } from '../../shared/naming.js';
import { FIRST_END, REFRESH_SHAPE } from './refreshScenario.js';
import type { Scenario } from './sweep.js';
import { laterVersion, refreshOfFirst } from './laterVersion.js';
import type { SweepShape } from './world.js';

/** The refresh's shape, as a base of its own (its warehouse changes). */
export const DRIFT_SHAPE: SweepShape = { ...REFRESH_SHAPE };

export const ADDED = 'mkt_vol_extra';

export const DRIFT: Scenario = laterVersion({
  name: 'drift',
  first: (pair) => ({ pair, end: FIRST_END }),
  async change(base, world) {
    const dataset = world.config.featuresDataset;
    const q = (name: string) => quoteIdent(name, 'duckdb');
    await base.shared.duckdb.withConnection(async (c) => {
      await c.run(`CREATE TABLE ${q(dataset)}.${q(ADDED)} AS SELECT * FROM ${q(dataset)}.${q('mkt_vol')}`);
      await recordTableChanges(c, dataset, [ADDED]);
    });
    base.shared.tablesChanged();
  },
  second: (pair) => ({ pair, refresh: true }),
  follows(run, first) {
    const problems = refreshOfFirst(run, first);
    if (JSON.stringify(run.refresh?.drift?.tablesAdded) !== JSON.stringify([ADDED])) problems.push(`drift ${JSON.stringify(run.refresh?.drift)}, expected ${ADDED} added`);
    return problems;
  },
});
