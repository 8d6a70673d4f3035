// `bqx plan`: every statement a run would send to BigQuery, in run order, as the BigQuery adapter
// renders them (compared with the adapter's pure renderers), written one file each with plan.json;
// the bytes each would read; one-line errors for bad input; and `--target gcp` against the client
// library with its calls stubbed (no network): the real catalog read through the adapter, and
// BigQuery's dry run asked for each statement.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BigQuery } from '@google-cloud/bigquery';
import sinon from 'sinon';
import { gcpPlanSource } from '../../shared/adapters/gcp/bigQueryPlanSource.js';
import { ATTEMPT_DIR, attemptDir } from '../../shared/adapters/gcp/bigQueryJobs.js';
import { mergeSteps } from '../../shared/adapters/gcp/bigQueryMergeSteps.js';
import { SEGMENT_MEASURES, profileScratch, renderKeyGaps, renderScanSegments } from '../../shared/adapters/gcp/bigQueryProfileSql.js';
import { renderExtract, renderExtractCounts, renderLoad, scratchArea } from '../../shared/adapters/gcp/bigQuerySql.js';
import { main } from '../../shared/cli/main.js';
import { loadConfig } from '../../shared/config.js';
import { paths } from '../../shared/naming.js';
import { shardGrid } from '../../shared/shards.js';
import { planDocument, type PlanDocument } from '../../shared/plan/planDocument.js';
import { PlanStore } from '../../shared/plan/planStore.js';
import { BILLED_MIN_BYTES, INFORMATION_SCHEMA_MIN_BYTES } from '../../shared/plan/estimateBytes.js';
import { renderDataVersions } from '../../shared/adapters/gcp/bigQueryVersions.js';
import { PLACEHOLDER_BUCKETS, recordPlan } from '../../shared/plan/recordPlan.js';
import { MINI_ROWS, buildMiniWarehouse, openHomeWarehouse } from '../helpers/miniWarehouse.js';
import { tempDir } from '../helpers/temp.js';

const ENV = { BQX_JOIN_BATCH_TABLES: '2' };
/** The mini warehouse's features for eurusd, in manifest (name) order. */
const FEATURES = ['agg_eurusd', 'cov_agg_eurusd_gbpusd', 'csi_mom_bqx_usd', 'mkt_regime', 'tri_agg_eur_usd_gbp'];

async function bqx(argv: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = sinon.stub(process.stdout, 'write').callsFake((chunk: string | Uint8Array) => ((stdout += String(chunk)), true));
  const err = sinon.stub(process.stderr, 'write').callsFake((chunk: string | Uint8Array) => ((stderr += String(chunk)), true));
  try {
    const code = await main(argv, env);
    return { code, stdout, stderr };
  } finally {
    out.restore();
    err.restore();
  }
}

describe('bqx plan', function () {
  this.timeout(120_000);
  let home: string;
  let env: Record<string, string>;

  before(async () => {
    home = tempDir('plan');
    env = { ...ENV, BQX_HOME: home };
    const w = await openHomeWarehouse(home);
    await buildMiniWarehouse(w);
    await w.close();
  });

  it('writes every statement in run order, the BigQuery adapter\'s own text, and plan.json', async () => {
    const dir = path.join(tempDir('plan-out'), 'sql');
    const r = await bqx(['plan', 'eurusd', '--target', 'bigquery', '--sql-out', dir, '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout);
    const doc = JSON.parse(readFileSync(path.join(dir, 'plan.json'), 'utf8')) as PlanDocument;
    assert.equal(printed.runId, doc.runId);
    assert.deepEqual(printed.summary, doc.summary);

    const kinds = doc.statements.map((s) => s.kind);
    assert.deepEqual(kinds, [
      'list_tables', 'list_tables', 'label_stats', 'label_stats',
      // The data versions: of the features' rows in the window (their checkpoints' fingerprints),
      // then of the label rows (the window is shorter than the labels' lookahead: no settled part).
      'data_versions', 'data_versions',
      ...FEATURES.flatMap(() => ['extract', 'extract_counts']),
      'keys', ...FEATURES.map(() => 'load'), 'batch', 'batch', 'batch', 'export',
      // The profile after the merge: the group loaded, its measures and sample in one statement, the key's gaps (the window is too short for folds: no cuts).
      'profile_load', 'profile_scan', 'profile_gaps',
    ]);
    assert.deepEqual(readdirSync(dir).sort(), [...doc.statements.map((s) => s.file), 'plan.json'].sort(), 'one file per statement, and plan.json');
    const first = kinds.indexOf('extract');
    assert.equal(doc.statements[first]!.file, '0007-extract-agg_eurusd.sql');
    assert.deepEqual(doc.summary.byKind, { list_tables: 2, label_stats: 2, data_versions: 2, extract: 5, extract_counts: 5, keys: 1, load: 5, batch: 3, export: 1, profile_load: 1, profile_scan: 1, profile_gaps: 1 });
    assert.equal(doc.statements.at(-2)!.file, `${String(doc.statements.length - 1).padStart(4, '0')}-profile_scan.sql`);

    // The text is what the adapter's renderers give for this run, byte for byte.
    const sql = (i: number) => readFileSync(path.join(dir, doc.statements[i]!.file), 'utf8').replace(/\n$/, '');
    // Read as the run froze the table: as of the plan's snapshot.
    assert.match(doc.snapshotAt ?? '', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const agg = { dataset: 'bqx_ml_v3_features_v2', table: 'agg_eurusd', columns: ['a', 'b'], window: doc.window, asOf: doc.snapshotAt! };
    // Each export attempt writes in its own folder, named after its job id.
    const staging = /uri='([^']+)'/.exec(sql(first))![1]!;
    assert.match(staging, new RegExp(`^gs://${PLACEHOLDER_BUCKETS.staging}/${paths.featureDir(doc.runId, 'agg_eurusd')}attempt-[0-9a-z_-]+/part-\\*\\.parquet$`));
    assert.equal(sql(first), renderExtract(agg, staging).sql);
    assert.equal(sql(first + 1), renderExtractCounts(agg).sql);
    assert.equal(sql(4), renderDataVersions('bqx_ml_v3_features_v2', FEATURES, doc.window)[0]!.sql);
    assert.deepEqual(doc.statements[4]!.params, { tables: 'ARRAY<STRING>', start: 'TIMESTAMP', end: 'TIMESTAMP' });
    assert.deepEqual(doc.statements[5]!.reads, ['bqx_ml_v3_analytics_v2.INFORMATION_SCHEMA.PARTITIONS', 'bqx_ml_v3_analytics_v2.INFORMATION_SCHEMA.COLUMNS']);
    const extract = doc.statements[first]!;
    assert.deepEqual(extract.params, { start: 'TIMESTAMP', end: 'TIMESTAMP' });
    assert.deepEqual(extract.reads, ['bqx_ml_v3_features_v2.agg_eurusd']);
    assert.equal(extract.columns, 3);
    // Bytes: the key (8 bytes a value) and two NUMERIC columns (16: DuckDB's DECIMAL) of its 120 rows in the window.
    assert.equal(extract.bytes, MINI_ROWS * (8 + 16 + 16));
    assert.equal(doc.statements[first + 1]!.bytes, MINI_ROWS * 8, 'the counts read the key only');
    assert.equal(doc.statements[0]!.bytes, INFORMATION_SCHEMA_MIN_BYTES);
    assert.equal(doc.statements[4]!.bytes, 2 * INFORMATION_SCHEMA_MIN_BYTES, 'two views');
    // Billed on demand: each table a statement references at least 10 MB (10,485,760 bytes), and
    // the statement at least that, rounded up to a MB; LOAD DATA nothing.
    assert.ok(extract.bytes < BILLED_MIN_BYTES);
    assert.equal(extract.billed, BILLED_MIN_BYTES, 'a small extract bills the minimum');
    assert.equal(doc.statements[4]!.billed, 2 * BILLED_MIN_BYTES);
    const load = doc.statements.find((s) => s.kind === 'load')!;
    assert.equal(load.bytes, 0, 'LOAD DATA reads files, not tables');
    assert.equal(load.billed, 0);
    assert.match(load.creates!, /^bqx_scratch\.bqx_eurusd_\d{8}t\d{6}_[a-z0-9]{6}__ck0000_agg_eurusd$/);
    const exported = doc.statements.find((s) => s.kind === 'export')!;
    const width = 1 + 2 + 2 + 1 + 1 + 1 + 1;
    assert.equal(exported.columns, width, 'key, 2 labels, every feature column');
    assert.equal(doc.summary.mostTables.tables, 4, 'a batch: its table, the keys and two checkpoints');
    const batch = doc.statements.find((s) => s.kind === 'batch')!;
    assert.equal(batch.reads.length, 3);
    assert.equal(batch.billed, 3 * BILLED_MIN_BYTES, 'each of the three tables it reads bills 10 MB');

    // The profile reads the dataset the merge wrote: the group's file loaded (not billed) into a
    // table of its columns and the window's rows, then each query billed for what it names: every
    // column once (its measures and sample in one statement), then the key.
    const [profileLoad, stats, gaps] = doc.statements.slice(-3);
    assert.equal(profileLoad!.bytes, 0);
    assert.equal(profileLoad!.columns, width);
    assert.match(profileLoad!.creates!, /__profile_g000$/);
    assert.equal(stats!.bytes, MINI_ROWS * width * 8, 'every column of the group (the key orders the rows), 8 bytes a value');
    assert.deepEqual(stats!.params, { bounds: 'ARRAY<INT64>', firsts: 'ARRAY<INT64>', lasts: 'ARRAY<INT64>', warmup: 'INT64', block_from: 'INT64', block_rows: 'INT64', spread_step: 'INT64' });
    assert.equal(stats!.columns, 2 + (width - 1) * (SEGMENT_MEASURES.length + 1), 'the stretch, its sample rows, and eighteen measures and the sample a column');
    assert.equal(doc.summary.widest.file, stats!.file);
    assert.equal(gaps!.bytes, MINI_ROWS * 8, 'the key');
    for (const s of [stats, gaps]) assert.deepEqual(s!.reads, [profileLoad!.creates]);
    assert.equal(doc.summary.bytesByKind.profile_scan, stats!.bytes);
    assert.equal(doc.summary.bytesTotal, doc.statements.reduce((n, s) => n + s.bytes, 0));
    // What those bytes cost on demand, at BQX_COST_PER_TB_USD (6.25 by default) a TiB.
    assert.equal(doc.summary.costPerTbUsd, 6.25);
    assert.equal(doc.summary.billedTotal, doc.statements.reduce((n, s) => n + s.billed, 0));
    assert.equal(doc.summary.billedByKind.extract, FEATURES.length * BILLED_MIN_BYTES);
    assert.equal(doc.summary.costUsd, Math.round((doc.summary.billedTotal / 2 ** 40) * 6.25 * 10000) / 10000);
    assert.deepEqual({ ...doc.profile, note: undefined }, { mode: 'full', groups: 1, files: 1, rows: MINI_ROWS, note: undefined });
    assert.match(doc.profile.note, /profile_compare statements depend on what the column pass finds/);
    assert.deepEqual(printed.profile, doc.profile);
  });

  it('records the merge as mergeSteps renders it, loading the files the extracts left', async () => {
    const config = loadConfig(env);
    const w = await openHomeWarehouse(home);
    try {
      const plan = await recordPlan({ config, pair: 'eurusd', source: w });
      // The file each extract left: its export's wildcard, as BigQuery names the first file.
      const staged = new PlanStore(PLACEHOLDER_BUCKETS.staging);
      const exportedTo = (feature: string) => /uri='([^']+)'/.exec(plan.statements.find((s) => s.step === 'extract' && s.labels.feature === feature)!.sql)![1]!;
      const checkpoints = Object.fromEntries(plan.manifest.features.map((f) => [f.feature, [staged.nameOf(exportedTo(f.feature))!.replace('*', '000000000000')]]));
      const steps = mergeSteps(
        { runId: plan.runId, pair: 'eurusd', window: plan.window, manifest: plan.manifest, plan: plan.mergePlan, checkpoints, outputPrefix: paths.outputDir('eurusd', plan.runId), shards: shardGrid(plan.window, config.shard) },
        config,
        new PlanStore(PLACEHOLDER_BUCKETS.staging),
        new PlanStore(PLACEHOLDER_BUCKETS.output),
      );
      // An export's folder is named after its job id when the job starts (attemptDir): the recorded
      // text holds that name where mergeSteps holds the placeholder.
      const merge = plan.statements.filter((s) => ['keys', 'load', 'batch', 'export'].includes(s.step));
      const rendered = [steps.keys, ...steps.loads, ...steps.batches, ...steps.exports].map((s) => s.sql);
      assert.deepEqual(merge.map((s) => (s.step === 'export' ? s.sql.replace(`/${attemptDir(s.jobId)}/`, `/${ATTEMPT_DIR}/`) : s.sql)), rendered);
    } finally {
      await w.close();
    }
  });

  it("records the profile after the merge as the adapter renders it, over the files the merge's export names", async () => {
    for (const mode of ['full', 'keys'] as const) {
      const config = loadConfig({ ...env, BQX_PROFILE: mode });
      const w = await openHomeWarehouse(home);
      try {
        const plan = await recordPlan({ config, pair: 'eurusd', source: w });
        const exportSql = plan.statements.find((s) => s.step === 'export')!.sql;
        // The merge's export writes the group's files; BigQuery names the first of its wildcard so.
        const file = /uri='([^']+)'/.exec(exportSql)![1]!.replace('*', '000000000000');
        const group = plan.mergePlan.groups[0]!;
        assert.deepEqual(plan.profile.job.groups, [{ index: 0, files: [new PlanStore(PLACEHOLDER_BUCKETS.output).nameOf(file)!], columns: group.columns }]);
        const { scratchDataset: dataset, scratchTtlHours: ttlHours } = config.gcp;
        const table = profileScratch.group(scratchArea(plan.runId), 0);
        // Full: every column measured; keys: the key only, for the gaps and the fold rows.
        const measured = mode === 'full' ? group.columns.slice(1) : [];
        const expected = [
          renderLoad({ dataset, table, ttlHours }, [file], measured).sql,
          ...(mode === 'full' ? [renderScanSegments(dataset, table, measured).sql] : []),
          renderKeyGaps(dataset, table).sql,
        ];
        const exportAt = plan.statements.findIndex((s) => s.sql === exportSql);
        assert.deepEqual(plan.statements.slice(exportAt + 1).map((s) => s.sql), expected, `BQX_PROFILE=${mode}: the profile's statements follow the merge`);
        assert.equal(plan.profile.mode, mode);
      } finally {
        await w.close();
      }
    }
  });

  it('refuses bad input with one line and exit code 2, writing nothing', async () => {
    const base = tempDir('plan-bad');
    const file = path.join(base, 'a-file');
    writeFileSync(file, 'x');
    const busy = path.join(base, 'busy');
    await bqx(['plan', 'eurusd', '--sql-out', busy], env).then((r) => {
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /\n {2}bytes billed {5}\d+\.\d MiB on demand \(10 MB at least per table a statement references, and per statement\)\n/);
      assert.match(r.stdout, /\n {2}on-demand cost {3}about \$\d+\.\d\d at \$6\.25 a TiB of bytes billed \(BQX_COST_PER_TB_USD/, 'the text summary says what the bytes cost');
    });
    writeFileSync(path.join(busy, 'notes.txt'), 'mine');
    const cases: [string[], RegExp][] = [
      [['plan', '--sql-out', path.join(base, 'x')], /plan takes one pair, got none/],
      [['plan', 'eurusd', '--target', 'aws', '--sql-out', path.join(base, 'x')], /--target must be bigquery or gcp, got "aws"/],
      [['plan', 'eurusd'], /plan needs --sql-out DIR/],
      [['plan', 'eurxyz', '--sql-out', path.join(base, 'x')], /eurxyz/],
      [['plan', 'eurusd', '--sql-out', file], /is a file, not a folder/],
      [['plan', 'eurusd', '--sql-out', path.join(file, 'sub', 'dir')], new RegExp(`--sql-out \\S+: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is a file, not a folder`)],
      [['plan', 'eurusd', '--sql-out', busy], /holds other files \(notes\.txt\)/],
      [['plan', 'eurusd', '--sql-out', path.join(base, 'x'), '--rows', '5'], /unknown option --rows for "plan"/],
    ];
    for (const [argv, message] of cases) {
      const r = await bqx(argv, env);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
    }
    assert.ok(!existsSync(path.join(base, 'x')), 'nothing written');
    assert.ok(existsSync(path.join(busy, 'notes.txt')), "a folder with the user's files is left alone");
  });

  describe('--target gcp (client calls stubbed, no network)', () => {
    const sandbox = sinon.createSandbox();
    afterEach(() => sandbox.restore());

    it('reads the catalog through the adapter and asks BigQuery for a dry run of each statement', async () => {
      const config = loadConfig({ ...ENV, BQX_RUNTIME: 'gcp', BQX_PROJECT: 'demo-project', BQX_STAGING_BUCKET: 'my-staging', BQX_OUTPUT_BUCKET: 'my-output' });
      // The catalog BigQuery would list: one feature table and the label table.
      const catalog = [
        { table_name: 'agg_eurusd', column_name: 'interval_time', data_type: 'TIMESTAMP' },
        { table_name: 'agg_eurusd', column_name: 'a', data_type: 'FLOAT64' },
        { table_name: 'targets_eurusd', column_name: 'interval_time', data_type: 'TIMESTAMP' },
        { table_name: 'targets_eurusd', column_name: 't1', data_type: 'FLOAT64' },
      ];
      const bigquery = new BigQuery({ projectId: 'demo-project', location: 'us-central1' });
      const createQueryJob = sandbox.stub(bigquery, 'createQueryJob').callsFake((async (options: { query: string; dryRun?: boolean; params?: Record<string, unknown> }) => {
        if (options.dryRun) {
          // Scratch tables exist only during a run: BigQuery answers 404 for those.
          if (/(FROM|JOIN) `bqx_scratch`\./.test(options.query)) throw Object.assign(new Error('Not found: Table demo-project:bqx_scratch.x'), { code: 404 });
          return [undefined, { statistics: { totalBytesProcessed: String(options.query.length) } }];
        }
        let rows: unknown[];
        if (options.query.includes('INFORMATION_SCHEMA')) {
          const dataset = String(options.params!.dataset);
          rows = catalog.filter((c) => (dataset === config.labelsDataset) === c.table_name.startsWith('targets_'));
        } else {
          rows = [{ row_count: 600, min_key: '2024-01-01T00:00:00.000Z', max_key: '2024-01-01T09:59:00.000Z' }];
        }
        return [{ getQueryResults: async () => [rows] }, {}];
      }) as never);

      const gcp = gcpPlanSource(config, { staging: new PlanStore('my-staging'), output: new PlanStore('my-output') }, bigquery);
      const plan = await recordPlan({ config, pair: 'eurusd', source: gcp.warehouse, buckets: { staging: 'my-staging', output: 'my-output' } });
      const reads = createQueryJob.callCount;
      assert.equal(reads, 4, 'two catalog reads and two label statistics, by the adapter');
      const { document } = await planDocument(plan, { target: 'gcp', featureRows: () => plan.labelRows, dryRun: gcp.dryRun });

      const dry = createQueryJob.getCalls().slice(reads).map((c) => c.args[0] as unknown as { query: string; dryRun: boolean; location: string; params?: Record<string, unknown> });
      assert.equal(dry.length, plan.statements.length, 'one dry run per statement');
      dry.forEach((options, i) => {
        assert.equal(options.dryRun, true);
        assert.equal(options.location, 'us-central1');
        assert.equal(options.query, plan.statements[i]!.sql, 'the dry run is of the planned text');
        assert.deepEqual(options.params ?? {}, plan.statements[i]!.params);
      });
      const byKind = (kind: string) => document.statements.filter((s) => s.kind === kind);
      const extract = byKind('extract')[0]!;
      assert.equal(extract.bytesFrom, 'dry-run');
      assert.equal(extract.bytes, plan.statements.find((s) => s.step === 'extract')!.sql.length, "BigQuery's figure is the one kept");
      assert.equal(extract.billed, BILLED_MIN_BYTES, 'a dry run below 10 MB bills the minimum');
      assert.ok(plan.statements.find((s) => s.step === 'extract')!.sql.includes("uri='gs://my-staging/runs/"), 'the configured buckets are in the URIs');
      const batch = byKind('batch')[0]!;
      assert.equal(batch.bytesFrom, 'estimate', 'a statement over scratch tables keeps its estimate');
      assert.match(batch.dryRunError!, /Not found: Table/);
      assert.equal(document.summary.dryRuns, document.statements.filter((s) => s.bytesFrom === 'dry-run').length);
    });

    it('needs a project', () => {
      assert.throws(() => gcpPlanSource(loadConfig({}), { staging: new PlanStore('a-bucket'), output: new PlanStore('b-bucket') }), /BQX_PROJECT/);
    });
  });
});
