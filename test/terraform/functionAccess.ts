// What each Cloud Function does to the project's resources, recorded while the chain runs: the
// ports of a sweep world (test/sweep/world.ts) wrapped so every object read, list, write and
// delete, every publish, every run-store call and every warehouse job is noted with the function
// whose handler instance made it (the instance's label: `mergeRun#12.1`, `reconcile#0`). The IAM
// needs of a warehouse job come from what the BigQuery adapter sends for it (WAREHOUSE_NEEDS),
// since the sweep's warehouse is DuckDB. grants.test.ts holds these against terraform/iam.tf.

import type { Config } from '../../shared/config.js';
import type { MessageBus, ObjectStore, RunStore, Warehouse } from '../../shared/ports.js';

/** One kind of access to one resource: what a role must allow. */
export interface Access {
  fn: string;
  /** `bucket:staging`, `topic:run_events`, `dataset:features`, `project`. */
  resource: string;
  /** Storage: get, list, create, overwrite, delete; Pub/Sub: publish; BigQuery: metadata, read, write, jobs; Firestore: documents. */
  op: string;
  /** An example of the call, for the failure message. */
  example: string;
}

export class AccessLog {
  private readonly seen = new Map<string, Access>();

  constructor(private readonly fnNow: () => string | undefined) {}

  note(resource: string, op: string, example: string): void {
    const fn = this.fnNow();
    if (fn === undefined) return; // the harness's own calls, not a function's
    const key = `${fn} ${resource} ${op}`;
    if (!this.seen.has(key)) this.seen.set(key, { fn, resource, op, example });
  }

  all(): Access[] {
    return [...this.seen.values()].sort((a, b) => `${a.fn} ${a.resource} ${a.op}`.localeCompare(`${b.fn} ${b.resource} ${b.op}`));
  }
}

/**
 * What each warehouse method's BigQuery jobs need besides running as jobs in the project, read
 * from shared/adapters/gcp/bigQueryWarehouse.ts and the SQL it renders: the datasets it reads or
 * writes, and the buckets its exports write, its loads read and the adapter itself lists, reads,
 * writes and deletes (each job runs as the function's own account).
 */
export const WAREHOUSE_NEEDS: Record<string, (dataset?: string) => [resource: string, op: string][]> = {
  // INFORMATION_SCHEMA.TABLES / COLUMNS of the dataset.
  listTables: (dataset) => [[`dataset:${dataset}`, 'metadata']],
  // INFORMATION_SCHEMA.PARTITIONS (or the tables' last_modified_time).
  dataVersions: (dataset) => [[`dataset:${dataset}`, 'metadata']],
  // COUNT / MIN / MAX over the label table's rows.
  labelStats: (dataset) => [[`dataset:${dataset}`, 'read']],
  // EXPORT DATA (overwrite) of the feature table's rows to staging; earlier attempts' files listed and deleted.
  extract: () => [['dataset:features', 'read'], ['bucket:staging', 'list'], ['bucket:staging', 'create'], ['bucket:staging', 'overwrite'], ['bucket:staging', 'delete']],
  // LOAD DATA of the checkpoints (and of a previous version's exports) into scratch, joins against
  // the labels, EXPORT DATA (overwrite) to output; the merge state and cost estimate kept in staging.
  merge: () => [
    ['dataset:labels', 'read'], ['dataset:scratch', 'write'],
    ['bucket:staging', 'get'], ['bucket:staging', 'list'], ['bucket:staging', 'create'], ['bucket:staging', 'overwrite'],
    ['bucket:output', 'get'], ['bucket:output', 'list'], ['bucket:output', 'create'], ['bucket:output', 'overwrite'], ['bucket:output', 'delete'],
  ],
  // The output's files loaded into scratch tables and measured there.
  profile: () => [['dataset:scratch', 'write'], ['bucket:output', 'get'], ['bucket:output', 'list']],
  compareColumns: () => [['dataset:scratch', 'write'], ['bucket:output', 'get'], ['bucket:output', 'list']],
};

export function recordingStore(store: ObjectStore, bucket: string, log: AccessLog): ObjectStore {
  const r = `bucket:${bucket}`;
  const writeOp = async (object: string, ifAbsent?: boolean) => (ifAbsent ? 'create' : (await store.size(object)) === undefined ? 'create' : 'overwrite');
  return {
    get bucket() {
      return store.bucket;
    },
    uri: (object) => store.uri(object),
    write: async (object, data, options) => {
      log.note(r, await writeOp(object, options?.ifAbsent), `write ${object}`);
      return store.write(object, data, options);
    },
    copy: async (from, to) => {
      log.note(r, 'get', `copy from ${from}`);
      log.note(r, await writeOp(to), `copy to ${to}`);
      return store.copy(from, to);
    },
    read: (object) => (log.note(r, 'get', `read ${object}`), store.read(object)),
    readRange: (object, start, end) => (log.note(r, 'get', `read ${object}`), store.readRange(object, start, end)),
    size: (object) => (log.note(r, 'get', `size of ${object}`), store.size(object)),
    sizes: (objects) => (log.note(r, 'get', `sizes of ${objects[0] ?? '(none)'}...`), store.sizes(objects)),
    list: (prefix) => (log.note(r, 'list', `list ${prefix}`), store.list(prefix)),
    room: () => store.room(),
    deletePrefix: (prefix) => (log.note(r, 'list', `list ${prefix}`), log.note(r, 'delete', `delete ${prefix}*`), store.deletePrefix(prefix)),
    deleteObjects: (objects) => (log.note(r, 'delete', `delete ${objects[0] ?? '(none)'}...`), store.deleteObjects(objects)),
  };
}

/** Every run-store call is a Firestore document read or write (datastore.user covers both). */
export function recordingRunStore(store: RunStore, log: AccessLog): RunStore {
  return new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== 'function' || key === 'close') return value;
      return (...args: unknown[]) => {
        log.note('project', 'documents', `run store ${String(key)}`);
        return value.apply(target, args);
      };
    },
  });
}

/** The topic's key in terraform (`extract_requests`) from its configured name. */
export function topicKey(config: Config, topic: string): string {
  const entry = Object.entries(config.topics).find(([, name]) => name === topic);
  return entry ? entry[0].replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : `unknown topic ${topic}`;
}

export function recordingBus(bus: MessageBus, config: Config, log: AccessLog): MessageBus {
  const publish = (topic: string) => log.note(`topic:${topicKey(config, topic)}`, 'publish', `publish to ${topic}`);
  return {
    publish: (topic, data, attributes) => (publish(topic), bus.publish(topic, data, attributes)),
    publishMany: (topic, items) => (publish(topic), bus.publishMany(topic, items)),
  };
}

export function recordingWarehouse(warehouse: Warehouse, config: Config, log: AccessLog): Warehouse {
  const datasetKey = (dataset: string) => (dataset === config.featuresDataset ? 'features' : dataset === config.labelsDataset ? 'labels' : `unknown dataset ${dataset}`);
  const job = (method: string, dataset?: string) => {
    log.note('project', 'jobs', `warehouse ${method}`);
    for (const [resource, op] of WAREHOUSE_NEEDS[method]!(dataset && datasetKey(dataset))) log.note(resource, op, `warehouse ${method}`);
  };
  return {
    checkpointsFollowShards: warehouse.checkpointsFollowShards,
    // It stands for BigQuery, which reads a run's tables as of its start: a request finding an
    // active run returns it, asking no versions (the embedded check, startRun, is not a function's).
    readsTablesAsOf: true,
    listTables: (dataset) => (job('listTables', dataset), warehouse.listTables(dataset)),
    dataVersions: (dataset, tables, range) => (job('dataVersions', dataset), warehouse.dataVersions(dataset, tables, range)),
    labelStats: (dataset, table, window) => (job('labelStats', dataset), warehouse.labelStats(dataset, table, window)),
    extract: (j) => (job('extract'), warehouse.extract(j)),
    merge: (j, progress) => (job('merge'), warehouse.merge(j, progress)),
    profile: (j) => (job('profile'), warehouse.profile(j)),
    compareColumns: (j) => (job('compareColumns'), warehouse.compareColumns(j)),
    view: (j) => warehouse.view(j), // `bqx view`, not a function's
    close: () => warehouse.close(),
  };
}
