// The dataset profile end to end on a narrow demo (the planted tables and a few ordinary ones,
// selected by BQX_TABLE_RULES): every planted finding is reported and nothing else is (false
// positives counted, the goal is 0); the manifest carries the column ledger; folds.json has a
// purge of at least the longest horizon; report.html is written; `bqx report` shows the findings;
// a `fail` gate fails the run with the gate and the measured value, outputs kept.

import assert from 'node:assert/strict';
import { DuckDBInstance, listValue } from '@duckdb/node-api';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PLANTED, warmupNullRows } from '../../shared/demo/plants.js';
import type { FoldsFile } from '../../shared/folds.js';
import type { LedgerEntry } from '../../shared/ledger.js';
import type { RunReport } from '../../shared/report.js';
import { writeDemoHome } from '../helpers/embedded.js';
import { tempDir } from '../helpers/temp.js';

const BQX = path.resolve('shared/cli/bqx.mjs');
// Enough rows for labels that are not all null (the demo's last 2,880 are), a weekend, the gap.
const ROWS = 6000;
const START = '2020-01-09T00:00:00Z'; // a Thursday: the window holds a weekend
const TABLES = /^(mkt_[a-z]+|der_eurusd|mom_eurusd|agg_eurusd|corr_etf_idx_eurusd_spy|corr_bqx_ibkr_eurusd_vixy|tri_agg_bqx_eur_gbp_aud)$/;
const RULES = 'mkt_*,!mkt_*_summary,der_{pair},mom_{pair},agg_{pair},corr_etf_idx_{pair}_spy,corr_bqx_ibkr_{pair}_vixy,tri_agg_bqx_eur_gbp_aud';

function bqx(home: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BQX, ...args], { env: { ...process.env, BQX_HOME: home, BQX_TABLE_RULES: RULES, BQX_PROFILE: 'full', ...env }, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Nulls of `column` in the output's first `rows` rows (key order), read straight from its parquet. */
async function nullsInFirstRows(manifestFile: string, column: string, rows: number): Promise<number> {
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { groups: { files: string[]; columns: string[] }[] };
  const group = manifest.groups.find((g) => g.columns.includes(column))!;
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  try {
    const sql = `SELECT count(*) FILTER (WHERE "${column}" IS NULL) FROM (SELECT "${column}" FROM read_parquet($1) ORDER BY interval_time LIMIT ${rows})`;
    return Number((await c.runAndReadAll(sql, [listValue(group.files)])).getRows()[0]![0]);
  } finally {
    c.closeSync();
    db.closeSync();
  }
}

describe('dataset profile, gates, ledger and folds (embedded, planted demo)', function () {
  this.timeout(600_000);
  let home: string;
  let summary: { runId: string; status: string; output: { manifest: string }; warnings: string[]; timings: Record<string, number> };
  let dir: string;
  let report: RunReport;

  before(async () => {
    home = tempDir('profile');
    await writeDemoHome(home, { pairs: ['eurusd'], rows: ROWS, start: START, only: (t) => TABLES.test(t) });
    const r = bqx(home, ['run', 'eurusd', '--json', '--quiet']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    summary = JSON.parse(r.stdout);
    dir = path.dirname(summary.output.manifest);
    report = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8'));
  });

  it('finds every planted case and flags nothing else', async () => {
    const p = report.profile!;
    assert.ok(p, 'report.json has a profile');
    const warmup = report.features.find((f) => f.feature === PLANTED.warmupTable)!;
    const warmupColumns = JSON.parse(readFileSync(summary.output.manifest, 'utf8')).ledger.filter((e: LedgerEntry) => e.table === warmup.feature).map((e: LedgerEntry) => e.column);
    const found = {
      constant: p.constant,
      duplicates: p.duplicates,
      stale: p.stale,
      warmup: p.warmup,
      leakage: p.leakage.map((l) => ({ feature: l.feature, label: l.label, shiftRows: l.shiftRows })),
      unexpectedGaps: p.gaps.unexpected.map((g) => g.minutes),
    };
    const expected = {
      constant: [...PLANTED.constant] as string[],
      duplicates: PLANTED.duplicates.map((g) => [...g]) as string[][],
      stale: [...PLANTED.stale] as string[],
      warmup: warmupColumns,
      leakage: [{ feature: PLANTED.leakage.feature, label: PLANTED.leakage.label, shiftRows: PLANTED.leakage.shiftRows }],
      unexpectedGaps: [PLANTED.gap.minutes],
    };
    const falsePositives = [
      ...found.constant.filter((c) => !expected.constant.includes(c)),
      ...found.duplicates.filter((g) => !expected.duplicates.some((e) => e.join() === g.join())).map((g) => g.join('=')),
      ...found.stale.filter((c) => !expected.stale.includes(c)),
      ...found.warmup.filter((c) => !expected.warmup.includes(c)),
      ...found.leakage.filter((l) => l.feature !== PLANTED.leakage.feature).map((l) => l.feature),
    ];
    assert.deepEqual(falsePositives, [], 'false positives');
    assert.deepEqual(found, expected);
    assert.ok(p.gaps.weekend >= 1, 'the weekend closure is counted');
    assert.equal(Math.abs(p.leakage[0]!.correlation), 1);
    const stale = p.columns.find((c) => c.column === PLANTED.stale[0])!;
    assert.ok(stale.repeatShare > 0.6 && stale.longestRun! >= ROWS * 0.6, `forward-filled: ${stale.repeatShare}, ${stale.longestRun}`);
    const warm = p.columns.find((c) => c.column === warmupColumns[0])!;
    // The planted warm-up rows plus the demo's random 2 % nulls after them (unseeded: counted in
    // the output itself, not guessed within a tolerance a random draw can exceed).
    const warmNulls = await nullsInFirstRows(summary.output.manifest, warmupColumns[0], 1440);
    assert.ok(warmNulls >= warmupNullRows(ROWS), `the planted ${warmupNullRows(ROWS)} warm-up rows are null: ${warmNulls}`);
    assert.ok(Math.abs(warm.warmupNullShare - warmNulls / 1440) < 1e-12, `warm-up null share ${warm.warmupNullShare}, counted ${warmNulls} of 1,440`);
    const tail = p.labels.find((l) => l.label === 'target_bqx45_h15')!;
    assert.equal(tail.horizonMinutes, 15);
    assert.ok(tail.tailNulls >= 2880, `the demo's labels are null in the last 2,880 rows: ${tail.tailNulls}`);
    assert.ok(summary.timings.profile_ms! > 0, 'the profile is timed');
  });

  it('reports the default gates; bqx report prints the findings and the page exists', () => {
    assert.deepEqual(report.gates!.map((g) => g.gate), ['rows >= 1', 'feature_null_share <= 0.05', 'label_null_share <= 0.01', 'leakage == 0', 'cost_usd <= 10']);
    const leakGate = report.gates!.find((g) => g.gate === 'leakage == 0')!;
    assert.deepEqual(leakGate, { gate: 'leakage == 0', level: 'warn', value: 1, passed: false });
    assert.ok(summary.warnings.some((w) => w.includes('leakage == 0') && w.includes('measured 1')), 'a warning gate reaches the summary');
    const r = bqx(home, ['report', 'eurusd']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /der_mean_45 ~ target_bqx45_h30/);
    assert.match(r.stdout, /mkt_agg_mean_90 = mkt_der_mean_90/);
    assert.match(r.stdout, /90 minutes/);
    // The labels' tails, counted in labels and listed in groups of the same tail (not 49 lines of one fact).
    // A label whose last rows before the tail drew a random null has a longer tail and a line of
    // its own, so the lines are summed rather than matched to one fixed grouping.
    const tails = r.stdout.split('\nlabels with more null rows at the end than their horizon: 49\n')[1]?.split('\n\n')[0];
    assert.ok(tails, r.stdout);
    const tailLines = tails.split('\n').map((line) => /^  - (?:(\d+) labels \(target_[^)]+\)|target_\S+): ([\d,]+) null rows at the end, horizons? \d+(?: to \d+)? min$/.exec(line));
    assert.ok(tailLines.every(Boolean), tails);
    assert.equal(tailLines.reduce((n, m) => n + Number(m![1] ?? 1), 0), 49, tails);
    assert.ok(tailLines.every((m) => Number(m![2]!.replace(/,/g, '')) >= 2880), tails);
    assert.ok(tailLines.some((m) => Number(m![1] ?? 1) > 1), `labels of one tail share a line: ${tails}`);
    // Where to train and score, from folds.json: each fold's segments, with their rows.
    assert.match(r.stdout, /\ntime folds \(folds\.json: purge 105 \+ embargo 60 minutes, none in the labels' last 2,880 minutes\): [2-9]\n  - 0: train 2020-\S+ to 2020-\S+ \([\d,]+ rows\), validation \S+ to \S+ \([\d,]+ rows\), test \S+ to \S+ \([\d,]+ rows\)\n/);
    const json = JSON.parse(bqx(home, ['report', summary.runId, '--json']).stdout);
    // A dataset's folder stands for its manifest.
    assert.match(bqx(home, ['verify', dir]).stdout, /^ok: 6000 rows/);
    // A pair in capitals is the pair, for report as for run.
    assert.equal(JSON.parse(bqx(home, ['report', 'EURUSD', '--json']).stdout).runId, summary.runId);
    assert.deepEqual(json.profile.constant, PLANTED.constant);
    const html = readFileSync(path.join(dir, 'report.html'), 'utf8');
    assert.match(html, /<svg/);
    // The run as it ended, not as it stood while merging (the page is written before the record moves).
    assert.match(html, /<td>status<\/td><td>succeeded<\/td>/);
    // The folds as folds.json has them: one row each.
    const folds: FoldsFile = JSON.parse(readFileSync(path.join(dir, 'folds.json'), 'utf8'));
    assert.equal((/<h2>Time folds<\/h2>.*?<\/section>/s.exec(html)?.[0].match(/<tr><td>\d+<\/td>/g) ?? []).length, folds.folds.length);
    assert.match(html, /<td>extract \/ merge \/ profile<\/td><td>\d+\.\d s \/ \d+\.\d s \/ \d+\.\d s<\/td>/);
    assert.doesNotMatch(html, /<script|https?:\/\/(?!www\.w3\.org|vega\.github\.io)/, 'self-contained: no scripts, nothing fetched');
  });

  it('the manifest keeps columnMapping and gains the ledger; folds.json is purged and consistent', () => {
    const manifest = JSON.parse(readFileSync(summary.output.manifest, 'utf8'));
    assert.equal(manifest.passed, true);
    assert.equal(Object.keys(manifest.columnMapping).length, manifest.columns);
    assert.equal(manifest.ledger.length, manifest.columns);
    const leak = manifest.ledger.find((e: LedgerEntry) => e.column === 'der_mean_45');
    assert.deepEqual(leak, { column: 'der_mean_45', role: 'feature', table: 'der_eurusd', source: 'mean_45', family: 'der', window: 45 });
    const label = manifest.ledger.find((e: LedgerEntry) => e.column === 'target_bqx90_h30');
    assert.deepEqual(label, { column: 'target_bqx90_h30', role: 'label', table: 'targets_eurusd', source: 'target_bqx90_h30', family: 'target', variant: 'bqx', window: 90, horizon: 30 });
    const corr = manifest.ledger.find((e: LedgerEntry) => e.table === 'corr_bqx_ibkr_eurusd_vixy');
    assert.equal(corr.family, 'corr');
    assert.equal(corr.variant, 'bqx_ibkr');

    const folds: FoldsFile = JSON.parse(readFileSync(path.join(dir, 'folds.json'), 'utf8'));
    // The file's own fields and nothing of the run record it was planned from (state, transitions, ...).
    const fields = ['pair', 'runId', 'window', 'trainDays', 'validationDays', 'testDays', 'stepDays', 'scale', 'purgeMinutes', 'embargoMinutes', 'longestHorizonMinutes', 'labelTailMinutes', 'note', 'folds'];
    assert.deepEqual(Object.keys(folds).sort(), [...fields].sort());
    assert.ok(folds.purgeMinutes >= 105, `purge ${folds.purgeMinutes}`);
    assert.equal(folds.longestHorizonMinutes, 105);
    assert.ok(folds.scale < 1 && folds.note.includes('scaled'), 'a short window scales the sizes and says so');
    assert.ok(folds.folds.length >= 2, `${folds.folds.length} folds`);
    // The labels' null tail (the last 2,880 minutes, DATA.md) is left to no fold: every validation
    // and test segment holds rows, all before the labels' last value.
    assert.equal(folds.labelTailMinutes, 2880);
    const labelled = Math.max(...report.profile!.labels.map((l) => ROWS - l.tailNulls));
    for (const f of folds.folds) {
      for (const seg of [f.validation, f.test]) {
        const [r] = seg.rows;
        assert.ok(r && r.end > r.start && r.end <= labelled, `fold ${f.index}: ${JSON.stringify(seg)} (labels end at row ${labelled})`);
      }
    }
    for (const f of folds.folds) {
      const gapMs = (a: string, b: string) => Date.parse(b) - Date.parse(a);
      assert.ok(gapMs(f.train.to, f.validation.from) >= (folds.purgeMinutes + folds.embargoMinutes) * 60_000);
      assert.ok(gapMs(f.validation.to, f.test.from) >= folds.purgeMinutes * 60_000);
      // Row ranges in order, inside the one shard, and train before validation before test.
      const [t, v, s] = [f.train.rows[0]!, f.validation.rows[0]!, f.test.rows[0]!];
      assert.ok(t.start < t.end && t.end <= v.start && v.end <= s.start && s.end <= ROWS, JSON.stringify(f));
    }
  });

  it('a failed fail gate fails the run with the gate and the measured value; outputs kept, marked not passed', () => {
    const r = bqx(home, ['rerun', summary.runId, '--merge', '--json', '--gate', 'rows >= 150000:fail', '--gate', 'stale == 0:warn']);
    assert.equal(r.code, 1, r.stderr);
    const s = JSON.parse(r.stdout);
    assert.equal(s.status, 'failed');
    assert.match(s.error, /quality gate failed: rows >= 150000 \(measured 6000\)/);
    assert.ok(s.warnings.some((w: string) => /stale == 0 \(measured 1\)/.test(w)));
    const manifest = JSON.parse(readFileSync(summary.output.manifest, 'utf8'));
    assert.equal(manifest.passed, false);
    assert.match(readFileSync(path.join(dir, 'report.html'), 'utf8'), /<td>status<\/td><td>failed<\/td>/);
    // Its files are sound, and verify says so; it also says the run failed its gates (only the fail ones).
    const verified = bqx(home, ['verify', summary.runId]);
    assert.equal(verified.code, 0, verified.stderr);
    assert.match(verified.stdout, /^ok: 6000 rows/);
    assert.match(verified.stdout, /\nnote: its run failed the quality gate\(s\) rows >= 150000 \(measured 6000\): not a dataset to train on/);
    assert.deepEqual(JSON.parse(bqx(home, ['verify', summary.runId, '--json']).stdout).failedGates, ['rows >= 150000 (measured 6000)']);
    // The run keeps its gates: a rerun without --gate fails the same gate again, not a pass.
    const again = bqx(home, ['rerun', summary.runId, '--merge', '--json']);
    assert.equal(again.code, 1, again.stderr);
    assert.match(JSON.parse(again.stdout).error, /quality gate failed: rows >= 150000 \(measured 6000\)/);
    const bad = bqx(home, ['run', 'eurusd', '--gate', 'rows >> 1']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--gate: gate "rows >> 1" must read/);
    const env = bqx(home, ['status'], { BQX_GATES: 'rows >= 1:stop' });
    assert.equal(env.code, 2);
    assert.match(env.stderr, /BQX_GATES="rows >= 1:stop"/);
    // --quiet still says why a run failed, in one line.
    const quiet = bqx(home, ['run', 'eurusd', '--gate', 'rows >= 150000:fail', '--quiet']);
    assert.equal(quiet.code, 1);
    assert.match(quiet.stderr, /^bqx: run eurusd-\S+ failed: quality gate failed: rows >= 150000 \(measured 6000\)\n$/);
  });
});
