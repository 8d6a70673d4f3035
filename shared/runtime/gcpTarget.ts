// What the CLI needs of a deployed chain (`--target gcp`): the run-requests topic to publish to and
// the Firestore run store to follow runs in, through the Google Cloud adapters. The project comes
// from --project or BQX_PROJECT, topics and the rest from the environment (loadConfig); the buckets
// default to the names terraform/ gives them (`<project>-bqx-staging`, `<project>-bqx-output`),
// since the CLI only names output objects. The clients honour PUBSUB_EMULATOR_HOST and
// FIRESTORE_EMULATOR_HOST, which is how the tests point it at the emulators.

import { gcpAdapters } from '../adapters/gcp/index.js';
import { loadConfig, type Config } from '../config.js';
import { InputError } from '../naming.js';
import type { Logger, MessageBus, ObjectStore, RunStore } from '../ports.js';

export interface GcpTarget {
  config: Config;
  bus: MessageBus;
  store: RunStore;
  /** The output bucket: only its URIs are used (where a run's _manifest.json is). */
  output: Pick<ObjectStore, 'uri'>;
  close(): Promise<void>;
}

/** The configuration of a deployed chain, as the CLI sees it. */
export function gcpTargetConfig(env: NodeJS.ProcessEnv, project?: string): Config {
  const p = project ?? env.BQX_PROJECT;
  if (!p) throw new InputError('--target gcp needs the Google Cloud project of the deployed chain: --project P, or BQX_PROJECT');
  return loadConfig({
    ...env,
    BQX_RUNTIME: 'gcp',
    BQX_PROJECT: p,
    ...(env.BQX_STAGING_BUCKET === undefined ? { BQX_STAGING_BUCKET: `${p}-bqx-staging` } : {}),
    ...(env.BQX_OUTPUT_BUCKET === undefined ? { BQX_OUTPUT_BUCKET: `${p}-bqx-output` } : {}),
  });
}

export function openGcpTarget(config: Config, logger?: Logger): GcpTarget {
  const { bus, store, output } = gcpAdapters(config, logger ? { logger } : {});
  return {
    config,
    bus,
    store,
    output,
    async close() {
      await Promise.allSettled([bus.close(), store.close()]);
    },
  };
}
