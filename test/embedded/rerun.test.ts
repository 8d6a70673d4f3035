// `bqx rerun` end to end, and exit code 1 for a failed run: a feature table that cannot be read
// keeps its extract failing until the run fails naming it (exit 1); once the table is readable,
// `rerun --missing` extracts just that feature and completes the run (exit 0), and
// `rerun --features a,b` drops those two checkpoints, extracts them again and gives the same data.

import { DuckDBInstance } from '@duckdb/node-api';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { freshHome } from '../helpers/embedded.js';
import { COMPACT } from '../sweep/world.js';

const BQX = path.resolve('shared/cli/bqx.mjs');
const ROWS = 600;
const BROKEN = 'mom_eurusd';

function bqx(home: string, args: string[]) {
  const env = { ...process.env, BQX_HOME: home, BQX_MAX_ATTEMPTS: '2', ...COMPACT.env };
  const r = spawnSync(process.execPath, [BQX, ...args], { env, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function sql(home: string, statements: string[]): Promise<void> {
  // Views of the demo's file tables name their files relative to the home, as bqx opens it.
  const db = await DuckDBInstance.create(path.join(home, 'warehouse.duckdb'), { file_search_path: home });
  const c = await db.connect();
  try {
    for (const s of statements) await c.run(s);
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

/** The dataset's bytes, group by group, from its manifest. */
function digest(manifestFile: string): string {
  const m = JSON.parse(readFileSync(manifestFile, 'utf8')) as { groups: { files: string[] }[] };
  const hash = createHash('sha256');
  for (const g of m.groups) for (const f of g.files) hash.update(readFileSync(f));
  return hash.digest('hex');
}

describe('bqx rerun end to end, and exit code 1', function () {
  this.timeout(600_000);

  it('fails a run whose feature cannot be read (exit 1, naming it), then completes it with rerun --missing and rebuilds two features with rerun --features', async () => {
    const home = await freshHome(ROWS);
    const table = `bqx_ml_v3_features_v2.${BROKEN}`;
    // The same columns, but reading any row fails: the catalog is unchanged, every extract of it errors.
    // (The demo's feature tables are views over their parquet files: shared/adapters/local/fileTables.ts.)
    await sql(home, [
      `ALTER VIEW ${table} RENAME TO ${BROKEN}_kept`,
      `CREATE VIEW ${table} AS SELECT * REPLACE (CAST('not a number ' || interval_time AS DOUBLE) AS ${await firstValueColumn(home)}) FROM ${table}_kept`,
    ]);
    const failed = bqx(home, ['run', 'eurusd', '--json']);
    assert.equal(failed.code, 1, failed.stderr);
    const s = JSON.parse(failed.stdout);
    assert.equal(s.status, 'failed');
    assert.equal(s.landed, s.expected - 1);
    assert.match(failed.stderr, new RegExp(`stalled: 1 feature\\(s\\) never landed after 2 attempts: ${BROKEN}`));
    assert.match(failed.stderr, new RegExp(`\\n  next +bqx rerun ${s.runId} --missing\\n`), 'the summary says how to finish it');

    await sql(home, [`DROP VIEW ${table}`, `ALTER VIEW ${table}_kept RENAME TO ${BROKEN}`]);
    const missing = bqx(home, ['rerun', s.runId, '--missing', '--json']);
    assert.equal(missing.code, 0, missing.stderr);
    assert.match(missing.stderr, /reopened \(missing, 1 feature\(s\)\)/);
    const done = JSON.parse(missing.stdout);
    assert.equal(done.status, 'succeeded');
    assert.equal(done.landed, done.expected);
    const verified = bqx(home, ['verify', done.output.manifest]);
    assert.equal(verified.code, 0, verified.stdout);
    const first = digest(done.output.manifest);

    const again = bqx(home, ['rerun', s.runId, '--features', `${BROKEN},reg_eurusd`, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /reopened \(features, 2 feature\(s\)\)/);
    const rebuilt = JSON.parse(again.stdout);
    assert.equal(rebuilt.status, 'succeeded');
    assert.equal(digest(rebuilt.output.manifest), first, 'the same data after extracting two features again');
  });
});

/** The broken table's first value column (after the key). */
async function firstValueColumn(home: string): Promise<string> {
  const db = await DuckDBInstance.create(path.join(home, 'warehouse.duckdb'));
  const c = await db.connect();
  try {
    const rows = (await c.runAndReadAll(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'bqx_ml_v3_features_v2' AND table_name = '${BROKEN}' AND column_name NOT IN ('interval_time', 'pair', 'pair1', 'pair2') ORDER BY ordinal_position LIMIT 1`)).getRows();
    return String(rows[0]![0]);
  } finally {
    c.closeSync();
    db.closeSync();
  }
}
