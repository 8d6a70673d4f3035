// The count of values beyond 10 sd before a scan state's row, told without reading those rows
// (shared/profile/outlierTails.ts): from the state's range, else from a kept tail whose band lies
// within the 10-sd band; unknown otherwise. And how a tail at the next snapshot is made.
import assert from 'node:assert/strict';
import { beyondBefore, filesBetween, tailPlan, type Tail } from '../../shared/profile/outlierTails.js';
import { SCAN_FIELDS, type ScanState } from '../../shared/profile/scanState.js';

/** A state of one column `x` with this finite count, min and max at row 100. */
function state(finite: number, min: number, max: number): ScanState {
  const values = new Float64Array(SCAN_FIELDS);
  values.set([finite, 0, finite, min, max]);
  return { row: 100, columns: ['x'], values };
}

describe('values beyond 10 sd carried by the scan state and tails', () => {
  const tail: Tail = { lo: -80, hi: 80, values: Float64Array.from([-500, 95, 1e6]) };

  it('none before the row when the state\'s min and max lie within the band, or no value is finite', () => {
    assert.equal(beyondBefore(state(90, -99, 99), 'x', 0, 10), 0);
    assert.equal(beyondBefore(state(0, Infinity, -Infinity), 'x', 0, 10), 0);
  });

  it('the tail values beyond the band, when the tail\'s band lies within it', () => {
    assert.equal(beyondBefore(state(90, -500, 1e6), 'x', 0, 10, tail), 2, '-500 and 1e6; 95 is within 100');
    assert.equal(beyondBefore(state(90, -500, 1e6), 'x', 0, 60, tail), 1, 'a wider band: 1e6 only');
  });

  it('unknown without a tail, with a tail whose band reaches past the 10-sd band, or for a column the state lacks', () => {
    assert.equal(beyondBefore(state(90, -500, 1e6), 'x', 0, 10), undefined);
    assert.equal(beyondBefore(state(90, -500, 1e6), 'x', 0, 7, tail), undefined, 'band 70: values between 70 and 80 were not kept');
    assert.equal(beyondBefore(state(90, -500, 1e6), 'y', 0, 10, tail), undefined);
  });

  it('a tail at the snapshot: none when every value lies within 8 sd; the carried one goes on in its band; else a new band from the resumed row or from row 0', () => {
    assert.equal(tailPlan({ finite: 9, min: -7, max: 7 }, 0, 1), undefined);
    assert.deepEqual(tailPlan({ finite: 9, min: -7, max: 900 }, 0, 1, { row: 100, tail }), { lo: -80, hi: 80, kept: tail.values, from: 100 });
    assert.deepEqual(tailPlan({ finite: 9, min: -7, max: 900 }, 0, 1, { row: 100, range: { finite: 9, min: -7, max: 7 } }), { lo: -8, hi: 8, from: 100 });
    assert.deepEqual(tailPlan({ finite: 9, min: -7, max: 900 }, 0, 1, { row: 100, range: { finite: 9, min: -7, max: 90 } }), { lo: -8, hi: 8, from: 0 });
    assert.deepEqual(tailPlan({ finite: 9, min: -7, max: 900 }, 0, 1), { lo: -8, hi: 8, from: 0 });
  });

  it('the files holding exactly a range of rows', () => {
    const rows = { a: 10, b: 20, c: 30 } as Record<string, number>;
    assert.deepEqual(filesBetween(['a', 'b', 'c'], (f) => rows[f]!, 10, 30), ['b']);
    assert.deepEqual(filesBetween(['a', 'b', 'c'], (f) => rows[f]!, 0, 60), ['a', 'b', 'c']);
    assert.deepEqual(filesBetween(['a', 'b', 'c'], (f) => rows[f]!, 10, 20), []);
  });
});
