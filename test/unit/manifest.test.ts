import assert from 'node:assert/strict';
import { loadConfig } from '../../shared/config.js';
import { LABEL_COLUMNS, demoTables } from '../../shared/demo/names.js';
import { assignOutputNames, buildManifest, columnMapping, outputColumns, tablePrefix } from '../../shared/manifest.js';
import { InputError } from '../../shared/naming.js';
import type { CatalogTable } from '../../shared/ports.js';

const config = loadConfig({});
const key = { name: 'interval_time', type: 'TIMESTAMP' };
const window = { start: '2020-01-06T00:00:00.000Z', end: '2020-01-07T00:00:00.000Z' };

function catalogOf(pairs: string[]): CatalogTable[] {
  return demoTables(pairs).map((t) => ({
    table: t.table,
    columns: [key, ...t.metadata.map((m) => ({ name: m, type: 'STRING' })), ...t.columns.map((c) => ({ name: c, type: 'FLOAT64' }))],
  }));
}
const labelTable: CatalogTable = { table: 'targets_eurusd', columns: [key, ...LABEL_COLUMNS.map((c) => ({ name: c, type: 'FLOAT64' }))] };
const build = (featureCatalog: CatalogTable[], labels = labelTable) =>
  buildManifest({ runId: 'eurusd-20260101t000000-aaaaaa', pair: 'eurusd', createdAt: window.start, window, labelRows: 100, featureCatalog, labelTable: labels, config });

describe('run manifest', () => {
  it('freezes 667 tables and 17,038 output columns for the full-shape demo catalog', () => {
    const m = build(catalogOf(['eurusd', 'gbpusd']));
    assert.equal(m.features.length, 667);
    assert.equal(m.labels.columns.length, 49);
    assert.equal(m.features.reduce((s, f) => s + f.columns.length, 0), 16_988);
    assert.equal(m.columnCount, 17_038);
    const cols = outputColumns(m);
    assert.equal(cols.length, 17_038);
    assert.equal(new Set(cols).size, cols.length, 'output names are unique');
  });

  it('drops pair/pair1/pair2 metadata columns and records them', () => {
    const m = build(catalogOf(['eurusd']));
    const cov = m.features.find((f) => f.feature === 'cov_agg_eurusd_gbpusd')!;
    assert.deepEqual(cov.dropped, ['pair1', 'pair2']);
    assert.ok(!cov.columns.some((c) => c.source.startsWith('pair')));
    assert.deepEqual(m.features.find((f) => f.feature === 'agg_eurusd')!.dropped, ['pair']);
  });

  it('names output columns after the table minus the pair, and maps every one back', () => {
    assert.equal(tablePrefix('corr_bqx_ibkr_eurusd_ewa', 'eurusd'), 'corr_bqx_ibkr_ewa');
    const m = build(catalogOf(['eurusd']));
    const f = m.features.find((x) => x.feature === 'corr_bqx_ibkr_eurusd_ewa')!;
    assert.equal(f.columns[0]!.output, `corr_bqx_ibkr_ewa_${f.columns[0]!.source}`);
    const mapping = columnMapping(m);
    assert.equal(Object.keys(mapping).length, m.columnCount);
    assert.deepEqual(mapping[f.columns[0]!.output], { table: 'corr_bqx_ibkr_eurusd_ewa', column: f.columns[0]!.source });
    assert.deepEqual(mapping.target_bqx45_h15, { table: 'targets_eurusd', column: 'target_bqx45_h15' });
  });

  it('resolves name collisions deterministically, whatever the input order', () => {
    // agg_eurusd.x_y and agg_x.y both propose agg_x_y; a feature named like a label clashes too.
    const sources = [
      { table: 'agg_eurusd', column: 'x_y' },
      { table: 'agg_x', column: 'y' },
      { table: 'target', column: 'bqx45_h15' },
      { table: 'agg_eurusd', column: 'z' },
    ];
    const names = assignOutputNames('eurusd', ['interval_time', 'target_bqx45_h15'], sources);
    assert.deepEqual(names, ['agg_eurusd__x_y', 'agg_x__y', 'target__bqx45_h15', 'agg_z']);
    const reversed = assignOutputNames('eurusd', ['interval_time', 'target_bqx45_h15'], [...sources].reverse());
    assert.deepEqual(reversed, [...names].reverse());
    // Even the fallback can clash: numbered suffixes keep names unique.
    const tricky = assignOutputNames('eurusd', ['a__b'], [{ table: 'a', column: 'b' }, { table: 'a_eurusd', column: 'b' }]);
    assert.equal(new Set(['a__b', ...tricky]).size, 3);
  });

  it('refuses a catalog the run could not use, with a clear error', () => {
    assert.throws(() => build([]), /no feature tables for pair "eurusd"/);
    const noKey: CatalogTable = { table: 'agg_eurusd', columns: [{ name: 'x', type: 'FLOAT64' }] };
    assert.throws(() => build([noKey]), /agg_eurusd has no interval_time/);
    const badCol: CatalogTable = { table: 'agg_eurusd', columns: [key, { name: 'x; drop', type: 'FLOAT64' }] };
    assert.throws(() => build([badCol]), InputError);
    const textCol: CatalogTable = { table: 'agg_eurusd', columns: [key, { name: 'note', type: 'STRING' }] };
    assert.throws(() => build([textCol]), /note is STRING, expected a number/);
    const dtKey: CatalogTable = { table: 'agg_eurusd', columns: [{ name: 'interval_time', type: 'DATETIME' }, { name: 'x', type: 'FLOAT64' }] };
    assert.throws(() => build([dtKey]), /interval_time is DATETIME, expected TIMESTAMP/);
  });
});
