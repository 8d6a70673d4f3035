// Configuration, read once from the environment and validated. A bad value stops start-up with a
// message naming the variable and the value it got (DESIGN.md: "Configuration is read once").

import { closest, distance } from 'fastest-levenshtein';
import { GateError, parseGates, type Gate } from './profile/gates.js';

export class ConfigError extends Error {
  constructor(readonly variable: string, readonly value: string | undefined, reason: string) {
    super(`${variable}=${JSON.stringify(value ?? '')}: ${reason}`);
    this.name = 'ConfigError';
  }
}

export type Runtime = 'embedded' | 'gcp';

export const SHARD_UNITS = ['month', 'week', 'day'] as const;
export type ShardUnit = (typeof SHARD_UNITS)[number];

export interface Topics {
  runRequests: string;
  extractRequests: string;
  mergeRequests: string;
  runEvents: string;
}

export interface Config {
  runtime: Runtime;
  /** Currencies in market-priority order: a pair is base+quote with base before quote. */
  currencies: string[];
  featuresDataset: string;
  labelsDataset: string;
  labelTablePrefix: string;
  /** Table selection rules: globs, `{pair}` = the pair as a name token, `!` excludes. */
  tableRules: string[];
  metadataColumns: string[];
  /** The widest a column group may be: the warehouse's limit (BigQuery: 10,000 columns). */
  maxGroupColumns: number;
  /**
   * How wide the dataset's column groups are made (at most `maxGroupColumns`): each holds whole
   * table families up to this width, so a changed family rewrites only its own groups' files.
   */
  groupColumns: number;
  joinBatchTables: number;
  /** Row shards of a dataset: UTC calendar months, ISO weeks (Monday) or days. */
  shard: ShardUnit;
  /** Succeeded datasets kept per pair by `bqx gc` and the clean-up after a success. */
  keep: number;
  /** Whether a run on a bounded store (a folder) is refused when its estimated writes exceed the free space (shared/chain/diskRoom.ts). */
  diskCheck: boolean;
  maxAttempts: number;
  stallSeconds: number;
  /** How long work still running in the warehouse is waited for (polled by follow-up messages) before its run fails. */
  pendingLimitHours: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  topics: Topics;
  /** The dataset profile, quality gates and time folds (issue 10). */
  profile: {
    /** `full`: every column profiled; `keys`: only key gaps and fold rows (the column pass costs minutes at 17,038 columns). */
    mode: 'full' | 'keys';
    warmupRows: number;
    staleShare: number;
    gates: Gate[];
    folds: { trainDays: number; validationDays: number; testDays: number; stepDays: number; purgeMinutes: number; embargoMinutes: number };
  };
  embedded: {
    home: string;
    extractConcurrency: number;
    mergeMemoryMb: number;
    demoRows: number;
  };
  gcp: {
    project: string;
    location: string;
    stagingBucket: string;
    outputBucket: string;
    scratchDataset: string;
    scratchTtlHours: number;
    maxBytesBilled: number;
    costPerTbUsd: number;
    jobWaitSeconds: number;
  };
}

type Env = Record<string, string | undefined>;

/** Every variable the loader reads, with its default (`undefined` = required on GCP). */
export const CONFIG_DEFAULTS = {
  BQX_RUNTIME: 'embedded',
  BQX_CURRENCIES: 'eur,gbp,aud,nzd,usd,cad,chf,jpy',
  BQX_FEATURES_DATASET: 'bqx_ml_v3_features_v2',
  BQX_LABELS_DATASET: 'bqx_ml_v3_analytics_v2',
  BQX_LABEL_TABLE_PREFIX: 'targets_',
  BQX_TABLE_RULES: '{pair},tri_*,mkt_*,var_*,csi_*,!mkt_*_summary',
  BQX_METADATA_COLUMNS: 'pair,pair1,pair2',
  BQX_MAX_GROUP_COLUMNS: '9900',
  BQX_GROUP_COLUMNS: '1000',
  BQX_JOIN_BATCH_TABLES: '50',
  BQX_SHARD: 'month',
  BQX_KEEP: '3',
  BQX_DISK_CHECK: 'on',
  BQX_MAX_ATTEMPTS: '5',
  BQX_STALL_SECONDS: '900',
  BQX_PENDING_LIMIT_HOURS: '24',
  BQX_LOG_LEVEL: 'info',
  BQX_TOPIC_RUN_REQUESTS: 'bqx-run-requests',
  BQX_TOPIC_EXTRACT_REQUESTS: 'bqx-extract-requests',
  BQX_TOPIC_MERGE_REQUESTS: 'bqx-merge-requests',
  BQX_TOPIC_RUN_EVENTS: 'bqx-run-events',
  BQX_PROFILE: 'full',
  BQX_PROFILE_WARMUP_ROWS: '1440',
  BQX_PROFILE_STALE_SHARE: '0.5',
  BQX_GATES: 'rows >= 1:fail, feature_null_share <= 0.05:warn, label_null_share <= 0.01:warn, leakage == 0:warn, cost_usd <= 10:warn',
  BQX_FOLD_TRAIN_DAYS: '365',
  BQX_FOLD_VALIDATION_DAYS: '23',
  BQX_FOLD_TEST_DAYS: '7',
  BQX_FOLD_STEP_DAYS: '30',
  BQX_FOLD_PURGE_MINUTES: '105',
  BQX_FOLD_EMBARGO_MINUTES: '60',
  BQX_HOME: '.bqx',
  BQX_EXTRACT_CONCURRENCY: '4',
  BQX_MERGE_MEMORY_MB: '2048',
  BQX_DEMO_ROWS: '10000',
  BQX_PROJECT: undefined,
  BQX_LOCATION: 'us-central1',
  BQX_STAGING_BUCKET: undefined,
  BQX_OUTPUT_BUCKET: undefined,
  BQX_SCRATCH_DATASET: 'bqx_scratch',
  BQX_SCRATCH_TTL_HOURS: '24',
  BQX_MAX_BYTES_BILLED: '5000000000000',
  BQX_COST_PER_TB_USD: '6.25',
  BQX_JOB_WAIT_SECONDS: '480',
} as const satisfies Record<string, string | undefined>;

export type ConfigVariable = keyof typeof CONFIG_DEFAULTS;

/** BQX_ variables read outside the settings: the launcher's, the CLI's diagnostics and its follow interval. */
export const TOOL_VARIABLES = ['BQX_TSX', 'BQX_DEBUG', 'BQX_VERBOSE', 'BQX_FOLLOW_POLL_MS'] as const;

/**
 * A BQX_ variable that names no setting is refused, not ignored: a misspelt BQX_KEEP would
 * otherwise leave the default of 3 in force and retention would remove the datasets it was meant to
 * keep. The refusal names the closest setting when the name is one or two edits from it.
 */
function assertKnownVariables(env: Env): void {
  const known: string[] = [...Object.keys(CONFIG_DEFAULTS), ...TOOL_VARIABLES];
  const unknown = Object.keys(env).filter((name) => name.startsWith('BQX_') && !known.includes(name)).sort();
  if (unknown.length === 0) return;
  const name = unknown[0]!;
  const near = closest(name, known);
  const hint = distance(name, near) <= 2 ? `did you mean ${near}?` : "the README's Configuration section lists them";
  const also = unknown.length > 1 ? `; nor are ${unknown.slice(1).join(', ')}` : '';
  throw new ConfigError(name, env[name], `is not a bqx setting (${hint})${also}`);
}

/** Variables a deployed function must be given (no default, or a default that names no real bucket). */
export const GCP_REQUIRED: ConfigVariable[] = ['BQX_PROJECT', 'BQX_STAGING_BUCKET', 'BQX_OUTPUT_BUCKET'];

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
const PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const TOPIC = /^[A-Za-z][A-Za-z0-9._~%+-]{2,254}$/;
const RULE = /^!?[a-z0-9_*{}]+$/;

export function loadConfig(env: Env = process.env): Config {
  assertKnownVariables(env);
  const raw = (name: ConfigVariable): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? CONFIG_DEFAULTS[name] : v.trim();
  };
  const str = (name: ConfigVariable, pattern: RegExp, what: string): string => {
    const v = raw(name);
    if (v === undefined) throw new ConfigError(name, v, `is required (${what})`);
    if (!pattern.test(v)) throw new ConfigError(name, v, `must be ${what}`);
    return v;
  };
  const int = (name: ConfigVariable, min: number, max: number): number => {
    const v = raw(name);
    if (v === undefined || !/^\d+$/.test(v)) throw new ConfigError(name, v, `must be a whole number from ${min} to ${max}`);
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new ConfigError(name, v, `must be a whole number from ${min} to ${max}`);
    return n;
  };
  const list = (name: ConfigVariable, pattern: RegExp, what: string): string[] => {
    const v = raw(name) ?? '';
    const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (items.length === 0) throw new ConfigError(name, v, `must list at least one ${what}`);
    for (const item of items) if (!pattern.test(item)) throw new ConfigError(name, v, `"${item}" is not ${what}`);
    if (new Set(items).size !== items.length) throw new ConfigError(name, v, 'lists a value twice');
    return items;
  };

  const runtime = raw('BQX_RUNTIME');
  if (runtime !== 'embedded' && runtime !== 'gcp') throw new ConfigError('BQX_RUNTIME', runtime, 'must be "embedded" or "gcp"');
  const logLevel = raw('BQX_LOG_LEVEL');
  if (logLevel !== 'debug' && logLevel !== 'info' && logLevel !== 'warn' && logLevel !== 'error') {
    throw new ConfigError('BQX_LOG_LEVEL', logLevel, 'must be one of debug, info, warn, error');
  }
  const shard = raw('BQX_SHARD');
  if (!SHARD_UNITS.includes(shard as ShardUnit)) throw new ConfigError('BQX_SHARD', shard, `must be one of ${SHARD_UNITS.join(', ')}`);
  const currencies = list('BQX_CURRENCIES', /^[a-z]{3}$/, 'a three-letter lower-case currency code');
  if (currencies.length < 2) throw new ConfigError('BQX_CURRENCIES', raw('BQX_CURRENCIES'), 'must list at least two currencies');
  const tableRules = list('BQX_TABLE_RULES', RULE, 'a table rule (a glob of lower-case name characters, {pair}, or ! to exclude)');
  if (!tableRules.some((r) => !r.startsWith('!'))) throw new ConfigError('BQX_TABLE_RULES', raw('BQX_TABLE_RULES'), 'must have at least one rule that selects');

  const diskCheck = raw('BQX_DISK_CHECK');
  if (diskCheck !== 'on' && diskCheck !== 'off') throw new ConfigError('BQX_DISK_CHECK', diskCheck, 'must be "on" or "off"');

  const gcpNeeded = runtime === 'gcp';
  const optional = <T>(name: ConfigVariable, read: () => T, fallback: T): T => (gcpNeeded || raw(name) !== undefined ? read() : fallback);

  return {
    runtime,
    currencies,
    featuresDataset: str('BQX_FEATURES_DATASET', IDENT, 'a dataset name (letters, digits, underscores)'),
    labelsDataset: str('BQX_LABELS_DATASET', IDENT, 'a dataset name (letters, digits, underscores)'),
    labelTablePrefix: str('BQX_LABEL_TABLE_PREFIX', /^[a-z][a-z0-9_]*$/, 'a table name prefix (lower-case letters, digits, underscores)'),
    tableRules,
    metadataColumns: list('BQX_METADATA_COLUMNS', IDENT, 'a column name'),
    maxGroupColumns: int('BQX_MAX_GROUP_COLUMNS', 300, 10000),
    groupColumns: int('BQX_GROUP_COLUMNS', 100, 10000),
    joinBatchTables: int('BQX_JOIN_BATCH_TABLES', 1, 1000),
    shard: shard as ShardUnit,
    keep: int('BQX_KEEP', 1, 1000),
    diskCheck: diskCheck === 'on',
    maxAttempts: int('BQX_MAX_ATTEMPTS', 1, 100),
    stallSeconds: int('BQX_STALL_SECONDS', 1, 86400),
    pendingLimitHours: int('BQX_PENDING_LIMIT_HOURS', 1, 168),
    logLevel,
    topics: {
      runRequests: str('BQX_TOPIC_RUN_REQUESTS', TOPIC, 'a Pub/Sub topic name'),
      extractRequests: str('BQX_TOPIC_EXTRACT_REQUESTS', TOPIC, 'a Pub/Sub topic name'),
      mergeRequests: str('BQX_TOPIC_MERGE_REQUESTS', TOPIC, 'a Pub/Sub topic name'),
      runEvents: str('BQX_TOPIC_RUN_EVENTS', TOPIC, 'a Pub/Sub topic name'),
    },
    profile: {
      mode: profileMode(raw('BQX_PROFILE')),
      warmupRows: int('BQX_PROFILE_WARMUP_ROWS', 0, 10_000_000),
      staleShare: share('BQX_PROFILE_STALE_SHARE', raw('BQX_PROFILE_STALE_SHARE')),
      gates: gates('BQX_GATES', raw('BQX_GATES')),
      folds: {
        trainDays: positive('BQX_FOLD_TRAIN_DAYS', raw('BQX_FOLD_TRAIN_DAYS')),
        validationDays: positive('BQX_FOLD_VALIDATION_DAYS', raw('BQX_FOLD_VALIDATION_DAYS')),
        testDays: positive('BQX_FOLD_TEST_DAYS', raw('BQX_FOLD_TEST_DAYS')),
        stepDays: positive('BQX_FOLD_STEP_DAYS', raw('BQX_FOLD_STEP_DAYS')),
        purgeMinutes: int('BQX_FOLD_PURGE_MINUTES', 0, 1_000_000),
        embargoMinutes: int('BQX_FOLD_EMBARGO_MINUTES', 0, 1_000_000),
      },
    },
    embedded: {
      home: str('BQX_HOME', /^[^\0]+$/, 'a folder path'),
      extractConcurrency: int('BQX_EXTRACT_CONCURRENCY', 1, 64),
      mergeMemoryMb: int('BQX_MERGE_MEMORY_MB', 256, 1048576),
      demoRows: int('BQX_DEMO_ROWS', 100, 10_000_000),
    },
    gcp: {
      project: optional('BQX_PROJECT', () => str('BQX_PROJECT', PROJECT, 'a Google Cloud project id'), ''),
      location: str('BQX_LOCATION', /^([a-z]+(-[a-z0-9]+)*|[A-Z]{2})$/, 'a BigQuery location such as us-central1 or US'),
      stagingBucket: optional('BQX_STAGING_BUCKET', () => str('BQX_STAGING_BUCKET', BUCKET, 'a Cloud Storage bucket name'), ''),
      outputBucket: optional('BQX_OUTPUT_BUCKET', () => str('BQX_OUTPUT_BUCKET', BUCKET, 'a Cloud Storage bucket name'), ''),
      scratchDataset: str('BQX_SCRATCH_DATASET', IDENT, 'a dataset name (letters, digits, underscores)'),
      scratchTtlHours: int('BQX_SCRATCH_TTL_HOURS', 1, 24 * 365),
      maxBytesBilled: int('BQX_MAX_BYTES_BILLED', 1, Number.MAX_SAFE_INTEGER),
      costPerTbUsd: num('BQX_COST_PER_TB_USD', raw('BQX_COST_PER_TB_USD')),
      jobWaitSeconds: int('BQX_JOB_WAIT_SECONDS', 10, 3600),
    },
  };
}

function profileMode(v: string | undefined): 'full' | 'keys' {
  if (v !== 'full' && v !== 'keys') throw new ConfigError('BQX_PROFILE', v, 'must be "full" or "keys"');
  return v;
}

function share(name: ConfigVariable, v: string | undefined): number {
  if (v === undefined || !/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0 || Number(v) > 1) throw new ConfigError(name, v, 'must be a share above 0 and at most 1, such as 0.5');
  return Number(v);
}

function positive(name: ConfigVariable, v: string | undefined): number {
  if (v === undefined || !/^\d+(\.\d+)?$/.test(v) || Number(v) <= 0) throw new ConfigError(name, v, 'must be a number of days above 0');
  return Number(v);
}

/** Comma-separated quality gates, `metric op number[:fail|warn]` (shared/profile/gates.ts). */
function gates(name: ConfigVariable, v: string | undefined): Gate[] {
  try {
    return parseGates(v ?? '');
  } catch (error) {
    if (error instanceof GateError) throw new ConfigError(name, v, error.message);
    throw error;
  }
}

function num(name: ConfigVariable, v: string | undefined): number {
  if (v === undefined || !/^\d+(\.\d+)?$/.test(v)) throw new ConfigError(name, v, 'must be a non-negative number');
  return Number(v);
}
