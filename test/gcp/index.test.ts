// The factory: the five adapters from default clients, for the configured project and buckets.
// Nothing is called on the clients, so nothing leaves the process.

import assert from 'node:assert/strict';
import sinon from 'sinon';
import { ConfigError, loadConfig } from '../../shared/config.js';
import { BigQueryWarehouse, FirestoreRunStore, GcsObjectStore, PubSubBus, gcpAdapters } from '../../shared/adapters/gcp/index.js';

describe('gcp/gcpAdapters', () => {
  let sandbox: sinon.SinonSandbox;

  beforeEach(() => {
    sandbox = sinon.createSandbox();
  });

  afterEach(() => sandbox.restore());

  it('builds warehouse, stores, bus and run store for the configured project and buckets', async () => {
    const config = loadConfig({ BQX_RUNTIME: 'gcp', BQX_PROJECT: 'demo-bqx', BQX_STAGING_BUCKET: 'bqx-staging', BQX_OUTPUT_BUCKET: 'bqx-output' });
    const adapters = gcpAdapters(config);
    assert.ok(adapters.warehouse instanceof BigQueryWarehouse);
    assert.ok(adapters.staging instanceof GcsObjectStore && adapters.output instanceof GcsObjectStore);
    assert.ok(adapters.bus instanceof PubSubBus);
    assert.ok(adapters.store instanceof FirestoreRunStore);
    assert.equal(adapters.staging.uri('runs/x/manifest.json'), 'gs://bqx-staging/runs/x/manifest.json');
    assert.equal(adapters.output.uri('training/eurusd/'.concat('a.parquet')), 'gs://bqx-output/training/eurusd/a.parquet');
    await adapters.bus.close();
    await adapters.store.close();
  });

  it('refuses a configuration without a project or buckets, naming the variable', () => {
    const embedded = loadConfig({});
    assert.throws(() => gcpAdapters(embedded), (e: unknown) => e instanceof ConfigError && e.variable === 'BQX_PROJECT');
    const noBucket = { ...embedded, gcp: { ...embedded.gcp, project: 'demo-bqx' } };
    assert.throws(() => gcpAdapters(noBucket), (e: unknown) => e instanceof ConfigError && e.variable === 'BQX_STAGING_BUCKET');
  });
});
