// The leakage screen's correlation half (shared/profile/leakage.ts `leakageCandidates`): it stops
// a pair's dot product after half the rows where the rest cannot lift it to the screen's 0.8. The
// pairs it lets through must be exactly those a full dot product of every pair lets through,
// including pairs whose first half says little (a feature that follows a label only in the later
// rows), pairs either side of the threshold, negative ones, nulls and flat columns.
import assert from 'node:assert/strict';
import { leakageCandidates } from '../../shared/profile/leakage.js';
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
    const got = leakageCandidates({ rows, values }, features, labels, { from: 1e9, rows: 0 }).map((p) => `${p.a}~${p.b}`).sort();
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
});
