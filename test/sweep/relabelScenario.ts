// The sweep's refresh over a filled-in label tail (laterVersion.ts): a first version over three days
// and two hours, the label rows of its last 14 hours written again in place (labels look ahead: new
// minutes give the tail its values), then `{"refresh": true}`. The refresh shares the first days,
// builds the label group alone of the whole days whose label rows changed and of the partial last
// day's rows before the previous end (two merges in one run), and the new minutes whole: the
// partial day grows by a part. The labels change once, on the base's
// warehouse, after the first world's first version: memory stores only.

import { recordTableChanges } from '../../shared/adapters/local/tableVersions.js';
import { quoteIdent } from '../../shared/naming.js';
import type { Scenario } from './sweep.js';
import { laterVersion, refreshOfFirst } from './laterVersion.js';
import { COMPACT, type SweepShape } from './world.js';

/** COMPACT's 18 tables over 4,600 minutes (three days and more), on day shards, keeping one dataset. */
export const RELABEL_SHAPE: SweepShape = { ...COMPACT, rows: 4_600, env: { ...COMPACT.env, BQX_SHARD: 'day', BQX_KEEP: '1' } };

/** Where the first version ends: its fourth day's shard holds two hours. */
export const RELABEL_FIRST_END = '2020-01-09T02:00:00Z';
/** The first label row written again: after that version's end less 2,880 minutes, in its third day. */
export const RELABELLED_FROM = '2020-01-08T12:00:00Z';

export const RELABEL: Scenario = laterVersion({
  name: 'relabel',
  first: (pair) => ({ pair, end: RELABEL_FIRST_END }),
  async change(base, world) {
    const dataset = world.config.labelsDataset;
    const table = `${world.config.labelTablePrefix}eurusd`;
    const q = (name: string) => quoteIdent(name, 'duckdb');
    await base.shared.duckdb.withConnection(async (c) => {
      const columns = (await (await c.runAndReadAll(`SELECT column_name FROM information_schema.columns WHERE table_schema = '${dataset}' AND table_name = '${table}' AND column_name <> 'interval_time'`)).getRows()).map((r) => String(r[0]));
      await c.run(`UPDATE ${q(dataset)}.${q(table)} SET ${columns.map((col) => `${q(col)} = -${q(col)}`).join(', ')} WHERE interval_time >= TIMESTAMPTZ '${RELABELLED_FROM}'`);
      await recordTableChanges(c, dataset, [table], { start: RELABELLED_FROM.replace('Z', '.000Z'), end: null });
    });
    base.shared.tablesChanged();
  },
  second: (pair) => ({ pair, refresh: true }),
  follows: refreshOfFirst,
});
