// The incremental profile end to end on a narrow planted demo: after `touchTables` of two tables, a
// run measures only those tables' columns and takes the rest from the last dataset's stored
// profile; its report.json `profile` equals that of a `--no-reuse` full run of the same window,
// the touched columns carry their new numbers (no stale reuse), a run with nothing changed copies
// the stored profile, and retention removes the stored profile with its dataset.

import assert from 'node:assert/strict';
import sinon from 'sinon';
import { formatReport } from '../../shared/cli/report.js';
import { touchTables } from '../../shared/demo/change.js';
import { paths } from '../../shared/naming.js';
import type { MergeProgress, RunRecord } from '../../shared/ports.js';
import type { RunReport } from '../../shared/report.js';
import { readStoredColumns, readStoredEnd, readStoredSample, type StoredColumns } from '../../shared/profile/storedProfile.js';
import type { DatasetProfile, ProfileData, ProfileJob, ProfileReuse } from '../../shared/profile/types.js';
import { collectGarbage } from '../../shared/retention.js';
import type { Embedded } from '../../shared/runtime/embedded.js';
import { openTest, succeededRun, testConfig, writeDemoHome } from '../helpers/embedded.js';
import { tempDir } from '../helpers/temp.js';

const ROWS = 6000;
const START = '2020-01-09T00:00:00Z'; // a Thursday: the window holds a weekend
const TABLES = /^(mkt_[a-z]+|der_eurusd|mom_eurusd|agg_eurusd|tri_agg_bqx_eur_gbp_aud)$/;
const RULES = 'mkt_*,!mkt_*_summary,der_{pair},mom_{pair},agg_{pair},tri_agg_bqx_eur_gbp_aud';
/** The planted leak's table and an ordinary one. */
const TOUCHED = ['der_eurusd', 'agg_eurusd'];

interface Report extends RunReport {
  profile: DatasetProfile;
  profileReuse: ProfileReuse;
}

describe('incremental profile (embedded, planted demo)', function () {
  this.timeout(120_000);
  const sandbox = sinon.createSandbox();
  let e: Embedded;
  let home: string;

  const report = async (run: RunRecord): Promise<Report> => JSON.parse(Buffer.from(await e.output.read(run.output!.report)).toString('utf8'));
  const stored = async (run: RunRecord): Promise<StoredColumns> => (await readStoredColumns(e.output, paths.outputProfile(run.pair, run.runId)))!;
  const sample = async (run: RunRecord) => Buffer.from(await e.output.read(paths.outputProfile(run.pair, run.runId).sample));
  const asked = (spy: sinon.SinonSpy<[job: ProfileJob, progress?: (p: MergeProgress) => void], Promise<ProfileData>>) => spy.getCalls().flatMap((c) => c.args[0].groups.flatMap((g) => g.columns.slice(1)));

  before(async () => {
    home = tempDir('profile-reuse');
    await writeDemoHome(home, { pairs: ['eurusd'], rows: ROWS, start: START, only: (t) => TABLES.test(t) });
  });
  afterEach(() => sandbox.restore());
  after(async () => e?.close());

  it('measures only the touched tables\' columns, equals a --no-reuse full profile, and retention removes the stored profile with its dataset', async () => {
    e = await openTest(testConfig(home, { BQX_TABLE_RULES: RULES, BQX_PROFILE: 'full', BQX_KEEP: '10' }));
    const first = await succeededRun(e);
    const firstReport = await report(first);
    const columns = firstReport.profile.columns.length;
    assert.equal(firstReport.profileReuse.profiled, columns);
    assert.equal(firstReport.profileReuse.reused, 0);
    assert.equal(firstReport.profile.leakage.length, 1, 'the planted leak, before the touch');
    const firstStored = await stored(first);
    assert.equal(firstStored.columns.length, columns);
    assert.equal((await sample(first)).length, columns * firstStored.sampleRows.length * 8);

    await touchTables(e.warehouse, { featuresDataset: e.deps.config.featuresDataset, labelsDataset: e.deps.config.labelsDataset, labelTablePrefix: e.deps.config.labelTablePrefix, metadataColumns: e.deps.config.metadataColumns }, TOUCHED);
    const manifest = JSON.parse(Buffer.from(await e.output.read(first.output!.manifest)).toString('utf8')) as { ledger: { column: string; table: string }[] };
    const touchedColumns = manifest.ledger.filter((l) => TOUCHED.includes(l.table)).map((l) => l.column);
    assert.ok(touchedColumns.length >= 10 && touchedColumns.length < columns / 2, `${touchedColumns.length} of ${columns}`);

    let spy = sandbox.spy(e.warehouse, 'profile');
    const second = await succeededRun(e);
    assert.deepEqual(second.reuse?.extracted, TOUCHED.length);
    assert.deepEqual(asked(spy).sort(), [...touchedColumns].sort(), 'only the touched tables\' columns are measured');
    const secondReport = await report(second);
    // The planted duplicate pair is of untouched columns: its counts are the first dataset's.
    const { screened, ...reuse } = secondReport.profileReuse;
    assert.deepEqual(reuse, { profiled: touchedColumns.length, reused: columns - touchedColumns.length, from: first.runId, pairs: { compared: 0, taken: 1, carried: 0 } });
    // The leakage screen took the untouched features' pairs and screened the touched tables' again (the planted leak's among them).
    assert.ok(screened && screened.taken > 0 && screened.screened > 0 && screened.screened <= touchedColumns.length, JSON.stringify(screened));
    assert.ok(second.timings.profile_ms! >= 0);
    assert.match(formatReport(second.runId, second.state, secondReport, 'report.html'), new RegExp(`columns profiled: ${touchedColumns.length} measured, ${columns - touchedColumns.length} taken from ${first.runId}`));
    assert.match(formatReport(second.runId, second.state, secondReport, 'report.html'), new RegExp(`leakage screen: ${screened!.screened.toLocaleString('en-US')} column\\(s\\) screened, ${screened!.taken.toLocaleString('en-US')} taken from ${first.runId}'s screen`));

    // No stale reuse: the touched columns have new numbers, the others the very same.
    const secondStored = await stored(second);
    const mean = (s: StoredColumns, c: string) => s.columns.find((x) => x.column === c)!.mean;
    for (const c of touchedColumns.filter((c) => mean(firstStored, c) !== null)) assert.notEqual(mean(secondStored, c), mean(firstStored, c), c);
    assert.equal(mean(secondStored, 'mkt_vol_mean_45'), mean(firstStored, 'mkt_vol_mean_45'));

    // With nothing changed, a run builds nothing, takes the last profile and keeps a copy of its raw columns.
    spy.restore();
    spy = sandbox.spy(e.warehouse, 'profile');
    const copies = sandbox.spy(e.output, 'copy');
    const unchanged = await succeededRun(e);
    assert.equal(spy.callCount, 0, 'nothing profiled');
    assert.deepEqual((await report(unchanged)).profileReuse, { profiled: 0, reused: columns, from: second.runId });
    assert.deepEqual((await stored(unchanged)).columns, secondStored.columns);
    assert.ok((await sample(unchanged)).equals(await sample(second)), 'the sample, byte for byte');
    // Kept by copying the second's objects as they are (no decoding): the sample and both states,
    // each whole as its columns.json describes it, under this run's basis.
    const [from, to] = [paths.outputProfile('eurusd', second.runId), paths.outputProfile('eurusd', unchanged.runId)];
    assert.deepEqual(copies.getCalls().map((c) => c.args).filter(([f]) => f.startsWith(from.dir)), [[from.sample, to.sample], [from.scan, to.scan], [from.end, to.end]].filter(([f]) => f !== from.scan || secondStored.scan));
    const unchangedStored = await stored(unchanged);
    assert.deepEqual(unchangedStored.basis.rows, unchanged.labelRows);
    assert.ok(await readStoredSample(e.output, to, unchangedStored), 'the copied sample is the one described');
    assert.equal(Boolean(await readStoredEnd(e.output, to, unchangedStored)), Boolean(secondStored.end), 'the state after the last row, whole');

    // The same window from scratch: every column measured, the same profile and raw columns.
    spy.restore();
    spy = sandbox.spy(e.warehouse, 'profile');
    const full = await succeededRun(e, { reuse: false });
    assert.equal(asked(spy).length, columns, 'every column measured');
    const fullReport = await report(full);
    assert.deepEqual(fullReport.profileReuse, { profiled: columns, reused: 0, why: 'reuse turned off', pairs: { compared: 1, taken: 0, carried: 0 } });
    assert.deepEqual(secondReport.profile, fullReport.profile);
    assert.notDeepEqual(firstReport.profile, fullReport.profile, 'the touch changed the profile');
    assert.deepEqual(secondStored.columns, (await stored(full)).columns);
    assert.ok((await sample(second)).equals(await sample(full)));

    // Retention: the stored profile goes with its dataset; a kept dataset keeps its own.
    const gc = await collectGarbage(e.deps, 'eurusd', 1);
    assert.deepEqual(gc.removed.sort(), [first.runId, second.runId, unchanged.runId].sort());
    for (const run of [first, second, unchanged]) assert.deepEqual(await e.output.list(paths.outputDir(run.pair, run.runId)), [], `${run.runId} removed whole`);
    const kept = paths.outputProfile(full.pair, full.runId);
    // One shard: no state at its first row; the state after the last row, for a refresh growing it.
    assert.deepEqual((await e.output.list(kept.dir)).map((o) => o.name).sort(), [kept.columns, kept.end, kept.sample]);
  });
});
