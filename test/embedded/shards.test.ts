// Time shards on the embedded runtime: a real run whose window spans three day shards (small rows,
// BQX_SHARD=day). Checkpoints are cut at shard boundaries, each (shard, group) is its own file, the
// groups line up row for row within every shard, and `bqx verify` fails on a damaged shard.

import { DuckDBInstance, listValue } from '@duckdb/node-api';
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { readLocalFooter } from '../../shared/adapters/local/parquetStitch.js';
import { startRun } from '../../shared/chain/startRun.js';
import { verifyManifest } from '../../shared/cli/verify.js';
import type { Embedded } from '../../shared/runtime/embedded.js';
import { openTest, settle, testConfig } from '../helpers/embedded.js';
import { tempDir } from '../helpers/temp.js';

const START = '2021-03-01T20:00:00.000Z';
const MINUTES = 2500; // 2021-03-01 20:00 .. 2021-03-03 13:39: 240 + 1,440 + 820 rows
const WIDE = 320; // with BQX_MAX_GROUP_COLUMNS=300: three column groups

async function buildWarehouse(e: Embedded): Promise<void> {
  const keys = (from: number, to: number) =>
    `SELECT (TIMESTAMP '2021-03-01 20:00:00' + i * INTERVAL 1 MINUTE)::TIMESTAMPTZ AS interval_time, i FROM range(${from}, ${to}) r(i)`;
  const w = e.warehouse;
  await w.execute('CREATE SCHEMA bqx_ml_v3_features_v2; CREATE SCHEMA bqx_ml_v3_analytics_v2');
  await w.execute(`CREATE TABLE bqx_ml_v3_analytics_v2.targets_eurusd AS SELECT interval_time, i * 1.0 AS target_a FROM (${keys(0, MINUTES)})`);
  // Reaches past both ends of the window: used as it is in every shard.
  await w.execute(`CREATE TABLE bqx_ml_v3_features_v2.agg_eurusd AS SELECT interval_time, i * 10.0 AS a FROM (${keys(-30, MINUTES + 30)})`);
  // Starts inside the middle shard: nothing in the first, part of the second, all of the third.
  await w.execute(`CREATE TABLE bqx_ml_v3_features_v2.tri_agg_eur_usd_gbp AS SELECT interval_time, i + 0.5 AS x FROM (${keys(1000, MINUTES)})`);
  // Duplicate keys, kept first by value.
  await w.execute(`CREATE TABLE bqx_ml_v3_features_v2.csi_mom_bqx_usd AS SELECT interval_time, i * 1.0 AS x FROM (${keys(0, MINUTES)}) UNION ALL SELECT interval_time, i + 9000.0 FROM (${keys(0, MINUTES)}) WHERE i % 5 = 0`);
  const cols = Array.from({ length: WIDE }, (_, k) => `i * 1.0 + ${k} AS c${k}`).join(', ');
  await w.execute(`CREATE TABLE bqx_ml_v3_features_v2.var_wide_eurusd AS SELECT interval_time, ${cols} FROM (${keys(0, MINUTES)})`);
}

interface ShardEntry {
  index: number;
  id: string;
  start: string;
  end: string;
  rows: number;
  groups: { index: number; files: string[]; objects: string[]; rows: number }[];
}

async function rowsOf(files: string[][]): Promise<Record<string, unknown>[]> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const parts = files.map((_, i) => `(SELECT * ${i ? 'EXCLUDE (interval_time)' : ''} FROM read_parquet($${i + 1}))`);
    return (await c.runAndReadAll(`SELECT * FROM ${parts.join(' POSITIONAL JOIN ')}`, files.map((f) => listValue(f)))).getRowObjectsJS() as Record<string, unknown>[];
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

describe('embedded time shards (a window over three day shards)', function () {
  this.timeout(180_000);
  let e: Embedded;
  let manifestFile: string;
  let m: { rows: number; groups: { index: number; files: string[]; columns: string[] }[]; shards: ShardEntry[]; shardUnit: string };

  before(async () => {
    e = await openTest(testConfig(tempDir('shards'), { BQX_SHARD: 'day', BQX_MAX_GROUP_COLUMNS: '300', BQX_KEEP: '5' }));
    await buildWarehouse(e);
    const { run: started } = await startRun(e.deps, { pair: 'eurusd' });
    const run = await settle(e, started.runId);
    assert.equal(run.state, 'succeeded', run.error);
    manifestFile = e.output.uri(run.output!.manifest);
    // Only the late starter needs lining up, and by null pages (its first day all nulls, its second
    // a late start on the label keys), not by a join; the other checkpoints' shards are stitched as they are.
    assert.equal(e.warehouse.lastRealigned, 0);
    assert.equal(e.warehouse.lastPadded, 1);
    m = JSON.parse(Buffer.from(await e.output.read(run.output!.manifest)).toString('utf8'));
  });
  after(async () => {
    await e.close();
  });

  it('lists the shards in the manifest: calendar days clipped to the window, with their rows and files', () => {
    assert.equal(m.shardUnit, 'day');
    assert.deepEqual(
      m.shards.map((s) => [s.index, s.id, s.start, s.end, s.rows]),
      [
        [0, '20210301', START, '2021-03-02T00:00:00.000Z', 240],
        [1, '20210302', '2021-03-02T00:00:00.000Z', '2021-03-03T00:00:00.000Z', 1440],
        [2, '20210303', '2021-03-03T00:00:00.000Z', '2021-03-03T13:40:00.000Z', 820],
      ],
    );
    assert.equal(m.rows, MINUTES);
    assert.equal(m.groups.length, 3, 'labels and three narrow tables, then the wide table in two chunks');
    for (const s of m.shards) {
      assert.deepEqual(s.groups.map((g) => g.index), [0, 1, 2]);
      for (const g of s.groups) {
        assert.equal(g.rows, s.rows);
        assert.deepEqual(g.objects, [`training/eurusd/${m.shards[0]!.groups[0]!.objects[0]!.split('/')[2]}/shard-${s.id}/group-00${g.index}/part-00000.parquet`]);
        assert.equal(Number(readLocalFooter(g.files[0]!).metadata.num_rows), s.rows, 'each (shard, group) file holds its shard\'s rows');
      }
    }
    // Readers of the layout before shards: each group's files are its shards' files, in shard order.
    for (const g of m.groups) assert.deepEqual(g.files, m.shards.map((s) => s.groups[g.index]!.files[0]));
  });

  it('cuts every checkpoint at shard boundaries: one part per shard with rows, no row group across a boundary', async () => {
    const runId = m.shards[0]!.groups[0]!.objects[0]!.split('/')[2]!;
    const records = new Map((await e.store.listCheckpoints(runId)).map((c) => [c.feature, c]));
    assert.equal(records.get('agg_eurusd')!.files.length, 3);
    assert.equal(records.get('tri_agg_eur_usd_gbp')!.files.length, 2, 'no part for the shard it has no rows in');
    for (const record of records.values()) {
      for (const file of record.files) {
        const { metadata } = readLocalFooter(e.staging.uri(file));
        const days = new Set<string>();
        for (const g of metadata.row_groups) {
          const key = g.columns.find((c) => c.meta_data!.path_in_schema[0] === 'interval_time')!.meta_data!.statistics!;
          const day = (v: unknown) => (v instanceof Date ? v : new Date(Number(BigInt(v as bigint) / 1000n))).toISOString().slice(0, 10);
          assert.equal(day(key.min_value), day(key.max_value), `${file}: a row group within one day`);
          days.add(day(key.min_value));
        }
        assert.equal(days.size, 1, `${file} holds one shard`);
      }
    }
  });

  it('lines the groups up row for row in every shard, values by key', async () => {
    let n = 0;
    for (const s of m.shards) {
      const rows = await rowsOf(s.groups.map((g) => g.files));
      assert.equal(rows.length, s.rows);
      for (const r of rows) {
        const i = n++;
        assert.equal((r.interval_time as Date).getTime(), Date.parse(START) + i * 60_000);
        assert.equal(r.target_a, i);
        assert.equal(r.agg_a, i * 10);
        assert.equal(r.tri_agg_eur_usd_gbp_x, i >= 1000 ? i + 0.5 : null);
        assert.equal(r.csi_mom_bqx_usd_x, i);
        assert.equal(r.var_wide_c0, i);
        assert.equal(r.var_wide_c319, i + 319);
      }
    }
    assert.equal(n, MINUTES);
  });

  it('stitches the last group first and group 0 last, each across every shard in order (what the profile reads first is the most recently written)', () => {
    const written = m.shards.flatMap((s) => s.groups.map((g) => ({ at: statSync(g.files[0]!).mtimeMs, name: `group ${g.index} shard ${s.id}` })));
    const order = written.sort((a, b) => a.at - b.at).map((w) => w.name);
    const expected = [2, 1, 0].flatMap((g) => m.shards.map((s) => `group ${g} shard ${s.id}`));
    assert.deepEqual(order, expected);
  });

  it('consolidates all shards into one file with every row and column', async () => {
    const object = 'training/eurusd/consolidated-test.parquet';
    const rows = await e.warehouse.consolidate(m.shards.map((s) => ({ groups: s.groups.map((g) => ({ files: g.objects })) })), object);
    assert.equal(rows, MINUTES);
    const { metadata } = readLocalFooter(e.output.uri(object));
    assert.equal(Number(metadata.num_rows), MINUTES);
    assert.equal(metadata.schema.length - 1, m.groups.reduce((n, g) => n + g.columns.length - 1, 1));
  });

  it('verifies every shard, and fails naming the shard when one is damaged', async () => {
    assert.deepEqual((await verifyManifest(manifestFile)).problems, []);
    // Shard 1's group 1 replaced by shard 2's: readable, same columns, wrong rows and keys.
    const damaged = m.shards[1]!.groups[1]!.files[0]!;
    copyFileSync(damaged, `${damaged}.bak`);
    copyFileSync(m.shards[2]!.groups[1]!.files[0]!, damaged);
    try {
      const result = await verifyManifest(manifestFile);
      assert.equal(result.ok, false);
      assert.ok(result.problems.some((p) => /^shard 20210302 group 1: 820 rows, the manifest says 1440$/.test(p)), result.problems.join('\n'));
      assert.ok(result.problems.some((p) => /^shard 20210302 group 1: 820 keys outside \[2021-03-02T00:00:00.000Z, 2021-03-03T00:00:00.000Z\)$/.test(p)), result.problems.join('\n'));
      assert.ok(!result.problems.some((p) => /shard 2021030[13]/.test(p)), 'the other shards are fine');
    } finally {
      copyFileSync(`${damaged}.bak`, damaged);
    }
  });

  it('verifies a copy of the output folder on its own files (the manifest names the folder it was written to)', async () => {
    const copy = tempDir('shards-copy');
    const output = e.output.root;
    cpSync(output, copy, { recursive: true });
    const copied = path.join(copy, path.relative(output, manifestFile));
    assert.deepEqual((await verifyManifest(copied)).problems, []);
    // A file gone from the copy only: the copy fails, naming the copy's file; the original is whole.
    const object = m.shards[0]!.groups[1]!.objects[0]!;
    rmSync(path.join(copy, object));
    assert.deepEqual((await verifyManifest(copied)).problems.filter((p) => p.includes('does not exist')), [`${path.join(copy, object)}: object part-00000.parquet does not exist`]);
    assert.deepEqual((await verifyManifest(manifestFile)).problems, []);
  });
});
