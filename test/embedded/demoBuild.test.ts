// The demo build on first use (cli/demo.ts): a build cut off after the label tables were written
// (Ctrl-C during the first `npm start`) is built again on the next use, never taken for the
// user's own data, which would leave every run failing with "no feature tables".

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sinon from 'sinon';
import { changeDemo, demoToChange } from '../../shared/cli/demoChange.js';
import { demoDatasets } from '../../shared/cli/demo.js';
import { appendMinutes } from '../../shared/demo/change.js';
import { ensureDemo, type DemoState } from '../../shared/cli/demo.js';
import { demoTables } from '../../shared/demo/names.js';
import type { Embedded } from '../../shared/runtime/embedded.js';
import { freshHome, openTest, testConfig, writeDemoHome } from '../helpers/embedded.js';
import { tempDir } from '../helpers/temp.js';

/** The size of the demo every mocha worker shares (test/helpers/embedded.ts demoWarehouse), which the tests that begin with a built pair start from. */
const ROWS = 600;

describe('embedded: the demo build on first use', function () {
  this.timeout(120_000);
  let e: Embedded;
  const config = () => testConfig(e.home);
  const demoJson = async () => JSON.parse(await fs.readFile(path.join(e.home, 'demo.json'), 'utf8')) as DemoState;

  beforeEach(async () => {
    e = await openTest(testConfig(tempDir('demo-build')));
  });
  afterEach(async () => {
    sinon.restore();
    await e.close();
  });

  /** Starts from eurusd's demo as `bqx demo` leaves it: a copy of the one built once for the whole run (building it is the first test's). */
  const fromBuiltDemo = async () => {
    await e.close();
    e = await openTest(testConfig(await freshHome(ROWS)));
  };

  it('a build cut off after the label tables is built again on the next use, and a run of it is not refused', async () => {
    sinon.stub(e.warehouse, 'writeFileTables').rejects(new Error('killed'));
    await assert.rejects(ensureDemo(e, config(), ['eurusd'], ROWS, true), /killed/);
    sinon.restore();
    const cut = config();
    assert.equal((await e.warehouse.listTables(cut.labelsDataset)).length, 1, 'the label table was written before the cut');
    assert.equal((await e.warehouse.listTables(cut.featuresDataset)).length, 0, 'no feature table was');
    assert.equal((await demoJson()).building, true);
    await assert.rejects(demoToChange(e.home, { touch: ['agg_eurusd'] }), /build was cut off: build it again/);

    assert.equal(await ensureDemo(e, cut, ['eurusd'], undefined, true), 'built');
    assert.equal((await e.warehouse.listTables(cut.featuresDataset)).length, 669);
    const state = await demoJson();
    assert.deepEqual({ building: state.building, rows: state.rows, pairs: state.pairs }, { building: undefined, rows: ROWS, pairs: ['eurusd'] });
    assert.equal(await ensureDemo(e, cut, ['eurusd'], undefined, true), 'present');
  });

  it('a pair added to a demo builds its tables alone: the first pair\'s keep their values and data versions (their checkpoints stay reusable)', async () => {
    await fromBuiltDemo();
    const c = config();
    assert.equal(await ensureDemo(e, c, ['eurusd'], ROWS, true), 'present');
    const first = demoTables(['eurusd']).map((t) => t.table);
    const versions = await e.warehouse.dataVersions(c.featuresDataset, first);
    const labelVersion = await e.warehouse.dataVersions(c.labelsDataset, [`${c.labelTablePrefix}eurusd`]);
    const values = async (dataset: string, table: string) => JSON.stringify(await e.warehouse.query(`SELECT * FROM ${dataset}.${table} ORDER BY ALL`), (_, v) => (typeof v === 'bigint' ? String(v) : v));
    const agg = await values(c.featuresDataset, 'agg_eurusd');

    assert.equal(await ensureDemo(e, c, ['gbpusd'], undefined, true), 'built');
    assert.deepEqual(await e.warehouse.dataVersions(c.featuresDataset, first), versions, 'no table of eurusd was written again');
    assert.deepEqual(await e.warehouse.dataVersions(c.labelsDataset, [`${c.labelTablePrefix}eurusd`]), labelVersion);
    assert.equal(await values(c.featuresDataset, 'agg_eurusd'), agg);
    const both = demoTables(['eurusd', 'gbpusd']).map((t) => t.table);
    assert.deepEqual((await e.warehouse.listTables(c.featuresDataset)).map((t) => t.table).sort(), [...both].sort());
    const added = both.filter((t) => !first.includes(t));
    assert.ok(added.length > 200, `gbpusd's own tables: ${added.length}`);
    assert.ok(Object.values(await e.warehouse.dataVersions(c.featuresDataset, added)).every((v) => v !== null), 'each added table has a data version');
    assert.equal((await demoJson()).pairs.join(), 'eurusd,gbpusd');
    assert.equal(await ensureDemo(e, c, ['gbpusd'], undefined, true), 'present');
  });

  it('an append fills in the label rows its minutes make known (labels look 2,880 minutes ahead): the null tail stays the last 2,880 minutes, and the label table changes from its first filled row on', async () => {
    const home = tempDir('demo-fill');
    // From a Wednesday: the 3,000 minutes end on Friday, and the appended day crosses the weekend.
    await writeDemoHome(home, { pairs: ['eurusd'], rows: 3000, start: '2020-01-08T00:00:00Z', only: (t) => t === 'agg_eurusd' });
    await e.close();
    e = await openTest(testConfig(home));
    const c = config();
    const table = `${c.labelsDataset}.${c.labelTablePrefix}eurusd`;
    const lastKey = async () => String((await e.warehouse.query(`SELECT strftime(max(interval_time)::TIMESTAMP, '%Y-%m-%dT%H:%M:%S.000Z') AS t FROM ${table}`))[0]!.t);
    const tailFrom = (last: string) => new Date(Date.parse(last) - 2880 * 60_000).toISOString();
    // The rows with a key in (after, through], their null labels and a digest of their labels.
    const rows = async (after: string, through = '9999-01-01T00:00:00Z') =>
      (await e.warehouse.query(`SELECT count(*)::INTEGER AS n, count(*) FILTER (WHERE target_bqx45_h15 IS NULL)::INTEGER AS nulls, sum(hash(target_bqx45_h15, target_bqx2880_h105))::VARCHAR AS digest
        FROM ${table} WHERE interval_time > $1::TIMESTAMPTZ AND interval_time <= $2::TIMESTAMPTZ`, [after, through]))[0]!;
    const oldLast = await lastKey();
    const settled = await rows('1970-01-01T00:00:00Z', tailFrom(oldLast));
    const oldTail = await rows(tailFrom(oldLast));
    assert.ok(Number(oldTail.n) > 0 && oldTail.nulls === oldTail.n, 'the demo builds the labels of its last 2,880 minutes null');
    assert.ok(Number(settled.nulls) < Number(settled.n) / 10, 'and the others with values (about 2 % null)');
    const start = '2020-01-01T00:00:00.000Z';
    const before = await e.warehouse.dataVersions(c.labelsDataset, [`${c.labelTablePrefix}eurusd`], { start, end: new Date(Date.parse(tailFrom(oldLast)) + 60_000).toISOString() });

    await appendMinutes(e.warehouse, demoDatasets(c), { pairs: ['eurusd'], built: 3000, appended: 0, only: (t) => t === 'agg_eurusd' }, 1440);
    const newLast = await lastKey();
    assert.ok(oldLast < '2020-01-10T22:00:00.000Z' && newLast > '2020-01-12T22:00:00.000Z', `the new day crossed the weekend: ${oldLast} to ${newLast}`);
    assert.deepEqual(await rows('1970-01-01T00:00:00Z', tailFrom(oldLast)), settled, 'the rows the new minutes do not reach keep their labels');
    const filled = await rows(tailFrom(oldLast), tailFrom(newLast));
    assert.ok(Number(filled.n) > 0 && Number(filled.nulls) < Number(filled.n) / 10, `the old tail up to the new end less 2,880 minutes has values: ${filled.nulls} of ${filled.n} null`);
    const newTail = await rows(tailFrom(newLast));
    assert.ok(Number(newTail.n) > 0 && newTail.nulls === newTail.n, 'the last 2,880 minutes are the null tail');
    assert.deepEqual(await e.warehouse.dataVersions(c.labelsDataset, [`${c.labelTablePrefix}eurusd`], { start, end: new Date(Date.parse(tailFrom(oldLast)) + 60_000).toISOString() }), before, 'the labels up to the first filled row keep their version');
    assert.notDeepEqual(await e.warehouse.dataVersions(c.labelsDataset, [`${c.labelTablePrefix}eurusd`], { start, end: tailFrom(newLast) }), before, 'a window holding a filled row has a new version (no stale reuse)');
  });

  it('a pair added after --append gets the same minutes appended: its tables end where the others do, theirs untouched', async () => {
    await fromBuiltDemo();
    const c = config();
    assert.equal(await ensureDemo(e, c, ['eurusd'], ROWS, true), 'present');
    await changeDemo(e, c, { appendMinutes: 90 }, await demoToChange(e.home, {}));
    const first = demoTables(['eurusd']).map((t) => t.table);
    const versions = await e.warehouse.dataVersions(c.featuresDataset, first);
    const ends = async (dataset: string, table: string) => (await e.warehouse.query(`SELECT count(*)::INTEGER AS n, max(interval_time)::VARCHAR AS last FROM ${dataset}.${table}`))[0];

    assert.equal(await ensureDemo(e, c, ['gbpusd'], undefined, true), 'built');
    assert.deepEqual(await e.warehouse.dataVersions(c.featuresDataset, first), versions, 'no table of eurusd was written again');
    assert.deepEqual(await ends(c.labelsDataset, `${c.labelTablePrefix}gbpusd`), await ends(c.labelsDataset, `${c.labelTablePrefix}eurusd`));
    assert.deepEqual(await ends(c.featuresDataset, 'agg_gbpusd'), await ends(c.featuresDataset, 'agg_eurusd'));
    const state = await demoJson();
    assert.deepEqual({ pairs: state.pairs, appended: state.appended }, { pairs: ['eurusd', 'gbpusd'], appended: 90 });
    // A later append grows both pairs alike (it checks the first pair's label rows against demo.json).
    await changeDemo(e, c, { appendMinutes: 30 }, await demoToChange(e.home, {}));
    assert.equal((await ends(c.labelsDataset, `${c.labelTablePrefix}gbpusd`))!.n, ROWS + 120);
    assert.deepEqual(await ends(c.featuresDataset, 'agg_gbpusd'), await ends(c.featuresDataset, 'agg_eurusd'));
  });

  it('a warehouse with the label tables and no demo.json is the user\'s own data, left alone', async () => {
    const c = config();
    await e.warehouse.execute(`CREATE SCHEMA ${c.labelsDataset}`);
    await e.warehouse.execute(`CREATE TABLE ${c.labelsDataset}.${c.labelTablePrefix}eurusd (interval_time TIMESTAMPTZ, target DOUBLE)`);
    assert.equal(await ensureDemo(e, c, ['eurusd'], ROWS, true), 'own-data');
    assert.equal((await e.warehouse.listTables(c.featuresDataset)).length, 0);
    await assert.rejects(fs.access(path.join(e.home, 'demo.json')));
  });
});
