// The stitch's copier (spanCopy.ts): byte ranges of several open files land at their offsets in
// the target, whatever order the reads and writes finish in; a range past a source's end fails
// the copy with a clear error, and no range is started after a failure.

import assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { copySpans, type SpanCopy } from '../../shared/adapters/local/spanCopy.js';
import { tempDir } from '../helpers/temp.js';

/** `n` bytes that differ from place to place (and from file to file, by `seed`). */
function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed * 17 + (i >> 8)) & 0xff;
  return b;
}

describe('span copy (the stitch\'s reads and writes in flight together)', () => {
  let dir: string;
  before(() => (dir = tempDir('span-copy')));

  it('puts every span at its offset, with several in flight and spans of many sizes', async () => {
    const sources = [bytes(3 << 20, 1), bytes(700_001, 2)];
    const files = sources.map((b, i) => {
      const file = path.join(dir, `source-${i}`);
      writeFileSync(file, b);
      return file;
    });
    const fds = files.map((f) => openSync(f, 'r'));
    const target = path.join(dir, 'target');
    const out = openSync(target, 'w');
    try {
      // Alternating sources, odd lengths, one span over 1 MB, back to back from offset 4.
      const picks = [
        [0, 0, 5], [1, 10, 65_537], [0, 1 << 20, 1_500_000], [1, 699_000, 1_001], [0, 17, 1], [1, 0, 700_001], [0, 3_000_000, (3 << 20) - 3_000_000],
      ] as const;
      let at = 4;
      const spans: SpanCopy[] = picks.map(([s, start, length]) => {
        const span = { from: fds[s]!, start, length, at };
        at += length;
        return span;
      });
      const expected = Buffer.concat([Buffer.from('HEAD'), ...picks.map(([s, start, length]) => sources[s]!.subarray(start, start + length))]);
      writeFileSync(out, 'HEAD');
      for (const inFlight of [1, 3, 8]) {
        await copySpans(out, spans, inFlight);
        assert.ok(readFileSync(target).equals(expected), `${inFlight} in flight: the target differs from the spans laid end to end`);
      }
    } finally {
      closeSync(out);
      fds.forEach((fd) => closeSync(fd));
    }
  });

  it('fails on a span past the end of its source, and starts nothing after the failure', async () => {
    const file = path.join(dir, 'short');
    writeFileSync(file, bytes(1000, 3));
    const from = openSync(file, 'r');
    const target = path.join(dir, 'failed');
    const out = openSync(target, 'w');
    try {
      const spans: SpanCopy[] = [
        { from, start: 900, length: 200, at: 0, file }, // 100 bytes past the end
        ...Array.from({ length: 20 }, (_, i) => ({ from, start: 0, length: 10, at: 10_000 + i * 10 })),
      ];
      await assert.rejects(copySpans(out, spans, 1), /short ends before byte 1100 \(reading bytes 900-1100\)/);
      // With one in flight the failing span was the only one started, and it failed before its
      // write: the target is still empty (the spans after it would have made it 10,200 bytes).
      assert.equal(readFileSync(target).length, 0);
    } finally {
      closeSync(out);
      closeSync(from);
    }
  });
});
