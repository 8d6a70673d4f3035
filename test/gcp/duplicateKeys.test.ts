// Both runtimes keep the same row for a key that repeats: the first by all its columns, nulls
// last. The same duplicate-with-null table goes through the embedded extract (DuckDB, for real)
// and through the BigQuery extract's rendered query, executed in DuckDB under BigQuery's default
// null order (NULLs first for ASC), so a BigQuery ORDER BY that leaves the null order to the
// engine would keep another row and fail here.

import assert from 'node:assert/strict';
import path from 'node:path';
import { DuckDbWarehouse } from '../../shared/adapters/local/duckdbWarehouse.js';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { renderExtract } from '../../shared/adapters/gcp/bigQuerySql.js';
import { paths } from '../../shared/naming.js';
import { shardGrid } from '../../shared/shards.js';
import { tempDir } from '../helpers/temp.js';

const RUN = 'eurusd-20250101t000000-abc123';
const DATASET = 'features';
const TABLE = 'mom_eurusd';
const WINDOW = { start: '2025-01-01T00:00:00.000Z', end: '2025-01-01T00:10:00.000Z' };
const t = (minute: number) => `TIMESTAMPTZ '2025-01-01 00:0${minute}:00+00'`;

// Per key, the rows of the table and the one both runtimes must keep.
const ROWS: [number, number | null, number | null][] = [
  [0, null, 1], [0, 2, 0], [0, 3, null], // keep (2, 0): a null a sorts last, not first
  [1, 1, null], [1, 1, 5], //               keep (1, 5): a tie on a, then a null b sorts last
  [2, null, null], [2, 0, 0], //            keep (0, 0)
  [3, 7, 7], //                             a key that does not repeat
];
const KEPT = [
  [0, 2, 0],
  [1, 1, 5],
  [2, 0, 0],
  [3, 7, 7],
];

const lit = (v: number | null) => (v === null ? 'NULL' : `${v}.0`);

describe('gcp/duplicate keys: BigQuery and DuckDB keep the same row', function () {
  this.timeout(60_000);
  let warehouse: DuckDbWarehouse;
  let staging: FolderObjectStore;

  before(async () => {
    const dir = tempDir('dupkeys');
    staging = new FolderObjectStore(path.join(dir, 'staging'), 'staging');
    warehouse = await DuckDbWarehouse.open(path.join(dir, 'w.duckdb'), staging, new FolderObjectStore(path.join(dir, 'output'), 'output'), { memoryMb: 256 });
    await warehouse.execute(`CREATE SCHEMA ${DATASET}`);
    const values = ROWS.map(([m, a, b]) => `(${t(m)}, ${lit(a)}, ${lit(b)})`).join(', ');
    // Rows in an order where "first as stored" would keep the null row of every key.
    await warehouse.execute(`CREATE TABLE ${DATASET}.${TABLE} AS SELECT * FROM (VALUES ${values}) v(interval_time, a, b)`);
  });

  after(async () => {
    await warehouse?.close();
  });

  const kept = (rows: unknown[][]) => rows.map(([key, a, b]) => [new Date(String(key)).getUTCMinutes(), a === null ? null : Number(a), b === null ? null : Number(b)]);

  it('the embedded extract keeps the first row by all columns, nulls last', async () => {
    const result = await warehouse.extract({ runId: RUN, pair: 'eurusd', feature: TABLE, dataset: DATASET, columns: ['a', 'b'], window: WINDOW, prefix: paths.featureDir(RUN, TABLE), shards: shardGrid(WINDOW, 'month') });
    assert.equal(result.state, 'done');
    if (result.state !== 'done') return;
    assert.deepEqual({ rows: result.rows, duplicates: result.duplicates }, { rows: 4, duplicates: 4 });
    const rows = await warehouse.withConnection(async (c) =>
      (await c.runAndReadAll(`SELECT interval_time::VARCHAR, a, b FROM read_parquet('${staging.uri(result.files[0]!)}') ORDER BY interval_time`)).getRows(),
    );
    assert.deepEqual(kept(rows), KEPT);
  });

  it('the BigQuery extract orders ASC NULLS LAST and, run with BigQuery\'s null order, keeps the same rows', async () => {
    const r = renderExtract({ dataset: DATASET, table: TABLE, columns: ['a', 'b'], window: WINDOW }, `gs://bqx-staging/${paths.featureDir(RUN, TABLE)}part-*.parquet`);
    assert.ok(r.query!.includes('QUALIFY ROW_NUMBER() OVER (PARTITION BY `interval_time` ORDER BY `a` ASC NULLS LAST, `b` ASC NULLS LAST) = 1'), r.query);
    // The rendered query in DuckDB: backticks to double quotes, @start/@end to positional parameters.
    const duck = r
      .query!.replace(/`([^`]+)`/g, '"$1"')
      .replace('@start', '$1::TIMESTAMPTZ')
      .replace('@end', '$2::TIMESTAMPTZ');
    const rows = await warehouse.withConnection(async (c) => {
      // BigQuery sorts NULLs first in ascending order unless told otherwise; DuckDB's default is last.
      await c.run("SET default_null_order = 'nulls_first'");
      return (await c.runAndReadAll(`SELECT interval_time::VARCHAR, a, b FROM (${duck}) ORDER BY interval_time`, [WINDOW.start, WINDOW.end])).getRows();
    });
    assert.deepEqual(kept(rows), KEPT);
  });
});
