// What one recorded statement touches, read from its text: the tables it names, the table it
// creates, its result's columns, and its parameters' BigQuery types. The adapter quotes every
// identifier with backticks (naming.quoteIdent), names tables as `dataset`.`table` after FROM, JOIN,
// TABLE or OVERWRITE, and puts one top-level SELECT list in a statement, so these can be read
// without a full parser.

import type { RecordedStatement } from '../adapters/gcp/recordingBigQuery.js';

export interface StatementInfo {
  /** Tables read, `dataset.table` (INFORMATION_SCHEMA views as `dataset.INFORMATION_SCHEMA.COLUMNS`). */
  reads: string[];
  /** The table a CREATE TABLE or LOAD DATA makes. */
  creates?: string;
  /** Result columns: what it selects, exports or creates. */
  columns: string[];
  /** Parameter name -> BigQuery type. */
  params: Record<string, string>;
}

const TABLE_REF = /\b(?:FROM|JOIN|TABLE|OVERWRITE)\s+`([A-Za-z_][A-Za-z0-9_]*)`\.(?:`([A-Za-z_][A-Za-z0-9_-]*)`|(INFORMATION_SCHEMA\.[A-Z_]+))/g;
const CREATES = /^(?:CREATE OR REPLACE TABLE|LOAD DATA OVERWRITE) `([A-Za-z_][A-Za-z0-9_]*)`\.`([A-Za-z_][A-Za-z0-9_-]*)`/m;

/** The BigQuery type the client library gives a parameter value (an array: its first element's, as the library does). */
export function parameterType(value: unknown): string {
  if (Array.isArray(value)) {
    if (value.length === 0) throw new Error('no BigQuery type for an empty array parameter');
    return `ARRAY<${parameterType(value[0])}>`;
  }
  if (value instanceof Date) return 'TIMESTAMP';
  if (typeof value === 'string') return 'STRING';
  if (typeof value === 'boolean') return 'BOOL';
  if (typeof value === 'bigint') return 'INT64';
  if (typeof value === 'number') return Number.isInteger(value) ? 'INT64' : 'FLOAT64';
  throw new Error(`no BigQuery type for a parameter of type ${typeof value}`);
}

/** Items of the statement's first top-level SELECT list, split at commas outside () and quotes. */
export function selectItems(sql: string): string[] {
  const start = sql.search(/(^|\s)SELECT\s/);
  if (start < 0) return [];
  const items: string[] = [];
  let depth = 0;
  let quote = '';
  let item = '';
  for (let i = sql.indexOf('SELECT', start) + 6; i < sql.length; i++) {
    const ch = sql[i]!;
    if (quote) {
      if (ch === quote) quote = '';
    } else if (ch === "'" || ch === '`') {
      quote = ch;
    } else if (ch === '(') {
      depth++;
    } else if (ch === ')') {
      depth--;
    } else if (depth === 0 && ch === ',') {
      items.push(item.trim());
      item = '';
      continue;
    } else if (depth === 0 && sql.startsWith('FROM', i) && /\s/.test(sql[i - 1]!) && /\s/.test(sql[i + 4] ?? ' ')) {
      break;
    }
    item += ch;
  }
  if (item.trim() !== '') items.push(item.trim());
  return items;
}

/** The name a select item gives its column: its alias, else the last identifier. */
export function itemName(item: string): string {
  const alias = /\bAS\s+`?([A-Za-z_][A-Za-z0-9_]*)`?$/.exec(item);
  if (alias) return alias[1]!;
  const last = /`?([A-Za-z_][A-Za-z0-9_]*)`?$/.exec(item);
  return last ? last[1]! : item;
}

/** Whether a statement is a LOAD DATA: it reads files, not tables, and makes a table of their schema. */
export const isLoad = (sql: string): boolean => /^LOAD DATA\b/.test(sql);

/**
 * `loadColumns`: the columns a LOAD DATA gives its table, key first (the files' schema, which is not
 * in the statement's text: a checkpoint's, or an output group's).
 */
export function statementInfo(s: RecordedStatement, loadColumns: (s: RecordedStatement) => string[]): StatementInfo {
  const named = new Set<string>();
  for (const m of s.sql.matchAll(TABLE_REF)) named.add(`${m[1]}.${m[2] ?? m[3]}`);
  const created = CREATES.exec(s.sql);
  const creates = created ? `${created[1]}.${created[2]}` : undefined;
  if (creates) named.delete(creates);
  const columns = isLoad(s.sql) ? loadColumns(s) : selectItems(s.sql).map(itemName);
  const params = Object.fromEntries(Object.entries(s.params).map(([k, v]) => [k, parameterType(v)]));
  return { reads: [...named], ...(creates ? { creates } : {}), columns, params };
}
