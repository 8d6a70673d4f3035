// Every Firestore query the run store adapter issues that needs a composite index has one declared
// in terraform/ (google_firestore_index). The emulator serves any query without an index, so only
// this check stands between a new query and FAILED_PRECONDITION (a 500) in a real project.
//
// The queries are not hand-listed: every method of FirestoreRunStore is called against a recording
// fake of the Firestore client, which notes each query's collection, filters and order.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';
import type { Firestore } from '@google-cloud/firestore';
import { FirestoreRunStore } from '../../shared/adapters/gcp/firestoreRunStore.js';
import type { CheckpointRecord, RunRecord } from '../../shared/ports.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Query {
  collection: string;
  filters: { field: string; op: string }[];
  orderBy: { field: string; direction: 'ASCENDING' | 'DESCENDING' }[];
}

interface IndexField {
  path: string;
  order: 'ASCENDING' | 'DESCENDING';
}

/** A Firestore client that answers every read with "nothing there" and records each query. */
function recordingFirestore(queries: Query[]): Firestore {
  const emptySnap = { exists: false, data: () => undefined };
  const query = (q: Query): object => ({
    where: (field: string, op: string) => query({ ...q, filters: [...q.filters, { field, op }] }),
    orderBy: (field: string, dir: string = 'asc') => query({ ...q, orderBy: [...q.orderBy, { field, direction: dir === 'desc' ? 'DESCENDING' : 'ASCENDING' }] }),
    limit: () => query(q),
    count: () => ({ get: async () => (queries.push(q), { data: () => ({ count: 0 }) }) }),
    get: async () => (queries.push(q), { empty: true, docs: [] }),
  });
  const collection = (name: string): object => ({
    ...query({ collection: name, filters: [], orderBy: [] }),
    doc: () => ({
      get: async () => emptySnap,
      create: async () => undefined,
      set: async () => undefined,
      delete: async () => undefined,
      collection,
    }),
  });
  const tx = { get: async () => emptySnap, create: () => undefined, set: () => undefined };
  return {
    collection,
    runTransaction: async (fn: (t: typeof tx) => Promise<unknown>) => fn(tx),
    terminate: async () => undefined,
  } as unknown as Firestore;
}

/**
 * The composite index a query needs, or undefined when single-field indexes serve it. Firestore
 * serves equality filters alone by merging single-field indexes, and one field filtered and ordered
 * by itself; anything ordering or range-filtering one field while filtering another needs a
 * composite index: the equality fields first, then the range field, then the order.
 */
function compositeIndexFor(q: Query): IndexField[] | undefined {
  const equality = q.filters.filter((f) => f.op === '==' || f.op === 'in' || f.op === 'array-contains');
  const range = q.filters.filter((f) => !equality.includes(f));
  const fields = new Set([...q.filters.map((f) => f.field), ...q.orderBy.map((o) => o.field)]);
  if (fields.size < 2 || (q.orderBy.length === 0 && range.length === 0)) return undefined;
  const out: IndexField[] = equality.map((f) => ({ path: f.field, order: 'ASCENDING' }));
  for (const f of range) if (!q.orderBy.some((o) => o.field === f.field)) out.push({ path: f.field, order: 'ASCENDING' });
  for (const o of q.orderBy) out.push({ path: o.field, order: o.direction });
  return out;
}

/** Whether a declared index serves a needed one: same equality fields (any order), then the rest in order. */
function serves(declared: IndexField[], needed: IndexField[], equalityCount: number): boolean {
  if (declared.length !== needed.length) return false;
  const head = (l: IndexField[]) => l.slice(0, equalityCount).map((f) => f.path).sort().join(',');
  const tail = (l: IndexField[]) => l.slice(equalityCount).map((f) => `${f.path}:${f.order}`).join(',');
  return head(declared) === head(needed) && tail(declared) === tail(needed);
}

/** The indexes terraform/main.tf declares: local.firestore_indexes, fed to google_firestore_index.run_store. */
async function declaredIndexes(): Promise<{ collection: string; fields: IndexField[] }[]> {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const json: any = await parse('main.tf', readFileSync(path.join(ROOT, 'terraform', 'main.tf'), 'utf8'));
  const index = json.resource?.google_firestore_index?.run_store?.[0];
  assert.ok(index, 'terraform/main.tf declares no google_firestore_index.run_store');
  assert.equal(index.for_each, '${local.firestore_indexes}');
  const fields = index.dynamic?.fields?.[0];
  assert.equal(fields?.for_each, '${each.value.fields}', 'index fields come from local.firestore_indexes');
  assert.deepEqual(fields.content[0], { field_path: '${fields.value.path}', order: '${fields.value.order}' });
  assert.equal(index.collection, '${each.value.collection}');
  assert.equal(index.database, '(default)', 'the adapter uses the default database');
  const locals = (json.locals ?? []).find((l: object) => 'firestore_indexes' in l);
  assert.ok(locals, 'terraform/main.tf has no local.firestore_indexes');
  return Object.values<{ collection: string; fields: IndexField[] }>(locals.firestore_indexes);
}

/** Arguments for each FirestoreRunStore method; a new method must be added here to be checked. */
const RUN_ID = 'eurusd-20240101t000000-abc123';
const run = { runId: RUN_ID, pair: 'eurusd', state: 'extracting', createdAt: '2024-01-01T00:00:00.000Z' } as RunRecord;
const CALLS: Record<string, unknown[]> = {
  createRun: [run],
  getRun: [RUN_ID],
  activeRun: ['eurusd'],
  lastRun: ['eurusd'],
  listRuns: ['eurusd'],
  listActiveRuns: [],
  updateRun: [RUN_ID, () => undefined],
  claimOnce: [RUN_ID, 'merge'],
  recordCheckpoint: [{ runId: RUN_ID, feature: 'agg_eurusd' } as CheckpointRecord],
  countCheckpoints: [RUN_ID],
  listCheckpoints: [RUN_ID],
  getCheckpoint: [RUN_ID, 'agg_eurusd'],
  deleteCheckpoint: [RUN_ID, 'agg_eurusd'],
  recordRefusal: [{ requestId: '1234567890', pair: 'eurusd', reason: 'r', at: '2024-01-01T00:00:00.000Z' }],
  getRefusal: ['1234567890'],
  close: [],
};

describe('terraform/ Firestore indexes for the run store queries', function () {
  let queries: Query[];

  before(async function () {
    queries = [];
    const store = new FirestoreRunStore(recordingFirestore(queries));
    const methods = Object.getOwnPropertyNames(FirestoreRunStore.prototype).filter(
      (m) => m !== 'constructor' && typeof (store as unknown as Record<string, unknown>)[m] === 'function',
    );
    const publicMethods = methods.filter((m) => !['activeIn', 'runRef', 'pairRef', 'checkpoints', 'checkpointRef', 'refusalRef'].includes(m));
    for (const m of publicMethods) {
      assert.ok(m in CALLS, `FirestoreRunStore.${m} is not exercised by this test: add its arguments to CALLS`);
      // A method may reject on the empty fake (updateRun: not found); its query is recorded before that.
      await ((store as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[m]!(...CALLS[m]!)).catch(() => undefined);
    }
  });

  it('records the adapter\'s queries (runs by pair newest first, runs by state, checkpoints)', function () {
    const shapes = queries.map((q) => `${q.collection}: ${q.filters.map((f) => `${f.field} ${f.op}`).join(', ')} | ${q.orderBy.map((o) => `${o.field} ${o.direction}`).join(', ')}`);
    assert.ok(shapes.includes('runs: pair == | createdAt DESCENDING'), `lastRun's query not seen in ${JSON.stringify(shapes)}`);
    assert.ok(shapes.includes('runs: state in | '), `listActiveRuns' query not seen in ${JSON.stringify(shapes)}`);
  });

  it('declares a google_firestore_index for every query that needs a composite index', async function () {
    const declared = await declaredIndexes();
    const needing = queries.map((q) => ({ q, needed: compositeIndexFor(q) })).filter((x) => x.needed);
    assert.ok(needing.length >= 1, 'expected at least lastRun to need a composite index');
    for (const { q, needed } of needing) {
      const equalityCount = q.filters.filter((f) => f.op === '==' || f.op === 'in' || f.op === 'array-contains').length;
      const found = declared.some((d) => d.collection === q.collection && serves(d.fields, needed!, equalityCount));
      assert.ok(found, `no index in terraform/main.tf (local.firestore_indexes) serves ${q.collection} ${JSON.stringify(needed)}`);
    }
    console.log(`      ${queries.length} queries recorded, ${needing.length} need a composite index, ${declared.length} declared`);
  });

  it('knows which queries need a composite index (the rule itself)', function () {
    const q = (filters: [string, string][], orderBy: [string, 'ASCENDING' | 'DESCENDING'][] = []): Query => ({
      collection: 'runs', filters: filters.map(([field, op]) => ({ field, op })), orderBy: orderBy.map(([field, direction]) => ({ field, direction })),
    });
    assert.equal(compositeIndexFor(q([['state', 'in']])), undefined, 'one field: single-field index');
    assert.equal(compositeIndexFor(q([['pair', '=='], ['state', '==']])), undefined, 'equalities only: index merging');
    assert.deepEqual(compositeIndexFor(q([['pair', '==']], [['createdAt', 'DESCENDING']])), [{ path: 'pair', order: 'ASCENDING' }, { path: 'createdAt', order: 'DESCENDING' }]);
    assert.deepEqual(compositeIndexFor(q([['pair', '=='], ['createdAt', '>']])), [{ path: 'pair', order: 'ASCENDING' }, { path: 'createdAt', order: 'ASCENDING' }]);
    const needed = compositeIndexFor(q([['pair', '==']], [['createdAt', 'DESCENDING']]))!;
    assert.equal(serves([{ path: 'pair', order: 'ASCENDING' }, { path: 'createdAt', order: 'ASCENDING' }], needed, 1), false, 'the wrong direction does not serve');
  });
});
