// The Google Cloud adapters, built from default clients for the configured project. The clients
// find credentials themselves (the function's service account, or ADC locally) and honour
// PUBSUB_EMULATOR_HOST and FIRESTORE_EMULATOR_HOST, so the emulator stack needs nothing here.

import { BigQuery } from '@google-cloud/bigquery';
import { Firestore } from '@google-cloud/firestore';
import { PubSub } from '@google-cloud/pubsub';
import { Storage } from '@google-cloud/storage';
import { ConfigError, type Config } from '../../config.js';
import type { Clock, Logger } from '../../ports.js';
import { BigQueryWarehouse } from './bigQueryWarehouse.js';
import { FirestoreRunStore } from './firestoreRunStore.js';
import { GcsObjectStore } from './gcsObjectStore.js';
import { PubSubBus } from './pubSubBus.js';

export { BigQueryWarehouse } from './bigQueryWarehouse.js';
export { BigQueryJobError } from './bigQueryJobs.js';
export { FirestoreRunStore, PairBusyError } from './firestoreRunStore.js';
export { GcsObjectStore } from './gcsObjectStore.js';
export { PubSubBus } from './pubSubBus.js';

export interface GcpAdapters {
  warehouse: BigQueryWarehouse;
  staging: GcsObjectStore;
  output: GcsObjectStore;
  bus: PubSubBus;
  store: FirestoreRunStore;
}

export function gcpAdapters(config: Config, options: { logger?: Logger; clock?: Clock } = {}): GcpAdapters {
  const { project, location, stagingBucket, outputBucket } = config.gcp;
  if (!project) throw new ConfigError('BQX_PROJECT', project, 'is required for the Google Cloud adapters');
  if (!stagingBucket) throw new ConfigError('BQX_STAGING_BUCKET', stagingBucket, 'is required for the Google Cloud adapters');
  if (!outputBucket) throw new ConfigError('BQX_OUTPUT_BUCKET', outputBucket, 'is required for the Google Cloud adapters');
  const storage = new Storage({ projectId: project });
  const staging = new GcsObjectStore(storage.bucket(stagingBucket));
  const output = new GcsObjectStore(storage.bucket(outputBucket));
  const warehouse = new BigQueryWarehouse({
    bigquery: new BigQuery({ projectId: project, location }),
    config,
    staging,
    output,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const bus = new PubSubBus(new PubSub({ projectId: project }));
  const store = new FirestoreRunStore(new Firestore({ projectId: project, ignoreUndefinedProperties: true }));
  return { warehouse, staging, output, bus, store };
}
