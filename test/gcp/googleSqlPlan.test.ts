// Every statement `bqx plan` records for the full-width demo pair (667 features, 17,038 columns),
// with the default column groups and with groups as wide as BigQuery allows, analyzed in run order by Google's GoogleSQL analyzer (ZetaSQL) against a catalog of the demo's
// tables as BigQuery types them: names, types, functions, parameters (typed) and OPTIONS (an
// allowlist with types per statement kind, unknown ones refused) are all resolved. Scratch tables
// enter the catalog as the statements that create them are analyzed (a LOAD DATA target with the
// schema BigQuery takes from the parquet files: a checkpoint's, or an output group's for the
// profile after the merge). The profile's scans, which differ only in the columns they name, are
// analyzed once per shape, the rest checked by shape and by their names and types (scanShape).
// Seeded faults must each be caught. Without the analyzer (another
// platform), the suite says SKIPPED and is pending.

import assert from 'node:assert/strict';
import { loadConfig } from '../../shared/config.js';
import { MAX_RESULT_COLUMNS, MAX_TABLES_PER_STATEMENT } from '../../shared/adapters/gcp/bigQuerySql.js';
import { mapLimit } from '../../shared/concurrency.js';
import { KEY_COLUMN } from '../../shared/naming.js';
import { planDocument, type PlanEntry } from '../../shared/plan/planDocument.js';
import { recordPlan, type RecordedPlan } from '../../shared/plan/recordPlan.js';
import { isLoad, selectItems } from '../../shared/plan/statementInfo.js';
import { demoCatalogSource } from '../helpers/demoCatalog.js';
import { Analyzer, zetaType, type CatalogRef, type ZetaColumn, type ZetaType } from '../helpers/zetasql.js';

/** BigQuery's limits on one statement: 1,024K characters of text, 10,000 result columns, 1,000 tables. */
const MAX_SQL_CHARS = 1024 * 1024;
/** Joins per analyzed slice: a chain of ~50 nests the reply deeper than gRPC decodes. */
const SLICE_JOINS = 24;

const t = (type: string) => zetaType(type);
const EXPORT_OPTIONS = { uri: t('STRING'), format: t('STRING'), compression: t('STRING'), overwrite: t('BOOL') };
const CREATE_OPTIONS = { expiration_timestamp: t('TIMESTAMP') };
const LOAD_OPTIONS = { format: t('STRING'), uris: t('ARRAY<STRING>') };
/** The OPTIONS each kind of statement may carry, with their types. */
const OPTIONS_BY_KIND: Record<string, Record<string, ZetaType>> = {
  extract: EXPORT_OPTIONS,
  export: EXPORT_OPTIONS,
  keys: CREATE_OPTIONS,
  batch: CREATE_OPTIONS,
  load: LOAD_OPTIONS,
  profile_load: LOAD_OPTIONS,
};

/** INFORMATION_SCHEMA.COLUMNS as BigQuery documents it. */
const INFORMATION_SCHEMA_COLUMNS: ZetaColumn[] = [
  ...['table_catalog', 'table_schema', 'table_name', 'column_name'].map((name) => ({ name, type: t('STRING') })),
  { name: 'ordinal_position', type: t('INT64') },
  ...['is_nullable', 'data_type', 'is_generated', 'generation_expression', 'is_stored', 'is_hidden', 'is_updatable', 'is_system_defined', 'is_partitioning_column'].map((name) => ({ name, type: t('STRING') })),
  { name: 'clustering_ordinal_position', type: t('INT64') },
  ...['collation_name', 'column_default', 'rounding_mode'].map((name) => ({ name, type: t('STRING') })),
];

/** INFORMATION_SCHEMA.PARTITIONS as BigQuery documents it (https://cloud.google.com/bigquery/docs/information-schema-partitions). */
const INFORMATION_SCHEMA_PARTITIONS: ZetaColumn[] = [
  ...['table_catalog', 'table_schema', 'table_name', 'partition_id'].map((name) => ({ name, type: t('STRING') })),
  ...['total_rows', 'total_logical_bytes', 'total_billable_bytes'].map((name) => ({ name, type: t('INT64') })),
  { name: 'last_modified_time', type: t('TIMESTAMP') },
  { name: 'storage_tier', type: t('STRING') },
];

/** A statement of many joins as slices of at most SLICE_JOINS joins, each with the select items of its aliases. */
function slices(sql: string): string[] {
  const lines = sql.split('\n');
  const joins = lines.map((l, i) => (l.startsWith('LEFT JOIN ') ? i : -1)).filter((i) => i >= 0);
  if (joins.length <= SLICE_JOINS) return [sql];
  const select = lines.findIndex((l) => l.startsWith('SELECT '));
  const from = lines.findIndex((l) => l.startsWith('FROM '));
  assert.ok(select >= 0 && from === select + 1 && joins[0] === from + 1, 'a join statement is SELECT, FROM, then its joins');
  const items = selectItems(`${lines[select]}\n${lines[from]}`);
  const out: string[] = [];
  for (let i = 0; i < joins.length; i += SLICE_JOINS) {
    const part = joins.slice(i, i + SLICE_JOINS).map((j) => lines[j]!);
    const aliases = new Set(['k', ...part.map((l) => /AS `([^`]+)` ON/.exec(l)![1]!)]);
    const kept = items.filter((item) => aliases.has(/^`([^`]+)`\./.exec(item)![1]!));
    out.push([...lines.slice(0, select), `SELECT ${kept.join(', ')}`, lines[from]!, ...part, ...lines.slice(joins[joins.length - 1]! + 1)].join('\n'));
  }
  return out;
}

/** Statements analyzed at once (the server answers requests in parallel). */
const CONCURRENCY = 4;

/**
 * Runs of consecutive statements, cut where a statement reads a table created earlier in the same
 * run: within a wave, order does not matter.
 */
function waves(entries: readonly PlanEntry[]): PlanEntry[][] {
  const out: PlanEntry[][] = [];
  let wave: PlanEntry[] = [];
  let created = new Set<string>();
  for (const entry of entries) {
    const dependent = entry.statement.reads.some((r) => created.has(r));
    if (wave.length > 0 && dependent) {
      out.push(wave);
      wave = [];
      created = new Set();
    }
    wave.push(entry);
    if (entry.statement.creates) created.add(entry.statement.creates);
  }
  if (wave.length > 0) out.push(wave);
  return out;
}

/**
 * A profile scan's text with its column names and table left out: the scans of a plan differ only
 * in those (bigQueryProfileSql.ts renderScanSegments names each column once, in its innermost
 * SELECT, and numbers it everywhere else), so two of one shape are valid alike wherever their
 * names are columns of the table each reads.
 */
/** The column types `CAST(x AS FLOAT64)` takes (a TIMESTAMP, the key, it refuses). */
const CASTS_TO_FLOAT64 = new Set(['TYPE_DOUBLE', 'TYPE_INT64', 'TYPE_NUMERIC', 'TYPE_BIGNUMERIC', 'TYPE_BOOL', 'TYPE_STRING']);

function scanShape(entry: PlanEntry): { shape: string; names: string[] } {
  const names: string[] = [];
  const [dataset, table] = entry.statement.reads[0]!.split('.');
  const shape = entry.sql
    .replace(/CAST\(`([^`]+)` AS FLOAT64\) AS c(\d+)\b/g, (_, name: string, i: string) => (names.push(name), `CAST(? AS FLOAT64) AS c${i}`))
    .replaceAll(`\`${dataset}\`.\`${table}\``, '?');
  return { shape, names };
}

/**
 * The suite for one width of column groups: the default's (what `bqx plan` shows a user) and the
 * widest BigQuery allows (the widest statements any setting makes, in the same shapes).
 * `scansByShape`: analyze one profile scan of each shape, and check the others' names and their
 * types against the table each reads. Every scan analyzed took about 0.8 s of the analyzer's CPU
 * (its cost grows with the columns named, 5 ms each), 96 scans: 85 % of a suite's time.
 */
/**
 * What the analyzer said of each statement that reads the demo's own tables only (the extracts,
 * their counts, the catalog and version queries: two thirds of a plan), by its text less the run's
 * names: the two widths' plans send the same ones, so the second suite takes the first's answer.
 */
const sourceAnswers = new Map<string, Promise<{ errors: string[]; output: ZetaColumn[] }>>();

function analysisSuite(groupColumns: number, title: string, scansByShape = false) {
  describe(`gcp/GoogleSQL analysis of the plan (ZetaSQL), ${title}`, function () {
    this.timeout(300_000);
    let analyzer: Analyzer | undefined;
    let plan: RecordedPlan;
    let entries: PlanEntry[];
    /** Tables the analyzer may see, by path: the demo's, then scratch tables as they are created. */
    const catalog = new Map<string, ZetaColumn[]>();

    before(async function () {
      const started = await Analyzer.start();
      if (typeof started === 'string') {
        console.log(`      SKIPPED: GoogleSQL analysis of the plan because ${started}`);
        this.skip();
      }
      analyzer = started as Analyzer;
      const config = loadConfig({ BQX_GROUP_COLUMNS: String(groupColumns) });
      plan = await recordPlan({ config, pair: 'eurusd', source: demoCatalogSource(config, 'eurusd'), now: new Date('2026-01-05T00:00:00Z') });
      ({ entries } = await planDocument(plan, { target: 'bigquery', featureRows: () => plan.labelRows }));
      for (const [dataset, tables] of [[config.featuresDataset, plan.featureCatalog], [config.labelsDataset, plan.labelCatalog]] as const) {
        catalog.set(`${dataset}.INFORMATION_SCHEMA.COLUMNS`, INFORMATION_SCHEMA_COLUMNS);
        catalog.set(`${dataset}.INFORMATION_SCHEMA.PARTITIONS`, INFORMATION_SCHEMA_PARTITIONS);
        for (const table of tables) catalog.set(`${dataset}.${table.table}`, table.columns.map((c) => ({ name: c.name, type: t(c.type) })));
      }
    });

    after(() => analyzer?.stop());

    /** The catalog one statement is analyzed against: the tables it reads that exist by then. */
    const tablesFor = (entry: PlanEntry, extra: ReadonlyMap<string, ZetaColumn[]> = new Map()) => {
      const tables = new Map<string, ZetaColumn[]>();
      for (const name of entry.statement.reads) {
        const columns = extra.get(name) ?? catalog.get(name);
        if (columns) tables.set(name, columns);
      }
      return tables;
    };
    const paramsOf = (entry: PlanEntry) => Object.fromEntries(Object.entries(entry.statement.params).map(([name, type]) => [name, t(type)]));
    const optionsOf = (entry: PlanEntry) => OPTIONS_BY_KIND[entry.statement.kind] ?? {};
    /**
     * The schema a LOAD DATA gives its table: the checkpoint's key and columns, or (the profile's
     * loads of the output) the output group's, as the merge's export writes them: the key a
     * TIMESTAMP, every label and feature a FLOAT64.
     */
    const loadSchema = (entry: PlanEntry): ZetaColumn[] => {
      const feature = plan.manifest.features.find((f) => f.feature === entry.recorded.labels.feature);
      if (!feature) return entry.columnNames.map((name) => ({ name, type: t(name === KEY_COLUMN ? 'TIMESTAMP' : 'FLOAT64') }));
      return [{ name: KEY_COLUMN, type: t('TIMESTAMP') }, ...feature.columns.map((c) => ({ name: c.source, type: t(c.type) }))];
    };

    /** Whose output columns are read: what a CREATE TABLE makes, and what an export writes. */
    const outputWanted = (entry: PlanEntry) => entry.statement.kind === 'export' || (!!entry.statement.creates && !isLoad(entry.sql));

    /**
     * Analyzes one statement (in slices where it joins many tables) against the tables it reads (and
     * a LOAD DATA's target), or against `registered`, a catalog registered once that holds them;
     * returns its errors and output columns (none where they are not wanted).
     */
    async function analyze(entry: PlanEntry, sql = entry.sql, params = paramsOf(entry), registered?: CatalogRef): Promise<{ errors: string[]; output: ZetaColumn[] }> {
      const tables = tablesFor(entry);
      if (isLoad(entry.sql)) tables.set(entry.statement.creates!, loadSchema(entry));
      const errors: string[] = [];
      const output = new Map<string, ZetaColumn>();
      for (const slice of slices(sql)) {
        const r = await analyzer!.analyze(slice, registered ?? { tables }, params, optionsOf(entry), outputWanted(entry));
        if (!r.ok) errors.push(`${entry.statement.file}: ${r.error}`);
        else for (const c of r.outputColumns ?? []) if (!output.has(c.name)) output.set(c.name, c);
      }
      return { errors, output: [...output.values()] };
    }

    it('plans the full-width demo pair: 667 features, 17,038 columns, over 2,000 statements, the profile after the merge', () => {
      assert.equal(plan.manifest.features.length, 667);
      assert.equal(plan.manifest.columnCount, 17_038);
      assert.ok(entries.length > 2000, `${entries.length} statements`);
      // The profile's statements are the last ones: a load of each group, its statistics and samples, then the key's gaps and the fold rows.
      const kinds = entries.map((e) => e.statement.kind);
      const first = kinds.indexOf('profile_load');
      assert.equal(kinds.lastIndexOf('export'), first - 1, 'the profile follows the merge');
      assert.equal(kinds.filter((k) => k === 'profile_load').length, plan.mergePlan.groups.length);
      assert.ok(kinds.slice(first).every((k) => k.startsWith('profile_')));
      assert.deepEqual(kinds.slice(-2), ['profile_gaps', 'profile_cuts']);
      // startRun's data versions (INFORMATION_SCHEMA.PARTITIONS): the features' rows in the window, the label rows whole and settled.
      assert.deepEqual(kinds.slice(4, 7), ['data_versions', 'data_versions', 'data_versions']);
    });

    it('analyzes every statement in run order with zero errors', async function () {
      const began = Date.now();
      // The catalog, label and extract statements (two thirds) read only the demo's tables: one
      // catalog of those, registered once, saves building the builtin functions per request.
      const sourceTables = new Set(catalog.keys());
      const sources = await analyzer!.register(catalog);
      const readsSources = (entry: PlanEntry) => !entry.statement.creates && entry.statement.reads.every((r) => sourceTables.has(r));
      // A LOAD DATA reads files, not tables, and its target must be in the catalog: one catalog of
      // every load's target with its checkpoint's schema serves them all.
      const loads = entries.filter((e) => isLoad(e.sql));
      const targets = await analyzer!.register(new Map(loads.map((e) => [e.statement.creates!, loadSchema(e)])));
      const catalogFor = (entry: PlanEntry) => (readsSources(entry) ? sources : isLoad(entry.sql) ? targets : undefined);
      const errors: string[] = [];
      let analyzed = 0;
      let sliced = 0;
      /** Profile scan shapes the analyzer passed, and the scans checked by shape instead. */
      const passedShapes = new Set<string>();
      let byShape = 0;
      /** Statements of the demo's own tables another width's suite analyzed (sourceAnswers). */
      let answered = 0;
      const analyzeOrMatch = async (entry: PlanEntry) => {
        const scan = scansByShape && entry.statement.kind === 'profile_scan' ? scanShape(entry) : undefined;
        if (scan && passedShapes.has(scan.shape)) {
          const columns = new Map((catalog.get(entry.statement.reads[0]!) ?? []).map((c) => [c.name, String(c.type.typeKind)]));
          const missing = scan.names.filter((n) => !columns.has(n));
          const uncastable = scan.names.filter((n) => columns.has(n) && !CASTS_TO_FLOAT64.has(columns.get(n)!));
          byShape++;
          const errors = [
            ...(missing.length > 0 ? [`${entry.statement.file}: Unrecognized name: ${missing[0]} (and ${missing.length - 1} more)`] : []),
            ...(uncastable.length > 0 ? [`${entry.statement.file}: Invalid cast of ${uncastable[0]} (${columns.get(uncastable[0]!)}) to FLOAT64`] : []),
          ];
          return { errors, output: [] };
        }
        if (readsSources(entry)) {
          const key = `${entry.sql.replaceAll(plan.runId, '<run>').replace(/attempt-[0-9a-z_-]+\//g, 'attempt/')}\n${JSON.stringify(paramsOf(entry))}`;
          if (sourceAnswers.has(key)) answered++;
          else sourceAnswers.set(key, analyze(entry, entry.sql, paramsOf(entry), sources));
          return sourceAnswers.get(key)!;
        }
        const result = await analyze(entry, entry.sql, paramsOf(entry), catalogFor(entry));
        if (scan && result.errors.length === 0) passedShapes.add(scan.shape);
        return result;
      };
      for (const wave of waves(entries)) {
        // A wave's statements read nothing another statement of the wave creates: analyzed side by
        // side, then what they create enters the catalog, in run order.
        const results = await mapLimit(wave, CONCURRENCY, analyzeOrMatch);
        wave.forEach((entry, i) => {
          const { errors: found, output } = results[i]!;
          analyzed++;
          if (slices(entry.sql).length > 1) sliced++;
          errors.push(...found);
          const created = entry.statement.creates;
          if (created && found.length === 0) {
            const columns = isLoad(entry.sql) ? loadSchema(entry) : output;
            if (!isLoad(entry.sql)) assert.equal(columns.length, entry.statement.columns, `${entry.statement.file}: the analyzer's result width is the plan's`);
            catalog.set(created, columns);
          }
          if (entry.statement.kind === 'export' && found.length === 0) assert.equal(output.length, entry.statement.columns, `${entry.statement.file}: exported columns`);
        });
      }
      const seconds = ((Date.now() - began) / 1000).toFixed(1);
      const shapes = scansByShape ? `; ${byShape} profile scans checked by shape: one of each shape analyzed, the names of the rest columns of the table each reads, of a type that casts to FLOAT64` : '';
      const shared = answered > 0 ? `; ${answered} reading the demo's tables alone the same as one analyzed before (the other width's plan sends them too), answered from it` : '';
      this.test!.title = `${scansByShape ? 'checks' : 'analyzes'} all ${analyzed} statements in run order with ${errors.length} errors (${sliced} in slices${shapes}${shared}, ${seconds} s)`;
      if (scansByShape) {
        assert.ok(byShape > 0 && passedShapes.size > 0, 'some scans were checked by shape');
        // A scan of a passed shape naming a column its table lacks is caught all the same.
        const scan = entries.find((e) => e.statement.kind === 'profile_scan')!;
        const name = scanShape(scan).names[0]!;
        const faulted = { ...scan, sql: scan.sql.replace(`\`${name}\``, `\`${name}x\``) };
        assert.match((await analyzeOrMatch(faulted)).errors[0] ?? '', new RegExp(`Unrecognized name: ${name}x`));
        // And one naming the key, a TIMESTAMP, which does not cast to FLOAT64.
        const keyed = { ...scan, sql: scan.sql.replace(`CAST(\`${name}\` AS FLOAT64)`, `CAST(\`${KEY_COLUMN}\` AS FLOAT64)`) };
        assert.match((await analyzeOrMatch(keyed)).errors[0] ?? '', new RegExp(`Invalid cast of ${KEY_COLUMN}`));
      }
      assert.deepEqual(errors.slice(0, 5), [], `${errors.length} statements refused`);
      assert.equal(analyzed, entries.length);
    });

    it("keeps every statement within BigQuery's limits: text, result columns, tables", () => {
      for (const { statement: s } of entries) {
        assert.ok(s.chars <= MAX_SQL_CHARS, `${s.file}: ${s.chars} characters`);
        assert.ok(s.columns <= MAX_RESULT_COLUMNS, `${s.file}: ${s.columns} columns`);
        assert.ok(s.reads.length + (s.creates ? 1 : 0) <= MAX_TABLES_PER_STATEMENT, `${s.file}: ${s.reads.length} tables`);
      }
      // The merge's widest statement is a full column group; the profile's measures are as wide as their batch makes them (18 measures and the sample a column).
      const widest = Math.max(...entries.filter((e) => !e.statement.kind.startsWith('profile_')).map((e) => e.statement.columns));
      assert.ok(widest > groupColumns * 0.9 && widest <= groupColumns, `the widest statement of the merge (${widest} columns) is a full column group of at most ${groupColumns}`);
    });

    it('catches each seeded fault', async function () {
      const find = (kind: string, feature?: string) => entries.find((e) => e.statement.kind === kind && (!feature || e.recorded.labels.feature === feature))!;
      const extract = find('extract', 'agg_eurusd');
      const column = plan.manifest.features.find((f) => f.feature === 'agg_eurusd')!.columns[0]!.source;
      const exportEntry = entries.filter((e) => e.statement.kind === 'export').at(-1)!;
      const load = find('load');
      const batch = find('batch');
      // The profile's measures of a group: its columns are the ones the group's load gave its table.
      const sample = find('profile_scan');
      const sampled = /CAST\(`([^`]+)` AS FLOAT64\)/.exec(sample.sql)![1]!;
      const faults: { name: string; run: () => Promise<{ errors: string[] }>; expect: RegExp }[] = [
        { name: 'a misspelt column', run: () => analyze(extract, extract.sql.replace(`\`${column}\``, `\`${column}x\``)), expect: /Unrecognized name/ },
        { name: 'a parameter of the wrong type', run: () => analyze(extract, extract.sql, { start: t('INT64'), end: t('INT64') }), expect: /No matching signature/ },
        { name: "a profile query naming a column its group's load lacks", run: () => analyze(sample, sample.sql.replace(`\`${sampled}\``, `\`${sampled}x\``)), expect: /Unrecognized name/ },
        { name: 'an unknown option', run: () => analyze(exportEntry, exportEntry.sql.replace("compression='ZSTD'", "compresion='ZSTD'")), expect: /Unknown option: compresion/ },
        { name: 'an option of the wrong type', run: () => analyze(exportEntry, exportEntry.sql.replace('overwrite=true', "overwrite='yes'")), expect: /overwrite/ },
        { name: 'an unknown function', run: () => analyze(extract, extract.sql.replace('ROW_NUMBER()', 'ROW_NUMBR()')), expect: /Function not found: ROW_NUMBR/ },
        { name: 'a snapshot time that is no timestamp', run: () => analyze(extract, extract.sql.replace(/AS OF TIMESTAMP '[^']+'/, "AS OF TIMESTAMP '2025-13-45 00:00:00+00'")), expect: /Invalid TIMESTAMP literal/ },
        {
          name: 'an expiration option on LOAD DATA (undocumented there)',
          run: () => analyze(load, load.sql.replace('\n', '\nOPTIONS(expiration_timestamp=TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 24 HOUR))\n')),
          expect: /Unknown option: expiration_timestamp/,
        },
        {
          name: 'a scratch table read before it is created',
          run: async () => {
            const missing = batch.statement.reads.find((r) => r.includes('__ck'))!;
            const saved = catalog.get(missing)!;
            catalog.delete(missing);
            try {
              return await analyze(batch);
            } finally {
              catalog.set(missing, saved);
            }
          },
          expect: /Table not found/,
        },
      ];
      // Every read of a feature table, and the merge's of the label rows, is of the tables as the run froze them.
      const frozen = `FOR SYSTEM_TIME AS OF TIMESTAMP '${plan.manifest.snapshotAt!.replace('T', ' ').replace('Z', '+00')}'`;
      for (const kind of ['extract', 'extract_counts', 'keys']) {
        const of = entries.filter((e) => e.statement.kind === kind);
        assert.ok(of.length > 0 && of.every((e) => e.sql.includes(frozen)), `${kind}: ${of.length} statement(s), each ${frozen}`);
      }
      // The unchanged statements pass: each fault is the only difference.
      for (const entry of [extract, exportEntry, load, batch, sample]) assert.deepEqual((await analyze(entry)).errors, [], entry.statement.file);
      const caught: string[] = [];
      for (const fault of faults) {
        const { errors } = await fault.run();
        assert.ok(errors.length > 0, `${fault.name} was not caught`);
        assert.match(errors[0]!, fault.expect, fault.name);
        caught.push(fault.name);
      }
      this.test!.title = `catches each seeded fault: ${caught.length} of ${faults.length} (${caught.join('; ')})`;
    });
  });
}

analysisSuite(1000, 'default column groups (1,000 columns)', true);
analysisSuite(9900, 'column groups as wide as BigQuery allows (9,900 columns)', true);
