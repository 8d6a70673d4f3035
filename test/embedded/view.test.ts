// `bqx view` end to end on a narrow planted demo (time shards by day and column groups of at most
// 300 columns, so a view is stitched from several source groups in several shards): the view
// `bqx verify` accepts, with exactly the expected columns, values equal to the source dataset's,
// its own manifest (ledger, source, selection, shards) and folds; the profile's findings dropped
// as asked (the first column of a duplicate group kept); bad input is one line and exit 2.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { PLANTED } from '../../shared/demo/plants.js';
import type { LedgerEntry } from '../../shared/ledger.js';
import type { RunReport } from '../../shared/report.js';
import { writeDemoHome } from '../helpers/embedded.js';
import { tempDir } from '../helpers/temp.js';

const BQX = path.resolve('shared/cli/bqx.mjs');
const ROWS = 4000;
const START = '2020-01-09T00:00:00Z';
const TABLES = /^(mkt_[a-z]+|der_eurusd|agg_eurusd|reg_eurusd|tri_agg_bqx_eur_gbp_aud)$/;
const RULES = 'mkt_*,!mkt_*_summary,der_{pair},agg_{pair},reg_{pair},tri_agg_bqx_eur_gbp_aud';
const ENV = { BQX_TABLE_RULES: RULES, BQX_PROFILE: 'full', BQX_SHARD: 'day', BQX_MAX_GROUP_COLUMNS: '300' };

interface ViewManifest {
  key: string;
  rows: number;
  columns: number;
  groups: { index: number; files: string[]; columns: string[] }[];
  shards: { id: string; rows: number; groups: { index: number; files: string[] }[] }[];
  ledger: LedgerEntry[];
  columnMapping: Record<string, unknown>;
  view: { name: string; source: { runId: string }; selection: { include: string[]; drop: string[] }; dropped: Record<string, string[]> };
}

function bqx(home: string, args: string[]) {
  const r = spawnSync(process.execPath, [BQX, ...args], { env: { ...process.env, BQX_HOME: home, ...ENV }, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('bqx view (embedded, planted demo)', function () {
  this.timeout(600_000);
  let home: string;
  let runId: string;
  let source: { groups: { files: string[]; columns: string[] }[]; shards: { id: string }[]; ledger: LedgerEntry[] };
  let report: RunReport;

  before(async () => {
    home = tempDir('view');
    await writeDemoHome(home, { pairs: ['eurusd'], rows: ROWS, start: START, only: (t) => TABLES.test(t) });
    const r = bqx(home, ['run', 'eurusd', '--json', '--quiet']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const summary = JSON.parse(r.stdout);
    runId = summary.runId;
    source = JSON.parse(readFileSync(summary.output.manifest, 'utf8'));
    report = JSON.parse(readFileSync(path.join(path.dirname(summary.output.manifest), 'report.json'), 'utf8'));
    assert.ok(source.groups.length > 1 && source.shards.length > 1, `the source has several groups and shards: ${source.groups.length} x ${source.shards.length}`);
  });

  /** Rows of the view that differ from the source's same columns (both ways), joined on the key. */
  async function differences(view: ViewManifest): Promise<number> {
    const instance = await DuckDBInstance.create(':memory:');
    const c = await instance.connect();
    try {
      const q = (n: string) => `"${n}"`;
      const read = (files: string[]) => `read_parquet(${`[${files.map((f) => `'${f}'`).join(', ')}]`})`;
      const side = (groups: { files: string[]; columns: string[] }[], columns: string[]) => {
        const holder = (col: string) => groups.findIndex((g) => g.columns.includes(col));
        const joins = groups.map((g, i) => (i === 0 ? `FROM ${read(g.files)} t0` : `JOIN ${read(g.files)} t${i} USING (interval_time)`)).join(' ');
        return `SELECT ${columns.map((col) => (col === 'interval_time' ? q(col) : `t${holder(col)}.${q(col)}`)).join(', ')} ${joins}`;
      };
      const columns = view.groups.flatMap((g, i) => (i === 0 ? g.columns : g.columns.slice(1)));
      const a = side(view.groups, columns);
      const b = side(source.groups, columns);
      const [row] = (await c.runAndReadAll(`SELECT (SELECT count(*) FROM (${a} EXCEPT ALL ${b})) + (SELECT count(*) FROM (${b} EXCEPT ALL ${a})), (SELECT count(*) FROM (${a}))`)).getRows();
      assert.equal(Number(row![1]), view.rows);
      return Number(row![0]);
    } finally {
      c.closeSync();
      instance.closeSync();
    }
  }

  it("writes the README's view: agg_* columns with constant and duplicate columns dropped, verified, values equal", async () => {
    const r = bqx(home, ['view', 'eurusd', '--name', 'small', '--include', 'agg_*', '--drop', 'constant,duplicates', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = JSON.parse(r.stdout);
    assert.equal(out.verified, true, out.problems.join('; '));
    const view: ViewManifest = JSON.parse(readFileSync(out.manifest, 'utf8'));
    const features = source.ledger.filter((e) => e.role === 'feature' && e.column.startsWith('agg_')).map((e) => e.column);
    const labels = source.ledger.filter((e) => e.role === 'label').map((e) => e.column);
    assert.ok(features.length > 0 && features.every((f) => !report.profile!.constant.includes(f)));
    assert.deepEqual(view.groups.flatMap((g, i) => (i === 0 ? g.columns : g.columns.slice(1))), ['interval_time', ...labels, ...features]);
    assert.equal(view.columns, 1 + labels.length + features.length);
    assert.deepEqual(view.ledger.map((e) => e.column), ['interval_time', ...labels, ...features]);
    assert.deepEqual(Object.keys(view.columnMapping).sort(), ['interval_time', ...labels, ...features].sort());
    assert.equal(view.view.source.runId, runId);
    assert.deepEqual(view.view.selection.include, ['agg_*']);
    // At most 9,900 columns: one file per shard (readable with one read_parquet), same shards as the source.
    assert.equal(view.groups.length, 1);
    assert.deepEqual(view.shards.map((s) => s.id), source.shards.map((s) => s.id));
    assert.ok(view.shards.every((s) => s.groups.length === 1 && s.groups[0]!.files.length === 1));
    assert.equal(await differences(view), 0);
    assert.equal(JSON.parse(readFileSync(path.join(path.dirname(out.manifest), 'folds.json'), 'utf8')).runId, runId);
    assert.match(out.manifest, new RegExp(`/training/eurusd/${runId}/views/small/_manifest\\.json$`));
    const verify = bqx(home, ['verify', out.manifest]);
    assert.equal(verify.code, 0, verify.stdout);
  });

  it('drops the planted constant, duplicate and stale columns, keeps the first of a duplicate group, and selects labels', async () => {
    const r = bqx(home, ['view', runId, '--name', 'mkt', '--include', 'mkt_*,der_*', '--exclude', 'der_*_90', '--drop', 'constant,duplicates,stale,leakage', '--labels', 'target_bqx45_*', '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const out = JSON.parse(r.stdout);
    assert.equal(out.verified, true, out.problems.join('; '));
    const view: ViewManifest = JSON.parse(readFileSync(out.manifest, 'utf8'));
    const columns = view.groups.flatMap((g, i) => (i === 0 ? g.columns : g.columns.slice(1)));
    const [first, second] = PLANTED.duplicates[0]!;
    assert.deepEqual(view.view.dropped.constant, [...PLANTED.constant]);
    assert.deepEqual(view.view.dropped.stale, [...PLANTED.stale]);
    assert.deepEqual(view.view.dropped.leakage, [PLANTED.leakage.feature], 'the planted leak, a label\'s copy 10 rows on');
    assert.deepEqual(view.view.dropped.duplicates, [second]);
    assert.ok(columns.includes(first) && !columns.includes(second));
    const expected = source.ledger
      .filter((e) => (e.role === 'label' && e.column.startsWith('target_bqx45_')) || (e.role === 'feature' && /^(mkt_|der_)/.test(e.column) && !/^der_.*_90$/.test(e.column)))
      .map((e) => e.column)
      .filter((c) => !([...PLANTED.constant, ...PLANTED.stale, second, PLANTED.leakage.feature] as string[]).includes(c));
    assert.deepEqual(columns, ['interval_time', ...expected]);
    assert.equal(await differences(view), 0);
  });

  it('refuses bad input with one line and exit 2, writing nothing', () => {
    for (const args of [
      ['--name', 'bad-name', '--include', 'agg_*'],
      ['--name', 'x', '--include', 'agg_[a]'],
      ['--name', 'x', '--include', 'nothing_*'],
      ['--name', 'x', '--drop', 'constant,odd'],
      // One name of several misspelt: the others select columns, and the view was written without it.
      ['--name', 'x', '--include', 'mkt_*,agg_mean_4'],
    ]) {
      const r = bqx(home, ['view', 'eurusd', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /^bqx: /);
    }
    assert.ok(source.ledger.some((e) => e.column === 'agg_mean_45'));
    assert.match(bqx(home, ['view', 'eurusd', '--name', 'x', '--include', 'mkt_*,agg_mean_4']).stderr, /--include agg_mean_4 \(did you mean agg_mean_45\?\)$/m);
    const views = path.join(home, 'output', 'training', 'eurusd', runId, 'views');
    assert.ok(existsSync(path.join(views, 'small')) && !existsSync(path.join(views, 'x')), 'the earlier view is there, no view x was written');
    // A damaged manifest is bad input naming the file, not a parser's bare message.
    const manifest = path.join(home, 'output', 'training', 'eurusd', runId, '_manifest.json');
    const kept = readFileSync(manifest);
    writeFileSync(manifest, '{"pair": "eurusd" "rows": 1}');
    try {
      const damaged = bqx(home, ['view', 'eurusd', '--name', 'zz', '--include', 'agg_*']);
      assert.equal(damaged.code, 2, damaged.stderr);
      assert.match(damaged.stderr, new RegExp(`^bqx: ${manifest.replace(/[.*+?^\${}()|[\]\\]/g, '\\$&')} is not readable JSON \\(.+\\): the dataset is damaged; \`bqx verify\` checks it, \`bqx rerun <runId> --merge\` writes it again\n$`));
    } finally {
      writeFileSync(manifest, kept);
    }
  });
});
