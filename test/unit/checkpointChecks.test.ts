// Every rejection path of the landing's checkpoint check, each shown failing on a real parquet
// footer: the key missing, not a UTC timestamp, or null; a column missing or extra; a row count
// other than the marker's; a marker of another window; keys outside the window; row groups out of
// key order. A checkpoint that is right passes, so the check is not simply refusing everything.

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import sinon from 'sinon';
import { CheckpointError, checkCheckpoint, extendSummary, readFooter, readFooterForChecks, readFooterShape, summariseFooters, type CheckpointMarker, type FooterSummary } from '../../shared/checkpoint.js';
import type { ManifestFeature } from '../../shared/manifest.js';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { MemoryObjectStore } from '../gcp/memoryStore.js';
import { filesMeeting } from '../../shared/chain/shareShards.js';

const WINDOW = { start: '2024-01-01T00:00:00.000Z', end: '2024-01-01T01:00:00.000Z' };
const FEATURE: ManifestFeature = {
  feature: 'agg_eurusd', dataset: 'bqx_ml_v3_features_v2', dropped: [],
  columns: [{ source: 'a', output: 'agg_a', type: 'FLOAT64' }, { source: 'b', output: 'agg_b', type: 'FLOAT64' }] as ManifestFeature['columns'],
};

interface Part {
  /** Minutes after the window's start, one per row. */
  minutes: (number | null)[];
  key?: 'utc' | 'local' | 'string' | 'none';
  columns?: string[];
  rowGroupSize?: number;
  /** Rows whose value of column a is null. */
  nulls?: number[];
}

function parquet({ minutes, key = 'utc', columns = ['a', 'b'], rowGroupSize = 1000, nulls = [] }: Part): Uint8Array {
  const t0 = BigInt(Date.parse(WINDOW.start)) * 1000n;
  const keyData = minutes.map((m) => (m === null ? null : t0 + BigInt(m) * 60_000_000n));
  const schema: object[] = [{ name: 'root', num_children: columns.length + (key === 'none' ? 0 : 1) }];
  const columnData: object[] = [];
  if (key !== 'none') {
    const repetition = minutes.includes(null) ? 'OPTIONAL' : 'REQUIRED';
    if (key === 'string') {
      schema.push({ name: 'interval_time', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: repetition });
      columnData.push({ name: 'interval_time', data: keyData.map((k) => (k === null ? null : String(k))) });
    } else {
      schema.push({ name: 'interval_time', type: 'INT64', repetition_type: repetition, logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: key === 'utc', unit: 'MICROS' } });
      columnData.push({ name: 'interval_time', data: keyData });
    }
  }
  for (const c of columns) {
    schema.push({ name: c, type: 'DOUBLE', repetition_type: 'OPTIONAL' });
    columnData.push({ name: c, data: minutes.map((_, i) => (c === 'a' && nulls.includes(i) ? null : i * 1.5)) });
  }
  return new Uint8Array(parquetWriteBuffer({ columnData, schema, rowGroupSize } as Parameters<typeof parquetWriteBuffer>[0]));
}

/** Writes the parts as the checkpoint's files and checks it; the CheckpointError's reason, or 'passed'. */
async function check(parts: Part[], marker: Partial<CheckpointMarker> = {}): Promise<string> {
  const store = new MemoryObjectStore('staging');
  const files = parts.map((_, i) => `runs/r/features/agg_eurusd/part-${String(i).padStart(5, '0')}.parquet`);
  for (const [i, part] of parts.entries()) await store.write(files[i]!, parquet(part));
  const rows = parts.reduce((s, p) => s + p.minutes.length, 0);
  const full: CheckpointMarker = { runId: 'r', feature: 'agg_eurusd', window: WINDOW, files, rows, sourceRows: rows, duplicates: 0, writtenAt: WINDOW.start, ...marker };
  // The landing reads footers with footerChecks.ts; hyparquet's whole parse must come to the same.
  const outcome = async (read: typeof readFooterForChecks): Promise<string | Error> => {
    try {
      checkCheckpoint(FEATURE, WINDOW, full, summariseFooters(await Promise.all(files.map((f) => read(store, f)))));
      return 'passed';
    } catch (error) {
      if (!(error instanceof CheckpointError)) return error as Error;
      assert.match(error.message, /^checkpoint of agg_eurusd is invalid: /);
      return error.message.replace(/^checkpoint of agg_eurusd is invalid: /, '');
    }
  };
  const [lean, whole] = [await outcome(readFooterForChecks), await outcome(readFooter)];
  assert.deepEqual(String(lean), String(whole), 'the footer read for the checks and hyparquet\'s whole parse agree');
  if (whole instanceof Error) throw whole;
  return whole;
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('checkpoint check (landing): every rejection path', () => {
  it('passes a checkpoint that is right, in one file or several in key order', async () => {
    assert.equal(await check([{ minutes: range(0, 60) }]), 'passed');
    assert.equal(await check([{ minutes: range(0, 30) }, { minutes: range(30, 60) }]), 'passed');
  });

  const cases: [string, () => Promise<string>, string | RegExp][] = [
    ['the key column is missing', () => check([{ minutes: range(0, 10), key: 'none' }]), 'no interval_time column'],
    ['the key is a local (not UTC) timestamp', () => check([{ minutes: range(0, 10), key: 'local' }]), 'interval_time is TIMESTAMP(MICROS,local), expected a UTC timestamp'],
    ['the key is a string', () => check([{ minutes: range(0, 10), key: 'string' }]), /^interval_time is BYTE_ARRAY, expected a UTC timestamp$/],
    ['the key has nulls', () => check([{ minutes: [0, 1, null, 3] }]), 'interval_time has null values'],
    ['a column is missing', () => check([{ minutes: range(0, 10), columns: ['a'] }]), 'missing columns b'],
    ['a column is extra', () => check([{ minutes: range(0, 10), columns: ['a', 'b', 'c'] }]), 'unexpected columns c'],
    ['the row count is not the marker\'s', () => check([{ minutes: range(0, 10) }], { rows: 11 }), 'footers count 10 rows, the marker says 11'],
    ['the marker is for another window', () => check([{ minutes: range(0, 10) }], { window: { ...WINDOW, end: '2024-01-02T00:00:00.000Z' } }), /^extracted for window \[2024-01-01T00:00:00.000Z, 2024-01-02T00:00:00.000Z\), the run's is/],
    ['keys fall before the window', () => check([{ minutes: range(-5, 10) }]), /^keys 2023-12-31T23:55:00.000Z\.\.2024-01-01T00:09:00.000Z fall outside the window/],
    ['keys fall at or after its end', () => check([{ minutes: range(50, 61) }]), /^keys 2024-01-01T00:50:00.000Z\.\.2024-01-01T01:00:00.000Z fall outside the window/],
    ['files are out of key order', () => check([{ minutes: range(30, 60) }, { minutes: range(0, 30) }]), 'row groups are not in key order'],
    ['row groups overlap within a file', () => check([{ minutes: [...range(0, 10), ...range(5, 15)], rowGroupSize: 10 }]), 'row groups are not in key order'],
  ];
  it('cannot summarise the files of one checkpoint whose schemas differ (the landing rejects it as invalid)', async () => {
    const store = new MemoryObjectStore('staging');
    await store.write('p0.parquet', parquet({ minutes: range(0, 10) }));
    await store.write('p1.parquet', parquet({ minutes: range(10, 20), columns: ['a', 'c'] }));
    const footers = [await readFooter(store, 'p0.parquet'), await readFooter(store, 'p1.parquet')];
    assert.throws(() => summariseFooters(footers), /^Error: files of one checkpoint have different schemas$/);
  });

  for (const [what, run, reason] of cases) {
    it(`rejects a checkpoint when ${what}`, async () => {
      const got = await run();
      if (typeof reason === 'string') assert.equal(got, reason);
      else assert.match(got, reason);
    });
  }
});

describe('a refresh\'s checkpoint summary, extended from the earlier record (landing)', () => {
  /** Summarises the parts' footers, as the landing does when it reads every file. */
  async function summaryOf(parts: Part[]): Promise<FooterSummary> {
    const store = new MemoryObjectStore('staging');
    for (const [i, part] of parts.entries()) await store.write(`p${i}.parquet`, parquet(part));
    return summariseFooters(await Promise.all(parts.map((_, i) => readFooter(store, `p${i}.parquet`))));
  }
  /** What a landed record keeps of a summary (null counts by output name). */
  const recordOf = (s: FooterSummary) => ({
    rows: s.rows, bytes: s.bytes, minKey: s.minKey, maxKey: s.maxKey, fileKeys: s.fileKeys!,
    nullCounts: Object.fromEntries(FEATURE.columns.map((c) => [c.output, s.nullCounts.get(c.source)!])),
  });
  const output = (source: string) => FEATURE.columns.find((c) => c.source === source)?.output;

  it('equals summarising every footer: new files appended, and a carried last file rewritten into the first new one', async () => {
    const earlier: Part[] = [{ minutes: range(0, 20), nulls: [3, 4] }, { minutes: range(20, 40), nulls: [0] }, { minutes: range(40, 45), nulls: [1] }];
    const appended: Part[] = [{ minutes: range(45, 55), nulls: [2, 9] }, { minutes: range(55, 60) }];
    const whole = await summaryOf([...earlier, ...appended]);
    const extended = extendSummary(recordOf(await summaryOf(earlier)), undefined, await summaryOf(appended), output);
    assert.deepEqual(extended, whole);
    assert.equal(extended!.nullCounts.get('a'), 6);

    // The last earlier file (minutes 40-44) is carried: the first new file holds its rows and the new ones.
    const carried: Part[] = [{ minutes: range(40, 55), nulls: [1, 7] }, { minutes: range(55, 60) }];
    const wholeCarried = await summaryOf([earlier[0]!, earlier[1]!, ...carried]);
    const extendedCarried = extendSummary(recordOf(await summaryOf(earlier)), await summaryOf([earlier[2]!]), await summaryOf(carried), output);
    assert.deepEqual(extendedCarried, wholeCarried);
    assert.equal(extendedCarried!.rows, 60);
  });

  it('keeps what the check refuses: new rows not after the earlier ones are out of key order', async () => {
    const earlier = await summaryOf([{ minutes: range(0, 30) }]);
    const overlapping = extendSummary(recordOf(earlier), undefined, await summaryOf([{ minutes: range(29, 40) }]), output)!;
    assert.equal(overlapping.keyOrdered, false);
    const marker: CheckpointMarker = { runId: 'r', feature: 'agg_eurusd', window: WINDOW, files: [], rows: overlapping.rows, sourceRows: 0, duplicates: 0, writtenAt: WINDOW.start };
    assert.throws(() => checkCheckpoint(FEATURE, WINDOW, marker, overlapping), /row groups are not in key order/);
    assert.equal(extendSummary(recordOf(earlier), undefined, await summaryOf([{ minutes: range(30, 40) }]), output)!.keyOrdered, true);
  });

  it('declines where the record cannot vouch: a column it has no count for, or a carried file and no rows after it', async () => {
    const earlier = await summaryOf([{ minutes: range(0, 30) }, { minutes: range(30, 35) }]);
    const withC = await summaryOf([{ minutes: range(35, 40), columns: ['a', 'b', 'c'] }]);
    assert.equal(extendSummary(recordOf(earlier), undefined, withC, (c) => (c === 'c' ? 'agg_c' : output(c))), undefined);
    assert.equal(extendSummary(recordOf(earlier), await summaryOf([{ minutes: range(30, 35) }]), await summaryOf([{ minutes: [] }]), output), undefined);
  });
});

describe('footer reads from a local store (a refresh reads thousands)', () => {
  /** A folder store that counts the bytes its ranged reads return. */
  async function countingStore() {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bqx-footer-'));
    const store = new FolderObjectStore(dir);
    const read = { bytes: 0, calls: 0 };
    const readRange = store.readRange.bind(store);
    store.readRange = async (name, start, end) => {
      const bytes = await readRange(name, start, end);
      read.bytes += bytes.byteLength;
      read.calls++;
      return bytes;
    };
    return { dir, store, read };
  }

  it('reads the tail of a file, not the whole file, and a footer longer than the first fetch in full', async () => {
    const { dir, store, read } = await countingStore();
    try {
      // 40,000 rows of two doubles: about 640 KB of data under a footer of about 200 bytes.
      await store.write('small-footer.parquet', parquet({ minutes: range(0, 40_000), rowGroupSize: 40_000 }));
      const size = (await store.size('small-footer.parquet'))!;
      const { metadata } = await readFooter(store, 'small-footer.parquet');
      assert.equal(Number(metadata.num_rows), 40_000);
      assert.ok(read.bytes <= store.footerPrefetchBytes, `read ${read.bytes} of ${size} bytes`);
      assert.ok(size > 10 * read.bytes);

      // 200 columns in 10 row groups: a footer far over 16 KiB, fetched in a second read.
      const wide = Array.from({ length: 200 }, (_, i) => `c${i}`);
      await store.write('wide-footer.parquet', parquet({ minutes: range(0, 40), columns: wide, rowGroupSize: 4 }));
      read.bytes = 0;
      read.calls = 0;
      const footer = await readFooter(store, 'wide-footer.parquet');
      assert.equal(footer.metadata.schema.length, 202);
      assert.equal(footer.metadata.row_groups.length, 10);
      assert.equal(read.calls, 2);
      assert.ok(read.bytes > store.footerPrefetchBytes);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('the shape of a file (rows, column names) is hyparquet\'s parse of the same footer, short or long; a damaged file is refused, naming it', async () => {
    const { dir, store, read } = await countingStore();
    try {
      const wide = Array.from({ length: 200 }, (_, i) => `c${i}`);
      await store.write('narrow.parquet', parquet({ minutes: range(0, 1000), rowGroupSize: 300 }));
      await store.write('wide.parquet', parquet({ minutes: range(0, 40), columns: wide, rowGroupSize: 4 }));
      for (const name of ['narrow.parquet', 'wide.parquet']) {
        const { metadata, bytes } = await readFooter(store, name);
        read.calls = 0;
        const shape = await readFooterShape(store, name);
        assert.deepEqual(shape, { rows: Number(metadata.num_rows), columns: metadata.schema.slice(1).map((e) => e.name), bytes });
        assert.equal(read.calls, name === 'wide.parquet' ? 2 : 1, 'the tail first, the rest of a long footer after');
      }
      assert.deepEqual((await readFooterShape(store, 'wide.parquet')).columns, ['interval_time', ...wide]);

      const whole = Buffer.from(await store.read('narrow.parquet'));
      await store.write('no-magic.parquet', whole.subarray(0, whole.length - 1));
      await assert.rejects(readFooterShape(store, 'no-magic.parquet'), /no-magic\.parquet is not parquet/);
      // The footer's length kept, its bytes cut short: a field runs off the end.
      const length = whole.readUInt32LE(whole.length - 8);
      const cut = Buffer.concat([whole.subarray(0, whole.length - 8 - length), whole.subarray(whole.length - 8 - length, whole.length - 8 - Math.floor(length / 2)), whole.subarray(whole.length - 8)]);
      cut.writeUInt32LE(Math.ceil(length / 2), cut.length - 8);
      await store.write('cut.parquet', cut);
      await assert.rejects(readFooterShape(store, 'cut.parquet'), /cut\.parquet: its footer cannot be read/);
      await assert.rejects(readFooterShape(store, 'absent.parquet'), /absent\.parquet does not exist/);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('files of a checkpoint that meet a window (a merge of some shards)', () => {
  const minute = (m: number) => new Date(Date.parse(WINDOW.start) + m * 60_000).toISOString();
  const tail = { start: minute(40), end: WINDOW.end };
  /** A checkpoint of four files (the third empty), and its record as the landing writes it. */
  async function checkpoint() {
    const store = new MemoryObjectStore('staging');
    const parts: Part[] = [{ minutes: range(0, 20) }, { minutes: range(20, 40) }, { minutes: [] }, { minutes: range(40, 60) }];
    const files = parts.map((_, i) => `runs/r/features/agg_eurusd/part-0000${i}.parquet`);
    for (const [i, part] of parts.entries()) await store.write(files[i]!, parquet(part));
    const summary = summariseFooters(await Promise.all(files.map((f) => readFooterForChecks(store, f))));
    return { store, files, fileKeys: summary.fileKeys! };
  }

  it('gives every file its own key range in the summary, an empty file none', async () => {
    const { fileKeys } = await checkpoint();
    assert.deepEqual(fileKeys, [
      { minKey: minute(0), maxKey: minute(19) },
      { minKey: minute(20), maxKey: minute(39) },
      { minKey: null, maxKey: null },
      { minKey: minute(40), maxKey: minute(59) },
    ]);
  });

  it('takes the key ranges from the record without reading a footer, and finds what the footers find', async () => {
    const { store, files, fileKeys } = await checkpoint();
    const reads = sinon.spy(store, 'readRange');
    const fromRecord = await filesMeeting({ staging: store }, [{ feature: 'agg_eurusd', files, fileKeys }], tail);
    assert.equal(reads.callCount, 0, 'no footer read');
    assert.deepEqual(fromRecord, { agg_eurusd: [files[3]!] });
    // A record without them (or with another count than its files): the footers, last first, to the first file before the window.
    const fromFooters = await filesMeeting({ staging: store }, [{ feature: 'agg_eurusd', files }, { feature: 'x', files, fileKeys: fileKeys.slice(1) }], tail);
    assert.deepEqual(fromFooters, { agg_eurusd: [files[3]!], x: [files[3]!] });
    assert.ok(reads.callCount > 0);
    assert.deepEqual(await filesMeeting({ staging: store }, [{ feature: 'agg_eurusd', files, fileKeys }], { start: minute(10), end: minute(30) }), { agg_eurusd: [files[0]!, files[1]!] });
  });
});
