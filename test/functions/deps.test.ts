// The entry points' dependencies, built from the environment: a bad configuration is logged once,
// naming the variable and its value, and every invocation then fails with it (500), so events are
// kept for a retry rather than acknowledged and lost.

import assert from 'node:assert/strict';
import request from 'supertest';
import sinon from 'sinon';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { chainDeps, setDeps } from '../../functions/deps.js';
import { pushBody, pushPath } from './fixtures.js';

describe('functions/deps', function () {
  const sandbox = sinon.createSandbox();

  afterEach(() => {
    sandbox.restore();
    setDeps(undefined);
  });

  it('logs a bad configuration once and fails every invocation with it, naming the variable', async () => {
    setDeps(undefined);
    sandbox.replace(process, 'env', { ...process.env, BQX_RUNTIME: 'gcp', BQX_PROJECT: 'demo-bqx', BQX_STAGING_BUCKET: 'Not A Bucket', BQX_OUTPUT_BUCKET: 'bqx-output' });
    const lines: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    sandbox.replace(process.stdout, 'write', ((chunk: string | Uint8Array, ...rest: never[]) => {
      if (String(chunk).startsWith('{"severity"')) return lines.push(String(chunk)) > 0;
      return write(chunk, ...rest);
    }) as typeof process.stdout.write);
    const crash = sandbox.stub(console, 'error');

    const event = await request(getTestServer('startRun')).post(pushPath('bqx-run-requests')).send(pushBody('eurusd'));
    const again = await request(getTestServer('extractFeature')).post(pushPath('bqx-extract-requests')).send(pushBody('{}'));
    const api = await request(getTestServer('pipelineApi')).get('/pairs/eurusd');
    sandbox.restore();

    assert.deepEqual([event.status, again.status, api.status], [500, 500, 500]);
    assert.match(event.text, /BQX_STAGING_BUCKET="Not A Bucket": must be a Cloud Storage bucket name/);
    assert.match(api.body.error, /BQX_STAGING_BUCKET="Not A Bucket"/);
    assert.ok(crash.calledWithMatch(sinon.match(/ConfigError: BQX_STAGING_BUCKET/)));
    assert.equal(lines.length, 1, 'logged once, not once per invocation');
    const logged = JSON.parse(lines[0]!);
    assert.equal(logged.severity, 'ERROR');
    assert.match(logged.message, /^configuration is invalid: BQX_STAGING_BUCKET="Not A Bucket": must be a Cloud Storage bucket name; every invocation fails until it is fixed$/);
  });

  it('builds the Google Cloud dependencies once per instance from a good configuration', async () => {
    setDeps(undefined);
    sandbox.replace(process, 'env', { ...process.env, BQX_RUNTIME: 'gcp', BQX_PROJECT: 'demo-bqx', BQX_STAGING_BUCKET: 'bqx-staging', BQX_OUTPUT_BUCKET: 'bqx-output', METADATA_SERVER_DETECTION: 'none' });
    const [a, b] = await Promise.all([chainDeps(), chainDeps()]);
    assert.equal(a, b, 'one set of dependencies, however many invocations arrive at once');
    assert.equal(a.staging.bucket, 'bqx-staging');
    assert.equal(a.config.gcp.project, 'demo-bqx');
    assert.equal(a.staging.uri('runs/x'), 'gs://bqx-staging/runs/x');
    await a.store.close();
  });
});
