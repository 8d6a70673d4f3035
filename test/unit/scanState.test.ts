// The paused column scan's bookkeeping (shared/profile/scanState.ts): batches' states joined into
// one, and a dataset's state assembled from the columns measured now and those taken whole from an
// earlier dataset with the same rows (the incremental profile keeps the state going for a refresh).

import assert from 'node:assert/strict';
import { SCAN_FIELDS, joinStates, pickStates, type ScanState } from '../../shared/profile/scanState.js';

/** A state whose numbers name their column and field: column c's field f holds c * 100 + f. */
function state(row: number, columns: string[], ids: number[]): ScanState {
  const values = new Float64Array(columns.length * SCAN_FIELDS);
  ids.forEach((id, j) => {
    for (let f = 0; f < SCAN_FIELDS; f++) values[j * SCAN_FIELDS + f] = id * 100 + f;
  });
  return { row, columns, values };
}

describe('profile scan state', () => {
  it('joins batches at one row, column lists in order; refuses a missing batch or another row', () => {
    const joined = joinStates([state(10, ['a', 'b'], [1, 2]), state(10, ['c'], [3])])!;
    assert.deepEqual(joined.columns, ['a', 'b', 'c']);
    assert.deepEqual(Array.from(joined.values), Array.from(state(10, ['a', 'b', 'c'], [1, 2, 3]).values));
    assert.equal(joinStates([state(10, ['a'], [1]), undefined]), undefined);
    assert.equal(joinStates([state(10, ['a'], [1]), state(11, ['b'], [2])]), undefined);
    assert.equal(joinStates([]), undefined);
  });

  it('takes reused columns from the earlier state and the rest from the fresh one, in the wanted order', () => {
    const fresh = state(2880, ['b', 'd'], [2, 4]);
    const earlier = state(2880, ['a', 'b', 'c', 'd'], [11, 12, 13, 14]);
    const picked = pickStates(['a', 'b', 'c', 'd'], new Set(['a', 'c']), fresh, earlier)!;
    assert.deepEqual(picked.columns, ['a', 'b', 'c', 'd']);
    assert.equal(picked.row, 2880);
    assert.deepEqual(Array.from(picked.values), Array.from(state(2880, ['a', 'b', 'c', 'd'], [11, 2, 13, 4]).values));
    // Nothing reused: the fresh state as it is, reordered.
    assert.deepEqual(pickStates(['d', 'b'], new Set(), fresh)!.columns, ['d', 'b']);
  });

  it('gives none when the states are at other rows, the earlier one is missing, or a column is in neither', () => {
    assert.equal(pickStates(['a', 'b'], new Set(['a']), state(2880, ['b'], [2]), state(1440, ['a'], [1])), undefined);
    assert.equal(pickStates(['a', 'b'], new Set(['a']), state(2880, ['b'], [2])), undefined);
    assert.equal(pickStates(['a', 'b', 'x'], new Set(['a']), state(2880, ['b'], [2]), state(2880, ['a'], [1])), undefined);
    assert.equal(pickStates(['a'], new Set(), undefined), undefined);
  });
});
