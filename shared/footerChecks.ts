// What the checkpoint checks (checkpoint.ts summariseFooters) need of a parquet footer, read from
// its thrift bytes by hand (thriftCompact.ts): the schema's names and types, the row counts, each
// column chunk's null count, and the key chunk's range. hyparquet's whole parse builds an object per
// field of every chunk (encodings, offsets, sizes, every statistic decoded): a refresh's landings
// and its plan read about 3,300 checkpoint footers, a day-shard full build's landings 10,000, all
// on the main thread. The result has hyparquet's shape for the fields the checks read, with the
// key's statistics converted as hyparquet converts them (test/unit/footerChecks.test.ts compares
// the two summaries over files of every writer bqx meets).

import { ParquetTypes } from 'hyparquet/src/constants.js';
import { KEY_COLUMN } from './naming.js';
import { CompactReader } from './thriftCompact.js';

/** The footer fields summariseFooters reads; hyparquet's FileMetaData has this shape too. */
export interface FooterMetadata {
  num_rows: bigint | number;
  schema: { name: string; type?: string; logical_type?: { type: string; unit?: string; isAdjustedToUTC?: boolean } }[];
  row_groups: {
    num_rows: bigint | number;
    columns: { meta_data?: { path_in_schema: string[]; statistics?: { null_count?: bigint | number; min_value?: unknown; max_value?: unknown; min?: unknown; max?: unknown } } }[];
  }[];
}

type Element = FooterMetadata['schema'][number] & { converted?: number };
type Chunk = FooterMetadata['row_groups'][number]['columns'][number];

/** ConvertedType's numbers for the two timestamp units it has (parquet.thrift). */
const TIMESTAMP_MILLIS = 9;
const TIMESTAMP_MICROS = 10;
const TIME_UNITS = ['MILLIS', 'MICROS', 'NANOS'];

/** LogicalType (a union): only TIMESTAMP (field 8) is read, the rest named by their field for `type`. */
function readLogicalType(r: CompactReader): Element['logical_type'] {
  let logical: Element['logical_type'];
  r.struct((id) => {
    if (id !== 8) {
      logical = { type: `logical ${id}` };
      return false;
    }
    const timestamp: NonNullable<Element['logical_type']> = { type: 'TIMESTAMP' };
    r.struct((f, type) => {
      if (f === 1) timestamp.isAdjustedToUTC = type === 1; // a bool field's value is its type
      else if (f === 2) r.struct((u) => ((timestamp.unit = TIME_UNITS[u - 1]), false)); // the unit's struct is empty
      else return false;
      return true;
    });
    logical = timestamp;
    return true;
  });
  return logical;
}

function readElement(r: CompactReader): Element {
  const e: Element = { name: '' };
  r.struct((id) => {
    if (id === 1) e.type = ParquetTypes[r.int()];
    else if (id === 4) e.name = r.string();
    else if (id === 6) e.converted = r.int();
    else if (id === 10) e.logical_type = readLogicalType(r);
    else return false;
    return true;
  });
  return e;
}

/** Statistics: the null count, and the raw bytes of the bounds (converted later, for the key only). */
function readStatistics(r: CompactReader): { null_count?: number; raw: Record<'min_value' | 'max_value' | 'min' | 'max', Uint8Array | undefined> } {
  const s: ReturnType<typeof readStatistics> = { raw: { min_value: undefined, max_value: undefined, min: undefined, max: undefined } };
  r.struct((id) => {
    if (id === 1) s.raw.max = r.binary();
    else if (id === 2) s.raw.min = r.binary();
    else if (id === 3) s.null_count = r.int();
    else if (id === 5) s.raw.max_value = r.binary();
    else if (id === 6) s.raw.min_value = r.binary();
    else return false;
    return true;
  });
  return s;
}

/** A bound of the key column as hyparquet converts an INT64 timestamp (converted type first, then the logical unit); other bytes as they are. */
function keyBound(bytes: Uint8Array | undefined, e: Element): unknown {
  if (bytes === undefined || e.type !== 'INT64') return bytes;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigInt64(0, true);
  if (e.converted === TIMESTAMP_MILLIS) return new Date(Number(v));
  if (e.converted === TIMESTAMP_MICROS) return new Date(Number(v / 1000n));
  if (e.logical_type?.type !== 'TIMESTAMP') return v;
  if (e.logical_type.unit === 'NANOS') return new Date(Number(v / 1000000n));
  if (e.logical_type.unit === 'MICROS') return new Date(Number(v / 1000n));
  return new Date(Number(v));
}

/** The footer's thrift bytes (FileMetaData) as the checks read them. */
export function footerForChecks(bytes: Uint8Array): FooterMetadata {
  const r = new CompactReader(bytes, 0);
  let schema: Element[] = [];
  let rows = 0;
  const groups: { rows: number; chunks: { path: string[]; stats?: ReturnType<typeof readStatistics> }[] }[] = [];
  r.struct((id) => {
    if (id === 2) {
      schema = [];
      r.list(() => schema.push(readElement(r)));
    } else if (id === 3) rows = r.int();
    else if (id === 4) {
      r.list(() => {
        const group: (typeof groups)[number] = { rows: 0, chunks: [] };
        r.struct((g) => {
          if (g === 1) {
            r.list(() => {
              const chunk: (typeof group.chunks)[number] = { path: [] };
              r.struct((c) => {
                if (c !== 3) return false;
                r.struct((m) => {
                  if (m === 3) r.list(() => chunk.path.push(r.string()));
                  else if (m === 12) chunk.stats = readStatistics(r);
                  else return false;
                  return true;
                });
                return true;
              });
              group.chunks.push(chunk);
            });
          } else if (g === 3) group.rows = r.int();
          else return false;
          return true;
        });
        groups.push(group);
      });
    } else return false;
    return true;
  });
  // Statistics are converted by the leaf's schema element, as hyparquet does (leaf i: the i-th element with a type).
  const leaves = schema.filter((e) => e.type);
  return {
    num_rows: rows,
    schema: schema.map(({ converted: _converted, ...e }) => e),
    row_groups: groups.map((g) => ({
      num_rows: g.rows,
      columns: g.chunks.map((c, i): Chunk => {
        const key = c.path.join('.') === KEY_COLUMN && leaves[i];
        const raw = c.stats?.raw;
        const statistics = c.stats && {
          ...(c.stats.null_count !== undefined ? { null_count: c.stats.null_count } : {}),
          ...(key && raw ? { min_value: keyBound(raw.min_value, key), max_value: keyBound(raw.max_value, key), min: keyBound(raw.min, key), max: keyBound(raw.max, key) } : {}),
        };
        return { meta_data: { path_in_schema: c.path, ...(statistics ? { statistics } : {}) } };
      }),
    })),
  };
}
