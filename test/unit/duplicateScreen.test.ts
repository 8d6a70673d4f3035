// The duplicate screen (shared/profile/duplicates.ts `duplicateCandidates`): columns are grouped by
// their statistics, the sample's sum and its first sixteen values. It groups them by a hash of
// those numbers, compared exactly within a hash's bucket; the groups must be those a text key of the
// same numbers (JSON, as the screen keyed them before) makes: the same columns together, in the same
// order, with every value JSON writes alike (null, NaN, Infinity; 0 and -0) still alike.
import assert from 'node:assert/strict';
import { duplicateCandidates } from '../../shared/profile/duplicates.js';
import type { ColumnStats } from '../../shared/profile/types.js';
import { mulberry32 } from '../../shared/adapters/local/bus.js';

/** The screen's earlier key: one JSON text per column. */
function byJsonKey(stats: readonly ColumnStats[], values: Record<string, Float64Array>): string[][] {
  const groups = new Map<string, string[]>();
  for (const s of stats) {
    if (s.nonNull === 0) continue;
    const sample = values[s.column] ?? new Float64Array(0);
    let sum = 0;
    for (const v of sample) if (Number.isFinite(v)) sum += v;
    const key = JSON.stringify([s.nonNull, s.min, s.max, s.repeats, s.inf, s.nan, sum, Array.from(sample.slice(0, 16), (v) => (Number.isNaN(v) ? null : v))]);
    groups.set(key, [...(groups.get(key) ?? []), s.column]);
  }
  return [...groups.values()].filter((g) => g.length > 1);
}

const stat = (column: string, over: Partial<ColumnStats> = {}): ColumnStats => ({ column, nonNull: 100, min: 0, max: 1, inf: 0, nan: 0, repeats: 0, ...over }) as ColumnStats;

describe('duplicate screen (duplicates.ts)', () => {
  it('groups 20,000 columns as a JSON key of the same numbers does', () => {
    const next = mulberry32(11);
    const stats: ColumnStats[] = [];
    const values: Record<string, Float64Array> = {};
    for (let c = 0; c < 20_000; c++) {
      const column = `c${c}`;
      // One column in five copies an earlier one (a planted duplicate); a few differ from it in one sampled value only.
      const copyOf = c > 10 && next() < 0.2 ? Math.floor(next() * c) : -1;
      if (copyOf >= 0) {
        const source = values[`c${copyOf}`]!.slice();
        if (next() < 0.1) source[Math.floor(next() * 16)] = next();
        values[column] = source;
        stats.push({ ...stats[copyOf]!, column });
        continue;
      }
      const n = next() < 0.05 ? Math.floor(next() * 20) : 64; // some samples shorter than 16
      values[column] = Float64Array.from({ length: n }, () => (next() < 0.1 ? NaN : Math.round(next() * 4) / 4));
      stats.push(stat(column, { nonNull: next() < 0.02 ? 0 : 100 + Math.floor(next() * 3), max: Math.round(next() * 2) }));
    }
    const expected = byJsonKey(stats, values);
    assert.ok(expected.length > 1000, `the sample plants many groups (${expected.length})`);
    assert.deepEqual(duplicateCandidates(stats, values), expected);
  });

  it('keeps alike what JSON writes alike, and apart what it writes apart', () => {
    const stats = [
      stat('zero', { min: 0 }),
      stat('minus_zero', { min: -0 }),
      stat('nan_sample'),
      stat('inf_sample'),
      stat('null_min', { min: null }),
      stat('nan_min', { min: NaN }),
      stat('short'),
      stat('shorter'),
      stat('all_null', { nonNull: 0 }),
      stat('all_null_too', { nonNull: 0 }),
    ];
    const values: Record<string, Float64Array> = {
      zero: Float64Array.of(1, 2),
      minus_zero: Float64Array.of(1, 2),
      nan_sample: Float64Array.of(NaN, 2),
      inf_sample: Float64Array.of(Infinity, 2),
      null_min: Float64Array.of(5),
      nan_min: Float64Array.of(5),
      // A sample of [0] and one of [0, 0]: the same sum, not the same values.
      short: Float64Array.of(0),
      shorter: Float64Array.of(0, 0),
      all_null: Float64Array.of(),
      all_null_too: Float64Array.of(),
    };
    const groups = duplicateCandidates(stats, values);
    assert.deepEqual(groups, byJsonKey(stats, values));
    assert.deepEqual(groups, [['zero', 'minus_zero'], ['nan_sample', 'inf_sample'], ['null_min', 'nan_min']]);
  });
});
