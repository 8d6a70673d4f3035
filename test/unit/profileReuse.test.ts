// The incremental profile's core (shared/profile/reuseStats.ts, storedProfile.ts) against an
// in-memory warehouse that measures with the same one-pass scan as DuckDB (columnScan.ts): with an
// earlier dataset's stored columns and k changed features, the warehouse is asked for exactly
// those features' columns (and the key), and the profile equals the one measured from scratch on
// the same data; anything that does not match (labels, window, rows, settings, files) is measured.

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import sinon from 'sinon';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import type { RunRecord, Warehouse } from '../../shared/ports.js';
import { ColumnScan } from '../../shared/profile/columnScan.js';
import { profileDataset, type ProfileInput } from '../../shared/profile/profile.js';
import { reusableColumns, type EarlierColumns } from '../../shared/profile/reuseStats.js';
import { readStoredColumns, readStoredEnd, readStoredSample, readStoredScan, STORED_PROFILE_VERSION, writeStoredProfile, type StoredColumns } from '../../shared/profile/storedProfile.js';
import { keepProfile } from '../../shared/chain/profileReuse.js';
import { paths } from '../../shared/naming.js';
import type { ColumnComparison, CompareJob, ProfileBasis, ProfileData, ProfileJob } from '../../shared/profile/types.js';
import { tempDir } from '../helpers/temp.js';

const ROWS = 900;
const KEY = 'interval_time';
const LABELS = ['target_bqx45_h15', 'target_bqx90_h30'];
const SETTINGS = { warmupRows: 120, staleShare: 0.5 };
type Table = Record<string, (number | null)[]>;

/** Deterministic values: a few shapes the findings look for (constant, duplicate, leak, stale, warm-up). */
function table(seed: number, changed: readonly string[] = []): Table {
  const v = (f: (i: number) => number | null, s = seed) => Array.from({ length: ROWS }, (_, i) => f(i + s * 0.37));
  const t: Table = {
    target_bqx45_h15: v((i) => Math.sin(i / 17) * 3 + i / 50, 0),
    target_bqx90_h30: v((i) => (i > ROWS - 40 ? null : Math.cos(i / 23)), 0),
    agg_a: v((i) => Math.sin(i * 1.3) * 10),
    agg_b: v((i) => (Math.floor(i) % 9 === 0 ? null : Math.cos(i * 0.7))),
    mom_x: v((i) => Math.sin(i / 3) + Math.cos(i / 11)),
    mkt_c: v(() => 4.25, 0),
    mkt_x2: v((i) => Math.sin(i / 3) + Math.cos(i / 11)),
    der_leak: v(() => null, 0),
    vol_stale: v((i) => Math.floor(i / 40)),
    var_warm: v((i) => (i < 100 ? null : Math.sin(i))),
  };
  // A copy of the first label, 5 rows back: a leak (the label looks 15 minutes ahead).
  t.der_leak = t.target_bqx45_h15!.map((_, i) => (i >= 5 ? t.target_bqx45_h15![i - 5]! : null));
  // The duplicate pair agrees in both versions of the data.
  t.mkt_x2 = [...t.mom_x!];
  // A recalculation: new values, constant over 40-row blocks so a stale column stays stale.
  for (const c of changed) t[c] = t[c]!.map((x, i) => (x === null ? null : x + 0.5 + (Math.floor(i / 40) % 7) * 0.01));
  return t;
}

const FEATURES: Record<string, string[]> = { agg: ['agg_a', 'agg_b'], mom: ['mom_x'], mkt: ['mkt_c', 'mkt_x2'], der: ['der_leak'], vol: ['vol_stale'], var: ['var_warm'] };

/** A warehouse holding one dataset in memory; `profile` scans with columnScan like the DuckDB adapter. */
class MemoryWarehouse implements Pick<Warehouse, 'profile' | 'compareColumns'> {
  constructor(readonly data: Table) {}

  async profile(job: ProfileJob): Promise<ProfileData> {
    const names = job.groups.flatMap((g) => g.columns.filter((c) => c !== job.key));
    const scan = new ColumnScan(names, job, job.rows);
    scan.add(job.rows, (j) => {
      const raw = this.data[names[j]!]!;
      const valid = new Uint32Array(Math.ceil(job.rows / 32));
      raw.forEach((x, r) => x !== null && (valid[r >>> 5]! |= 1 << (r & 31)));
      return { values: Float64Array.from(raw, (x) => x ?? 0), valid };
    });
    const columns = scan.stats(new Set(job.labels));
    for (const s of columns) {
      const finite = this.data[s.column]!.filter((x): x is number => x !== null && Number.isFinite(x));
      s.beyond10sd = s.sd ? finite.filter((x) => Math.abs(x - s.mean!) > 10 * s.sd!).length : 0;
    }
    const values: Record<string, Float64Array> = {};
    names.forEach((n, j) => (values[n] = scan.sample[j]!));
    return { columns, gaps: [{ from: '2021-03-01T10:00:00.000Z', to: '2021-03-01T11:30:00.000Z', minutes: 90 }], sample: { rows: scan.sampleRows, values }, cutRows: job.cuts.map((_, i) => i * 100) };
  }

  async compareColumns(job: CompareJob): Promise<ColumnComparison[]> {
    return job.pairs.map((p) => {
      const [a, b] = [this.data[p.a]!, this.data[p.b]!];
      let both = 0, equal = 0, nullMismatch = 0;
      const xs: number[] = [], ys: number[] = [];
      for (let r = 0; r < ROWS; r += job.step) {
        const x = a[r] ?? null;
        const y = r - p.shift >= 0 && r - p.shift < ROWS ? (b[r - p.shift] ?? null) : null;
        if (x === null && y === null) continue;
        if (x === null || y === null) { nullMismatch++; continue; }
        both++;
        if (x === y) equal++;
        xs.push(x), ys.push(y);
      }
      const mean = (v: number[]) => v.reduce((s, z) => s + z, 0) / v.length;
      const [mx, my] = [mean(xs), mean(ys)];
      const cov = xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0);
      const sd = (v: number[], m: number) => Math.sqrt(v.reduce((s, z) => s + (z - m) ** 2, 0));
      const den = sd(xs, mx) * sd(ys, my);
      return { ...p, both, equal, nullMismatch, correlation: den > 0 ? cov / den : null };
    });
  }
}

const GROUPS = [
  { index: 0, files: ['g0.parquet'], columns: [KEY, ...LABELS, 'agg_a', 'agg_b', 'mom_x'] },
  { index: 1, files: ['g1.parquet'], columns: [KEY, 'mkt_c', 'mkt_x2', 'der_leak', 'vol_stale', 'var_warm'] },
];
const INPUT: ProfileInput = { runId: 'eurusd-20260101t000000-aaaaaa', pair: 'eurusd', key: KEY, groups: GROUPS, labels: LABELS, rows: ROWS, cuts: ['2021-03-01T05:00:00Z', '2021-03-01T09:00:00Z'] };

function basis(changed: readonly string[] = [], over: Partial<ProfileBasis> = {}): ProfileBasis {
  return {
    window: { start: '2021-03-01T00:00:00.000Z', end: '2021-03-01T15:00:00.000Z' },
    key: KEY,
    rows: ROWS,
    profiledWith: JSON.stringify({ cuts: INPUT.cuts, rows: ROWS, ...SETTINGS }),
    labels: { dataset: 'labels', table: 'targets_eurusd', version: 'v1', columns: LABELS },
    features: Object.entries(FEATURES).map(([f, cols]) => ({
      feature: `${f}_eurusd`,
      fingerprint: `fp-${f}${changed.includes(f) ? '-2' : ''}`,
      files: [`runs/${changed.includes(f) ? 'r2' : 'r1'}/features/${f}_eurusd/part-00000.parquet`],
      columns: cols.map((c) => ({ source: c.slice(c.indexOf('_') + 1), output: c, type: 'FLOAT64' })),
    })),
    ...over,
  };
}

describe('incremental profile: stored columns reused, the rest measured', () => {
  const sandbox = sinon.createSandbox();
  let store: FolderObjectStore;
  let earlier: EarlierColumns;
  const objects = { columns: 'training/eurusd/r1/profile/columns.json', sample: 'training/eurusd/r1/profile/sample.f64', scan: 'training/eurusd/r1/profile/scan.f64' };

  before(async () => {
    store = new FolderObjectStore(tempDir('profile-reuse'));
    // The earlier dataset: measured in full, stored, read back as a later run would.
    const first = await profileDataset(new MemoryWarehouse(table(1)) as unknown as Warehouse, INPUT, SETTINGS);
    assert.equal(first.reuse.profiled, 10);
    await writeStoredProfile(store, objects, basis(), first.data);
    const head = (await readStoredColumns(store, objects))!;
    const values = (await readStoredSample(store, objects, head))!;
    assert.deepEqual(head.columns, first.data.columns, 'statistics round-trip');
    assert.deepEqual(values, first.data.sample.values, 'sample values round-trip, bit for bit');
    assert.deepEqual(head.compared, first.data.compared, 'the duplicate pairs\' counts round-trip');
    assert.equal(head.compared!.length, 1);
    assert.deepEqual(head.leakage, first.data.leakage, 'the leakage screen round-trips');
    assert.deepEqual(head.leakage!.shifted, [{ a: 'der_leak', b: 'target_bqx45_h15', shift: 5 }], 'the planted leak is among its pairs');
    earlier = { from: 'r1', basis: head.basis, columns: head.columns, sample: { rows: head.sampleRows, values }, compared: head.compared!, leakage: head.leakage! };
  });
  afterEach(() => sandbox.restore());

  /** Profiles `data` with reuse of `earlier` against basis `now`, and from scratch; returns both and what the warehouse was asked. */
  async function both(data: Table, now: ProfileBasis) {
    const warehouse = new MemoryWarehouse(data);
    const spy = sandbox.spy(warehouse, 'profile');
    const plan = reusableColumns(earlier.basis, now);
    const reused = await profileDataset(warehouse as unknown as Warehouse, INPUT, SETTINGS, plan.columns.length > 0 ? { columns: earlier, reusable: plan.columns } : undefined);
    const asked = spy.getCalls().map((c) => c.args[0].groups.map((g) => g.columns));
    const scratch = await profileDataset(new MemoryWarehouse(data) as unknown as Warehouse, INPUT, SETTINGS);
    return { plan, reused, scratch, asked };
  }

  it('asks the warehouse only for the changed features\' columns (and the key), and gives the profile a full pass gives', async () => {
    const { plan, reused, scratch, asked } = await both(table(1, ['agg_a', 'agg_b', 'vol_stale']), basis(['agg', 'vol']));
    assert.equal(plan.why, undefined);
    assert.deepEqual(asked, [[[KEY, 'agg_a', 'agg_b'], [KEY, 'vol_stale']]]);
    // The leakage screen: the 4 unchanged features' pairs taken (mkt_c is constant, not screened), the 3 changed screened.
    assert.deepEqual(reused.reuse, { profiled: 3, reused: 7, from: 'r1', pairs: { compared: 0, taken: 1, carried: 0 }, screened: { taken: 4, screened: 3 } });
    assert.deepEqual(reused.profile, scratch.profile);
    assert.deepEqual(reused.data, scratch.data);
    assert.deepEqual(reused.cutRows, scratch.cutRows);
    // The changed columns got their new numbers, not the stored ones.
    const mean = (p: typeof reused, c: string) => p.data.columns.find((s) => s.column === c)!.mean;
    assert.notEqual(mean(reused, 'agg_a'), earlier.columns.find((s) => s.column === 'agg_a')!.mean);
    assert.ok(reused.profile.stale.includes('vol_stale') && reused.profile.duplicates.length === 1 && reused.profile.leakage.length === 1, JSON.stringify(reused.profile));
  });

  it('a changed feature that breaks a finding: the leak is gone, as a full pass finds', async () => {
    const data = table(1);
    data.der_leak = data.der_leak!.map((x, i) => (x === null ? null : Math.sin(i * 2.1)));
    const { reused, scratch, asked } = await both(data, basis(['der']));
    assert.deepEqual(asked, [[[KEY], [KEY, 'der_leak']]]);
    assert.deepEqual(reused.profile.leakage, []);
    assert.deepEqual(reused.profile, scratch.profile);
    // The changed feature was screened again: its stored pair (the leak) was not taken.
    assert.deepEqual(reused.reuse.screened, { taken: 6, screened: 1 });
    assert.deepEqual(reused.data.leakage, scratch.data.leakage);
    assert.deepEqual(reused.data.leakage!.shifted, []);
  });

  it('nothing changed: only the key is read (gaps, fold rows), every column is taken', async () => {
    const { reused, scratch, asked } = await both(table(1), basis());
    assert.deepEqual(asked, [[[KEY]]]);
    // The one duplicate pair is of two unchanged columns: its counts are taken, not compared again.
    assert.deepEqual(reused.reuse, { profiled: 0, reused: 10, from: 'r1', pairs: { compared: 0, taken: 1, carried: 0 }, screened: { taken: 7, screened: 0 } });
    assert.deepEqual(reused.profile, scratch.profile);
  });

  it('measures every column when the label rows changed, or the window, rows or settings differ', async () => {
    const labelsMoved = basis([], { labels: { ...basis().labels, version: 'v2' } });
    const unknown = basis([], { labels: { ...basis().labels, version: null } });
    const window = basis([], { window: { start: '2021-03-01T00:00:00.000Z', end: '2021-03-01T16:00:00.000Z' } });
    const rows = basis([], { rows: ROWS + 1 });
    const settings = basis([], { profiledWith: JSON.stringify({ cuts: INPUT.cuts, rows: ROWS, warmupRows: 60, staleShare: 0.5 }) });
    for (const [now, why] of [[labelsMoved, /label rows changed/], [unknown, /version is unknown/], [window, /another window/], [rows, /other rows/], [settings, /other fold cuts or settings/]] as const) {
      const data = table(1, now === labelsMoved ? ['target_bqx45_h15'] : []);
      const { plan, reused, scratch, asked } = await both(data, now);
      assert.match(plan.why!, why);
      assert.deepEqual(asked, [GROUPS.map((g) => g.columns)], 'every column measured');
      assert.equal(reused.reuse.reused, 0);
      assert.deepEqual(reused.profile, scratch.profile);
    }
  });

  it('takes a feature only from the very same checkpoint: same fingerprint, same files, same column mapping', () => {
    const now = basis();
    const [agg, mom, mkt, der, vol] = now.features;
    agg!.files = ['runs/r3/features/agg_eurusd/part-00000.parquet']; // same content by fingerprint, other files
    mom!.fingerprint = null; // version unknown
    mkt!.columns = [...mkt!.columns].reverse(); // other mapping
    der!.fingerprint = 'fp-der-2';
    now.features = now.features.filter((f) => f !== vol); // a table gone: its columns are simply not wanted
    assert.deepEqual(reusableColumns(earlier.basis, now).columns, [...LABELS, 'var_warm']);
  });

  it('a stored sample that is cut short or altered is not used', async () => {
    const head = (await readStoredColumns(store, objects))!;
    const bytes = Buffer.from(await store.read(objects.sample));
    const copy = { columns: 'training/eurusd/r9/profile/columns.json', sample: 'training/eurusd/r9/profile/sample.f64', scan: 'training/eurusd/r9/profile/scan.f64' };
    await store.write(copy.columns, await store.read(objects.columns));
    bytes[100] = bytes[100]! ^ 1;
    await store.write(copy.sample, bytes);
    assert.equal(await readStoredSample(store, copy, head), undefined, 'altered');
    await store.write(copy.sample, bytes.subarray(0, bytes.length - 8));
    assert.equal(await readStoredSample(store, copy, head), undefined, 'cut short');
    await fs.rm(store.localPath(copy.sample));
    assert.equal(await readStoredSample(store, copy, head), undefined, 'gone');
    await store.write(copy.columns, JSON.stringify({ ...head, version: 0 }));
    assert.equal(await readStoredColumns(store, copy), undefined, 'another layout version');
    assert.ok(path.basename(objects.sample).endsWith('.f64'));
    // Read while the pass measures the changed columns, and found not whole then: every column is measured.
    const lazy = { ...earlier, sample: { rows: earlier.sample.rows, values: readStoredSample(store, copy, head) } };
    const data = table(1, ['agg_a']);
    const warehouse = new MemoryWarehouse(data);
    const spy = sandbox.spy(warehouse, 'profile');
    const measured = await profileDataset(warehouse as unknown as Warehouse, INPUT, SETTINGS, { columns: lazy, reusable: reusableColumns(earlier.basis, basis(['agg'])).columns });
    assert.deepEqual(spy.getCalls().map((c) => c.args[0].groups.map((g) => g.columns)), [[[KEY, 'agg_a', 'agg_b']], GROUPS.map((g) => g.columns)], 'the changed columns, then every column');
    assert.deepEqual(measured.reuse, { profiled: 10, reused: 0, why: 'the stored profile of r1 is incomplete', pairs: { compared: 0, taken: 1, carried: 0 } });
    assert.deepEqual(measured.profile, (await profileDataset(new MemoryWarehouse(data) as unknown as Warehouse, INPUT, SETTINGS)).profile);
  });

  it('keeps the scan state at the last shard\'s first row and after the last row, each with its tails and pair counts; an altered one is not used', async () => {
    const at = (row: number, seed: number) => ({ row, columns: ['agg_a', 'mom_x'], values: Float64Array.from({ length: 2 * 16 }, (_, i) => seed + i / 8) });
    const compared = [{ a: 'mom_x', b: 'mkt_x2', both: 800, equal: 800, nullMismatch: 0 }];
    const scan = { state: at(600, 1), prefix: [{ index: 0, files: ['a.parquet'] }], compared, tails: { agg_a: { lo: -8, hi: 8, values: Float64Array.of(9.5, -12) } } };
    const end = { state: at(ROWS, 2), prefix: [{ index: 0, files: ['a.parquet', 'b.parquet'] }], compared: [{ ...compared[0]!, both: 900, equal: 900 }], tails: { agg_a: { lo: -8, hi: 8, values: Float64Array.of(9.5, -12, 30) } } };
    const kept = { ...objects, columns: 'training/eurusd/r7/profile/columns.json', sample: 'training/eurusd/r7/profile/sample.f64', scan: 'training/eurusd/r7/profile/scan.f64', tails: 'training/eurusd/r7/profile/tails.f64', end: 'training/eurusd/r7/profile/end.f64', endTails: 'training/eurusd/r7/profile/end-tails.f64' };
    const data = { columns: earlier.columns, sample: { rows: earlier.sample.rows, values: (await earlier.sample.values)! } };
    await writeStoredProfile(store, kept, basis(), data, scan, end);
    const head = (await readStoredColumns(store, kept))!;
    assert.deepEqual(await readStoredScan(store, kept, head), scan, 'the state at the last shard\'s first row round-trips');
    assert.deepEqual(await readStoredEnd(store, kept, head), end, 'the state after the last row round-trips, with its own tails');
    const bytes = Buffer.from(await store.read(kept.end));
    bytes[3] = bytes[3]! ^ 1;
    await store.write(kept.end, bytes);
    assert.equal(await readStoredEnd(store, kept, head), undefined, 'an altered end state is not used');
    assert.deepEqual(await readStoredScan(store, kept, head), scan, 'the other one still is');
    // Written again without an end state: the older end objects are removed, not left described by nothing.
    await writeStoredProfile(store, kept, basis(), data, scan);
    assert.equal((await readStoredColumns(store, kept))!.end, undefined);
    assert.equal(await store.size(kept.end), undefined);
    assert.equal(await store.size(kept.endTails), undefined);
  });
});

describe('stored profile: kept by copying an earlier one', () => {
  it('an earlier object gone since its head was read leaves no profile and a warning, and the run goes on', async () => {
    const output = new FolderObjectStore(tempDir('profile-copy'));
    const from = paths.outputProfile('eurusd', 'eurusd-20200101t000000-aaaaaa');
    const head = { version: STORED_PROFILE_VERSION, basis: {}, columns: [], sampleRows: [], sample: { bytes: 0, sha256: 'x' } } as unknown as StoredColumns;
    const warn = sinon.stub();
    const logger = { debug: () => {}, info: () => {}, warn, error: () => {} };
    const run = { runId: 'eurusd-20200102t000000-bbbbbb', pair: 'eurusd' } as RunRecord;
    await output.write(paths.outputProfile('eurusd', run.runId).columns, '{"stale": true}');
    await keepProfile({ output, logger }, run, { basis: {} as ProfileBasis, copy: { from, head } });
    sinon.assert.calledOnce(warn);
    assert.match(warn.firstCall.args[0], /the raw column profile is not kept \(copying .*sample|ENOENT/);
    assert.deepEqual(await output.list(paths.outputProfile('eurusd', run.runId).dir), [], 'nothing left that would not describe the dataset');
  });
});
