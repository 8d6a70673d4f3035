// Data versions of BigQuery tables, from INFORMATION_SCHEMA.PARTITIONS: its LAST_MODIFIED_TIME is
// "the time when the data was last written to the partition", updated when data is inserted,
// loaded, streamed or modified in it (https://cloud.google.com/bigquery/docs/information-schema-partitions).
// A non-partitioned table has one row (PARTITION_ID NULL). A table's version is its latest
// partition write plus its partition and row counts, so a dropped partition changes it too. The
// view reads at most 1,000 tables per query: the names are asked for in chunks of that size.

import { assertIdentifier, quoteIdent } from '../../naming.js';

export const PARTITIONS_TABLES_PER_QUERY = 1000;

export interface RenderedVersions {
  sql: string;
  params: { tables: string[] };
}

/** One query per chunk of at most 1,000 table names; rows are `{table_name, version}`. */
export function renderDataVersions(dataset: string, tables: readonly string[]): RenderedVersions[] {
  assertIdentifier(dataset, 'dataset');
  tables.forEach((t) => assertIdentifier(t, 'table'));
  const sql = [
    'SELECT `table_name`,',
    "  FORMAT('%s/%d/%d', FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E6SZ', MAX(`last_modified_time`), 'UTC'),",
    "    COUNT(DISTINCT IFNULL(`partition_id`, '')), IFNULL(SUM(`total_rows`), 0)) AS `version`",
    `FROM ${quoteIdent(dataset, 'bigquery')}.INFORMATION_SCHEMA.PARTITIONS`,
    'WHERE `table_name` IN UNNEST(@tables)',
    'GROUP BY `table_name`',
  ].join('\n');
  const chunks: RenderedVersions[] = [];
  for (let i = 0; i < tables.length; i += PARTITIONS_TABLES_PER_QUERY) {
    chunks.push({ sql, params: { tables: tables.slice(i, i + PARTITIONS_TABLES_PER_QUERY) } });
  }
  return chunks;
}
