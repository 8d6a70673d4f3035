// `bqx plan --refresh`: the statements a refresh would send to BigQuery. Over a window of three day
// shards whose previous version ended inside the second day, every extract and count reads only
// [previous end, end), the merge's keys read from the start of the shard holding the previous
// end, and each export writes one of the two shards it builds, sorting no more than that shard.
// The profile after the merge is over the whole dataset (the shared shard being the previous
// version's files) and carries its column pass on from the first rebuilt shard (`resume`).

import assert from 'node:assert/strict';
import path from 'node:path';
import sinon from 'sinon';
import { main } from '../../shared/cli/main.js';
import { loadConfig, type Config } from '../../shared/config.js';
import { paths } from '../../shared/naming.js';
import type { MergedShard } from '../../shared/ports.js';
import { sampleRows } from '../../shared/profile/columnScan.js';
import { sampleLayout } from '../../shared/profile/profile.js';
import { SCAN_FIELDS } from '../../shared/profile/scanState.js';
import { planDocument } from '../../shared/plan/planDocument.js';
import { plannedOutput } from '../../shared/plan/planOutput.js';
import { plannedResume } from '../../shared/plan/planProfile.js';
import { scanPointShard } from '../../shared/chain/profileReuse.js';
import { PLACEHOLDER_BUCKETS, recordPlan } from '../../shared/plan/recordPlan.js';
import { PlanStore } from '../../shared/plan/planStore.js';
import { shardGrid } from '../../shared/shards.js';
import { buildMiniWarehouse, openHomeWarehouse } from '../helpers/miniWarehouse.js';
import { tempDir } from '../helpers/temp.js';

const minute = (i: number) => new Date(Date.UTC(2021, 2, 1) + i * 60_000).toISOString();
const WINDOW = { start: minute(0), end: minute(3000) };
const SINCE = minute(1500);

describe('bqx plan --refresh', function () {
  this.timeout(60_000);
  let home: string;
  let env: Record<string, string>;

  /** Runs `body` with the home's config and its warehouse, closed after. */
  const withHome = async (body: (config: Config, w: Awaited<ReturnType<typeof openHomeWarehouse>>) => Promise<void>) => {
    const w = await openHomeWarehouse(home);
    try {
      await body(loadConfig(env), w);
    } finally {
      await w.close();
    }
  };

  before(async () => {
    home = tempDir('plan-refresh');
    env = { BQX_HOME: home, BQX_SHARD: 'day', BQX_JOIN_BATCH_TABLES: '2' };
    const w = await openHomeWarehouse(home);
    try {
      await buildMiniWarehouse(w);
      const keys = `SELECT (TIMESTAMP '2021-03-01 00:00:00' + i * INTERVAL 1 MINUTE)::TIMESTAMPTZ AS interval_time, i FROM range(120, 3000) r(i)`;
      await w.execute(`INSERT INTO bqx_ml_v3_analytics_v2.targets_eurusd SELECT interval_time, i * 1.0, -i FROM (${keys})`);
      await w.execute(`INSERT INTO bqx_ml_v3_features_v2.mkt_regime SELECT interval_time, i * 0.25 FROM (${keys})`);
    } finally {
      await w.close();
    }
  });

  it('extracts read only the new range; the merge builds only the grown and the new shard, one export per shard', () =>
    withHome(async (config, w) => {
      const full = await recordPlan({ config, pair: 'eurusd', source: w, window: WINDOW });
      const plan = await recordPlan({ config, pair: 'eurusd', source: w, window: WINDOW, refresh: { since: SINCE } });
      const grid = shardGrid(WINDOW, 'day');
      assert.deepEqual(plan.refresh, { since: SINCE, extractRange: { start: SINCE, end: WINDOW.end }, mergeWindow: { start: grid[1]!.start, end: WINDOW.end }, loadedWindow: { start: grid[1]!.start, end: WINDOW.end }, shards: 2, sharedShards: 1 });
      // The second day is built whole: its rows before SINCE are in the previous version's export of each feature, loaded with the new one
      // partitioned by day, and read by the joins through the merge window (loadedWindow: the rows they read).
      const loads = plan.statements.filter((s) => s.step === 'load');
      assert.equal(loads.length, plan.manifest.features.length);
      for (const s of loads) {
        const uris = [...s.sql.matchAll(/'gs:\/\/[^']+'/g)].map((m) => m[0]);
        assert.equal(uris.length, 2, s.sql);
        assert.match(uris[0]!, new RegExp(`/runs/${plan.runId.replace(/\d{8}t\d{6}-\w+$/, '')}[^/]+/features/${s.labels.feature}/attempt-`), 'the previous version\'s export first');
        assert.match(uris[1]!, new RegExp(`/runs/${plan.runId}/features/${s.labels.feature}/attempt-`));
        assert.match(s.sql, /\nPARTITION BY TIMESTAMP_TRUNC\(`interval_time`, DAY\)\n/);
        // Its own name (`__ckp`): an unpartitioned load of the same feature never overwrites it.
        assert.match(s.sql, new RegExp(`^LOAD DATA OVERWRITE \`bqx_scratch\`\.\`[a-z0-9_]+__ckp\\d{4}_${s.labels.feature}\``), s.sql);
      }
      for (const s of full.statements.filter((x) => x.step === 'load')) assert.match(s.sql, /^LOAD DATA OVERWRITE `bqx_scratch`\.`[a-z0-9_]+__ck\d{4}_/, s.sql);
      const batches = plan.statements.filter((s) => s.step === 'batch');
      assert.ok(batches.length > 0 && batches.every((s) => /LEFT JOIN \(SELECT \* FROM `[^`]+`\.`[^`]+` WHERE `interval_time` >= @start AND `interval_time` < @end\) AS `f0`/.test(s.sql)), 'every member read through the window');
      for (const s of batches) assert.deepEqual(s.params, { start: new Date(grid[1]!.start), end: new Date(WINDOW.end) });
      const reads = plan.statements.filter((s) => s.step === 'extract' || s.step === 'extract_counts');
      assert.equal(reads.length, 2 * plan.manifest.features.length);
      for (const s of reads) assert.deepEqual(s.params, { start: new Date(SINCE), end: new Date(WINDOW.end) }, `${s.step} of ${s.labels.feature}`);
      for (const s of full.statements.filter((x) => x.step === 'extract')) assert.deepEqual(s.params, { start: new Date(WINDOW.start), end: new Date(WINDOW.end) });
      const keys = plan.statements.find((s) => s.step === 'keys')!;
      assert.deepEqual(keys.params, { start: new Date(grid[1]!.start), end: new Date(WINDOW.end) }, 'the keys of the shards it builds');
      const exports = plan.statements.filter((s) => s.step === 'export');
      assert.equal(exports.length, 2 * plan.mergePlan.groups.length);
      assert.equal(full.statements.filter((s) => s.step === 'export').length, 3 * full.mergePlan.groups.length);
      for (const s of exports) {
        assert.match(s.sql, /WHERE `k`.`interval_time` >= @start AND `k`.`interval_time` < @end\nORDER BY `k`.`interval_time`$/);
        const shard = grid.find((g) => new Date(g.start).getTime() === (s.params.start as Date).getTime() && new Date(g.end).getTime() === (s.params.end as Date).getTime());
        assert.ok(shard && shard.index > 0, `an export sorts one built shard, got [${String(s.params.start)}, ${String(s.params.end)})`);
      }
      // Each shard's export reads its own partitions of the keys and batch tables: the full build's
      // three day exports of a group read together what the one export of a month shard reads.
      const month = await recordPlan({ config: loadConfig({ ...env, BQX_SHARD: 'month' }), pair: 'eurusd', source: w, window: WINDOW });
      const exportBytes = async (p: typeof full) => (await planDocument(p, { target: 'bigquery', featureRows: () => 3000 })).document.statements.filter((s) => s.kind === 'export').map((s) => s.bytes);
      const [days, months] = [await exportBytes(full), await exportBytes(month)];
      assert.equal(days.length, 3 * months.length);
      assert.ok(months.every((b) => b > 0));
      const perGroup = (bytes: number[]) => full.mergePlan.groups.map((_, g) => bytes.filter((_, k) => k % full.mergePlan.groups.length === g).reduce((n, b) => n + b, 0));
      assert.deepEqual(perGroup(days), perGroup(months), 'one pass over the window, not one per shard');
      assert.ok(days.every((b) => b < months[0]!), 'each day reads less than the window');
    }));

  it("profiles the whole dataset after the merge, carrying the column pass on from the first rebuilt shard's first row", () =>
    withHome(async (config, w) => {
      const previous = 'eurusd-20210302t020000-prev01';
      const full = await recordPlan({ config, pair: 'eurusd', source: w, window: WINDOW });
      const plan = await recordPlan({ config, pair: 'eurusd', source: w, window: WINDOW, refresh: { since: SINCE, from: previous } });
      const grid = shardGrid(WINDOW, 'day');
      const output = new PlanStore(PLACEHOLDER_BUCKETS.output);
      // The files each plan's exports name, per shard: the first of each wildcard.
      const exported = (p: typeof plan) => p.statements.filter((s) => s.step === 'export').map((s) => output.nameOf(/uri='([^']+)'/.exec(s.sql)![1]!)!.replace('*', '000000000000'));
      const groups = plan.mergePlan.groups;
      // 1,440 label rows a day, then 120 on the third: the window is hardly longer than the labels'
      // lookahead, so the scan state is kept at the last shard's first row.
      for (const p of [full, plan]) {
        assert.equal(p.profile.job.rows, 3000);
        assert.equal(p.profile.job.snapshotAt, 2880);
        const kinds = p.statements.map((s) => s.step);
        const first = kinds.indexOf('profile_load');
        assert.equal(kinds.lastIndexOf('export'), first - 1, 'the profile follows the merge');
        assert.deepEqual([...new Set(kinds.slice(first))], ['profile_load', 'profile_scan', 'profile_gaps', 'profile_cuts']);
      }
      assert.deepEqual(full.profile.job.groups.map((g) => g.files), groups.map((_, i) => exported(full).filter((_, k) => k % groups.length === i)));
      assert.equal(full.profile.job.resume, undefined, 'a full build measures every row');

      // The refresh: the first shard is the previous version's file, the other two the ones it exports.
      const built = exported(plan);
      assert.deepEqual(
        plan.profile.job.groups.map((g) => g.files),
        groups.map((g, i) => [`${paths.outputShardGroupDir('eurusd', previous, grid[0]!.id, g.index)}part-000000000000.parquet`, ...built.filter((_, k) => k % groups.length === i)]),
      );
      const resume = plan.profile.job.resume!;
      assert.deepEqual(resume.groups, groups.map((g, i) => ({ index: g.index, files: built.filter((_, k) => k % groups.length === i) })), 'only the rebuilt shards are read again');
      const columns = groups.flatMap((g) => g.columns.slice(1));
      assert.equal(resume.from.state.row, 1440, "the label rows before the first rebuilt shard's start");
      assert.deepEqual(resume.from.state.columns, columns);
      assert.equal(resume.from.state.values.length, columns.length * SCAN_FIELDS);
      const before = sampleRows(3000, { warmupRows: config.profile.warmupRows, ...sampleLayout(3000) }).filter((r) => r < 1440);
      const sample = await resume.from.sample;
      assert.deepEqual(sample.rows, before);
      assert.deepEqual(Object.keys(sample.values), columns);
      assert.ok(Object.values(sample.values).every((v) => v.length === before.length && v.every(Number.isNaN)));

      // plan.json says what the profile is over; the bytes of its queries are counted.
      const { document } = await planDocument(plan, { target: 'bigquery', featureRows: () => plan.labelRows });
      assert.deepEqual(document.profile.resume, { row: 1440, files: 2 * groups.length });
      assert.ok(document.statements.filter((s) => s.kind === 'profile_scan').every((s) => s.bytes > 0));
    }));

  it('where the label rows of a whole shard before the previous end alone changed: only its label group is exported, its other groups stay the previous files', () =>
    withHome(async (config, w) => {
      const previous = 'eurusd-20210303t000000-prev01';
      const grid = shardGrid(WINDOW, 'day');
      // The previous version ended at the third day's start; its label rows changed from the second day's start on.
      const since = grid[2]!.start;
      const plan = await recordPlan({ config, pair: 'eurusd', source: w, window: WINDOW, refresh: { since, from: previous, builds: async () => ({ until: grid[1]!.start, relabelled: [grid[1]!.id] }) } });
      assert.deepEqual({ shards: plan.refresh!.shards, shared: plan.refresh!.sharedShards, relabelled: plan.refresh!.relabelledShards }, { shards: 2, shared: 1, relabelled: 1 });
      const groups = plan.mergePlan.groups;
      const exports = plan.statements.filter((s) => s.step === 'export');
      const of = (shard: number) => exports.filter((s) => s.sql.includes(`/shard-${grid[shard]!.id}/`)).map((s) => /\/group-(\d{3})\//.exec(s.sql)![1]);
      assert.deepEqual(of(1), ['000'], 'the relabelled day: its label group only');
      assert.equal(of(2).length, groups.length, 'the new day: every group');
      const earlier = (shard: number, g: number) => `${paths.outputShardGroupDir('eurusd', previous, grid[shard]!.id, g)}part-000000000000.parquet`;
      const files = plan.profile.job.groups.map((g) => g.files);
      // (This warehouse's columns make one group; test/embedded/groupSharing.test.ts builds several.)
      assert.ok(groups.slice(1).every((g, i) => files[i + 1]![1] === earlier(1, g.index)), "the relabelled day's other groups are the previous version's files");
      assert.notEqual(files[0]![1], earlier(1, 0), 'its label group is this run\'s export');
      assert.equal(plan.profile.job.resume?.from.state.row, 1440, 'the profile carries on from the relabelled day');
    }));

  it('where the run grows the shard holding the previous end by a part: the merge exports only the part, the earlier rows stay the previous files, the profile carries on from the previous end', () =>
    withHome(async (config, w) => {
      const previous = 'eurusd-20210302t020000-prev01';
      const grid = shardGrid(WINDOW, 'day');
      const asked: unknown[] = [];
      const builds = async (next: { labels: { dataset: string; table: string }; grid: readonly { id: string }[] }) => {
        asked.push({ labels: next.labels, grid: next.grid.map((x) => x.id) });
        return { until: SINCE, grown: { id: grid[1]!.id, from: SINCE } };
      };
      const whole = await recordPlan({ config, pair: 'eurusd', source: w, window: WINDOW, refresh: { since: SINCE, from: previous } });
      const plan = await recordPlan({ config, pair: 'eurusd', source: w, window: WINDOW, refresh: { since: SINCE, from: previous, builds } });
      assert.deepEqual(asked, [{ labels: { dataset: config.labelsDataset, table: 'targets_eurusd' }, grid: grid.map((x) => x.id) }], 'asked once, of the planned window\'s grid and label table');
      assert.deepEqual(plan.refresh, { since: SINCE, extractRange: { start: SINCE, end: WINDOW.end }, mergeWindow: { start: SINCE, end: WINDOW.end }, loadedWindow: { start: SINCE, end: WINDOW.end }, shards: 2, sharedShards: 1, grownShard: grid[1]!.id });
      assert.ok(plan.statements.filter((s) => s.step === 'load').every((s) => !s.sql.includes(previous)), 'a grown part needs the new files only');
      assert.deepEqual(plan.statements.find((s) => s.step === 'keys')!.params, { start: new Date(SINCE), end: new Date(WINDOW.end) }, 'the keys from the part on');
      const groups = plan.mergePlan.groups;
      const exports = plan.statements.filter((s) => s.step === 'export');
      assert.equal(exports.length, 2 * groups.length, 'one export per group of the part and of the new shard');
      const part = exports.filter((s) => s.sql.includes(`/shard-${grid[1]!.id}/`));
      assert.equal(part.length, groups.length);
      for (const s of part) assert.deepEqual(s.params, { start: new Date(SINCE), end: new Date(grid[1]!.end) }, 'the part: from the previous end to the day\'s end');
      assert.equal(plan.labelRows, 3000 - 1500, 'the merge tables hold the label rows from the part on');

      // The dataset: the grown day is the previous file of its first 60 rows (1,440 to 1,500), then the part.
      const output = new PlanStore(PLACEHOLDER_BUCKETS.output);
      const earlier = (shard: number, g: number) => `${paths.outputShardGroupDir('eurusd', previous, grid[shard]!.id, g)}part-000000000000.parquet`;
      const built = exports.map((s) => output.nameOf(/uri='([^']+)'/.exec(s.sql)![1]!)!.replace('*', '000000000000'));
      const ofGroup = (i: number) => built.filter((_, k) => k % groups.length === i);
      assert.deepEqual(plan.profile.job.groups.map((g) => g.files), groups.map((g, i) => [earlier(0, g.index), earlier(1, g.index), ...ofGroup(i)]));
      assert.deepEqual(plan.dataset.files.get(output.uri(earlier(1, 0))), { columns: groups[0]!.columns, rows: 60 });
      assert.deepEqual(plan.dataset.files.get(output.uri(ofGroup(0)[0]!)), { columns: groups[0]!.columns, rows: 1380 });
      // The pass carries on from the state the previous version kept after its last row (row 1,500), reading the part and the new day only.
      const resume = plan.profile.job.resume!;
      assert.equal(resume.from.state.row, 1500);
      assert.deepEqual(resume.groups, groups.map((g, i) => ({ index: g.index, files: ofGroup(i) })));
      assert.deepEqual((await resume.from.sample).rows, sampleRows(3000, { warmupRows: config.profile.warmupRows, ...sampleLayout(3000) }).filter((r) => r < 1500));

      // It reads less than the plan that builds the day whole.
      const [a, b] = (await Promise.all([plan, whole].map((p) => planDocument(p, { target: 'bigquery', featureRows: () => 1500 })))) as [Awaited<ReturnType<typeof planDocument>>, Awaited<ReturnType<typeof planDocument>>];
      assert.ok(a.document.summary.bytesByKind.export! < b.document.summary.bytesByKind.export!, `exports ${a.document.summary.bytesByKind.export} < ${b.document.summary.bytesByKind.export}`);
    }));

  it('where the shard holding the previous end grows and its earlier label rows changed too: the part exports every group, its earlier rows the label group alone, in a folder of its own', () =>
    withHome(async (config, w) => {
      const previous = 'eurusd-20210302t010000-prev01';
      const grid = shardGrid(WINDOW, 'day');
      const plan = await recordPlan({ config, pair: 'eurusd', source: w, window: WINDOW, refresh: { since: SINCE, from: previous, builds: async () => ({ until: minute(1450), grown: { id: grid[1]!.id, from: SINCE, relabelled: true } }) } });
      assert.deepEqual({ shards: plan.refresh!.shards, shared: plan.refresh!.sharedShards, grown: plan.refresh!.grownShard, grownRelabelled: plan.refresh!.grownRelabelled, relabelled: plan.refresh!.relabelledShards }, { shards: 2, shared: 1, grown: grid[1]!.id, grownRelabelled: true, relabelled: undefined });
      const groups = plan.mergePlan.groups;
      const exports = plan.statements.filter((s) => s.step === 'export');
      const output = new PlanStore(PLACEHOLDER_BUCKETS.output);
      const named = exports.map((s) => ({ name: output.nameOf(/uri='([^']+)'/.exec(s.sql)![1]!)!, range: [(s.params.start as Date).toISOString(), (s.params.end as Date).toISOString()] }));
      const relabelDir = paths.outputRelabelledDir('eurusd', plan.runId);
      const relabelled = named.filter((e) => e.name.startsWith(relabelDir));
      assert.deepEqual(relabelled.map((e) => [e.name.slice(relabelDir.length).replace(/attempt-[^/]+/, 'attempt'), e.range]), [[`shard-${grid[1]!.id}/group-000/attempt/part-*.parquet`, [grid[1]!.start, SINCE]]], 'the earlier rows: the label group only');
      const part = named.filter((e) => !e.name.startsWith(relabelDir) && e.name.includes(`/shard-${grid[1]!.id}/`));
      assert.equal(part.length, groups.length);
      assert.ok(part.every((e) => e.range[0] === SINCE && e.range[1] === grid[1]!.end), 'the part: from the previous end on');
      // The main merge reads the new files only; its keys are the part's and the new day's.
      const keys = plan.statements.filter((s) => s.step === 'keys').map((s) => [(s.params.start as Date).toISOString(), (s.params.end as Date).toISOString()]);
      assert.deepEqual(keys, [[SINCE, WINDOW.end], [grid[1]!.start, SINCE]]);
      // The dataset: the grown day's earlier label file is this run's, its other groups' the previous version's.
      const files = plan.profile.job.groups.map((g) => g.files);
      const earlier = (g: number) => `${paths.outputShardGroupDir('eurusd', previous, grid[1]!.id, g)}part-000000000000.parquet`;
      assert.equal(files[0]![1], relabelled[0]!.name.replace('*', '000000000000'));
      assert.ok(groups.slice(1).every((g, i) => files[i + 1]![1] === earlier(g.index)));
      // The profile carries on from the grown day's first row (the scan point), not from the previous end: its label file there is new.
      assert.equal(plan.profile.job.resume?.from.state.row, 1440);
      // The relabelled export reads the rows before the part: 60 of them, against the part's 1,380.
      const doc = (await planDocument(plan, { target: 'bigquery', featureRows: () => 1500 })).document;
      const bytesOf = (dir: string) => doc.statements[plan.statements.findIndex((st) => st.step === 'export' && st.sql.includes(`${dir}shard-${grid[1]!.id}/group-000/`))]!.bytes;
      const [before, after] = [bytesOf(relabelDir), bytesOf(paths.outputDir('eurusd', plan.runId))];
      assert.ok(before > 0);
      assert.equal(before / 60, after / 1380, 'each export billed for its own rows');
    }));

  it('where the label table filled in its tail before the previous end, the merge builds every shard from there on, and the profile carries nothing on', () =>
    withHome(async (config, w) => {
      const grid = shardGrid(WINDOW, 'day');
      // Labels unchanged only up to minute 1,000, in the first day: every shard is built; and with nothing unchanged, the same.
      for (const builds of [{ until: minute(1000) }, {}]) {
        const plan = await recordPlan({ config, pair: 'eurusd', source: w, window: WINDOW, refresh: { since: SINCE, builds: async () => builds } });
        assert.deepEqual(plan.refresh, { since: SINCE, extractRange: { start: SINCE, end: WINDOW.end }, mergeWindow: WINDOW, loadedWindow: WINDOW, shards: 3, sharedShards: 0 }, JSON.stringify(builds));
        assert.equal(plan.statements.filter((s) => s.step === 'export').length, 3 * plan.mergePlan.groups.length);
        assert.equal(plan.profile.job.resume, undefined, 'no kept state matches: every row measured');
        assert.equal(plan.labelRows, 3000, 'the merge tables hold every label row');
      }
      // Unchanged up to minute 1,500's day's start: the first day shared, the rest built whole, carried on from the second day's first row.
      const plan = await recordPlan({ config, pair: 'eurusd', source: w, window: WINDOW, refresh: { since: SINCE, builds: async () => ({ until: grid[1]!.start }) } });
      assert.deepEqual({ shards: plan.refresh!.shards, shared: plan.refresh!.sharedShards, resume: plan.profile.job.resume?.from.state.row }, { shards: 2, shared: 1, resume: 1440 });
    }));

  it('with nothing new since the previous version (the label table ends where it ended): only the catalog statements, every shard shared, its profile taken', () =>
    withHome(async (config, w) => {
      const previous = 'eurusd-20210302t000000-prev01';
      const plan = await recordPlan({ config, pair: 'eurusd', source: w, window: WINDOW, refresh: { since: WINDOW.end, from: previous, builds: async () => ({ until: WINDOW.end }) } });
      const empty = { start: WINDOW.end, end: WINDOW.end };
      assert.deepEqual(plan.refresh, { since: WINDOW.end, extractRange: empty, mergeWindow: empty, loadedWindow: empty, shards: 0, sharedShards: 3 });
      // What a run sends then: startRun's catalog, label and data-version queries, nothing else
      // (mergeRun takes the previous profile): the features' versions in the window, the label
      // rows' whole and settled, and theirs in the previous window (the same, found unchanged).
      assert.deepEqual(plan.statements.map((s) => s.step), ['list_tables', 'list_tables', 'label_stats', 'data_versions', 'data_versions', 'data_versions', 'data_versions']);
      assert.equal(plan.labelRows, 0, 'the merge reads no label row');
      // startRun's label statistics still read the whole label table: priced by its rows, not the merge's 0.
      const labelStats = (await planDocument(plan, { target: 'bigquery', featureRows: () => 0 })).document.statements.filter((s) => s.kind === 'label_stats');
      assert.equal(plan.labelTableRows, 3000);
      assert.ok(labelStats.length > 0 && labelStats.every((s) => s.bytes === 3000 * 8), `the key column of every label row: ${labelStats.map((s) => s.bytes)}`);
      assert.equal(plan.profile.takenFrom, previous);
      const files = plan.dataset.groups.flatMap((g) => g.files);
      assert.equal(files.length, 3 * plan.mergePlan.groups.length);
      for (const f of files) assert.match(f, new RegExp(`/${previous}/`), 'every file is the previous version\'s');
      // The label table changed its rows in place from the second day on (no new minute): no
      // extract (every checkpoint reused), those shards built from the previous exports, as a run does.
      const grid = shardGrid(WINDOW, 'day');
      const changed = await recordPlan({ config, pair: 'eurusd', source: w, window: WINDOW, refresh: { since: WINDOW.end, from: previous, builds: async () => ({ until: grid[1]!.start }) } });
      assert.deepEqual(changed.refresh, { since: WINDOW.end, extractRange: empty, mergeWindow: { start: grid[1]!.start, end: WINDOW.end }, loadedWindow: { start: grid[1]!.start, end: WINDOW.end }, shards: 2, sharedShards: 1 });
      const steps = changed.statements.map((s) => s.step);
      // The label rows found changed in the previous window: the run asks again for all but their last 2,880 minutes.
      assert.equal(steps.filter((s) => s === 'data_versions').length, 5);
      assert.deepEqual(changed.statements.filter((s) => s.step === 'data_versions').at(-1)!.params, { tables: ['targets_eurusd'], start: new Date(WINDOW.start), end: new Date(Date.parse(WINDOW.end) - 2880 * 60_000) });
      assert.equal(steps.filter((s) => s === 'extract').length, 0, 'no extract');
      assert.equal(steps.filter((s) => s === 'export').length, 2 * changed.mergePlan.groups.length, 'one export per built shard and group');
      assert.ok(changed.statements.some((s) => s.step === 'load' && s.sql.includes(`/${previous}/`)), 'the previous exports are loaded');
      assert.equal(changed.profile.takenFrom, undefined, 'a profile is measured: shards were built');
      assert.equal(changed.labelRows, 3000 - 1440, 'the merge reads the label rows of the shards it builds');
      // Past the end, or at the start, is still refused.
      await assert.rejects(recordPlan({ config, pair: 'eurusd', source: w, window: WINDOW, refresh: { since: WINDOW.start } }), /must fall inside the window/);
    }));

  it('bqx plan --since prints what the refresh reads and builds; --refresh without a version to follow is refused', async () => {
    const dir = path.join(tempDir('plan-refresh-out'), 'sql');
    let stdout = '';
    let stderr = '';
    const out = sinon.stub(process.stdout, 'write').callsFake((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
    const err = sinon.stub(process.stderr, 'write').callsFake((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
    let codes: number[];
    try {
      codes = [
        await main(['plan', 'eurusd', '--target', 'bigquery', '--sql-out', dir, '--start', WINDOW.start, '--end', WINDOW.end, '--since', SINCE, '--json'], env),
        await main(['plan', 'eurusd', '--target', 'bigquery', '--sql-out', dir, '--refresh'], env),
        await main(['plan', 'eurusd', '--target', 'bigquery', '--sql-out', dir, '--start', WINDOW.start, '--end', WINDOW.end, '--since', SINCE], env),
        await main(['plan', 'eurusd', '--target', 'bigquery', '--sql-out', dir, '--start', WINDOW.start, '--end', WINDOW.end, '--since', WINDOW.end], env),
        // Offline, --refresh and --since together: one would be ignored, so both are refused.
        await main(['plan', 'eurusd', '--target', 'bigquery', '--sql-out', dir, '--refresh', '--since', SINCE], env),
      ];
    } finally {
      out.restore();
      err.restore();
    }
    assert.deepEqual(codes, [0, 2, 0, 0, 2]);
    assert.match(stderr, /bqx: plan --target bigquery takes --refresh \(the next version of the last embedded dataset\) or --since T \(a refresh of a version that ended at T\), not both\n$/);
    assert.match(stdout, new RegExp(`refresh since ${WINDOW.end.replace(/\./g, '\\.')}: nothing new \\(the label table ends there\\); with the tables unchanged, the run reuses every checkpoint, shares all 3 shard\\(s\\)`));
    assert.match(stdout, /\n {2}profile {10}taken from eurusd-\d{8}t\d{6}-\w+ \(every shard is its\), no statement\n/);
    const printed = JSON.parse(stdout.trim().split('\n')[0]!);
    // The text says the shard holding SINCE is built whole, with the previous export loaded too.
    assert.match(stdout, new RegExp(`the merge builds 2 shard\\(s\\) and shares 1; it builds rows before ${SINCE.replace(/\./g, '\\.')}, so each feature's previous export is loaded too, partitioned by the key, and its joins read the rows from ${shardGrid(WINDOW, 'day')[1]!.start.replace(/\./g, '\\.')}\n`));
    assert.deepEqual({ shards: printed.refresh.shards, shared: printed.refresh.sharedShards }, { shards: 2, shared: 1 });
    assert.equal(printed.summary.byKind.export, 2);
    assert.deepEqual(printed.profile.resume, { row: 1440, files: 2 });
  });
});

describe('bqx plan: the dataset the profile reads, and what a refresh carries on from', () => {
  const day = (i: number) => new Date(Date.UTC(2024, 0, 1) + i * 86_400_000).toISOString();
  const grid = shardGrid({ start: day(0), end: day(5) }, 'day');
  const groups = [
    { index: 0, columns: ['interval_time', 'target', 'a'] },
    { index: 1, columns: ['interval_time', 'b'] },
  ];
  const wildcard = (shard: string, group: number) => `training/eurusd/eurusd-20240106t000000-abcdef/shard-${shard}/group-00${group}/attempt-1/part-*.parquet`;

  it('counts the rows of each stretch the profile loads once, and spreads them over its shards', async () => {
    const counted: string[] = [];
    const rowsIn = async (w: { start: string; end: string }) => {
      counted.push(`${w.start}/${w.end}`);
      return (Date.parse(w.end) - Date.parse(w.start)) / 60_000 - 1;
    };
    // A refresh building the last three days: the first two are the previous version's.
    const exported = grid.slice(2).flatMap((s) => [wildcard(s.id, 0), wildcard(s.id, 1)]);
    const output = await plannedOutput({ groups, grid, exported, previous: { pair: 'eurusd', runId: 'eurusd-20240103t000000-prev01' }, rowsIn, uri: (n) => `gs://out/${n}` });
    assert.deepEqual(counted, [`${day(0)}/${day(2)}`, `${day(2)}/${day(4)}`, `${day(4)}/${day(5)}`], 'the shared shards, the rest before the last, the last');
    assert.deepEqual(output.shards.map((s) => s.rows), [1440, 1439, 1440, 1439, 1439]);
    assert.deepEqual(output.groups[1]!.files, [
      `${paths.outputShardGroupDir('eurusd', 'eurusd-20240103t000000-prev01', grid[0]!.id, 1)}part-000000000000.parquet`,
      `${paths.outputShardGroupDir('eurusd', 'eurusd-20240103t000000-prev01', grid[1]!.id, 1)}part-000000000000.parquet`,
      ...grid.slice(2).map((s) => wildcard(s.id, 1).replace('*', '000000000000')),
    ]);
    assert.deepEqual(output.files.get(`gs://out/${wildcard(grid[4]!.id, 0).replace('*', '000000000000')}`), { columns: groups[0]!.columns, rows: 1439 }, 'a LOAD DATA of it: its group, its rows');
  });

  it("resume: per group the rebuilt shards' files, a state of every column at the first one's first row, the sample rows before it", async () => {
    const shard = (i: number, rows: number): MergedShard => ({
      index: i,
      id: grid[i]!.id,
      start: grid[i]!.start,
      end: grid[i]!.end,
      rows,
      groups: groups.map((g) => ({ index: g.index, files: [`s${i}g${g.index}.parquet`], rows, columns: g.columns, bytes: 0, distinctKeys: rows, keysInOrder: true })),
      keysInRange: true,
    });
    const shards = [shard(0, 1000), shard(1, 1200), shard(2, 800)];
    const job = { runId: 'eurusd-20240106t000000-abcdef', pair: 'eurusd', key: 'interval_time', groups: groups.map((g) => ({ index: g.index, files: shards.map((s) => `s${s.index}g${g.index}.parquet`), columns: g.columns })), labels: ['target'], rows: 3000, cuts: [] };
    const mid = (i: number) => grid[i]!.start.replace('T00', 'T06');
    const resume = plannedResume(job, shards, { rebuilt: new Set([grid[1]!.id, grid[2]!.id]), since: mid(1) }, 100)!.resume!;
    assert.deepEqual(resume.groups, [
      { index: 0, files: ['s1g0.parquet', 's2g0.parquet'] },
      { index: 1, files: ['s1g1.parquet', 's2g1.parquet'] },
    ]);
    assert.equal(resume.from.state.row, 1000);
    assert.deepEqual(resume.from.state.columns, ['target', 'a', 'b']);
    assert.equal(resume.from.state.values.length, 3 * SCAN_FIELDS);
    assert.deepEqual((await resume.from.sample).rows, sampleRows(3000, { warmupRows: 100, ...sampleLayout(3000) }).filter((r) => r < 1000));
    assert.equal(plannedResume(job, shards, { rebuilt: new Set(shards.map((s) => s.id)), since: mid(1) }, 100), undefined, 'nothing shared: nothing to carry on from');
    assert.equal(plannedResume(job, shards, { rebuilt: new Set([grid[1]!.id, grid[2]!.id]), since: mid(2) }, 100), undefined, 'the previous version ended in the third day: its state was kept there, not at the second day');
    // The last shard grown by a part: its earlier file's 300 rows carried too, from the state after them.
    const parted = (i: number, rows: number): MergedShard => ({ ...shard(i, rows), groups: groups.map((g) => ({ index: g.index, files: [`s${i}g${g.index}-earlier.parquet`, `s${i}g${g.index}-part.parquet`], rows, columns: g.columns, bytes: 0, distinctKeys: rows, keysInOrder: true })) });
    const grown = plannedResume(job, [shards[0]!, shards[1]!, parted(2, 800)], { rebuilt: new Set([grid[2]!.id]), since: mid(2), grown: { id: grid[2]!.id, rowsBefore: 300 } }, 100)!.resume!;
    assert.equal(grown.from.state.row, 2500);
    assert.deepEqual(grown.groups, [{ index: 0, files: ['s2g0-part.parquet'] }, { index: 1, files: ['s2g1-part.parquet'] }]);
    // A single shard grown (month shards): still carried on, from its earlier part's end.
    const single = plannedResume({ ...job, rows: 800 }, [parted(0, 800)], { rebuilt: new Set([grid[0]!.id]), since: mid(0), grown: { id: grid[0]!.id, rowsBefore: 300 } }, 100)!.resume!;
    assert.equal(single.from.state.row, 300);
    assert.deepEqual(single.groups.map((g) => g.files), [['s0g0-part.parquet'], ['s0g1-part.parquet']]);
  });

  it('resume over a window longer than the labels\' lookahead: from the first shard ending after the previous end less 2,880 minutes, where the previous version kept its state', () => {
    const five = grid.map((s, i) => ({ index: i, id: s.id, start: s.start, end: s.end, rows: 1000, keysInRange: true, groups: groups.map((g) => ({ index: g.index, files: [`s${i}g${g.index}.parquet`], rows: 1000, columns: g.columns, bytes: 0, distinctKeys: 1000, keysInOrder: true })) }));
    const job = { runId: 'eurusd-20240106t000000-abcdef', pair: 'eurusd', key: 'interval_time', groups: groups.map((g) => ({ index: g.index, files: five.map((s) => `s${s.index}g${g.index}.parquet`), columns: g.columns })), labels: ['target'], rows: 5000, cuts: [] };
    // The previous version ended at day 4 06:00: its state was kept at day 2's first row (day 2 ends after day 2 06:00).
    const since = grid[4]!.start.replace('T00', 'T06');
    assert.equal(scanPointShard(five.slice(0, 5), since), 2);
    const from = (rebuilt: number[]) => plannedResume(job, five, { rebuilt: new Set(rebuilt.map((i) => grid[i]!.id)), since }, 100)?.resume;
    // The label table filled in its tail: days 2 to 4 built, carried on from day 2.
    assert.deepEqual([from([2, 3, 4])!.from.state.row, from([2, 3, 4])!.groups[0]!.files], [2000, ['s2g0.parquet', 's3g0.parquet', 's4g0.parquet']]);
    // Only the last day built whole: carried on from day 2 all the same, day 3 (shared) read again.
    assert.deepEqual([from([4])!.from.state.row, from([4])!.groups[1]!.files], [2000, ['s2g1.parquet', 's3g1.parquet', 's4g1.parquet']]);
    assert.equal(from([1, 2, 3, 4]), undefined, 'a shard before the state built: nothing carried');
    // The label rows from day 2 on filled in, the last day grown by a part: the label group (0)
    // from day 2, where the previous version kept its state; the other group from the previous end
    // (its earlier files all the previous version's), reading the part alone.
    const parted = five.map((s, i) => (i === 4 ? { ...s, groups: s.groups.map((g) => ({ ...g, files: [`s4g${g.index}-earlier.parquet`, `s4g${g.index}-part.parquet`] })) } : s));
    const split = plannedResume(job, parted, { rebuilt: new Set([grid[2]!.id, grid[3]!.id, grid[4]!.id]), since, grown: { id: grid[4]!.id, rowsBefore: 250, relabelled: true }, relabelled: new Set([grid[2]!.id, grid[3]!.id]) }, 100)!;
    assert.deepEqual([split.resume!.from.state.row, split.resume!.groups.map((g) => g.files)], [2000, [['s2g0.parquet', 's3g0.parquet', 's4g0-earlier.parquet', 's4g0-part.parquet'], ['s2g1.parquet', 's3g1.parquet', 's4g1-earlier.parquet', 's4g1-part.parquet']]]);
    assert.deepEqual([split.resumeEnd!.from.state.row, split.resumeEnd!.groups, split.resumeEnd!.from.state.columns], [4250, [{ index: 1, files: ['s4g1-part.parquet'] }], groups[1]!.columns.filter((c) => c !== 'interval_time')]);
    // Labels rebuilt further back than the state: the label group measured from row 0, the other still from the end.
    const back = plannedResume(job, parted, { rebuilt: new Set([grid[1]!.id, grid[2]!.id, grid[3]!.id, grid[4]!.id]), since, grown: { id: grid[4]!.id, rowsBefore: 250, relabelled: true }, relabelled: new Set([grid[1]!.id, grid[2]!.id, grid[3]!.id]) }, 100)!;
    assert.deepEqual([back.resume, back.resumeEnd!.from.state.row], [undefined, 4250]);
    assert.equal(scanPointShard(five.slice(0, 2), grid[1]!.end), 1, 'a window hardly longer than the lookahead keeps its state at its last shard');
  });
});
