// The view's selection (pure): globs, labels, the profile's findings, and what is refused.

import assert from 'node:assert/strict';
import { InputError } from '../../shared/naming.js';
import type { DatasetProfile } from '../../shared/profile/types.js';
import { planViewGroups } from '../../shared/view/createView.js';
import { parseDrop, parsePatterns, parseShare, selectColumns, viewName } from '../../shared/view/select.js';

const source = { key: 'interval_time', labels: ['target_bqx45_h15', 'target_bqx90_h15'], features: ['agg_a', 'agg_b', 'agg_c', 'mom_a', 'corr_etf_x'] };
const column = (c: string, nullShare: number) => ({ column: c, nullShare, warmupNullShare: 0, constant: false, repeatShare: 0, longestRun: null, inf: 0, nan: 0, beyond10sd: 0 });
const profile = {
  constant: ['agg_a'],
  duplicates: [['mom_a', 'agg_b', 'agg_c']],
  stale: ['corr_etf_x'],
  columns: [column('agg_b', 0.1), column('agg_c', 0.1), column('mom_a', 0.6), column('corr_etf_x', 0)],
} as unknown as DatasetProfile;

describe('view selection', () => {
  it('selects by include and exclude globs, all labels by default, in source order', () => {
    const s = selectColumns(source, { name: 'v', include: ['agg_*', 'mom_?'], exclude: ['agg_c'], drop: [] }, undefined);
    assert.deepEqual(s, { labels: source.labels, features: ['agg_a', 'agg_b', 'mom_a'], dropped: { constant: [], duplicates: [], stale: [], leakage: [], nullShare: [] } });
    assert.deepEqual(selectColumns(source, { name: 'v', labels: ['target_bqx90_*'], drop: [] }, undefined).labels, ['target_bqx90_h15']);
  });

  it('drops constant, stale and redundant duplicates (the first selected column of a group stays), and columns over the null share', () => {
    const s = selectColumns(source, { name: 'v', drop: ['constant', 'duplicates', 'stale'] }, profile);
    assert.deepEqual(s.features, ['agg_b'], 'agg_b is the first of its group in source order');
    assert.deepEqual(s.dropped, { constant: ['agg_a'], duplicates: ['agg_c', 'mom_a'], stale: ['corr_etf_x'], leakage: [], nullShare: [] });
    // With agg_b left out by the patterns, the group's first selected column is agg_c.
    assert.deepEqual(selectColumns(source, { name: 'v', exclude: ['agg_b'], drop: ['duplicates'] }, profile).features, ['agg_a', 'agg_c', 'corr_etf_x']);
    assert.deepEqual(selectColumns(source, { name: 'v', drop: [], maxNullShare: 0.5 }, profile).dropped.nullShare, ['mom_a']);
  });

  it('drops the features the profile confirmed as leaks, with --drop leakage', () => {
    const leaking = { ...profile, leakage: [{ feature: 'agg_b', label: 'target_bqx45_h15', correlation: 1, shiftRows: 10 }] } as DatasetProfile;
    const s = selectColumns(source, { name: 'v', drop: ['leakage'] }, leaking);
    assert.deepEqual(s.features, ['agg_a', 'agg_c', 'mom_a', 'corr_etf_x']);
    assert.deepEqual(s.dropped.leakage, ['agg_b']);
    assert.deepEqual(parseDrop('leakage,constant'), ['leakage', 'constant']);
    assert.deepEqual(selectColumns(source, { name: 'v', drop: [] }, leaking).features, source.features, 'kept unless asked');
  });

  it('refuses bad patterns, names, drop kinds, shares, an empty selection, and --drop without a profile', () => {
    assert.throws(() => parsePatterns('include', 'agg_[ab]'), InputError);
    assert.throws(() => parsePatterns('include', 'agg_*,'), InputError);
    assert.throws(() => viewName('my-view'), InputError);
    assert.throws(() => viewName(undefined), /--name/);
    assert.throws(() => parseDrop('constant,odd'), /odd/);
    assert.throws(() => parseShare('max-null-share', '1.5'), InputError);
    assert.equal(parseShare('max-null-share', '0.25'), 0.25);
    assert.throws(() => selectColumns(source, { name: 'v', include: ['nothing_*'], drop: [] }, undefined), /^InputError: view v: a pattern matches no column of its kind: --include nothing_\*$/);
    // Each pattern matches, and none is left.
    assert.throws(() => selectColumns(source, { name: 'v', include: ['agg_*'], exclude: ['agg_?'], drop: [] }, undefined), /^InputError: view v: no feature column matches the selection$/);
    // Labels asked for by a pattern that matches none: refused too (a view without labels was written).
    assert.throws(() => selectColumns(source, { name: 'v', labels: ['nope_*'], drop: [] }, undefined), /^InputError: view v: a pattern matches no column of its kind: --labels nope_\* \(the labels: target_bqx45_h15, target_bqx90_h15\)$/);
    assert.throws(() => selectColumns(source, { name: 'v', drop: ['constant'] }, undefined), /no column profile/);
  });

  it('refuses each pattern that matches no column of its kind, even when the others select some, with a hint for a name', () => {
    const refused = (selection: Partial<Parameters<typeof selectColumns>[1]>, message: string) =>
      assert.throws(() => selectColumns({ ...source, pair: 'eurusd' }, { name: 'v', drop: [], ...selection }, undefined), (e: Error) => e instanceof InputError && e.message === `view v: ${message}`);
    // A name one edit from a column (a typo, or a column renamed since): the view would have lost it without a word.
    refused({ include: ['agg_*', 'mom_b'] }, 'a pattern matches no column of its kind: --include mom_b (did you mean mom_a?)');
    // Left in where it was meant to go: as silent.
    refused({ exclude: ['corr_etf_y'] }, 'a pattern matches no column of its kind: --exclude corr_etf_y (did you mean corr_etf_x?)');
    refused({ include: ['target_bqx45_h15'] }, 'a pattern matches no column of its kind: --include target_bqx45_h15 (a label column: --labels chooses those)');
    refused({ labels: ['target_bqx45_*', 'agg_a'] }, 'a pattern matches no column of its kind: --labels agg_a (a feature column: --include chooses those) (the labels: target_bqx45_h15, target_bqx90_h15)');
    // The source table's name keeps the pair; the output column does not.
    refused({ include: ['agg_eurusd_a'] }, 'a pattern matches no column of its kind: --include agg_eurusd_a (output columns leave the pair out: agg_a)');
    refused({ include: ['zzz_*', 'agg_*', 'quite_another_name'], exclude: ['mom_*_90'] }, '3 patterns match no column of its kind: --include zzz_*; --include quite_another_name; --exclude mom_*_90');
    // Every pattern matching something: selected as before.
    assert.deepEqual(selectColumns({ ...source, pair: 'eurusd' }, { name: 'v', include: ['agg_*', 'mom_a'], exclude: ['agg_b'], labels: ['target_bqx90_h15'], drop: [] }, undefined), {
      labels: ['target_bqx90_h15'],
      features: ['agg_a', 'agg_c', 'mom_a'],
      dropped: { constant: [], duplicates: [], stale: [], leakage: [], nullShare: [] },
    });
  });

  it('plans groups of at most the given width, each starting with the key', () => {
    const groups = planViewGroups('k', ['a', 'b', 'c', 'd', 'e'], 3);
    assert.deepEqual(groups, [
      { index: 0, columns: ['k', 'a', 'b'] },
      { index: 1, columns: ['k', 'c', 'd'] },
      { index: 2, columns: ['k', 'e'] },
    ]);
  });
});
