// The key column of a parquet file as epoch microseconds, decoded by hyparquet (no engine): 8
// bytes a row whatever the file's width. Used where keys are checked or matched from the files
// themselves: the BigQuery export's verification (adapters/gcp/outputKeys.ts) and the embedded
// merge's lining up of checkpoints by null pages (adapters/local/duckdbWarehouse.ts).

import { parquetRead, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { KEY_COLUMN } from './naming.js';

const toMicros = (value: unknown): number => {
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'number') return value;
  if (value instanceof Date) return value.getTime() * 1000;
  throw new Error(`${KEY_COLUMN} holds ${value === null ? 'a null' : typeof value}, not a timestamp`);
};

/** The key column of one file, row group by row group. */
export async function readKeyColumn(file: AsyncBuffer, metadata: FileMetaData): Promise<Float64Array> {
  const out = new Float64Array(Number(metadata.num_rows));
  let at = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = at + Number(group.num_rows);
    await parquetRead({
      file,
      metadata,
      columns: [KEY_COLUMN],
      rowStart: at,
      rowEnd,
      compressors,
      parsers: { timestampFromMicroseconds: (v: bigint) => v, timestampFromMilliseconds: (v: bigint) => v * 1000n },
      onComplete: (rows: unknown[][]) => {
        rows.forEach((row, i) => (out[at + i] = toMicros(row[0])));
      },
    });
    at = rowEnd;
  }
  return out;
}
