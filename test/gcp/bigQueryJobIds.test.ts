// What lets a redelivered message attach to the job an earlier delivery started, even after a
// redeploy: job ids pinned to literal values (a change to how ids are derived would make every
// redelivery start a duplicate job, and fails here), and jobs looked up in the location they run in
// (BigQuery answers 404 for a job asked for in another location; the fake does the same).

import assert from 'node:assert/strict';
import sinon from 'sinon';
import { JobRunner, jobIdFor } from '../../shared/adapters/gcp/bigQueryJobs.js';
import { silentLogger } from '../../shared/log.js';
import { FakeBigQuery, fakeTime } from './fakeBigQuery.js';

const CTX = { runId: 'eurusd-20250101t000000-abc123', pair: 'eurusd' };
const SPEC = {
  key: 'extract_agg_eurusd',
  step: 'extract',
  sql: 'SELECT 1 AS one WHERE @start < @end',
  params: { start: new Date('2024-01-01T00:00:00Z'), end: new Date('2024-01-02T00:00:00Z') },
};

describe('gcp/BigQuery job ids and locations', () => {
  let sandbox: sinon.SinonSandbox;
  let fake: FakeBigQuery;
  const runner = (location: string) => {
    const time = fakeTime();
    return new JobRunner(fake.client, { location, maxBytesBilled: 1e12, clock: time.clock, sleep: time.sleep, logger: silentLogger });
  };

  beforeEach(() => {
    sandbox = sinon.createSandbox();
    fake = new FakeBigQuery(sandbox);
  });
  afterEach(() => sandbox.restore());

  it('derives these literal ids (run, step, statement hash, attempt): the same after any redeploy', () => {
    assert.equal(jobIdFor(CTX, SPEC), 'bqx_eurusd-20250101t000000-abc123_extract_agg_eurusd_a6cbee2fb9e3');
    assert.equal(jobIdFor(CTX, { ...SPEC, salt: 'fp123-0' }, 2), 'bqx_eurusd-20250101t000000-abc123_extract_agg_eurusd_f4902d49fee1_r2');
  });

  it('the fake finds a job only in the location it was created in, as BigQuery does', async () => {
    await fake.client.createQueryJob({ query: 'SELECT 1', jobId: 'j1', location: 'us-central1' });
    const [metadata] = await fake.client.job('j1', { location: 'us-central1' }).getMetadata();
    assert.equal(metadata.jobReference.location, 'us-central1');
    await assert.rejects(fake.client.job('j1', { location: 'US' }).getMetadata(), (e: { code?: number }) => e.code === 404);
    await assert.rejects(fake.client.job('j1').getMetadata(), (e: { code?: number }) => e.code === 404);
    await assert.rejects(fake.client.job('j1', { location: 'EU' }).getQueryResults(), (e: { code?: number }) => e.code === 404);
  });

  it('a redelivery attaches to the job in its location; looked up elsewhere the job is lost and the call fails', async () => {
    fake.pollsToFinish = 0;
    const first = await runner('us-central1').runAll(CTX, [SPEC], Date.parse('2025-01-01T01:00:00Z'));
    assert.equal(first.state, 'done');
    const again = await runner('us-central1').runAll(CTX, [SPEC], Date.parse('2025-01-01T01:00:00Z'));
    assert.equal(again.state, 'done');
    assert.deepEqual(fake.created().map((o) => o.jobId), ['bqx_eurusd-20250101t000000-abc123_extract_agg_eurusd_a6cbee2fb9e3']);
    assert.equal(fake.conflicts, 0, 'found by its id, not by a failed insert');
    // From another location the job cannot be seen: the insert conflicts, the lookup is 404.
    await assert.rejects(runner('EU').runAll(CTX, [SPEC], Date.parse('2025-01-01T01:00:00Z')), /Already Exists/);
  });
});
