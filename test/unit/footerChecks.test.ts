// The landing's footer reader (shared/footerChecks.ts) against hyparquet's whole parse, on files
// DuckDB writes as checkpoints and as a hand upload might be: the same summary (columns and their
// types, rows, null counts, key range and order) for every key unit and zone, several row groups,
// nulls, a text column and no key at all. The rejection paths are compared in checkpointChecks.test.ts.
import assert from 'node:assert/strict';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { readFooter, readFooterForChecks, summariseFooters } from '../../shared/checkpoint.js';
import { tempDir } from '../helpers/temp.js';

describe('footer read for the checkpoint checks (footerChecks.ts)', () => {
  let dir: string;
  let store: FolderObjectStore;
  let db: DuckDBInstance;
  let c: DuckDBConnection;
  before(async () => {
    dir = tempDir('footer-checks');
    store = new FolderObjectStore(dir);
    db = await DuckDBInstance.create(':memory:');
    c = await db.connect();
  });
  after(() => {
    c.closeSync();
    db.closeSync();
  });

  const rows = (n: number) => `SELECT TIMESTAMPTZ '2024-01-01 00:00:00+00' + INTERVAL (i) MINUTE AS t, CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1.5 END AS a, (i * 2)::DOUBLE AS b, 'eurusd' AS pair FROM range(0, ${n}) r(i)`;
  const files: [string, string][] = [
    ['a UTC key in microseconds, three row groups, nulls, a text column', `SELECT t AS interval_time, a, b, pair FROM (${rows(5000)})`],
    ['a key in milliseconds', `SELECT t::TIMESTAMP_MS AS interval_time, a FROM (${rows(300)})`],
    ['a key in nanoseconds', `SELECT t::TIMESTAMP_NS AS interval_time, a FROM (${rows(300)})`],
    ['a key without a zone', `SELECT t::TIMESTAMP AS interval_time, a FROM (${rows(300)})`],
    ['a key that is text', `SELECT t::VARCHAR AS interval_time, a FROM (${rows(300)})`],
    ['no key', `SELECT a, b FROM (${rows(300)})`],
    ['no rows', `SELECT t AS interval_time, a FROM (${rows(0)})`],
  ];
  for (const [name, sql] of files) {
    it(`summarises ${name} as hyparquet's parse does`, async () => {
      const object = `${name.replace(/\W+/g, '-')}.parquet`;
      await c.run(`COPY (${sql}) TO '${path.join(dir, object)}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`);
      const outcome = async (read: typeof readFooterForChecks) => {
        try {
          return summariseFooters([await read(store, object)]);
        } catch (error) {
          return String(error);
        }
      };
      const [lean, whole] = [await outcome(readFooterForChecks), await outcome(readFooter)];
      assert.deepEqual(lean, whole);
      assert.ok(typeof whole !== 'string', whole as string);
      if (/milli|nano|zone/.test(name)) assert.deepEqual([whole.minKey, whole.maxKey], ['2024-01-01T00:00:00.000Z', '2024-01-01T04:59:00.000Z'], 'the key range in every unit');
      if (name.startsWith('a UTC key')) {
        assert.ok(typeof whole !== 'string');
        assert.deepEqual([whole.rows, whole.minKey, whole.maxKey, whole.keyOrdered, whole.nullCounts.get('a')], [5000, '2024-01-01T00:00:00.000Z', '2024-01-04T11:19:00.000Z', true, 715]);
        assert.equal(whole.columns.get('interval_time'), 'TIMESTAMP(MICROS,UTC)');
      }
    });
  }
});
