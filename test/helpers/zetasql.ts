// Google's GoogleSQL analyzer (ZetaSQL), run locally from @fivetrandevelopers/zetasql: its gRPC
// server (a linux binary in the package, nothing downloaded) on a free loopback port. A statement
// is analyzed against a catalog of just the tables it may read, typed as BigQuery types them, with
// typed query parameters and an allowlist of OPTIONS and their types (unknown ones refused).
// Facts learnt when trying it: request fields are camelCase; QUALIFY needs the maximum language
// features; the reply carries the resolved tree, and a chain of ~50 joins is nested too deep for
// gRPC to decode, so callers analyze such a statement in slices.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { freePort } from '../../shared/runtime/emulators.js';
import path from 'node:path';

export interface ZetaType {
  typeKind: number | string;
  arrayType?: { elementType: ZetaType };
}

export interface ZetaColumn {
  name: string;
  type: ZetaType;
}

export type AnalyzeResult = { ok: true; outputColumns: ZetaColumn[] | undefined } | { ok: false; error: string };

const KINDS: Record<string, string> = {
  TIMESTAMP: 'TYPE_TIMESTAMP',
  FLOAT64: 'TYPE_DOUBLE',
  INT64: 'TYPE_INT64',
  STRING: 'TYPE_STRING',
  BOOL: 'TYPE_BOOL',
  NUMERIC: 'TYPE_NUMERIC',
  BIGNUMERIC: 'TYPE_BIGNUMERIC',
  DATE: 'TYPE_DATE',
  DATETIME: 'TYPE_DATETIME',
  BYTES: 'TYPE_BYTES',
};

/** A BigQuery type name (`FLOAT64`, `ARRAY<STRING>`) as a ZetaSQL type. */
export function zetaType(bigQueryType: string): ZetaType {
  const array = /^ARRAY<(.+)>$/.exec(bigQueryType);
  if (array) return { typeKind: 'TYPE_ARRAY', arrayType: { elementType: zetaType(array[1]!) } };
  const kind = KINDS[bigQueryType];
  if (!kind) throw new Error(`no ZetaSQL type for BigQuery type ${bigQueryType}`);
  return { typeKind: kind };
}

interface CatalogNode {
  name: string;
  table: { name: string; column: ZetaColumn[] }[];
  catalog: CatalogNode[];
}

/** Tables by path (`dataset.table`, `dataset.INFORMATION_SCHEMA.COLUMNS`) as nested catalogs. */
function catalogOf(tables: ReadonlyMap<string, readonly ZetaColumn[]>): CatalogNode {
  const root: CatalogNode = { name: 'bigquery', table: [], catalog: [] };
  for (const [name, columns] of tables) {
    const parts = name.split('.');
    let node = root;
    for (const part of parts.slice(0, -1)) {
      let child = node.catalog.find((c) => c.name === part);
      if (!child) node.catalog.push((child = { name: part, table: [], catalog: [] }));
      node = child;
    }
    node.table.push({ name: parts[parts.length - 1]!, column: [...columns] });
  }
  return root;
}

/** The output columns of a CREATE TABLE AS SELECT or EXPORT DATA, from the resolved tree. */
function outputColumns(resolved: unknown): ZetaColumn[] | undefined {
  const seen = new Set<unknown>();
  const find = (node: unknown, depth: number): unknown[] | undefined => {
    if (node === null || typeof node !== 'object' || depth > 12 || seen.has(node)) return undefined;
    seen.add(node);
    const record = node as Record<string, unknown>;
    if (Array.isArray(record.outputColumnList) && record.outputColumnList.length > 0) return record.outputColumnList;
    for (const value of Object.values(record)) {
      if (Array.isArray(value)) continue; // column lists and join trees: not where the statement's own output lives
      const found = find(value, depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  const list = find(resolved, 0) as { name: string; column: { type: ZetaType } }[] | undefined;
  return list?.map((c) => ({ name: c.name, type: { typeKind: c.column.type.typeKind } }));
}

interface Client {
  testConnection(): Promise<boolean>;
  analyze(request: unknown): Promise<{ resolvedStatement?: unknown } | undefined>;
  registerCatalog(request: unknown): Promise<{ registeredId?: unknown } | undefined>;
}

/**
 * The Analyze call with the reply's bytes left undecoded: the resolved tree of a profile statement
 * (then 500 columns x 11 measures) was 4 MB, and decoding it took half the time of its analysis.
 * For statements whose output columns nobody reads.
 */
type CheckOnly = (request: unknown) => Promise<void>;

interface GrpcClient {
  close(): void;
  analyze: { path: string; requestSerialize: (request: unknown) => Buffer };
  makeUnaryRequest(path: string, serialize: (request: unknown) => Buffer, deserialize: (bytes: Buffer) => unknown, request: unknown, callback: (error: unknown) => void): void;
}

/** A catalog the server keeps (built once with the builtin functions), or one sent with each request. */
export type CatalogRef = { registered: unknown } | { tables: ReadonlyMap<string, readonly ZetaColumn[]> };

export class Analyzer {
  private constructor(
    private readonly child: ChildProcess,
    private readonly client: Client,
    private readonly closeChannel: () => void,
    private readonly languageOptions: unknown,
    private readonly checkOnly: CheckOnly,
  ) {}

  /**
   * Starts the analyzer for a suite's `before`, or says on the test output that `what` is skipped
   * and why, and skips the suite (pending, never passing silently).
   */
  static async forSuite(suite: Mocha.Context, what: string): Promise<Analyzer> {
    const started = await Analyzer.start();
    if (typeof started === 'string') {
      console.log(`      SKIPPED: ${what} because ${started}`);
      suite.skip();
    }
    return started as Analyzer;
  }

  /** Starts the analyzer's server, or says in one sentence why it cannot. */
  static async start(): Promise<Analyzer | string> {
    let lib: string;
    let zetasql: { ZetaSQLClient: { init(port: number): void; getInstance(): Client; API: GrpcClient }; LanguageOptions: new () => { enableMaximumLanguageFeatures(): Promise<{ serialize(): unknown }> } };
    try {
      const require = createRequire(import.meta.url);
      lib = path.dirname(require.resolve('@fivetrandevelopers/zetasql'));
      const mod = (await import('@fivetrandevelopers/zetasql')) as unknown as typeof zetasql & { default?: typeof zetasql };
      zetasql = mod.default?.ZetaSQLClient ? mod.default : mod;
    } catch (error) {
      return `@fivetrandevelopers/zetasql is not installed: it is in test/package.json, which \`npm test\` installs first (or: node scripts/install-nested.mjs test) (${(error as Error).message})`;
    }
    if (process.platform !== 'linux' || (process.arch !== 'x64' && process.arch !== 'arm64')) {
      return `the package ships its analyzer server for linux only, this is ${process.platform} ${process.arch}`;
    }
    const binary = path.join(lib, 'zetasql', process.arch === 'x64' ? 'remote_server.so' : 'remote_server_arm.so');
    if (!existsSync(binary)) return `the analyzer server ${binary} is missing`;
    // The emulators' port source: a port it hands out is never handed out again in this process (a
    // CI run once saw the Pub/Sub emulator's readiness check answered by this gRPC server).
    const port = await freePort();
    const child = spawn(binary, ['localhost', String(port)], { stdio: 'ignore' });
    // Whatever happens to the test run, the server goes with it.
    const kill = () => child.kill('SIGKILL');
    process.once('exit', kill);
    const failed = new Promise<string>((resolve) => child.once('error', (e) => resolve(`the analyzer server did not start: ${e.message}`)));
    try {
      zetasql.ZetaSQLClient.init(port);
      const client = zetasql.ZetaSQLClient.getInstance();
      const up = await Promise.race([client.testConnection(), failed]);
      if (up !== true) throw new Error(typeof up === 'string' ? up : `the analyzer server did not answer on port ${port}`);
      const options = (await new zetasql.LanguageOptions().enableMaximumLanguageFeatures()).serialize();
      const api = zetasql.ZetaSQLClient.API;
      const checkOnly: CheckOnly = (request) =>
        new Promise((resolve, reject) => api.makeUnaryRequest(api.analyze.path, api.analyze.requestSerialize, () => true, request, (error) => (error ? reject(error) : resolve())));
      return new Analyzer(child, client, () => api.close(), options, checkOnly);
    } catch (error) {
      kill();
      zetasql.ZetaSQLClient.API?.close();
      return (error as Error).message;
    }
  }

  /** Registers a catalog of these tables with the server, for many statements that read only them. */
  async register(tables: ReadonlyMap<string, readonly ZetaColumn[]>): Promise<CatalogRef> {
    const response = await this.client.registerCatalog({ simpleCatalog: this.catalog(tables) });
    if (response?.registeredId === undefined) throw new Error('the analyzer registered no catalog');
    return { registered: response.registeredId };
  }

  private catalog(tables: ReadonlyMap<string, readonly ZetaColumn[]>) {
    return { ...catalogOf(tables), builtinFunctionOptions: { languageOptions: this.languageOptions } };
  }

  /**
   * Analyzes one statement. `catalog`: everything it may read (and a LOAD DATA's target);
   * `params`: its named parameters; `options`: the OPTIONS (and FROM FILES options) it may carry;
   * `output`: false when its output columns are not wanted (the reply is then not decoded).
   */
  async analyze(sql: string, catalog: CatalogRef, params: Record<string, ZetaType>, options: Record<string, ZetaType>, output = true): Promise<AnalyzeResult> {
    try {
      const request = {
        sqlStatement: sql,
        ...('registered' in catalog ? { registeredCatalogId: catalog.registered } : { simpleCatalog: this.catalog(catalog.tables) }),
        options: {
          languageOptions: this.languageOptions,
          queryParameters: Object.entries(params).map(([name, type]) => ({ name, type })),
          allowedHintsAndOptions: { disallowUnknownOptions: true, option: Object.entries(options).map(([name, type]) => ({ name, type })) },
          errorMessageMode: 'ERROR_MESSAGE_ONE_LINE',
          defaultTimezone: 'UTC',
        },
      };
      if (!output) {
        await this.checkOnly(request);
        return { ok: true, outputColumns: undefined };
      }
      const response = await this.client.analyze(request);
      return { ok: true, outputColumns: outputColumns(response?.resolvedStatement) };
    } catch (error) {
      const e = error as { details?: string; message?: string };
      return { ok: false, error: e.details ?? e.message ?? String(error) };
    }
  }

  stop(): void {
    this.closeChannel();
    this.child.kill('SIGKILL');
  }
}

