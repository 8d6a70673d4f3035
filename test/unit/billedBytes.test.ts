// What on-demand pricing bills a statement: each table it references at least 10 MB, the
// statement at least 10 MB, rounded up to a MB (10,485,760 bytes: the least maximumBytesBilled
// BigQuery takes); a LOAD DATA, which references no table, nothing by bytes.

import assert from 'node:assert/strict';
import { BILLED_MIN_BYTES, billedBytes, billedFromTotal } from '../../shared/plan/estimateBytes.js';

const MiB = 2 ** 20;

describe('bytes billed on demand', () => {
  it('bills each table referenced at least 10 MB, then rounds the sum up to a MB', () => {
    assert.equal(BILLED_MIN_BYTES, 10_485_760);
    assert.equal(billedBytes([]), 0, 'no table referenced: nothing billed by bytes');
    assert.equal(billedBytes([0]), 10 * MiB, 'a table of unknown or no size still bills 10 MB');
    assert.equal(billedBytes([1]), 10 * MiB);
    assert.equal(billedBytes([10 * MiB + 1]), 11 * MiB, 'rounded up to the next MB');
    assert.equal(billedBytes([1, 1, 1]), 30 * MiB, 'three small tables: 10 MB each');
    assert.equal(billedBytes([25 * MiB, 1]), 35 * MiB, 'a large table as read, a small one at the minimum');
  });

  it('from a dry run\'s total alone, at least 10 MB per table referenced', () => {
    assert.equal(billedFromTotal(0, 0), 0);
    assert.equal(billedFromTotal(500, 1), 10 * MiB);
    assert.equal(billedFromTotal(5 * MiB, 2), 20 * MiB);
    assert.equal(billedFromTotal(40 * MiB + 7, 2), 41 * MiB, 'past the minimum: the total rounded up to a MB');
  });
});
