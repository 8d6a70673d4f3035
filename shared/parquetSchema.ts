// A parquet footer's schema read from its thrift bytes (FileMetaData field 2, thriftCompact.ts):
// what the footer readers that skip hyparquet's whole parse need of each element. One reader for
// the profile's layouts (adapters/local/parquetLayout.ts) and the check of written files
// (checkpoint.ts `readFooterShape`).

import type { CompactReader } from './thriftCompact.js';

export interface SchemaNode {
  name: string;
  /** Physical type (parquet.thrift's number); undefined for a group. */
  type?: number;
  /** FieldRepetitionType's number. */
  repetition?: number;
  children: number;
  /** ConvertedType's number, where the element has one (TIMESTAMP_MICROS: the key's unit). */
  convertedType?: number;
  /** Where the element's struct starts in the footer's bytes, its first field header (the stitch copies it from there). */
  start: number;
}

/** The schema list at the reader's position, every element in order, the root first. */
export function readSchema(r: CompactReader): SchemaNode[] {
  const elements: SchemaNode[] = [];
  r.list(() => {
    const e: SchemaNode = { name: '', children: 0, start: r.at };
    r.struct((j) => {
      if (j === 1) e.type = r.int();
      else if (j === 3) e.repetition = r.int();
      else if (j === 4) e.name = r.string();
      else if (j === 5) e.children = r.int();
      else if (j === 6) e.convertedType = r.int();
      else return false;
      return true;
    });
    elements.push(e);
  });
  return elements;
}
