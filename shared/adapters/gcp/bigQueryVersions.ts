// Data versions of BigQuery tables, from INFORMATION_SCHEMA.PARTITIONS: its LAST_MODIFIED_TIME is
// "the time when the data was last written to the partition", updated when data is inserted,
// loaded, streamed or modified in it (https://cloud.google.com/bigquery/docs/information-schema-partitions).
// A non-partitioned table has one row (PARTITION_ID NULL). A table's version is its latest
// partition write plus its partition and row counts, so a dropped partition changes it too. The
// view reads at most 1,000 tables per query: the names are asked for in chunks of that size.
// The version of a key range (an incremental refresh asks for the previous window's) counts only
// the partitions whose time range meets it, in tables partitioned by time on the key column (from
// INFORMATION_SCHEMA.COLUMNS.IS_PARTITIONING_COLUMN); rows appended to later partitions leave it
// alone. Any other table (not partitioned, partitioned by another column or by ingestion time), and
// the __NULL__ and __UNPARTITIONED__ partitions, always count: their version is the whole table's.

import { KEY_COLUMN, assertIdentifier, quoteIdent } from '../../naming.js';
import type { Window } from '../../ports.js';
import { windowParams } from './bigQuerySql.js';

export const PARTITIONS_TABLES_PER_QUERY = 1000;

export interface RenderedVersions {
  sql: string;
  params: { tables: string[]; start?: Date; end?: Date };
}

/** One query per chunk of at most 1,000 table names; rows are `{table_name, version}`. With `range`, the version of its keys' rows. */
export function renderDataVersions(dataset: string, tables: readonly string[], range?: Window): RenderedVersions[] {
  assertIdentifier(dataset, 'dataset');
  tables.forEach((t) => assertIdentifier(t, 'table'));
  const sql = range ? rangeSql(dataset) : [
    'SELECT `table_name`,',
    "  FORMAT('%s/%d/%d', FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E6SZ', MAX(`last_modified_time`), 'UTC'),",
    "    COUNT(DISTINCT IFNULL(`partition_id`, '')), IFNULL(SUM(`total_rows`), 0)) AS `version`",
    `FROM ${quoteIdent(dataset, 'bigquery')}.INFORMATION_SCHEMA.PARTITIONS`,
    'WHERE `table_name` IN UNNEST(@tables)',
    'GROUP BY `table_name`',
  ].join('\n');
  const chunks: RenderedVersions[] = [];
  for (let i = 0; i < tables.length; i += PARTITIONS_TABLES_PER_QUERY) {
    chunks.push({ sql, params: { tables: tables.slice(i, i + PARTITIONS_TABLES_PER_QUERY), ...(range ? windowParams(range) : {}) } });
  }
  return chunks;
}

/**
 * The partitions of a range: a partition id of 4, 6, 8 or 10 digits is a year, month, day or hour
 * (UTC); it counts when [its start, its end) meets [@start, @end). Tables not partitioned on the
 * key count every partition.
 */
function rangeSql(dataset: string): string {
  const ds = quoteIdent(dataset, 'bigquery');
  const start = [
    "CASE LENGTH(p.`partition_id`) WHEN 4 THEN SAFE.PARSE_TIMESTAMP('%Y', p.`partition_id`) WHEN 6 THEN SAFE.PARSE_TIMESTAMP('%Y%m', p.`partition_id`)",
    "  WHEN 8 THEN SAFE.PARSE_TIMESTAMP('%Y%m%d', p.`partition_id`) WHEN 10 THEN SAFE.PARSE_TIMESTAMP('%Y%m%d%H', p.`partition_id`) END",
  ].join('\n');
  const end = [
    "CASE LENGTH(p.`partition_id`) WHEN 4 THEN TIMESTAMP(DATE_ADD(DATE(s.`part_start`), INTERVAL 1 YEAR)) WHEN 6 THEN TIMESTAMP(DATE_ADD(DATE(s.`part_start`), INTERVAL 1 MONTH))",
    "  WHEN 8 THEN TIMESTAMP_ADD(s.`part_start`, INTERVAL 1 DAY) WHEN 10 THEN TIMESTAMP_ADD(s.`part_start`, INTERVAL 1 HOUR) END",
  ].join('\n');
  return [
    'WITH parts AS (',
    `  SELECT p.\`table_name\`, p.\`partition_id\`, p.\`last_modified_time\`, p.\`total_rows\`, ${start} AS \`part_start\`,`,
    '    c.`table_name` IS NOT NULL AS `by_key`',
    `  FROM ${ds}.INFORMATION_SCHEMA.PARTITIONS p`,
    '  LEFT JOIN (',
    `    SELECT \`table_name\` FROM ${ds}.INFORMATION_SCHEMA.COLUMNS`,
    `    WHERE \`column_name\` = '${KEY_COLUMN}' AND \`is_partitioning_column\` = 'YES'`,
    '  ) c ON c.`table_name` = p.`table_name`',
    '  WHERE p.`table_name` IN UNNEST(@tables)',
    '), ranged AS (',
    `  SELECT s.*, ${end.replace(/p\.`partition_id`/g, 's.`partition_id`')} AS \`part_end\``,
    '  FROM parts s',
    ')',
    'SELECT `table_name`,',
    "  FORMAT('%s/%d/%d', FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E6SZ', MAX(`last_modified_time`), 'UTC'),",
    "    COUNT(DISTINCT IFNULL(`partition_id`, '')), IFNULL(SUM(`total_rows`), 0)) AS `version`",
    'FROM ranged',
    'WHERE NOT `by_key` OR `part_start` IS NULL OR (`part_start` < @end AND `part_end` > @start)',
    'GROUP BY `table_name`',
  ].join('\n');
}
