// The profile statements `bqx plan` cannot list, analyzed by Google's GoogleSQL analyzer (ZetaSQL):
// the plan's recorded profile finds nothing (its client answers no rows), so the second pass over
// columns beyond 10 sd and the comparisons of candidate pairs never appear there. Here each is
// rendered by the adapter and analyzed against scratch tables typed as the output's loads give
// them (key TIMESTAMP, the rest FLOAT64), with its parameters typed. A seeded fault must be caught.
// Without the analyzer (another platform), the suite says SKIPPED and is pending.

import assert from 'node:assert/strict';
import { renderBeyond, renderCompare, renderCutRows, renderKeyGaps, renderScanSegments, renderTails } from '../../shared/adapters/gcp/bigQueryProfileSql.js';
import { Analyzer, zetaType, type ZetaColumn, type ZetaType } from '../helpers/zetasql.js';

const t = (type: string) => zetaType(type);
const DATASET = 'bqx_scratch';
const table = (columns: string[]): ZetaColumn[] => [{ name: 'interval_time', type: t('TIMESTAMP') }, ...columns.map((name) => ({ name, type: t('FLOAT64') }))];
const G0 = ['target_bqx45_h30', 'agg_mean_45'];
const G1 = ['der_mean_45', 'spike'];
const TABLES = new Map([
  [`${DATASET}.g0`, table(G0)],
  [`${DATASET}.g1_r1440`, table(G1)],
]);
const INT = t('INT64');
const FLOAT = t('FLOAT64');
const INTS = t('ARRAY<INT64>');

describe('gcp/GoogleSQL analysis of the profile statements a plan cannot list (ZetaSQL)', function () {
  this.timeout(120_000);
  let analyzer: Analyzer | undefined;

  before(async function () {
    analyzer = await Analyzer.forSuite(this, 'GoogleSQL analysis of the profile statements');
  });
  after(() => analyzer?.stop());

  const statements = (): { name: string; sql: string; params: Record<string, ZetaType> }[] => [
    { name: 'a carried-on scan of a rebuilt part', sql: renderScanSegments(DATASET, 'g1_r1440', G1).sql, params: { bounds: INTS, firsts: INTS, lasts: INTS, warmup: INT, block_from: INT, block_rows: INT, spread_step: INT } },
    { name: 'the tails kept with the state', sql: renderTails(DATASET, 'g1_r1440', G1, 10_001).sql, params: { bounds: INTS, firsts: INTS, snap: INT, from0: INT, lo0: FLOAT, hi0: FLOAT, from1: INT, lo1: FLOAT, hi1: FLOAT } },
    { name: 'the beyond-10-sd pass', sql: renderBeyond(DATASET, 'g1_r1440', G1).sql, params: { mean0: FLOAT, limit0: FLOAT, mean1: FLOAT, limit1: FLOAT } },
    {
      name: 'a comparison across groups',
      sql: renderCompare(DATASET, [{ table: 'g0', columns: ['interval_time', ...G0] }, { table: 'g1_r1440', columns: ['interval_time', ...G1] }], [{ a: 'der_mean_45', b: 'target_bqx45_h30', shift: 10 }, { a: 'spike', b: 'agg_mean_45', shift: -3 }, { a: 'spike', b: 'der_mean_45', shift: 0 }], 11).sql,
      params: { step: INT },
    },
    { name: 'an unshifted comparison on sampled rows', sql: renderCompare(DATASET, [{ table: 'g1_r1440', columns: ['interval_time', ...G1] }], [{ a: 'spike', b: 'der_mean_45', shift: 0 }], 3).sql, params: { step: INT } },
    { name: 'the duplicate candidates on every row', sql: renderCompare(DATASET, [{ table: 'g0', columns: ['interval_time', ...G0] }, { table: 'g1_r1440', columns: ['interval_time', ...G1] }], [{ a: 'der_mean_45', b: 'agg_mean_45', shift: 0 }, { a: 'spike', b: 'der_mean_45', shift: 0 }], 1).sql, params: {} },
    { name: 'the gaps', sql: renderKeyGaps(DATASET, 'g0').sql, params: {} },
    { name: 'the fold rows', sql: renderCutRows(DATASET, 'g0').sql, params: { cuts: t('ARRAY<TIMESTAMP>') } },
  ];

  it('analyzes each with 0 errors', async () => {
    for (const s of statements()) {
      const r = await analyzer!.analyze(s.sql, { tables: TABLES }, s.params, {});
      assert.ok(r.ok, `${s.name}: ${r.ok ? '' : r.error}`);
    }
  });

  it('catches a parameter of the wrong type in the beyond-10-sd pass', async () => {
    const beyond = statements().find((x) => x.name === 'the beyond-10-sd pass')!;
    const r = await analyzer!.analyze(beyond.sql, { tables: TABLES }, { ...beyond.params, limit1: t('STRING') }, {});
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.error, /STRING/);
  });
});
