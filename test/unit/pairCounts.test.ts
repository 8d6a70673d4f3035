// The duplicate pairs' counts by parts (shared/profile/pairCounts.ts): against counts over every
// row, with a warehouse that compares in-memory columns file by file and records what it was asked.
import assert from 'node:assert/strict';
import { countPairs, pairKey, type KnownCounts } from '../../shared/profile/pairCounts.js';
import type { ColumnComparison, CompareJob, PairCounts, ProfileJob } from '../../shared/profile/types.js';

/** Shard files of 4 rows each: `a` and `b` equal but in file f2 (one value) and f3 (a null), `c` a copy of `a`. */
const FILES = ['f0', 'f1', 'f2', 'f3', 'f4'];
const ROWS = 4;
const column = (name: string, file: string): (number | null)[] =>
  Array.from({ length: ROWS }, (_, r) => {
    const v = FILES.indexOf(file) * ROWS + r;
    if (name === 'b' && file === 'f2' && r === 1) return -1;
    if (name === 'b' && file === 'f3' && r === 2) return null;
    return v;
  });

function counts(pair: { a: string; b: string }, files: readonly string[]): PairCounts {
  const c = { a: pair.a, b: pair.b, both: 0, equal: 0, nullMismatch: 0 };
  for (const f of files) {
    const [x, y] = [column(pair.a, f), column(pair.b, f)];
    x.forEach((v, r) => {
      const w = y[r];
      if (v !== null && w !== null && w !== undefined) {
        c.both++;
        if (v === w) c.equal++;
      } else if ((v === null) !== (w === null)) c.nullMismatch++;
    });
  }
  return c;
}

describe('duplicate pair counts by parts', () => {
  const pairs = [{ a: 'a', b: 'b', shift: 0 }, { a: 'a', b: 'c', shift: 0 }];
  const groups = (files: string[]): ProfileJob['groups'] => [{ index: 0, files, columns: ['interval_time', 'a', 'b', 'c'] }];
  let asked: CompareJob[];
  const compare = async (job: CompareJob): Promise<ColumnComparison[]> => {
    asked.push(job);
    return job.pairs.map((p) => ({ ...p, ...counts(p, job.groups[0]!.files), correlation: 0.5 }));
  };
  beforeEach(() => (asked = []));
  const byPair = (list: PairCounts[]) => new Map(list.map((c) => [pairKey(c), c]));

  it('with nothing known and no snapshot: one statement over every file, its correlation kept', async () => {
    const r = await countPairs(compare, 'run', groups(FILES.slice(0, 4)), pairs, {});
    assert.equal(asked.length, 1);
    assert.equal(asked[0]!.part, undefined);
    assert.deepEqual(r.measured.map((m) => [m.both, m.equal, m.nullMismatch, m.correlation]), [[15, 14, 1, 0.5], [16, 16, 0, 0.5]]);
    assert.equal(r.prefix, undefined);
  });

  it('with a snapshot: the rows before it counted apart and kept, the totals those of every row', async () => {
    const r = await countPairs(compare, 'run', groups(FILES.slice(0, 4)), pairs, {}, [{ index: 0, files: ['f0', 'f1', 'f2'] }]);
    assert.deepEqual(asked.map((j) => [j.groups[0]!.files, j.part]), [[['f0', 'f1', 'f2'], 'p0'], [['f3'], 'p1']]);
    assert.deepEqual(r.whole, pairs.map((p) => counts(p, FILES.slice(0, 4))));
    assert.deepEqual(r.prefix, pairs.map((p) => counts(p, ['f0', 'f1', 'f2'])));
    assert.deepEqual(r.measured.map((m) => m.correlation), [null, null], 'no statement saw every row');
  });

  it('carried on from a scan state: only the rows from its row compared, the earlier counts added; the next snapshot\'s counts kept', async () => {
    // The earlier dataset kept counts before f2; this one has f0-f4 and its snapshot before f4.
    const known: KnownCounts = { carried: { counts: byPair(pairs.map((p) => counts(p, ['f0', 'f1']))), from: [{ index: 0, files: ['f2', 'f3', 'f4'] }] } };
    const r = await countPairs(compare, 'run', groups(FILES), pairs, known, [{ index: 0, files: ['f0', 'f1', 'f2', 'f3'] }]);
    assert.deepEqual(asked.map((j) => j.groups[0]!.files), [['f2', 'f3'], ['f4']], 'f0 and f1 never read');
    assert.deepEqual(r.whole, pairs.map((p) => counts(p, FILES)));
    assert.deepEqual(r.prefix, pairs.map((p) => counts(p, ['f0', 'f1', 'f2', 'f3'])));
    assert.deepEqual([r.carried, r.taken], [2, 0]);
  });

  it('a pair the earlier dataset did not count is compared over every row beside the carried ones', async () => {
    const known: KnownCounts = { carried: { counts: byPair([counts(pairs[0]!, ['f0', 'f1'])]), from: [{ index: 0, files: ['f2', 'f3', 'f4'] }] } };
    const r = await countPairs(compare, 'run', groups(FILES), pairs, known, [{ index: 0, files: ['f0', 'f1', 'f2', 'f3'] }]);
    assert.deepEqual(r.whole, pairs.map((p) => counts(p, FILES)));
    const reads = asked.flatMap((j) => j.pairs.map((p) => `${p.b}:${j.groups[0]!.files.join('')}`)).sort();
    assert.deepEqual(reads, ['b:f2f3', 'b:f4', 'c:f0f1f2f3', 'c:f4']);
  });

  it('carried counts that end after the snapshot give the totals but keep no counts before it', async () => {
    // The earlier state's row is past this dataset's snapshot (f0-f2 before it, carried from f3).
    const known: KnownCounts = { carried: { counts: byPair(pairs.map((p) => counts(p, ['f0', 'f1', 'f2']))), from: [{ index: 0, files: ['f3', 'f4'] }] } };
    const r = await countPairs(compare, 'run', groups(FILES), pairs, known, [{ index: 0, files: ['f0', 'f1'] }]);
    assert.deepEqual(r.whole, pairs.map((p) => counts(p, FILES)));
    assert.deepEqual(r.prefix, [], 'nothing known before the snapshot');
  });

  it('counts taken whole for pairs of unchanged columns: no statement for them', async () => {
    const known: KnownCounts = { whole: byPair([counts(pairs[0]!, FILES)]), wholePrefix: byPair([counts(pairs[0]!, ['f0', 'f1'])]) };
    const r = await countPairs(compare, 'run', groups(FILES), pairs, known, [{ index: 0, files: ['f0', 'f1'] }]);
    assert.deepEqual(asked.flatMap((j) => j.pairs.map((p) => p.b)), ['c', 'c']);
    assert.deepEqual(r.whole, pairs.map((p) => counts(p, FILES)));
    assert.deepEqual(r.prefix, pairs.map((p) => counts(p, ['f0', 'f1'])));
    assert.deepEqual([r.taken, r.carried], [1, 0]);
  });
});
