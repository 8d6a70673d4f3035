// The safety nets shown catching what they exist for, not only passing: the merge's verification
// fails the run (rows other than the label rows, duplicate keys, groups out of line, columns not
// the manifest's) and writes no dataset; `bqx verify` finds a truncated file, rows reordered in
// one group, a column dropped or renamed, a file missing.

import { DuckDBInstance } from '@duckdb/node-api';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { verifyManifest } from '../../shared/cli/verify.js';
import type { MergedGroup, RunRecord } from '../../shared/ports.js';
import { sharedBase } from './bases.js';
import { ORDERLY, Simulation } from './simulation.js';
import { COMPACT, onStores, openWorld, type Base, type World } from './world.js';

describe('fault sweep: every check shown failing', function () {
  this.timeout(300_000);
  let base: Base;
  before(async () => {
    base = await sharedBase(COMPACT);
  });

  /** A run whose merge result is changed by `tamper` before the chain verifies it. */
  async function mergeTampered(tamper: (groups: MergedGroup[]) => void): Promise<{ run: RunRecord; world: World }> {
    const world = await openWorld(base, new Simulation(1, ORDERLY));
    const { deps } = world.embedded;
    const warehouse = deps.warehouse;
    deps.warehouse = {
      ...warehouse,
      merge: async (job, progress) => {
        const result = await warehouse.merge(job, progress);
        if (result.state === 'done') tamper(result.groups);
        return result;
      },
    };
    return { run: (await world.runPair('eurusd'))!, world };
  }

  const tampering: [string, (groups: MergedGroup[]) => void, RegExp][] = [
    ['rows other than the label rows', (g) => void (g[0]!.rows -= 1), /^output verification failed: group 0 has 499 rows, the window has 500 label rows/],
    ['duplicate keys', (g) => void (g[0]!.distinctKeys -= 2), /^output verification failed: group 0 has 2 duplicate keys$/],
    ['groups out of line', (g) => void (g[1]!.keysInOrder = false), /^output verification failed: group 1 keys are not in the same ascending order as group 0$/],
    ['columns not the manifest\'s', (g) => void (g[2]!.columns = g[2]!.columns.slice(0, -1)), /output has 837 columns, the manifest 838/],
  ];
  for (const [what, tamper, reason] of tampering) {
    it(`fails the run when the merged output has ${what}, and writes no dataset`, async () => {
      const { run, world } = await mergeTampered(tamper);
      try {
        assert.equal(run.state, 'failed');
        assert.match(run.error ?? '', reason);
        assert.deepEqual((await world.output.list(`training/eurusd/${run.runId}/_manifest.json`)).length, 0);
        const events = (world.embedded.bus.published.get(world.config.topics.runEvents) ?? []).map((m) => JSON.parse(m.data));
        assert.deepEqual(events.map((e) => e.status), ['failed']);
      } finally {
        await world.close();
      }
    });
  }

  /** A finished dataset on the embedded folders, damaged by `damage`; what `bqx verify` finds. */
  async function verifyDamaged(damage: (groupFile: (g: number) => string) => Promise<void>): Promise<string[]> {
    const world = await openWorld(onStores(base, 'files'), new Simulation(1, ORDERLY));
    try {
      const run = (await world.runPair('eurusd'))!;
      assert.equal(run.state, 'succeeded', run.error);
      const output = world.embedded.output;
      await damage((g) => output.uri(run.output!.files.find((f) => f.includes(`/group-${String(g).padStart(3, '0')}/`))!));
      return (await verifyManifest(output.uri(run.output!.manifest))).problems;
    } finally {
      await world.close();
    }
  }

  /** Rewrites a parquet file through DuckDB with `select` over it (the file is `f`). */
  async function rewrite(file: string, select: string): Promise<void> {
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    try {
      await c.run(`COPY (${select.replace('f', `read_parquet('${file}')`)}) TO '${file}.new' (FORMAT parquet)`);
    } finally {
      c.closeSync();
      db.closeSync();
    }
    await fs.rename(`${file}.new`, file);
  }

  it('bqx verify passes the undamaged dataset', async () => {
    assert.deepEqual(await verifyDamaged(async () => {}), []);
  });

  const damages: [string, (groupFile: (g: number) => string) => Promise<void>, RegExp][] = [
    ['a truncated file', async (file) => {
      const f = file(1);
      await fs.truncate(f, Math.floor((await fs.stat(f)).size / 2));
    }, /group-001\/part-00000\.parquet: /],
    ['rows reordered in one group', (file) => rewrite(file(2), 'SELECT * FROM f ORDER BY interval_time DESC'), /^shard \d{8} group 2: \d+ keys out of order or not aligned with group 0$/],
    ['a column dropped', async (file) => {
      const db = await DuckDBInstance.create(':memory:');
      const c = await db.connect();
      const [col] = (await c.runAndReadAll(`SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet('${file(1)}')) WHERE column_name <> 'interval_time' LIMIT 1`)).getRows()[0]!;
      c.closeSync();
      db.closeSync();
      await rewrite(file(1), `SELECT * EXCLUDE ("${String(col)}") FROM f`);
    }, /group-001\/part-00000\.parquet: columns differ from the manifest's group 1$/],
    ['a key repeated in one group (its second row given the first row\'s key)', (file) => rewrite(file(2), 'SELECT * REPLACE (CASE WHEN row_number() OVER (ORDER BY interval_time) = 2 THEN min(interval_time) OVER () ELSE interval_time END AS interval_time) FROM f ORDER BY interval_time'), /^shard \d{8} group 2: 1 duplicate keys$/],
    ['a column renamed', (file) => rewrite(file(0), 'SELECT * RENAME (interval_time AS interval_start) FROM f'), /group-000\/part-00000\.parquet: columns differ from the manifest's group 0$/],
    ['a file missing', (file) => fs.rm(file(1)), /group-001\/part-00000\.parquet: .*(does not exist|ENOENT)/],
  ];
  for (const [what, damage, problem] of damages) {
    it(`bqx verify finds ${what}`, async () => {
      const problems = await verifyDamaged(damage);
      assert.ok(problems.some((p) => problem.test(p)), problems.join('\n'));
    });
  }
});
