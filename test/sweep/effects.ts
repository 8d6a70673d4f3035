// Every side effect of a run, numbered: the ports (object stores, run store, bus, warehouse) are
// wrapped so each write, delete, claim, record, publish and warehouse job gets the next number, in
// the order the (deterministic) simulation performs them. A crash plan names effects to crash at,
// just before or just after: the handler instance dies there, so nothing else it would have done
// happens (its later side effects are refused too), and recovery is left to redelivery, resume
// and the reconciler. Reads are not side effects and pass through.

import type { CheckpointRecord, ExtractJob, MergeJob, MergeProgress, MessageBus, ViewJob, ObjectStore, RunRecord, RunStore, Warehouse } from '../../shared/ports.js';
import type { CompareJob, ProfileJob } from '../../shared/profile/types.js';

export type CrashWhen = 'before' | 'after';

export interface Effect {
  n: number;
  kind: string;
  /** What it touched: object name, run, claim, topic, feature. */
  what: string;
  /** The handler it ran in (subscription name, or the harness's label). */
  in: string;
}

export class CrashError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CrashError';
  }
}

/** One handler instance: once it crashed, it does nothing more. */
interface Instance {
  label: string;
  dead: boolean;
}

/** Where a wrapped port reports its side effects: the Effects of a run, or one instance of it (Effects.scoped). */
export interface EffectSink {
  effect<T>(kind: string, what: string, body: () => Promise<T>): Promise<T>;
}

export class Effects implements EffectSink {
  readonly log: Effect[] = [];
  readonly crashes: { n: number; when: CrashWhen; kind: string; in: string }[] = [];
  private plan = new Map<number, CrashWhen>();
  /**
   * The handler instance running now. The simulation runs one at a time (the bus's scheduler mode,
   * and the reconciler between drains), so a variable says whose effect it is; AsyncLocalStorage
   * would too, but its promise hooks cost more than the rest of a simulated run on Node 20.
   */
  private current: Instance | undefined;

  /** Crash at effect `n`, before or after it runs. */
  crashAt(n: number, when: CrashWhen): void {
    this.plan.set(n, when);
  }

  /**
   * Crash at the first effect that `match` picks, before or after it: where handlers overlap (the
   * emulator stack), effect numbers shift from run to run, and a crash point is named by what it hits.
   */
  crashWhere(match: (kind: string, what: string) => boolean, when: CrashWhen): void {
    this.matched.push({ match, when });
  }
  private matched: { match: (kind: string, what: string) => boolean; when: CrashWhen }[] = [];

  /** Runs `body` as one handler instance (a delivery, a reconciler call). */
  async instance<T>(label: string, body: () => Promise<T>): Promise<T> {
    const outer = this.current;
    this.current = { label, dead: false };
    try {
      return await body();
    } finally {
      this.current = outer;
    }
  }

  async effect<T>(kind: string, what: string, body: () => Promise<T>): Promise<T> {
    return this.effectIn(this.current, kind, what, body);
  }

  /** The label of the handler instance running now (`mergeRun#12.1`, `reconcile#0`), if any. */
  currentLabel(): string | undefined {
    return this.current?.label;
  }

  /**
   * A handler instance of its own, for runtimes where handlers overlap (the emulator stack serves
   * several requests at once): effects made through it belong to it, whatever else is running.
   */
  scoped(label: string): EffectSink {
    const instance: Instance = { label, dead: false };
    return { effect: (kind, what, body) => this.effectIn(instance, kind, what, body) };
  }

  private async effectIn<T>(instance: Instance | undefined, kind: string, what: string, body: () => Promise<T>): Promise<T> {
    if (instance?.dead) throw new CrashError(`${instance.label} already crashed: ${kind} ${what} never happens`);
    const n = this.log.length + 1;
    const label = instance?.label ?? 'outside';
    this.log.push({ n, kind, what, in: label });
    const picked = this.matched.findIndex((m) => m.match(kind, what));
    const when = picked >= 0 ? this.matched.splice(picked, 1)[0]!.when : this.plan.get(n);
    if (when === 'before') this.kill(instance, n, when, kind);
    const result = await body();
    if (when === 'after') this.kill(instance, n, when, kind);
    return result;
  }

  private kill(instance: Instance | undefined, n: number, when: CrashWhen, kind: string): never {
    if (instance) instance.dead = true;
    this.crashes.push({ n, when, kind, in: instance?.label ?? 'outside' });
    throw new CrashError(`crashed ${when} effect ${n} (${kind})`);
  }
}

export function effectfulStore(store: ObjectStore, effects: EffectSink, name: string): ObjectStore {
  return {
    get bucket() {
      return store.bucket;
    },
    uri: (object) => store.uri(object),
    write: (object, data, options) => effects.effect(`${name}.write`, object, () => store.write(object, data, options)),
    copy: (from, to) => effects.effect(`${name}.write`, to, () => store.copy(from, to)),
    read: (object) => store.read(object),
    readRange: (object, start, end) => store.readRange(object, start, end),
    size: (object) => store.size(object),
    sizes: (objects) => store.sizes(objects),
    list: (prefix) => store.list(prefix),
    room: () => store.room(),
    deletePrefix: (prefix) => effects.effect(`${name}.delete`, prefix, () => store.deletePrefix(prefix)),
    // One effect per object, as a bucket deletes them: a crash may fall between any two.
    deleteObjects: async (objects) => {
      let deleted = 0;
      for (const object of objects) deleted += await effects.effect(`${name}.delete`, object, () => store.deleteObjects([object]));
      return deleted;
    },
  };
}

export function effectfulRunStore(store: RunStore, effects: EffectSink): RunStore {
  return {
    createRun: (run: RunRecord) => effects.effect('run.create', run.runId, () => store.createRun(run)),
    getRun: (runId) => store.getRun(runId),
    activeRun: (pair) => store.activeRun(pair),
    lastRun: (pair) => store.lastRun(pair),
    listRuns: (pair) => store.listRuns(pair),
    listActiveRuns: () => store.listActiveRuns(),
    updateRun: (runId, change) => effects.effect('run.update', runId, () => store.updateRun(runId, change)),
    claimOnce: (runId, claim) => effects.effect('run.claim', `${runId}/${claim}`, () => store.claimOnce(runId, claim)),
    recordCheckpoint: (record: CheckpointRecord) => effects.effect('checkpoint.record', record.feature, () => store.recordCheckpoint(record)),
    countCheckpoints: (runId) => store.countCheckpoints(runId),
    listCheckpoints: (runId) => store.listCheckpoints(runId),
    getCheckpoint: (runId, feature) => store.getCheckpoint(runId, feature),
    deleteCheckpoint: (runId, feature) => effects.effect('checkpoint.delete', feature, () => store.deleteCheckpoint(runId, feature)),
    recordRefusal: (refusal) => effects.effect('run.refuse', refusal.requestId, () => store.recordRefusal(refusal)),
    getRefusal: (requestId) => store.getRefusal(requestId),
    close: () => store.close(),
  };
}

/** Each message of a batch is its own effect: a batch can be cut short by a crash. */
export function effectfulBus(bus: MessageBus, effects: EffectSink): MessageBus {
  const publish = (topic: string, data: unknown, attributes?: Record<string, string>) =>
    effects.effect('publish', `${topic} ${attributes?.feature ?? attributes?.runId ?? ''}`.trim(), () => bus.publish(topic, data, attributes));
  return {
    publish,
    async publishMany(topic, items) {
      const ids: string[] = [];
      for (const item of items) ids.push(await publish(topic, item.data, item.attributes));
      return ids;
    },
  };
}

export function effectfulWarehouse(warehouse: Warehouse, effects: EffectSink): Warehouse {
  return {
    checkpointsFollowShards: warehouse.checkpointsFollowShards,
    readsTablesAsOf: warehouse.readsTablesAsOf,
    listTables: (dataset) => warehouse.listTables(dataset),
    dataVersions: (dataset, tables, range) => warehouse.dataVersions(dataset, tables, range),
    labelStats: (dataset, table, window) => warehouse.labelStats(dataset, table, window),
    extract: (job: ExtractJob) => effects.effect('warehouse.extract', job.feature, () => warehouse.extract(job)),
    merge: (job: MergeJob, progress?: (p: MergeProgress) => void) => effects.effect('warehouse.merge', job.runId, () => warehouse.merge(job, progress)),
    // Warehouse jobs that write nothing, but are jobs (billed, slow, a place a handler can die in).
    profile: (job: ProfileJob) => effects.effect('warehouse.profile', job.runId, () => warehouse.profile(job)),
    compareColumns: (job: CompareJob) => effects.effect('warehouse.compare', job.runId, () => warehouse.compareColumns(job)),
    view: (job: ViewJob) => effects.effect('warehouse.view', job.outputPrefix, () => warehouse.view(job)),
    close: () => warehouse.close(),
  };
}
