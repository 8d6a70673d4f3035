// The leakage screen's correlation half (shared/profile/leakage.ts `leakageScreen`): it stops
// a pair's dot product after half the rows where the rest cannot lift it to the screen's 0.8. The
// pairs it lets through must be exactly those a full dot product of every pair lets through,
// including pairs whose first half says little (a feature that follows a label only in the later
// rows), pairs either side of the threshold, negative ones, nulls and flat columns.
// A later screen of the same sample takes the pairs of the features it is told are unchanged from
// the earlier screen, screens the rest, and gives the very outcome a screen of every feature gives.
import assert from 'node:assert/strict';
import { leakageScreen, screenPairs } from '../../shared/profile/leakage.js';
import { mulberry32 } from '../../shared/adapters/local/bus.js';

const SCREEN = 0.8;

/** Every pair's correlation over the rows, nulls left out of the mean and counted as 0 after it, as the screen defines it. */
function correlation(x: Float64Array, y: Float64Array): number {
  const centred = (v: Float64Array) => {
    const finite = [...v].filter(Number.isFinite);
    const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
    return [...v].map((e) => (Number.isFinite(e) ? e - mean : 0));
  };
  const [a, b] = [centred(x), centred(y)];
  const dot = a.reduce((n, e, i) => n + e * b[i]!, 0);
  return dot / Math.sqrt(a.reduce((n, e) => n + e * e, 0) * b.reduce((n, e) => n + e * e, 0));
}

describe('leakage screen: correlation (leakage.ts)', () => {
  it('lets through exactly the pairs a full dot product of every pair lets through', () => {
    const next = mulberry32(7);
    const m = 256;
    const gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    const labels = Array.from({ length: 9 }, (_, j) => `label_${j}`);
    const values: Record<string, Float64Array> = {};
    for (const l of labels) values[l] = Float64Array.from({ length: m }, gauss);
    const features: string[] = [];
    const add = (name: string, v: Float64Array) => {
      features.push(name);
      values[name] = v;
    };
    // Noise, and a label plus noise at strengths either side of the screen, of either sign.
    for (let i = 0; i < 200; i++) add(`noise_${i}`, Float64Array.from({ length: m }, gauss));
    for (const [i, w] of [0.3, 0.7, 1.2, 1.3, 1.35, 1.4, 2, 5].entries()) {
      const l = values[labels[i % labels.length]!]!;
      add(`mixed_${i}`, Float64Array.from(l, (e) => e * w + gauss()));
      add(`negative_${i}`, Float64Array.from(l, (e) => -e * w + gauss()));
    }
    // A label only in the later rows (noise before): its first half says little.
    for (const [i, share] of [0.5, 0.6, 0.7, 0.8, 0.9].entries()) {
      const l = values[labels[1]!]!;
      const from = Math.floor(m * (1 - share));
      add(`late_${i}`, Float64Array.from(l, (e, k) => (k >= from ? e : 0.05 * gauss())));
    }
    // Nulls, a flat column, a column of nulls.
    add('with_nulls', Float64Array.from(values[labels[2]!]!, (e, k) => (k % 5 === 0 ? NaN : e + 0.1 * gauss())));
    add('flat', new Float64Array(m).fill(3));
    add('empty', new Float64Array(m).fill(NaN));

    const rows = Array.from({ length: m }, (_, k) => k * 10);
    const got = screenPairs(leakageScreen({ rows, values }, features, labels, { from: 1e9, rows: 0 })).map((p) => `${p.a}~${p.b}`).sort();
    const want: string[] = [];
    for (const f of features) {
      for (const l of labels) {
        const r = correlation(values[f]!, values[l]!);
        if (Number.isFinite(r) && Math.abs(r) >= SCREEN) want.push(`${f}~${l}`);
      }
    }
    want.sort();
    assert.deepEqual(got, want);
    // The sample holds pairs on both sides of the screen and late followers that pass: the check is not empty.
    assert.ok(want.some((p) => p.startsWith('late_')) && want.some((p) => p.startsWith('negative_')), want.join());
    const near = features.flatMap((f) => labels.map((l) => Math.abs(correlation(values[f]!, values[l]!)))).filter((r) => r > 0.7 && r < 0.9);
    assert.ok(near.length >= 4, `${near.length} pairs within 0.1 of the screen`);
  });

  it('takes the unchanged features\' pairs from an earlier screen of the same sample and screens the rest, in the same order', () => {
    const next = mulberry32(11);
    const m = 512;
    const gauss = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    const labels = ['label_a', 'label_b', 'label_c'];
    const values: Record<string, Float64Array> = {};
    for (const l of labels) values[l] = Float64Array.from({ length: m }, () => Math.round(gauss() * 1000) / 1000);
    const block = { from: 2000, rows: 256 }; // sample rows 2000..2255: indexes 200..455
    const rows = Array.from({ length: m }, (_, k) => (k < 200 ? k * 10 : k < 456 ? 2000 + (k - 200) : 3000 + k * 10));
    const features: string[] = [];
    const add = (name: string, v: Float64Array) => (features.push(name), (values[name] = v));
    for (let i = 0; i < 60; i++) add(`noise_${i}`, Float64Array.from({ length: m }, gauss));
    // Correlated with a label, and copies of a label 3 rows later within the block (shifted candidates).
    for (let i = 0; i < 6; i++) add(`corr_${i}`, Float64Array.from(values[labels[i % 3]!]!, (e) => e + 0.05 * gauss()));
    for (let i = 0; i < 6; i++) add(`copy_${i}`, Float64Array.from(values[labels[i % 3]!]!, (_, k) => values[labels[i % 3]!]![Math.min(m - 1, k + 3)]!));
    const full = leakageScreen({ rows, values }, features, labels, block);
    assert.ok(full.correlated.length >= 6 && full.shifted.length >= 6, `${full.correlated.length} correlated, ${full.shifted.length} shifted: both halves hold pairs`);
    assert.equal(full.taken, 0);

    // Half the features change (new values): the later screen takes the other half's pairs.
    const changed = features.filter((_, i) => i % 2 === 1);
    const later = { ...values };
    for (const f of changed) later[f] = f.startsWith('noise_') ? Float64Array.from(values[labels[0]!]!, (e) => -e + 0.01 * gauss()) : Float64Array.from({ length: m }, gauss);
    const unchanged = new Set([...features.filter((f) => !changed.includes(f)), ...labels]);
    const taken = leakageScreen({ rows, values: later }, features, labels, block, { screen: full, features: unchanged });
    const { taken: _, ...fresh } = leakageScreen({ rows, values: later }, features, labels, block);
    const { taken: count, ...outcome } = taken;
    assert.deepEqual(outcome, fresh, 'the outcome of a screen of every feature, pair for pair and in order');
    assert.equal(count, features.length - changed.length);
    const { taken: __, ...before } = full;
    assert.notDeepEqual(fresh, before, 'the change changed the screen');
    // Pairs held for a changed feature are never taken: a stale pair would be among them.
    const stale = { ...full, correlated: [...full.correlated, { a: changed[0]!, b: labels[1]!, shift: 0 }] };
    assert.deepEqual(leakageScreen({ rows, values: later }, features, labels, block, { screen: stale, features: unchanged }).correlated, fresh.correlated);

    // Another block or other labels: nothing is taken.
    for (const [other, otherLabels] of [[{ from: 2001, rows: 256 }, labels], [block, [...labels].reverse()]] as const) {
      const again = leakageScreen({ rows, values }, features, otherLabels, other, { screen: full, features: unchanged });
      assert.equal(again.taken, 0);
    }
  });
});
