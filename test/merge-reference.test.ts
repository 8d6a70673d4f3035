// The local merge (DuckDbWarehouse.merge: checkpoints used as they are or aligned, then stitched
// column chunk by column chunk) against a simple reference merge computed independently:
// - small data, built in JS: the reference is plain JS over the same rows (window, duplicate
//   keys resolved as the extract specifies, left join to the label keys), compared cell by cell
//   with the output read back by hyparquet (nulls, key order, row count, column names);
// - more than one parquet row group (about 130,000 rows): the reference is one plain DuckDB query of
//   LEFT JOINs of the source tables to the label keys, compared with the output row for row.
// No timings here: they live in the benchmark (npm run bench).

import assert from 'node:assert/strict';
import {promises as fs} from 'node:fs';
import path from 'node:path';
import { listValue } from '@duckdb/node-api';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { DuckDbWarehouse, alignBatchColumns } from '../shared/adapters/local/duckdbWarehouse.js';
import { literal } from '../shared/adapters/local/duckdbSql.js';
import { FolderObjectStore } from '../shared/adapters/local/folderStore.js';
import { loadConfig } from '../shared/config.js';
import { buildManifest, type RunManifest } from '../shared/manifest.js';
import { KEY_COLUMN, newRunId, paths } from '../shared/naming.js';
import { planMerge } from '../shared/planner.js';
import type { MergeJob, MergedGroup, Window } from '../shared/ports.js';
import { tempDir } from './helpers/temp.js';
import { shardGrid } from '../shared/shards.js';

const FEATURES = 'bqx_ml_v3_features_v2';
const LABELS = 'bqx_ml_v3_analytics_v2';
const PAIR = 'eurusd';
const T0 = Date.UTC(2024, 0, 1) / 1000; // seconds
const keySeconds = (i: number) => T0 + i * 60;

type Cell = number | null;
interface SourceTable {
  table: string;
  dataset: string;
  /** Feature columns (and any metadata column, which the pipeline drops). */
  columns: string[];
  metadata?: { name: string; value: string };
  /** Rows: minute index and one value per column; the same index may appear twice. */
  rows: { i: number; values: Cell[] }[];
}

/** A deterministic value: multiples of 1/64 are exact in SQL text, DOUBLE and parquet. */
function value(seed: number): Cell {
  const h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  if (h % 23 === 0) return null;
  return ((h % 10_001) - 5_000) / 64;
}

function table(name: string, dataset: string, width: number, keys: number[], options: { duplicates?: number[]; nullColumn?: number; allNull?: boolean; metadata?: boolean } = {}): SourceTable {
  const columns = Array.from({ length: width }, (_, c) => `c${c}`);
  const rows = keys.map((i) => ({ i, values: columns.map((_, c) => (options.allNull || c === options.nullColumn ? null : value(i * 1000 + c + name.length * 7))) }));
  for (const d of options.duplicates ?? []) {
    rows.push({ i: d, values: columns.map((_, c) => (c === 0 ? value(d * 31 + c) : value(d * 1000 + c + name.length * 7))) });
    rows.push({ i: d, values: columns.map((_, c) => (c === 0 ? null : value(d * 17 + c))) });
  }
  // Stored out of key order: the extract must sort.
  rows.sort((a, b) => ((a.i * 7919) % 1009) - ((b.i * 7919) % 1009) || a.i - b.i);
  return { table: name, dataset, columns, rows, ...(options.metadata ? { metadata: { name: 'pair', value: PAIR } } : {}) };
}

const range = (from: number, to: number, keep: (i: number) => boolean = () => true) => Array.from({ length: to - from }, (_, k) => from + k).filter(keep);

async function createTable(warehouse: DuckDbWarehouse, t: SourceTable): Promise<void> {
  const cols = [`${KEY_COLUMN} TIMESTAMPTZ`, ...(t.metadata ? [`${t.metadata.name} VARCHAR`] : []), ...t.columns.map((c) => `${c} DOUBLE`)];
  await warehouse.execute(`CREATE SCHEMA IF NOT EXISTS ${t.dataset}`);
  await warehouse.execute(`CREATE TABLE ${t.dataset}.${t.table} (${cols.join(', ')})`);
  const tuples = t.rows.map((r) => `(to_timestamp(${keySeconds(r.i)}), ${t.metadata ? `${literal(t.metadata.value)}, ` : ''}${r.values.map((v) => (v === null ? 'NULL' : String(v))).join(', ')})`);
  for (let k = 0; k < tuples.length; k += 500) await warehouse.execute(`INSERT INTO ${t.dataset}.${t.table} VALUES ${tuples.slice(k, k + 500).join(', ')}`);
}

interface Fixture {
  dir: string;
  warehouse: DuckDbWarehouse;
  staging: FolderObjectStore;
  output: FolderObjectStore;
}

async function openFixture(keptLayoutBytes?: number): Promise<Fixture> {
  const dir = tempDir('merge-ref');
  const staging = new FolderObjectStore(path.join(dir, 'staging'), 'staging');
  const output = new FolderObjectStore(path.join(dir, 'output'), 'output');
  const warehouse = await DuckDbWarehouse.open(path.join(dir, 'warehouse.duckdb'), staging, output, { memoryMb: 512, threads: 2, ...(keptLayoutBytes !== undefined ? { keptLayoutBytes } : {}) });
  return { dir, warehouse, staging, output };
}

async function closeFixture(f: Fixture): Promise<void> {
  await f.warehouse.close();
  await fs.rm(f.dir, { recursive: true, force: true });
}

/** Manifest, extracts (the pipeline's own) and the merge, as mergeRun drives them. */
async function runMerge(f: Fixture, window: Window, maxGroupColumns: number, splitFeature?: string, plainFeatures: string[] = []) {
  const { job, manifest, plan } = await mergeJob(f, window, maxGroupColumns, splitFeature, plainFeatures);
  const result = await f.warehouse.merge(job);
  assert.equal(result.state, 'done');
  return { manifest, plan, groups: result.state === 'done' ? result.groups : ([] as MergedGroup[]) };
}

/** The manifest and the extracts (the pipeline's own), then the merge's job as mergeRun makes it. */
async function mergeJob(f: Fixture, window: Window, maxGroupColumns: number, splitFeature?: string, plainFeatures: string[] = []) {
  const config = loadConfig({ BQX_HOME: f.dir });
  const runId = newRunId(PAIR, new Date());
  const labelStats = await f.warehouse.labelStats(LABELS, `targets_${PAIR}`, window);
  const labelTable = (await f.warehouse.listTables(LABELS)).find((t) => t.table === `targets_${PAIR}`)!;
  const manifest = buildManifest({ runId, pair: PAIR, createdAt: new Date().toISOString(), window, labelRows: labelStats.rows, featureCatalog: await f.warehouse.listTables(FEATURES), labelTable, config });
  const checkpoints: Record<string, string[]> = {};
  for (const feature of manifest.features) {
    const result = await f.warehouse.extract({ runId, pair: PAIR, feature: feature.feature, dataset: feature.dataset, columns: feature.columns.map((c) => c.source), window, prefix: paths.featureDir(runId, feature.feature), shards: shardGrid(window, config.shard) });
    assert.equal(result.state, 'done');
    checkpoints[feature.feature] = result.state === 'done' ? result.files : [];
  }
  if (splitFeature) {
    // A checkpoint in two files (as a hand upload or a multi-part export would be): realigned.
    const [only] = checkpoints[splitFeature]!;
    const source = f.staging.uri(only!);
    const parts = [paths.checkpointPart(runId, splitFeature, 1), paths.checkpointPart(runId, splitFeature, 2)];
    const middle = `(SELECT ${KEY_COLUMN} FROM read_parquet(${literal(source)}) ORDER BY ${KEY_COLUMN} LIMIT 1 OFFSET 57)`;
    await fs.mkdir(path.dirname(f.staging.uri(parts[0]!)), { recursive: true });
    await f.warehouse.execute(`COPY (SELECT * FROM read_parquet(${literal(source)}) WHERE ${KEY_COLUMN} < ${middle}) TO ${literal(f.staging.uri(parts[0]!))} (FORMAT parquet)`);
    await f.warehouse.execute(`COPY (SELECT * FROM read_parquet(${literal(source)}) WHERE ${KEY_COLUMN} >= ${middle}) TO ${literal(f.staging.uri(parts[1]!))} (FORMAT parquet)`);
    checkpoints[splitFeature] = parts;
  }
  for (const feature of plainFeatures) {
    // Rewritten with plain, uncompressed pages, as the keyed extract writes them: keys the merge
    // decodes itself and compares with the label keys as stored (duckdbWarehouse.ts `sameKeys`).
    const [only] = checkpoints[feature]!;
    const source = f.staging.uri(only!);
    await f.warehouse.execute(`COPY (SELECT * FROM read_parquet(${literal(source)})) TO ${literal(`${source}.plain`)} (FORMAT parquet, COMPRESSION uncompressed, DICTIONARY_SIZE_LIMIT 1)`);
    await fs.rename(`${source}.plain`, source);
  }
  const plan = planMerge(manifest, { maxGroupColumns, groupColumns: maxGroupColumns, joinBatchTables: 50 });
  const job: MergeJob = { runId, pair: PAIR, window, manifest, plan, checkpoints, outputPrefix: paths.outputDir(PAIR, runId), shards: shardGrid(window, config.shard) };
  return { job, manifest, plan };
}

/** The output read back with hyparquet, groups side by side: column name -> values, in row order. */
async function readOutput(f: Fixture, groups: MergedGroup[]): Promise<{ names: string[]; columns: Map<string, unknown[]> }> {
  const names: string[] = [];
  const columns = new Map<string, unknown[]>();
  for (const g of groups) {
    const groupColumns = new Map<string, unknown[]>();
    for (const object of g.files) {
      const file = await asyncBufferFromFile(f.output.uri(object));
      const metadata = await parquetMetadataAsync(file);
      const fileNames = metadata.schema.slice(1).map((e) => e.name);
      assert.deepEqual(fileNames, g.columns, `group ${g.index}: file columns`);
      const rows = (await parquetReadObjects({ file, metadata, compressors })) as Record<string, unknown>[];
      for (const name of fileNames) {
        const list = groupColumns.get(name) ?? [];
        for (const row of rows) list.push(name === KEY_COLUMN ? keyMicros(row[name]) : row[name] ?? null);
        groupColumns.set(name, list);
      }
    }
    for (const [name, list] of groupColumns) {
      if (name === KEY_COLUMN && columns.has(KEY_COLUMN)) {
        assert.deepEqual(list, columns.get(KEY_COLUMN), `group ${g.index}: keys differ from group 0's`);
        continue;
      }
      assert.ok(!columns.has(name), `column ${name} appears twice`);
      names.push(name);
      columns.set(name, list);
    }
  }
  return { names, columns };
}

function keyMicros(v: unknown): number {
  if (v instanceof Date) return v.getTime() * 1000;
  if (typeof v === 'bigint') return Number(v);
  throw new Error(`unexpected key value ${String(v)}`);
}

/** The reference: in JS, from the source rows alone. */
function referenceMerge(labels: SourceTable, features: SourceTable[], window: [number, number], manifest: RunManifest): Map<string, Cell[]> {
  const inWindow = (i: number) => keySeconds(i) >= keySeconds(window[0]) && keySeconds(i) < keySeconds(window[1]);
  const labelRows = labels.rows.filter((r) => inWindow(r.i)).sort((a, b) => a.i - b.i);
  const out = new Map<string, Cell[]>();
  out.set(KEY_COLUMN, labelRows.map((r) => keySeconds(r.i) * 1_000_000));
  labels.columns.forEach((c, k) => out.set(c, labelRows.map((r) => r.values[k]!)));
  for (const entry of manifest.features) {
    const t = features.find((x) => x.table === entry.feature)!;
    // One row per key: of duplicates, the first by all feature columns ascending, nulls last.
    const byKey = new Map<number, Cell[]>();
    for (const r of t.rows) {
      if (!inWindow(r.i)) continue;
      const kept = byKey.get(r.i);
      if (!kept || compareRows(r.values, kept) < 0) byKey.set(r.i, r.values);
    }
    for (const col of entry.columns) {
      const k = t.columns.indexOf(col.source);
      out.set(col.output, labelRows.map((l) => byKey.get(l.i)?.[k] ?? null));
    }
  }
  return out;
}

function compareRows(a: Cell[], b: Cell[]): number {
  for (let k = 0; k < a.length; k++) {
    const x = a[k]!;
    const y = b[k]!;
    if (x === y) continue;
    if (x === null) return 1;
    if (y === null) return -1;
    return x < y ? -1 : 1;
  }
  return 0;
}

describe('local merge against a reference merge', function () {
  this.timeout(120_000);

  it('gives the reference output cell by cell on small data (gaps, duplicates, late starts, nulls, a cutting window, several groups)', async () => {
    // Room for a few parts' footers only: the rest are read again at the stitch (both paths here).
    const f = await openFixture(8_000);
    try {
      const labelKeys = range(0, 240, (i) => i % 17 !== 5); // gaps in the label keys
      const labels = table(`targets_${PAIR}`, LABELS, 3, labelKeys, { nullColumn: 2 });
      const features = [
        table(`agg_${PAIR}`, FEATURES, 7, range(-30, 270), { metadata: true }), // reaches past both window ends
        table(`mom_${PAIR}`, FEATURES, 5, labelKeys, { duplicates: [21, 22, 100, 209] }), // duplicate keys (removed: then the label keys)
        table('tri_agg_bqx_eur_usd_gbp', FEATURES, 4, range(100, 240)), // starts late
        table('var_agg_bqx_eur', FEATURES, 3, range(0, 240, (i) => i % 5 !== 0)), // gaps, and keys the labels lack
        table(`reg_${PAIR}`, FEATURES, 30, labelKeys), // wider than a group: split; the label keys: used as is
        table(`reg_bqx_${PAIR}`, FEATURES, 30, range(60, 240)), // wide and late: aligned in column batches
        table(`corr_etf_idx_${PAIR}_spy`, FEATURES, 4, labelKeys, { allNull: true }),
        table('csi_mom_bqx_usd', FEATURES, 6, range(0, 150)), // ends early
        table('csi_agg_bqx_eur', FEATURES, 3, labelKeys.filter((i) => i >= 90), { nullColumn: 1 }), // starts late on the label keys: lined up by null pages
        table('var_agg_bqx_usd', FEATURES, 2, labelKeys.filter((i) => i < 160)), // ends early on the label keys: null pages too
        // As many keys as the labels, the same first and last, one in the middle (107) not a label key: aligned, not used as is.
        table('csi_agg_bqx_usd', FEATURES, 2, [...labelKeys.filter((i) => i !== 100), 107].sort((a, b) => a - b)),
        table('mkt_vol_summary', FEATURES, 2, range(0, 240)), // not selected by the rules
      ];
      for (const t of [labels, ...features]) await createTable(f.warehouse, t);
      const window: [number, number] = [20, 210];
      const { manifest, plan, groups } = await runMerge(f, { start: iso(window[0]), end: iso(window[1]) }, 12, `agg_${PAIR}`, ['csi_agg_bqx_usd', `reg_${PAIR}`, `corr_etf_idx_${PAIR}_spy`]);

      assert.ok(plan.groups.length >= 5, `several column groups (got ${plan.groups.length})`);
      assert.ok(alignBatchColumns(512, 2) < 30, 'the wide late feature is aligned in more than one column batch');
      const expected = referenceMerge(labels, features, window, manifest);
      const rows = expected.get(KEY_COLUMN)!.length;
      assert.equal(rows, labelKeys.filter((i) => i >= window[0] && i < window[1]).length);
      for (const g of groups) {
        assert.equal(g.rows, rows, `group ${g.index} rows`);
        assert.equal(g.distinctKeys, rows);
        assert.equal(g.keysInOrder, true);
      }
      assert.ok(f.warehouse.lastRealigned > 0 && f.warehouse.lastRealigned < manifest.features.length, 'both paths: used as is, and realigned');
      // Three checkpoints with plain key pages: two hold the label keys (the first decoded, the other
      // the same bytes, compared as such), one as many other keys (decoded: other bytes).
      assert.equal(f.warehouse.lastKeysDecoded, 2, 'plain key chunks byte for byte those of one found to hold the label keys are not decoded again');
      assert.equal(f.warehouse.lastPadded, 2, 'the late starter and the early ender on the label keys are lined up by null pages, not joined');
      assert.ok(f.warehouse.lastLayoutsDropped > 0 && f.warehouse.lastLayoutsDropped < manifest.features.length, `some parts' footers kept, some read again at the stitch (${f.warehouse.lastLayoutsDropped} read again)`);

      const actual = await readOutput(f, groups);
      assert.deepEqual(actual.names, [...expected.keys()], 'column names and order');
      assert.equal(actual.names.length, manifest.columnCount);
      assert.deepEqual(actual.columns.get(KEY_COLUMN), expected.get(KEY_COLUMN), 'keys: the window\'s label keys, ascending');
      let nulls = 0;
      for (const [name, want] of expected) {
        if (name === KEY_COLUMN) continue;
        const got = actual.columns.get(name)!;
        assert.equal(got.length, rows, `${name}: rows`);
        for (let r = 0; r < rows; r++) {
          assert.equal(got[r], want[r], `${name}, row ${r} (key ${iso(labelKeys.filter((i) => i >= window[0])[r]!)})`);
          if (want[r] === null) nulls++;
        }
      }
      assert.ok(nulls > rows * 4, 'the comparison covers many nulls');
    } finally {
      await closeFixture(f);
    }
  });

  it('fails, its scratch removed, when a feature lined up while earlier groups are stitched cannot be read', async () => {
    // The stitch takes the groups last first while the features are lined up in that order in the
    // background: a checkpoint of a feature of the first group (lined up last) cut short fails the merge
    // there, and the merge waits for the work under way before removing its scratch folder (the
    // groups already placed are a failed run's output, which retention clears: retention.test.ts).
    const f = await openFixture();
    try {
      const keys = range(0, 120);
      const labels = table(`targets_${PAIR}`, LABELS, 2, keys);
      const features = [`agg_${PAIR}`, `mom_${PAIR}`, `reg_${PAIR}`, `vol_${PAIR}`, `der_${PAIR}`, `rev_${PAIR}`].map((name) => table(name, FEATURES, 4, keys));
      for (const t of [labels, ...features]) await createTable(f.warehouse, t);
      const { job, plan } = await mergeJob(f, { start: iso(0), end: iso(120) }, 6);
      assert.ok(plan.groups.length >= 4, `several column groups (got ${plan.groups.length})`);
      const last = plan.groups.find((g) => g.members.length > 0)!.members[0]!.feature;
      const file = f.staging.uri(job.checkpoints[last]![0]!);
      await fs.truncate(file, Math.floor((await fs.stat(file)).size / 2));

      await assert.rejects(f.warehouse.merge(job), new RegExp(`${last}/part-00000\\.parquet is not a parquet file`));
      const scratch = path.join(f.dir, 'output', '.tmp');
      const left = await fs.readdir(scratch).catch(() => [] as string[]);
      assert.deepEqual(left.filter((name) => name.endsWith('-merge')), [], 'the merge\'s scratch folder is removed');
    } finally {
      await closeFixture(f);
    }
  });

  it('gives the reference output across parquet row groups (about 130,000 rows), against plain LEFT JOINs in DuckDB', async () => {
    const f = await openFixture();
    try {
      const n = 140_000;
      const w = f.warehouse;
      const v = (c: number) => `CASE WHEN (i * ${c + 3}) % 29 = 0 THEN NULL ELSE ((i * ${2 * c + 7}) % 1000 - 500) / 64.0 END AS c${c}`;
      const cols = (k: number) => Array.from({ length: k }, (_, c) => v(c)).join(', ');
      const keys = (from: string, where = 'true') => `SELECT to_timestamp(${T0} + i * 60) AS ${KEY_COLUMN}, i FROM range(${from}) t(i) WHERE ${where}`;
      await w.execute(`CREATE SCHEMA ${LABELS}`);
      await w.execute(`CREATE SCHEMA ${FEATURES}`);
      await w.execute(`CREATE TABLE ${LABELS}.targets_${PAIR} AS SELECT ${KEY_COLUMN}, ${cols(3).replace(/ c(\d)/g, ' target_$1')} FROM (${keys(`0, ${n}`, 'i % 13 <> 4')})`);
      await w.execute(`CREATE TABLE ${FEATURES}.agg_${PAIR} AS SELECT ${KEY_COLUMN}, ${cols(6)} FROM (${keys(`-100, ${n + 100}`)}) ORDER BY hash(i)`);
      await w.execute(`CREATE TABLE ${FEATURES}.mom_${PAIR} AS SELECT ${KEY_COLUMN}, ${cols(4)} FROM (${keys(`0, ${n}`, 'i % 13 <> 4')}) UNION ALL SELECT ${KEY_COLUMN}, ${cols(4).replace(/\(i \*/g, '(i * 3 +')} FROM (${keys(`0, ${n}`, 'i % 97 = 1 AND i % 13 <> 4')})`);
      await w.execute(`CREATE TABLE ${FEATURES}.tri_agg_bqx_eur_usd_gbp AS SELECT ${KEY_COLUMN}, ${cols(30)} FROM (${keys(`${n / 2}, ${n}`)})`);
      await w.execute(`CREATE TABLE ${FEATURES}.var_agg_bqx_eur AS SELECT ${KEY_COLUMN}, ${cols(3)} FROM (${keys(`0, ${n}`, 'i % 7 <> 2')})`);
      await w.execute(`CREATE TABLE ${FEATURES}.csi_mom_bqx_usd AS SELECT ${KEY_COLUMN}, ${cols(2)} FROM (${keys(`0, ${n}`, 'i % 13 <> 4')})`);
      const window = { start: iso(50), end: iso(n - 10) };
      const { manifest, groups } = await runMerge(f, window, 300);
      const rows = manifest.labels.rows;
      assert.ok(rows > 122_880, 'more than one row group: aligned slice by slice');
      assert.ok(alignBatchColumns(512, 2) < 30, 'the wide late feature is aligned in more than one column batch');
      assert.ok(f.warehouse.lastRealigned > 0 && f.warehouse.lastRealigned < manifest.features.length, 'both paths: used as is, and realigned');

      // Reference: the label keys in the window, one LEFT JOIN per feature (duplicates resolved
      // by the extract's rule), in key order.
      const select = [`l.*`];
      const joins: string[] = [];
      manifest.features.forEach((feature, k) => {
        const order = feature.columns.map((c) => `${c.source} ASC NULLS LAST`).join(', ');
        for (const c of feature.columns) select.push(`f${k}.${c.source} AS ${c.output}`);
        joins.push(`LEFT JOIN (SELECT * FROM ${FEATURES}.${feature.feature} QUALIFY row_number() OVER (PARTITION BY ${KEY_COLUMN} ORDER BY ${order}) = 1) f${k} ON f${k}.${KEY_COLUMN} = l.${KEY_COLUMN}`);
      });
      const reference = `SELECT row_number() OVER (ORDER BY l.${KEY_COLUMN}) AS rn, ${select.join(', ')} FROM (SELECT * FROM ${LABELS}.targets_${PAIR} WHERE ${KEY_COLUMN} >= $1::TIMESTAMPTZ AND ${KEY_COLUMN} < $2::TIMESTAMPTZ) l ${joins.join(' ')}`;
      // The output: groups side by side by position; rn is the row's position in the files.
      const parts = groups.map((g, k) => `(SELECT row_number() OVER () AS rn, * ${k === 0 ? '' : `EXCLUDE (${KEY_COLUMN})`} FROM read_parquet($${k + 3}))`);
      const output = `SELECT g0.rn, ${groups.map((g, k) => `g${k}.* EXCLUDE (rn)`).join(', ')} FROM ${parts.map((p, k) => `${p} g${k}`).join(' POSITIONAL JOIN ')}`;
      const params = [window.start, window.end, ...groups.map((g) => listValue(g.files.map((o) => f.output.uri(o))))];
      const [counts] = await w.query(
        `WITH r AS (${reference}), o AS (${output})
         SELECT (SELECT count(*) FROM r) AS ref_rows, (SELECT count(*) FROM o) AS out_rows,
                (SELECT count(*) FROM (SELECT * FROM r EXCEPT ALL SELECT * FROM o)) AS missing,
                (SELECT count(*) FROM (SELECT * FROM o EXCEPT ALL SELECT * FROM r)) AS extra,
                (SELECT count(*) FROM r WHERE ${manifest.features.map((m) => `${m.columns[0]!.output} IS NULL`).join(' OR ')}) AS rows_with_nulls`,
        params,
      );
      assert.equal(Number(counts!.ref_rows), rows);
      assert.equal(Number(counts!.out_rows), rows);
      assert.equal(Number(counts!.missing), 0, 'reference rows missing from the output (by position, key and every cell)');
      assert.equal(Number(counts!.extra), 0, 'output rows not in the reference');
      assert.ok(Number(counts!.rows_with_nulls) > n / 4, 'late start, gaps and nulls are covered');
      assert.equal(1 + groups.reduce((s, g) => s + g.columns.length - 1, 0), manifest.columnCount, 'all columns, once');
    } finally {
      await closeFixture(f);
    }
  });
});

function iso(i: number): string {
  return new Date(keySeconds(i) * 1000).toISOString();
}
