// Fixtures for the contract tests of functions/: embedded dependencies on a tiny DuckDB warehouse
// (five feature tables for eurusd, one for another pair, a label table), a bus that records what
// is published, a logger that keeps its JSON lines; and events shaped as Pub/Sub push and Eventarc
// deliver them.

import { getTestServer } from '@google-cloud/functions-framework/testing';

import path from 'node:path';
import request from 'supertest';
import '../../functions/index.js';
import { setDeps } from '../../functions/deps.js';
import { DuckDbWarehouse } from '../../shared/adapters/local/duckdbWarehouse.js';
import { FileRunStore } from '../../shared/adapters/local/fileRunStore.js';
import { FolderObjectStore } from '../../shared/adapters/local/folderStore.js';
import { checkpointLanded } from '../../shared/chain/checkpointLanded.js';
import type { ChainDeps } from '../../shared/chain/deps.js';
import { extractFeature } from '../../shared/chain/extractFeature.js';
import { startRun } from '../../shared/chain/startRun.js';
import { loadConfig } from '../../shared/config.js';
import { jsonLogger, systemClock } from '../../shared/log.js';
import { paths } from '../../shared/naming.js';
import type { FinalizedObject, MessageBus } from '../../shared/ports.js';
import { tempDir } from '../helpers/temp.js';

export const ROWS = 60;
export const PROJECT = 'demo-bqx';
export const STAGING_BUCKET = 'bqx-staging';

export interface LogLine {
  severity: string;
  message: string;
  [field: string]: unknown;
}

export interface Published {
  topic: string;
  data: unknown;
  attributes: Record<string, string>;
}

export class RecordingBus implements MessageBus {
  readonly published: Published[] = [];

  async publish(topic: string, data: unknown, attributes: Record<string, string> = {}): Promise<string> {
    this.published.push({ topic, data, attributes });
    return String(this.published.length);
  }

  async publishMany(topic: string, items: { data: unknown; attributes?: Record<string, string> }[]): Promise<string[]> {
    return Promise.all(items.map((i) => this.publish(topic, i.data, i.attributes)));
  }

  on(topic: string): Published[] {
    return this.published.filter((p) => p.topic === topic);
  }
}

export interface Fixture {
  deps: ChainDeps;
  bus: RecordingBus;
  logs: LogLine[];
  staging: FolderObjectStore;
  store: FileRunStore;
  warehouse: DuckDbWarehouse;
  close(): Promise<void>;
}

const keys = (from: number, to: number) =>
  `SELECT (TIMESTAMP '2021-03-01 00:00:00' + i * INTERVAL 1 MINUTE)::TIMESTAMPTZ AS interval_time, i FROM range(${from}, ${to}) r(i)`;

/** Embedded dependencies on a fresh tiny warehouse in a temp folder. */
export async function openFixture(): Promise<Fixture> {
  const home = tempDir('functions');
  const config = loadConfig({ BQX_HOME: home, BQX_RUNTIME: 'gcp', BQX_PROJECT: PROJECT, BQX_STAGING_BUCKET: STAGING_BUCKET, BQX_OUTPUT_BUCKET: 'bqx-output' });
  const staging = new FolderObjectStore(path.join(home, 'staging'), STAGING_BUCKET);
  const output = new FolderObjectStore(path.join(home, 'output'), 'bqx-output');
  const warehouse = await DuckDbWarehouse.open(path.join(home, 'warehouse.duckdb'), staging, output, { memoryMb: 256, threads: 1 });
  const f = config.featuresDataset;
  for (const statement of [
    `CREATE SCHEMA ${f}`,
    `CREATE SCHEMA ${config.labelsDataset}`,
    `CREATE TABLE ${config.labelsDataset}.targets_eurusd AS SELECT interval_time, i * 1.0 AS target_bqx45_h15, -i * 1.0 AS target_bqx90_h30 FROM (${keys(0, ROWS)})`,
    `CREATE TABLE ${f}.agg_eurusd AS SELECT interval_time, 'eurusd' AS pair, i * 10.0 AS a, i * 100.0 AS b FROM (${keys(0, ROWS)})`,
    `CREATE TABLE ${f}.cov_agg_eurusd_gbpusd AS SELECT interval_time, 'eurusd' AS pair1, 'gbpusd' AS pair2, i * 2.0 AS c FROM (${keys(0, ROWS)})`,
    `CREATE TABLE ${f}.tri_agg_bqx_eur_usd_gbp AS SELECT interval_time, i + 0.5 AS x FROM (${keys(0, ROWS)})`,
    `CREATE TABLE ${f}.csi_mom_bqx_usd AS SELECT interval_time, i * 1.0 AS x FROM (${keys(0, ROWS)})`,
    `CREATE TABLE ${f}.mkt_regime AS SELECT interval_time, i * 3.0 AS r FROM (${keys(0, ROWS)})`,
    `CREATE TABLE ${f}.agg_gbpjpy AS SELECT interval_time, 1.0 AS a FROM (${keys(0, ROWS)})`,
  ]) {
    await warehouse.execute(statement);
  }
  const store = new FileRunStore(path.join(home, 'runstore'));
  const bus = new RecordingBus();
  const logs: LogLine[] = [];
  const logger = jsonLogger('debug', (line) => logs.push(JSON.parse(line) as LogLine));
  // A clock of its own, so a test can move it without touching the shared systemClock.
  const clock = { now: () => systemClock.now() };
  const deps: ChainDeps = { config, warehouse, staging, output, bus, store, clock, logger, manifests: new Map() };
  return {
    deps, bus, logs, staging, store, warehouse,
    async close() {
      await store.close();
      await warehouse.close();
    },
  };
}

/** The eurusd features of the tiny warehouse, as the manifest lists them. */
export const FEATURES = ['agg_eurusd', 'cov_agg_eurusd_gbpusd', 'csi_mom_bqx_usd', 'mkt_regime', 'tri_agg_bqx_eur_usd_gbp'];

let nextId = 1;

/** The JSON body a Pub/Sub push subscription POSTs; `data` is sent as it is when it is a string. */
export function pushBody(data: unknown, attributes: Record<string, string> = {}, rawBase64?: string) {
  const text = typeof data === 'string' ? data : JSON.stringify(data);
  return {
    message: { data: rawBase64 ?? Buffer.from(text, 'utf8').toString('base64'), attributes, messageId: String(nextId++), publishTime: new Date().toISOString() },
    subscription: `projects/${PROJECT}/subscriptions/test-push`,
  };
}

/** The path a push subscription posts to (it names the topic, as terraform/main.tf sets it). */
export const pushPath = (topic: string) => `/projects/${PROJECT}/topics/${topic}`;

/** Binary-mode CloudEvent headers, as Eventarc sends them. */
export function ceHeaders(type: string, source: string, subject?: string): Record<string, string> {
  return {
    'ce-id': String(nextId++),
    'ce-specversion': '1.0',
    'ce-type': type,
    'ce-source': source,
    'ce-time': new Date().toISOString(),
    ...(subject ? { 'ce-subject': subject } : {}),
  };
}

/** A Cloud Storage object's metadata, as the finalized event carries it (int64 fields as strings). */
export function storageData(object: FinalizedObject, generation = String(Date.now() * 1000)) {
  return {
    kind: 'storage#object',
    bucket: object.bucket,
    name: object.name,
    size: String(object.size),
    generation,
    metageneration: '1',
    contentType: object.name.endsWith('.json') ? 'application/json' : 'application/octet-stream',
    timeCreated: new Date().toISOString(),
    updated: new Date().toISOString(),
  };
}

export const FINALIZED = 'google.cloud.storage.object.v1.finalized';
export const storageSource = (bucket: string) => `//storage.googleapis.com/projects/_/buckets/${bucket}`;

/** ERROR lines whose message matches. */
export const errors = (logs: LogLine[], pattern: RegExp) => logs.filter((l) => l.severity === 'ERROR' && pattern.test(l.message));

/** Sends `data` as a Pub/Sub push subscription would, to the function `name`. */
export function push(name: string, topic: string, data: unknown, options: { attributes?: Record<string, string>; rawBase64?: string } = {}) {
  return request(getTestServer(name)).post(pushPath(topic)).send(pushBody(data, options.attributes, options.rawBase64));
}

/** Sends a storage finalized event for `object` in binary content mode (ce-* headers), as Eventarc does. */
export function finalized(object: FinalizedObject, generation?: string) {
  return request(getTestServer('checkpointLanded'))
    .post('/')
    .set(ceHeaders(FINALIZED, storageSource(object.bucket), `objects/${object.name}`))
    .send(storageData(object, generation));
}

/** Starts a eurusd run with the core and lands every feature: the run is then merging. */
export async function runToMerging(fx: Fixture): Promise<string> {
  const { run } = await startRun(fx.deps, { pair: 'eurusd' });
  for (const feature of FEATURES) {
    await extractFeature(fx.deps, { runId: run.runId, pair: 'eurusd', feature });
    await checkpointLanded(fx.deps, { bucket: STAGING_BUCKET, name: paths.marker(run.runId, feature), size: 100 });
  }
  return run.runId;
}

/**
 * A fresh fixture before each test, wired into the functions, and everything closed and
 * restored after it: `assign` receives each test's fixture.
 */
export function fixtureHooks(sandbox: { restore(): void }, assign: (fixture: Fixture) => void): void {
  let current: Fixture | undefined;
  beforeEach(async () => {
    current = await openFixture();
    setDeps(current.deps);
    assign(current);
  });
  afterEach(async () => {
    sandbox.restore();
    setDeps(undefined);
    await current?.close();
    current = undefined;
  });
}
