// The profile's pure parts: gates (parsing, BQX_GATES validation, evaluation), key gaps (weekend
// or not), folds (purge, scaling, row ranges per shard), the ledger's family/variant/window.

import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../shared/config.js';
import { foldCuts, foldsFile, labelledFolds, planFolds } from '../../shared/folds.js';
import { openSince, openTime } from '../../shared/marketClock.js';
import { labelTailMinutes } from '../../shared/profile/findings.js';
import { describeFeature } from '../../shared/ledger.js';
import { classifyGaps, keyGaps, rowsBefore } from '../../shared/profile/gaps.js';
import { GateError, evaluateGates, parseGate } from '../../shared/profile/gates.js';
import { confirmedLeaks } from '../../shared/profile/leakage.js';
import type { DatasetProfile } from '../../shared/profile/types.js';
import { gateMetrics } from '../../shared/chain/quality.js';
import type { RunManifest } from '../../shared/manifest.js';
import type { RunRecord } from '../../shared/ports.js';

const CURRENCIES = ['eur', 'gbp', 'aud', 'nzd', 'usd', 'cad', 'chf', 'jpy'];

describe('profile core', () => {
  it('parses gates, defaults the level to fail, and refuses bad ones naming them', () => {
    assert.deepEqual(parseGate('rows >= 150000'), { gate: 'rows >= 150000', metric: 'rows', op: '>=', threshold: 150000, level: 'fail' });
    assert.equal(parseGate(' leakage==0 : warn ').level, 'warn');
    assert.throws(() => parseGate('rows => 1'), GateError);
    assert.throws(() => parseGate('speed >= 1'), /unknown metric "speed"/);
    assert.deepEqual(loadConfig({}).profile.gates.map((g) => `${g.gate}:${g.level}`), [
      'rows >= 1:fail',
      'feature_null_share <= 0.05:warn',
      'label_null_share <= 0.01:warn',
      'leakage == 0:warn',
      'cost_usd <= 10:warn',
    ]);
    assert.throws(() => loadConfig({ BQX_GATES: 'rows >= 1, nulls <= 2' }), (e: unknown) => e instanceof ConfigError && /BQX_GATES="rows >= 1, nulls <= 2": gate "nulls <= 2": unknown metric/.test(e.message));
    assert.throws(() => loadConfig({ BQX_PROFILE_STALE_SHARE: '1.5' }), /BQX_PROFILE_STALE_SHARE="1.5": must be a share/);
    const gates = loadConfig({ BQX_GATES: 'rows >= 150000:fail,leakage == 0:warn' }).profile.gates;
    const metrics = { rows: 6000, columns: 1, feature_null_share: 0, label_null_share: 0, leakage: 1, constant: 0, duplicates: 0, stale: 0, unexpected_gaps: 0, cost_usd: 0 };
    assert.deepEqual(evaluateGates(gates, metrics), [
      { gate: 'rows >= 150000', level: 'fail', value: 6000, passed: false },
      { gate: 'leakage == 0', level: 'warn', value: 1, passed: false },
    ]);
  });

  it("measures label_null_share without each label's tail of nulls, but all of a label with no value at all", () => {
    const rows = 1000;
    const column = (name: string, nullShare: number) => ({ column: name, nullShare }) as DatasetProfile['columns'][number];
    const profileOf = (columns: DatasetProfile['columns'], tails: Record<string, number>) =>
      ({ columns, labels: Object.entries(tails).map(([label, tailNulls]) => ({ label, horizonMinutes: 15, tailNulls, expected: 15 })), leakage: [], constant: [], duplicates: [], stale: [], gaps: { weekend: 0, unexpected: [] } }) as unknown as DatasetProfile;
    const manifest = { labels: { columns: ['target_a_h15', 'target_b_h15'] }, columnCount: 4 } as unknown as RunManifest;
    const run = { labelRows: rows } as RunRecord;
    const labelShare = (profile: DatasetProfile) => gateMetrics(profile, manifest, run, 0).label_null_share;
    // A tail of 100 null rows each (the label table's last minutes, not yet known) and 10 nulls before it in one: 10 of 1,800 cells.
    assert.equal(labelShare(profileOf([column('f', 0.5), column('target_a_h15', 0.11), column('target_b_h15', 0.1)], { target_a_h15: 100, target_b_h15: 100 })), Math.round((10 / 1800) * 1e6) / 1e6);
    // One label with no value at all: its 1,000 rows are nulls, not a tail (it measured 0 and passed).
    assert.equal(labelShare(profileOf([column('target_a_h15', 1), column('target_b_h15', 0.1)], { target_a_h15: rows, target_b_h15: 100 })), Math.round((1000 / 1900) * 1e6) / 1e6);
    // Every label empty: the share is 1.
    assert.equal(labelShare(profileOf([column('target_a_h15', 1), column('target_b_h15', 1)], { target_a_h15: rows, target_b_h15: rows })), 1);
  });

  it('tells weekend closures from unexpected gaps, longest first', () => {
    const g = classifyGaps([
      { from: '2020-01-10T22:00:00Z', to: '2020-01-12T22:00:00Z', minutes: 2880 }, // Fri 22:00 to Sun 22:00
      { from: '2020-01-08T10:00:00Z', to: '2020-01-08T10:30:00Z', minutes: 30 }, // a Wednesday
      { from: '2020-01-14T06:00:00Z', to: '2020-01-14T07:30:00Z', minutes: 90 }, // a Tuesday
      { from: '2020-01-11T03:00:00Z', to: '2020-01-13T09:00:00Z', minutes: 3240 }, // runs into Monday morning
    ]);
    assert.equal(g.weekend, 1);
    assert.deepEqual(g.unexpected.map((x) => x.minutes), [3240, 90, 30]);
  });

  it('finds key gaps over a minute and counts rows before each cut, from the keys as the embedded profile reads them', () => {
    const micros = (iso: string) => Date.parse(iso) * 1000;
    const keys = Float64Array.from(['2020-01-03T19:58:00Z', '2020-01-03T19:59:00Z', '2020-01-05T22:00:00Z', '2020-01-05T22:01:00Z', '2020-01-05T22:01:30Z', '2020-01-05T22:05:00Z'].map(micros));
    // Friday 20:00 to Sunday 22:00 closed; 22:02 to 22:05 missing (a 3.5-minute step counts 3 missing minutes, as DuckDB's rounding cast does).
    assert.deepEqual(keyGaps(keys), [
      { from: '2020-01-03T20:00:00Z', to: '2020-01-05T22:00:00Z', minutes: 3000 },
      { from: '2020-01-05T22:02:30Z', to: '2020-01-05T22:05:00Z', minutes: 3 },
    ]);
    assert.deepEqual(keyGaps(new Float64Array(0)), []);
    assert.deepEqual(rowsBefore(keys, ['2020-01-01T00:00:00Z', '2020-01-05T22:00:00Z', '2020-01-05T22:01:30.000Z', '2021-01-01T00:00:00Z']), [0, 2, 4, 6]);
  });

  it('plans walk-forward folds with the purge and embargo, and row ranges per shard', () => {
    const settings = { trainDays: 365, validationDays: 23, testDays: 7, stepDays: 30, purgeMinutes: 60, embargoMinutes: 30 };
    const long = planFolds({ pair: 'eurusd', runId: 'r' }, '2019-01-01T00:00:00Z', '2020-12-31T23:59:00Z', settings, 105);
    assert.equal(long.file.purgeMinutes, 105, 'the purge is at least the longest horizon');
    assert.equal(long.file.scale, 1);
    assert.equal(long.bounds.length, Math.floor((731 - 395 - 270 / 1440) / 30) + 1);
    const [b] = long.bounds;
    assert.equal(b![2]! - b![1]!, 135 * 60_000, 'purge + embargo between train and validation');
    // The chain passes its whole run record: the file takes only the pair and the run id from it.
    const record = { pair: 'eurusd', runId: 'r', state: 'merging', transitions: [] };
    const short = planFolds(record, '2020-01-09T00:00:00Z', '2020-01-13T03:59:00Z', settings, 105);
    assert.deepEqual(Object.keys(short.file).slice(0, 3), ['pair', 'runId', 'window']);
    assert.ok(!('state' in short.file) && !('transitions' in short.file));
    assert.ok(short.file.scale > 0 && short.file.scale < 0.02 && /scaled/.test(short.file.note));
    assert.equal(short.bounds.length, 4);
    assert.equal(foldCuts(short).length, 24);
    // Two shards of 3,000 rows: a segment over the boundary is split between them.
    const cutRows = short.bounds.flatMap((_, k) => [0, 2900, 2950, 3050, 3100, 3200].map((r) => r + k * 10));
    const file = foldsFile(short, cutRows, [{ index: 0, rows: 3000 }, { index: 1, rows: 3000 }]);
    assert.deepEqual(file.folds[0]!.validation.rows, [{ shard: 0, start: 2950, end: 3000 }, { shard: 1, start: 0, end: 50 }]);
    assert.deepEqual(file.folds[0]!.train.rows, [{ shard: 0, start: 0, end: 2900 }]);
  });

  it('counts open market time: weekend closures (Friday 22:00 to Sunday 22:00 UTC) left out', () => {
    const t = (iso: string) => Date.parse(iso);
    const open = (a: string, b: string) => (openSince(t(b)) - openSince(t(a))) / 60_000;
    assert.equal(open('2020-01-06T00:00:00Z', '2020-01-07T00:00:00Z'), 1440, 'a Monday: all open');
    assert.equal(open('2020-01-10T00:00:00Z', '2020-01-13T00:00:00Z'), 3 * 1440 - 2880, 'Friday to Monday: the closure left out');
    assert.equal(open('2020-01-11T05:00:00Z', '2020-01-12T21:00:00Z'), 0, 'inside the closure');
    for (const iso of ['2020-01-06T00:00:00Z', '2020-01-10T21:59:00Z', '2020-01-12T22:00:00Z', '2024-07-03T12:34:00Z']) assert.equal(openTime(openSince(t(iso))), t(iso), iso);
    assert.equal(new Date(openTime(openSince(t('2020-01-11T12:00:00Z')))).toISOString(), '2020-01-12T22:00:00.000Z', 'a Saturday: the next open');
  });

  it('ends the folds before the labels\' null tail, and places scaled folds on open time: every validation and test segment is open', () => {
    const settings = { trainDays: 365, validationDays: 23, testDays: 7, stepDays: 30, purgeMinutes: 60, embargoMinutes: 30 };
    // Nine days with a weekend (the default demo's window), the labels' last 2,880 minutes null.
    const plan = planFolds({ pair: 'eurusd', runId: 'r' }, '2020-01-06T00:00:00Z', '2020-01-15T00:09:00Z', settings, 105, 2880);
    assert.equal(plan.file.labelTailMinutes, 2880);
    // The tail is the longest label window, from the names (each label a future value of bqx_{w}: DATA.md).
    assert.deepEqual(['target_bqx2880_h105', 'target_bqx45_h15', 'target_close'].map(labelTailMinutes), [2880, 45, 0]);
    assert.equal(plan.file.window.end, '2020-01-15T00:10:00.000Z', 'the window is the dataset\'s');
    assert.equal(plan.bounds.length, 4, plan.file.note);
    assert.match(plan.file.note, /in open market time .*; the folds end 2,880 minutes before the window does/);
    const tailStarts = Date.parse('2020-01-13T00:10:00Z');
    for (const b of plan.bounds) {
      assert.ok(b[5]! <= tailStarts, 'before the tail');
      assert.ok(openSince(b[3]!) - openSince(b[2]!) > 0 && openSince(b[5]!) - openSince(b[4]!) > 0, 'validation and test hold open minutes');
      assert.ok(b[2]! - b[1]! >= (105 + 30) * 60_000 && b[4]! - b[3]! >= 105 * 60_000, 'purge and embargo at least as configured, in calendar time');
    }
    // The purge covers the longest horizon; the note names the setting that also covers the labels' lookahead.
    assert.match(plan.file.note, /; the purge of 105 minutes covers the longest horizon: if each label also depends on the 2,880 minutes after it \(its null tail says so\), BQX_FOLD_PURGE_MINUTES=2985 keeps every training label off the validation and test minutes; the purge is the longest horizon, 105 minutes, not BQX_FOLD_PURGE_MINUTES=60$/);
    const wide = planFolds({ pair: 'eurusd', runId: 'r' }, '2020-01-06T00:00:00Z', '2020-01-15T00:09:00Z', { ...settings, purgeMinutes: 2985 }, 105, 2880);
    assert.equal(wide.file.purgeMinutes, 2985);
    assert.doesNotMatch(wide.file.note, /BQX_FOLD_PURGE_MINUTES/);
    assert.equal(wide.bounds.length, 4, wide.file.note);
    for (const b of wide.bounds) assert.ok(b[2]! - b[1]! >= (2985 + 30) * 60_000, 'the purge as set');
    // Without a tail (labels with no window in their names): to the window's end, as before.
    assert.equal(planFolds({ pair: 'eurusd', runId: 'r' }, '2020-01-06T00:00:00Z', '2020-01-15T00:09:00Z', settings, 105).file.labelTailMinutes, 0);
  });

  it('says why a window with no fold has none: inside the labels\' lookahead, or too short', () => {
    const settings = { trainDays: 365, validationDays: 23, testDays: 7, stepDays: 30, purgeMinutes: 60, embargoMinutes: 30 };
    // 2,000 minutes (a small demo): every row is in the labels' last 2,880 minutes.
    const inside = planFolds({ pair: 'eurusd', runId: 'r' }, '2020-01-06T00:00:00Z', '2020-01-07T09:19:00Z', settings, 105, 2880);
    assert.deepEqual(inside.bounds, []);
    assert.equal(inside.file.note, "the window (1.39 days) lies within the labels' last 2,880 minutes, where they have no value yet: no row to train or score a fold on; the purge is the longest horizon, 105 minutes, not BQX_FOLD_PURGE_MINUTES=60");
    // 3,000 minutes: 120 before the tail, less than the purge and embargo twice over.
    const short = planFolds({ pair: 'eurusd', runId: 'r' }, '2020-01-06T00:00:00Z', '2020-01-08T01:59:00Z', settings, 105, 2880);
    assert.deepEqual(short.bounds, []);
    assert.match(short.file.note, /^the window before its label tail \(0\.08 days\) is too short for a fold with a purge of 105 and an embargo of 30 minutes; the folds end 2,880 minutes before/);
  });

  it('leaves out the folds whose validation or test holds no row with a label value, and numbers the rest from 0', () => {
    const settings = { trainDays: 365, validationDays: 23, testDays: 7, stepDays: 30, purgeMinutes: 60, embargoMinutes: 30 };
    const plan = planFolds({ pair: 'eurusd', runId: 'r' }, '2020-01-09T00:00:00Z', '2020-01-13T03:59:00Z', settings, 105);
    assert.equal(plan.bounds.length, 4);
    // Fold 0 labelled throughout; fold 1's test half in the labels' tail (kept); fold 2's validation
    // empty (a closure); fold 3's test wholly in the tail. The labels' last value: row 5,250.
    const rows = [
      [0, 2000, 2100, 2500, 2600, 3000],
      [500, 4000, 4100, 4800, 5000, 5500],
      [1000, 4500, 4600, 4600, 5100, 5200],
      [1500, 5000, 5100, 5200, 5300, 5600],
    ];
    const out = labelledFolds(plan, rows.flat(), 5250);
    assert.equal(out.dropped, 2);
    assert.deepEqual(out.plan.bounds, [plan.bounds[0], plan.bounds[1]]);
    assert.deepEqual(out.cutRows, [...rows[0]!, ...rows[1]!]);
    assert.match(out.plan.file.note, /; 2 planned fold\(s\) left out \(test from .+, .+\): their validation or test segment holds no row with a label value \(the labels' last value is at row 5,250\)$/);
    const file = foldsFile(out.plan, out.cutRows, [{ index: 0, rows: 5600 }]);
    assert.deepEqual(file.folds.map((f) => [f.index, f.test.rows[0]!.start]), [[0, 2600], [1, 5000]]);
    // No label tail known (BQX_PROFILE=keys) or none in the way: the plan as it was.
    assert.deepEqual(labelledFolds(plan, rows.flat(), undefined), { plan, cutRows: rows.flat(), dropped: 0 });
    assert.equal(labelledFolds(plan, rows.flat().map((r, c) => (c % 6 === 3 ? r + 1 : r)), 5600).dropped, 0);
  });

  it('reads family, variant and window from the names', () => {
    assert.deepEqual(describeFeature('corr_bqx_ibkr_eurusd_ewa', 'mean_45', 'eurusd', CURRENCIES), { family: 'corr', variant: 'bqx_ibkr', window: 45 });
    assert.deepEqual(describeFeature('lag_eurusd_90', 'close', 'eurusd', CURRENCIES), { family: 'lag', window: 90 });
    assert.deepEqual(describeFeature('tri_agg_bqx_eur_usd_gbp', 'std_1440', 'eurusd', CURRENCIES), { family: 'tri', variant: 'agg_bqx', window: 1440 });
    assert.deepEqual(describeFeature('cov_agg_eurusd_gbpusd', 'c', 'eurusd', CURRENCIES), { family: 'cov', variant: 'agg' });
    assert.deepEqual(describeFeature('mkt_regime', 'r', 'eurusd', CURRENCIES), { family: 'mkt', variant: 'regime' });
  });

  it('calls a shifted copy a leak only when it holds a future value', () => {
    const m = (shift: number) => ({ a: 'f', b: 'target_bqx45_h30', shift, both: 1000, equal: 1000, nullMismatch: 0, correlation: 1 });
    assert.deepEqual(confirmedLeaks([m(10)]).map((l) => l.shiftRows), [10]);
    assert.deepEqual(confirmedLeaks([m(30)]), [], 'the label 30 rows back is the present value: no leak');
    assert.deepEqual(confirmedLeaks([{ ...m(0), equal: 0, correlation: 0.995 }]).map((l) => l.correlation), [0.995]);
    assert.deepEqual(confirmedLeaks([{ ...m(0), equal: 0, correlation: 0.98 }]), []);
  });
});
