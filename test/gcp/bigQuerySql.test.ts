// The BigQuery SQL, rendered alone: exact text, parameters, refusals, and the limits of a full-size
// plan. Every statement is parsed with node-sql-parser's BigQuery dialect. That dialect cannot
// parse `EXPORT DATA OPTIONS(...) AS` or `LOAD DATA ... FROM FILES(...)` (checked below, so we
// learn if it ever can); for those the inner SELECT is parsed and the wrapper text asserted exactly.

import assert from 'node:assert/strict';
import NodeSqlParser from 'node-sql-parser';
import { InputError } from '../../shared/naming.js';
import { planMerge } from '../../shared/planner.js';
import type { MergeJob } from '../../shared/ports.js';
import {
  tableAsOf,
  MAX_TABLES_PER_STATEMENT,
  gcsLiteral,
  normaliseType,
  renderBatch,
  renderExtract,
  renderExtractCounts,
  renderGroupExport,
  renderKeys,
  renderLabelStats,
  renderListTables,
  renderLoad,
  scratchArea,
  scratchNames,
} from '../../shared/adapters/gcp/bigQuerySql.js';
import { loadPartitions, mergeSteps } from '../../shared/adapters/gcp/bigQueryMergeSteps.js';
import { FULL, fullManifest } from './fullManifest.js';
import { MemoryObjectStore } from './memoryStore.js';
import { shardGrid } from '../../shared/shards.js';

const parser = new NodeSqlParser.Parser();
const BQ = { database: 'bigquery' };

/** Parses one statement; returns its AST and the tables it names. */
function parse(sql: string): { ast: Record<string, unknown>; tables: string[] } {
  // One pass gives both (astify then tableList parsed every statement twice: 25 s of this file).
  const { ast, tableList } = parser.parse(sql, BQ);
  const one = (Array.isArray(ast) ? ast : [ast]) as unknown as Record<string, unknown>[];
  assert.equal(one.length, 1, 'exactly one statement');
  return { ast: one[0]!, tables: tableList };
}

/** The result columns of a SELECT, from its text or from its parse. */
const selectWidth = (sql: string | { ast: Record<string, unknown> }): number => {
  const { ast } = typeof sql === 'string' ? parse(sql) : sql;
  assert.equal(ast.type, 'select');
  return (ast.columns as unknown[]).length;
};

const WINDOW = { start: '2024-01-01T00:00:00.000Z', end: '2024-02-01T00:00:00.000Z' };
const EXPIRES = 'OPTIONS(expiration_timestamp=TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 24 HOUR))';

describe('gcp/bigQuerySql', () => {
  it('lists a dataset from its own INFORMATION_SCHEMA, with the dataset as a parameter too', () => {
    const r = renderListTables('bqx_ml_v3_features_v2');
    assert.equal(
      r.sql,
      [
        'SELECT `table_name`, `column_name`, `data_type`',
        'FROM `bqx_ml_v3_features_v2`.INFORMATION_SCHEMA.COLUMNS',
        "WHERE `table_schema` = @dataset AND `is_hidden` = 'NO'",
        'ORDER BY `table_name`, `ordinal_position`',
      ].join('\n'),
    );
    assert.deepEqual(r.params, { dataset: 'bqx_ml_v3_features_v2' });
    assert.deepEqual(parse(r.sql).tables, ['select::bqx_ml_v3_features_v2.INFORMATION_SCHEMA::COLUMNS']);
    assert.throws(() => renderListTables('features`; DROP SCHEMA x; --'), InputError);
  });

  it('normalises column types to the port names', () => {
    const cases: [string, string][] = [
      ['FLOAT64', 'FLOAT64'],
      ['float', 'FLOAT64'],
      ['INTEGER', 'INT64'],
      ['TIMESTAMP', 'TIMESTAMP'],
      ['STRING(10)', 'STRING'],
      ['NUMERIC(10, 2)', 'NUMERIC'],
      ['BOOLEAN', 'BOOL'],
      ['ARRAY<FLOAT64>', 'ARRAY<FLOAT64>'],
    ];
    for (const [input, output] of cases) assert.equal(normaliseType(input), output, input);
  });

  it('counts label rows and key range, with the window as TIMESTAMP parameters', () => {
    const r = renderLabelStats('bqx_ml_v3_analytics_v2', 'targets_eurusd', WINDOW);
    assert.equal(
      r.sql,
      [
        'SELECT COUNT(*) AS `row_count`,',
        "  FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E3SZ', MIN(`interval_time`), 'UTC') AS `min_key`,",
        "  FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E3SZ', MAX(`interval_time`), 'UTC') AS `max_key`",
        'FROM `bqx_ml_v3_analytics_v2`.`targets_eurusd`',
        'WHERE `interval_time` >= @start AND `interval_time` < @end',
      ].join('\n'),
    );
    assert.deepEqual(r.params, { start: new Date(WINDOW.start), end: new Date(WINDOW.end) });
    assert.equal(selectWidth(r.sql), 3);
    const all = renderLabelStats('bqx_ml_v3_analytics_v2', 'targets_eurusd');
    assert.ok(!all.sql.includes('WHERE'));
    assert.equal(all.params, undefined);
    selectWidth(all.sql);
  });

  it('extracts one row per key, deterministically, in key order, to a wildcard', () => {
    const source = { dataset: 'bqx_ml_v3_features_v2', table: 'agg_eurusd', columns: ['bqx_45', 'bqx_90'], window: WINDOW };
    const r = renderExtract(source, 'gs://bqx-staging/runs/eurusd-20250101t000000-abc123/features/agg_eurusd/part-*.parquet');
    const query = [
      'SELECT `interval_time`, `bqx_45`, `bqx_90`',
      'FROM `bqx_ml_v3_features_v2`.`agg_eurusd`',
      'WHERE `interval_time` >= @start AND `interval_time` < @end',
      'QUALIFY ROW_NUMBER() OVER (PARTITION BY `interval_time` ORDER BY `bqx_45` ASC NULLS LAST, `bqx_90` ASC NULLS LAST) = 1',
      'ORDER BY `interval_time`',
    ].join('\n');
    assert.equal(
      r.sql,
      "EXPORT DATA OPTIONS(uri='gs://bqx-staging/runs/eurusd-20250101t000000-abc123/features/agg_eurusd/part-*.parquet', format='PARQUET', compression='ZSTD', overwrite=true) AS\n" +
        query,
    );
    assert.equal(r.query, query);
    assert.deepEqual(r.params, { start: new Date(WINDOW.start), end: new Date(WINDOW.end) });
    // The wrapper is beyond the parser; the query inside is not, QUALIFY included. Its grammar
    // lacks NULLS LAST in a window's ORDER BY (valid GoogleSQL: the ZetaSQL suite analyses the
    // text as it is), so that is parsed without it.
    assert.throws(() => parser.astify(r.sql, BQ));
    const { ast, tables } = parse(query.replaceAll(' ASC NULLS LAST', ' ASC'));
    assert.deepEqual(tables, ['select::bqx_ml_v3_features_v2::agg_eurusd']);
    assert.ok(ast.qualify, 'QUALIFY is in the parsed query');
    assert.equal((ast.columns as unknown[]).length, 3);

    const counts = renderExtractCounts(source);
    assert.equal(
      counts.sql,
      [
        'SELECT COUNT(*) AS `source_rows`, COUNT(DISTINCT `interval_time`) AS `key_count`',
        'FROM `bqx_ml_v3_features_v2`.`agg_eurusd`',
        'WHERE `interval_time` >= @start AND `interval_time` < @end',
      ].join('\n'),
    );
    assert.equal(selectWidth(counts.sql), 2);
  });

  it('reads a table as the run froze it (FOR SYSTEM_TIME AS OF its snapshot), in the export and in its count; refuses a snapshot time that is not an ISO instant', () => {
    const source = { dataset: 'bqx_ml_v3_features_v2', table: 'agg_eurusd', columns: ['bqx_45'], window: WINDOW, asOf: '2025-01-01T00:00:05.123Z' };
    const frozen = "FROM `bqx_ml_v3_features_v2`.`agg_eurusd` FOR SYSTEM_TIME AS OF TIMESTAMP '2025-01-01 00:00:05.123+00'";
    assert.equal(renderExtract(source, 'gs://bqx-staging/x/part-*.parquet').query!.split('\n')[1], frozen);
    assert.equal(renderExtractCounts(source).sql.split('\n')[1], frozen);
    assert.equal(tableAsOf('ds', 't'), '`ds`.`t`', 'without a snapshot: the table as it is');
    for (const at of ['2025-01-01', '2025-01-01 00:00:05Z', "2025-01-01T00:00:05Z' OR TRUE --", '2025-13-01T00:00:05Z']) {
      assert.throws(() => tableAsOf('ds', 't', at), InputError, at);
    }
  });

  it('refuses identifiers, URIs and windows that are not plain', () => {
    const ok = { dataset: 'ds', table: 'agg_eurusd', columns: ['a'], window: WINDOW };
    const uri = 'gs://bqx-staging/x/part-*.parquet';
    assert.throws(() => renderExtract({ ...ok, table: 'agg`; DROP TABLE x; --' }, uri), InputError);
    assert.throws(() => renderExtract({ ...ok, columns: ['a b'] }, uri), InputError);
    assert.throws(() => renderExtract({ ...ok, dataset: 'other.ds' }, uri), InputError);
    assert.throws(() => renderExtract({ ...ok, columns: [] }, uri), InputError);
    assert.throws(() => renderExtract(ok, "gs://bqx-staging/x'), format='CSV' --/part-*.parquet"), InputError);
    assert.throws(() => renderExtract(ok, 'gs://bqx-staging/x/single.parquet'), InputError, 'an export must use a wildcard');
    assert.throws(() => renderExtract({ ...ok, window: { start: WINDOW.end, end: WINDOW.start } }, uri), InputError);
    assert.throws(() => renderExtract({ ...ok, window: { start: 'yesterday', end: WINDOW.end } }, uri), InputError);
    assert.throws(() => gcsLiteral('gs://bqx-staging/../secrets/a.parquet'), InputError);
    assert.equal(gcsLiteral('gs://bqx-staging/a/b.parquet'), "'gs://bqx-staging/a/b.parquet'");
  });

  it('renders the merge statements: load, keys, batch and group export', () => {
    const area = scratchArea('eurusd-20250101t000000-abc123');
    assert.equal(area, 'bqx_eurusd_20250101t000000_abc123');
    const target = (table: string) => ({ dataset: 'bqx_scratch', table, ttlHours: 24 });

    const load = renderLoad(target(scratchNames.checkpoint(area, 7, 'agg_eurusd')), ['gs://bqx-staging/runs/r/features/agg_eurusd/part-*.parquet'], ['a']);
    assert.equal(
      load.sql,
      [
        'LOAD DATA OVERWRITE `bqx_scratch`.`bqx_eurusd_20250101t000000_abc123__ck0007_agg_eurusd`',
        "FROM FILES(format='PARQUET', uris=['gs://bqx-staging/runs/r/features/agg_eurusd/part-*.parquet'])",
      ].join('\n'),
    );
    // LOAD DATA carries no expiration option: the scratch dataset's default table expiration applies.
    assert.ok(!load.sql.includes('OPTIONS'), 'LOAD DATA carries no OPTIONS');
    assert.throws(() => parser.astify(load.sql, BQ), 'LOAD DATA is beyond node-sql-parser; its text is asserted above');

    const keys = renderKeys(target(`${area}__keys`), { dataset: 'labels', table: 'targets_eurusd', columns: ['t1', 't2'] }, WINDOW);
    assert.equal(
      keys.sql,
      [
        'CREATE OR REPLACE TABLE `bqx_scratch`.`bqx_eurusd_20250101t000000_abc123__keys`',
        'CLUSTER BY `interval_time`',
        EXPIRES,
        'AS',
        'SELECT `interval_time`, `t1`, `t2`',
        'FROM `labels`.`targets_eurusd`',
        'WHERE `interval_time` >= @start AND `interval_time` < @end',
      ].join('\n'),
    );
    assert.deepEqual(parse(keys.sql).tables.sort(), ['create::bqx_scratch::bqx_eurusd_20250101t000000_abc123__keys', 'select::labels::targets_eurusd']);
    // Partitioned where the merge asks (its shards' exports then read their own partitions), named apart.
    const dayKeys = renderKeys({ ...target(scratchNames.keys(area, 'DAY')), partitionBy: 'DAY' }, { dataset: 'labels', table: 'targets_eurusd', columns: ['t1'] }, WINDOW);
    assert.deepEqual(dayKeys.sql.split('\n').slice(0, 3), ['CREATE OR REPLACE TABLE `bqx_scratch`.`bqx_eurusd_20250101t000000_abc123__keys_d`', 'PARTITION BY TIMESTAMP_TRUNC(`interval_time`, DAY)', 'CLUSTER BY `interval_time`']);
    assert.equal(scratchNames.batch(area, 3, 1, 'MONTH'), `${area}__g003_b001_m`);

    const batch = renderBatch(
      target(`${area}__g001_b000`),
      `${area}__keys`,
      [
        { table: 'ck_a', columns: [{ source: 'x', output: 'a_x', type: 'FLOAT64' }] },
        { table: 'ck_b', columns: [{ source: 'x', output: 'b_x', type: 'FLOAT64' }, { source: 'y', output: 'b_y', type: 'FLOAT64' }] },
      ],
      9900,
    );
    assert.equal(
      batch.sql,
      [
        'CREATE OR REPLACE TABLE `bqx_scratch`.`bqx_eurusd_20250101t000000_abc123__g001_b000`',
        'CLUSTER BY `interval_time`',
        EXPIRES,
        'AS',
        'SELECT `k`.`interval_time`, `f0`.`x` AS `a_x`, `f1`.`x` AS `b_x`, `f1`.`y` AS `b_y`',
        'FROM `bqx_scratch`.`bqx_eurusd_20250101t000000_abc123__keys` AS `k`',
        'LEFT JOIN `bqx_scratch`.`ck_a` AS `f0` ON `f0`.`interval_time` = `k`.`interval_time`',
        'LEFT JOIN `bqx_scratch`.`ck_b` AS `f1` ON `f1`.`interval_time` = `k`.`interval_time`',
      ].join('\n'),
    );
    assert.deepEqual(batch.columns, ['interval_time', 'a_x', 'b_x', 'b_y']);
    assert.equal(parse(batch.sql).tables.length, 4);
    assert.equal(selectWidth(batch.query!), 4);

    const exported = renderGroupExport({
      scratchDataset: 'bqx_scratch',
      keysTable: `${area}__keys`,
      labelColumns: ['t1'],
      batches: [{ table: `${area}__g000_b000`, columns: ['interval_time', 'a_x'] }, { table: `${area}__g000_b001`, columns: ['interval_time', 'b_x'] }],
      uri: 'gs://bqx-output/training/eurusd/eurusd-20250101t000000-abc123/shard-20240101/group-000/part-*.parquet',
      maxColumns: 9900,
      shard: { start: '2024-01-06T00:00:00.000Z', end: '2024-02-01T00:00:00.000Z' },
    });
    const query = [
      'SELECT `k`.`interval_time`, `k`.`t1`, `b0`.`a_x`, `b1`.`b_x`',
      'FROM `bqx_scratch`.`bqx_eurusd_20250101t000000_abc123__keys` AS `k`',
      // Each batch read through the shard's own range: only its partitions are read, not the window's.
      'LEFT JOIN (SELECT * FROM `bqx_scratch`.`bqx_eurusd_20250101t000000_abc123__g000_b000` WHERE `interval_time` >= @start AND `interval_time` < @end) AS `b0` ON `b0`.`interval_time` = `k`.`interval_time`',
      'LEFT JOIN (SELECT * FROM `bqx_scratch`.`bqx_eurusd_20250101t000000_abc123__g000_b001` WHERE `interval_time` >= @start AND `interval_time` < @end) AS `b1` ON `b1`.`interval_time` = `k`.`interval_time`',
      'WHERE `k`.`interval_time` >= @start AND `k`.`interval_time` < @end',
      'ORDER BY `k`.`interval_time`',
    ].join('\n');
    assert.equal(
      exported.sql,
      "EXPORT DATA OPTIONS(uri='gs://bqx-output/training/eurusd/eurusd-20250101t000000-abc123/shard-20240101/group-000/part-*.parquet', format='PARQUET', compression='ZSTD', overwrite=true) AS\n" +
        query,
    );
    assert.deepEqual(exported.params, { start: new Date('2024-01-06T00:00:00.000Z'), end: new Date('2024-02-01T00:00:00.000Z') }, 'only the shard\'s keys');
    assert.equal(exported.query, query);
    assert.deepEqual(exported.columns, ['interval_time', 't1', 'a_x', 'b_x']);
    assert.equal(parse(query).tables.length, 3);
  });

  it('refuses a statement over 1,000 tables or over the column limit', () => {
    const members = Array.from({ length: MAX_TABLES_PER_STATEMENT }, (_, i) => ({ table: `ck${i}`, columns: [{ source: 'x', output: `c${i}`, type: 'FLOAT64' }] }));
    assert.throws(() => renderBatch({ dataset: 'sc', table: 'b', ttlHours: 24 }, 'keys', members, 9900), /1002 tables; BigQuery allows 1000/);
    const wide = [{ table: 'ck', columns: Array.from({ length: 300 }, (_, i) => ({ source: `x${i}`, output: `c${i}`, type: 'FLOAT64' })) }];
    assert.throws(() => renderBatch({ dataset: 'sc', table: 'b', ttlHours: 24 }, 'keys', wide, 300), /301 columns; the limit is 300/);
    assert.throws(() => renderBatch({ dataset: 'sc', table: 'b', ttlHours: 0 }, 'keys', wide.slice(0, 1), 9900), InputError);
  });

  describe('a full-size plan (667 tables, 17,038 columns)', () => {
    const manifest = fullManifest();
    const plan = planMerge(manifest, { maxGroupColumns: 9900, groupColumns: 9900, joinBatchTables: 50 });
    const job: MergeJob = {
      runId: manifest.runId,
      pair: 'eurusd',
      window: manifest.window,
      manifest,
      plan,
      checkpoints: Object.fromEntries(manifest.features.map((f) => [f.feature, [`runs/${manifest.runId}/features/${f.feature}/part-000000000000.parquet`]])),
      outputPrefix: `training/eurusd/${manifest.runId}/`,
      shards: shardGrid(manifest.window, 'month'),
    };
    const steps = mergeSteps(job, { gcp: { scratchDataset: 'bqx_scratch', scratchTtlHours: 24 } as never, shard: 'month' }, new MemoryObjectStore('bqx-staging'), new MemoryObjectStore('bqx-output'));

    it('has the manifest of DATA.md', () => {
      assert.equal(manifest.features.length, FULL.features);
      assert.equal(manifest.features.reduce((n, f) => n + f.columns.length, 0), FULL.featureColumns);
      assert.equal(manifest.labels.columns.length, FULL.labels);
      assert.equal(manifest.columnCount, FULL.columns);
      const widths = manifest.features.map((f) => f.columns.length).sort((a, b) => a - b);
      assert.deepEqual([widths[0], widths[333], widths[widths.length - 1]], [4, 14, 232]);
    });

    it('joins at most 50 checkpoints per batch and never names more than 1,000 tables', () => {
      assert.equal(steps.loads.length, 667);
      assert.equal(steps.batches.length, plan.groups.reduce((n, g) => n + g.batches.length, 0));
      for (const spec of steps.batches) {
        const r = steps.rendered.get(spec.key)!;
        // The query the statement creates its table from: 50 checkpoints and the keys at most.
        const query = parse(r.query!);
        assert.ok(r.sql.endsWith(r.query!), `${spec.key} creates its table from the query`);
        assert.ok(query.tables.length <= 51, `${spec.key} names ${query.tables.length} tables`);
        assert.ok(query.tables.length < MAX_TABLES_PER_STATEMENT);
        assert.ok(selectWidth(query) <= 9900);
      }
    });

    it('exports each group with at most 9,900 columns, 17,038 in all, key first', () => {
      assert.ok(steps.exports.length >= 2, 'over 10,000 columns needs more than one group');
      let total = 1;
      // Every shard's exports are the same statement but for the range parameters: one shard is parsed.
      for (const spec of steps.exports.filter((e) => e.shard.index === 0)) {
        const r = steps.rendered.get(spec.key)!;
        assert.ok(r.sql.startsWith(`EXPORT DATA OPTIONS(uri='gs://bqx-output/training/eurusd/${manifest.runId}/shard-${spec.shard.id}/group-${String(spec.group).padStart(3, '0')}/__bqx_attempt__/part-*.parquet'`));
        const query = parse(r.query!);
        assert.ok(query.tables.length <= MAX_TABLES_PER_STATEMENT, `${spec.key} names ${query.tables.length} tables`);
        const width = selectWidth(query);
        assert.ok(width <= 9900, `${spec.key} has ${width} columns`);
        assert.equal(width, plan.groups[spec.group]!.columns.length);
        assert.equal(r.columns[0], 'interval_time');
        total += width - 1;
      }
      assert.equal(total, FULL.columns);
      assert.equal(steps.rendered.get('export_s20240101_g000')!.columns.slice(1, 50).join(), manifest.labels.columns.join());
    });

    it('builds only the column groups it is given: loads their checkpoints and no others, exports them alone', () => {
      // A run where only group 1's features changed (shared/chain/shareShards.ts): the plan carries group 1.
      const only = mergeSteps({ ...job, plan: { ...plan, groups: [plan.groups[1]!] } }, { gcp: { scratchDataset: 'bqx_scratch', scratchTtlHours: 24 } as never, shard: 'month' }, new MemoryObjectStore('bqx-staging'), new MemoryObjectStore('bqx-output'));
      const members = plan.groups[1]!.members.map((m) => m.feature);
      assert.ok(members.length > 0 && members.length < 667);
      assert.deepEqual(only.loads.map((l) => l.key), [...new Set(members)].map((f) => `load_${f}`));
      assert.deepEqual([...new Set(only.exports.map((x) => x.group))], [1]);
      assert.equal(only.exports.length, job.shards.length);
      assert.equal(only.batches.length, plan.groups[1]!.batches.length);
      for (const x of only.exports) assert.equal(only.rendered.get(x.key)!.query, steps.rendered.get(x.key)!.query, 'the same export as in a build of every group');
    });

    it('a checkpoint with an earlier run\'s export (a refresh building its partial shard whole) is loaded partitioned by the key, and the joins read it through the window only', () => {
      // The first feature's checkpoint: the previous version's export (its whole window), then this run's file.
      const first = manifest.features[0]!.feature;
      const earlier = `runs/eurusd-20240101t000000-prev01/features/${first}/attempt-000000000000/part-000000000000.parquet`;
      const window = { start: '2024-03-01T00:00:00.000Z', end: manifest.window.end };
      const refresh = { ...job, window, shards: shardGrid(window, 'month'), checkpoints: { ...job.checkpoints, [first]: [earlier, ...job.checkpoints[first]!] } };
      const config = (shard: 'day' | 'month') => ({ gcp: { scratchDataset: 'bqx_scratch', scratchTtlHours: 24 } as never, shard });
      const partitioned = mergeSteps(refresh, config('month'), new MemoryObjectStore('bqx-staging'), new MemoryObjectStore('bqx-output'));
      const loads = partitioned.loads.filter((l) => l.sql.includes('PARTITION BY'));
      assert.deepEqual(loads.map((l) => l.key), [`load_${first}`], 'that checkpoint alone');
      assert.match(loads[0]!.sql, /\nPARTITION BY TIMESTAMP_TRUNC\(`interval_time`, MONTH\)\nFROM FILES\(format='PARQUET', uris=\['gs:\/\/bqx-staging\/runs\/eurusd-20240101t000000-prev01\//);
      const table = /LOAD DATA OVERWRITE (`[^`]+`\.`[^`]+`)/.exec(loads[0]!.sql)![1]!;
      const reading = partitioned.batches.filter((b) => b.sql.includes(table));
      assert.equal(reading.length, 1);
      assert.ok(reading[0]!.sql.includes(`LEFT JOIN (SELECT * FROM ${table} WHERE \`interval_time\` >= @start AND \`interval_time\` < @end) AS \`f0\``), reading[0]!.sql.slice(0, 600));
      assert.deepEqual(reading[0]!.params, { start: new Date(window.start), end: new Date(window.end) });
      // Every other statement as in a merge without the earlier export.
      const plain = mergeSteps({ ...refresh, checkpoints: job.checkpoints }, config('month'), new MemoryObjectStore('bqx-staging'), new MemoryObjectStore('bqx-output'));
      // Loaded under its own name: BigQuery refuses to overwrite a table partitioned otherwise.
      const plainTable = /LOAD DATA OVERWRITE (`[^`]+`\.`[^`]+`)/.exec(plain.loads.find((l) => l.key === `load_${first}`)!.sql)![1]!;
      assert.equal(table, plainTable.replace('__ck', '__ckp'));
      assert.deepEqual(partitioned.batches.filter((b) => b !== reading[0]).map((b) => b.sql), plain.batches.filter((b) => !b.sql.includes(plainTable)).map((b) => b.sql));
      assert.ok(plain.batches.every((b) => b.params === undefined), 'no filter where every file is this run\'s');
      // Day (and week) shards: by day, unless the window would pass BigQuery's partition limit.
      assert.match(mergeSteps(refresh, config('day'), new MemoryObjectStore('bqx-staging'), new MemoryObjectStore('bqx-output')).loads.find((l) => l.key === `load_${first}`)!.sql, /TIMESTAMP_TRUNC\(`interval_time`, DAY\)/);
      assert.equal(loadPartitions('day', { start: '2015-01-01T00:00:00Z', end: '2026-01-01T00:00:00Z' }), 'MONTH', '11 years of days would pass 4,000 partitions');
      assert.equal(loadPartitions('week', { start: '2020-01-01T00:00:00Z', end: '2026-01-01T00:00:00Z' }), 'DAY');
    });

    it('exports each (time shard, column group) by its own statement, which reads and sorts only that shard', () => {
      // The window [2024-01-01, 2024-07-01) is six calendar months.
      assert.deepEqual(job.shards.map((s) => s.id), ['20240101', '20240201', '20240301', '20240401', '20240501', '20240601']);
      assert.equal(steps.exports.length, 6 * plan.groups.length);
      for (const [i, spec] of steps.exports.entries()) {
        const shard = job.shards[Math.floor(i / plan.groups.length)]!;
        assert.equal(spec.shard.id, shard.id, 'shard by shard, groups in order within a shard');
        assert.equal(spec.key, `export_s${shard.id}_g${String(spec.group).padStart(3, '0')}`);
        const r = steps.rendered.get(spec.key)!;
        assert.deepEqual(r.params, { start: new Date(shard.start), end: new Date(shard.end) });
        const tail = r.query!.split('\n').slice(-2);
        assert.deepEqual(tail, ['WHERE `k`.`interval_time` >= @start AND `k`.`interval_time` < @end', 'ORDER BY `k`.`interval_time`']);
        assert.equal((r.query!.match(/ORDER BY/g) ?? []).length, 1, 'one sort, of the shard');
        const first = steps.exports.find((e) => e.group === spec.group)!;
        assert.equal(r.query, steps.rendered.get(first.key)!.query, 'the same statement as the first shard\'s (parsed above), with other parameters');
      }
      for (const spec of [steps.keys, ...steps.batches]) {
        assert.ok(steps.rendered.get(spec.key)!.sql.includes('\nPARTITION BY TIMESTAMP_TRUNC(`interval_time`, MONTH)\nCLUSTER BY `interval_time`\n'), `${spec.key} is partitioned by the key's month (month shards), so a shard's export reads its partitions only`);
        assert.ok(!/ORDER BY/.test(spec.sql), `${spec.key} sorts nothing`);
      }
    });
  });
});
