// The object store port on a Cloud Storage bucket. Footers are read with ranged downloads (never
// the whole object); create-if-absent uses the `ifGenerationMatch: 0` precondition, which the
// service enforces atomically (412 when the object exists).

import type { Bucket } from '@google-cloud/storage';
import { objectBytes, type ObjectData, type ObjectStore, type StoredObject } from '../../ports.js';
import { mapLimit } from '../../concurrency.js';
import { sizesByListing } from './sizesByListing.js';

export interface GcsStoredObject extends StoredObject {
  generation?: string;
}

const NAME = /^[A-Za-z0-9_.=-]+(\/[A-Za-z0-9_.=-]+)*$/;
const URI_NAME = /^[A-Za-z0-9_.=-]+(\/[A-Za-z0-9_.=*-]+)*$/;
const PREFIX = /^([A-Za-z0-9_.=-]+\/)*[A-Za-z0-9_.=-]*$/;

const code = (error: unknown): unknown => (error as { code?: unknown })?.code;

function checkName(name: string, pattern = NAME): string {
  if (!pattern.test(name) || name.split('/').some((p) => p === '.' || p === '..')) {
    throw new Error(`object name ${JSON.stringify(name)} is not a plain object path`);
  }
  return name;
}

function checkPrefix(prefix: string): string {
  if (!PREFIX.test(prefix) || prefix.split('/').some((p) => p === '.' || p === '..')) {
    throw new Error(`prefix ${JSON.stringify(prefix)} is not a plain object path`);
  }
  return prefix;
}

const asBuffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

export class GcsObjectStore implements ObjectStore {
  readonly bucket: string;

  constructor(private readonly gcs: Bucket) {
    this.bucket = gcs.name;
  }

  /** `gs://bucket/name`; the name may end in a `*` wildcard for the warehouse's exports and loads. */
  uri(name: string): string {
    return `gs://${this.bucket}/${checkName(name, URI_NAME)}`;
  }

  async write(name: string, data: ObjectData, options: { ifAbsent?: boolean; contentType?: string } = {}): Promise<boolean> {
    const file = this.gcs.file(checkName(name));
    try {
      // Parts are joined: an upload that is not resumable sends one body.
      await file.save(typeof data === 'string' ? data : asBuffer(objectBytes(data)), {
        resumable: false,
        ...(options.contentType ? { contentType: options.contentType } : {}),
        ...(options.ifAbsent ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
      });
      return true;
    } catch (error) {
      if (options.ifAbsent && code(error) === 412) return false;
      throw error;
    }
  }

  /** A copy the service makes (a rewrite within the bucket): no byte is downloaded. */
  async copy(from: string, to: string): Promise<void> {
    await this.gcs.file(checkName(from)).copy(this.gcs.file(checkName(to)));
  }

  async read(name: string): Promise<Uint8Array> {
    const [contents] = await this.gcs.file(checkName(name)).download();
    return new Uint8Array(contents.buffer, contents.byteOffset, contents.byteLength);
  }

  /** Bytes [start, end): a ranged download (the service's `end` is inclusive). */
  async readRange(name: string, start: number, end: number): Promise<Uint8Array> {
    checkName(name);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
      throw new Error(`byte range [${start}, ${end}) of ${name} is not a valid range`);
    }
    if (end === start) return new Uint8Array(0);
    const [contents] = await this.gcs.file(name).download({ start, end: end - 1 });
    return new Uint8Array(contents.buffer, contents.byteOffset, contents.byteLength);
  }

  async size(name: string): Promise<number | undefined> {
    try {
      const [metadata] = await this.gcs.file(checkName(name)).getMetadata();
      return Number(metadata.size);
    } catch (error) {
      if (code(error) === 404) return undefined;
      throw error;
    }
  }

  /** Sizes by listing the folders the objects lie in (sizesByListing.ts). */
  async sizes(names: readonly string[]): Promise<(number | undefined)[]> {
    return sizesByListing(this, names);
  }

  /** Objects under a prefix, by name; each also carries its generation (the warehouse uses it to tell a rewritten checkpoint from the old one). */
  async list(prefix: string): Promise<GcsStoredObject[]> {
    const [files] = await this.gcs.getFiles({ prefix: checkPrefix(prefix), autoPaginate: true });
    return files
      .map((f) => ({
        name: f.name,
        size: Number(f.metadata.size ?? 0),
        ...(f.metadata.generation !== undefined && f.metadata.generation !== null ? { generation: String(f.metadata.generation) } : {}),
      }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Deletes every object under a (non-empty) prefix; returns how many there were. */
  async deletePrefix(prefix: string): Promise<number> {
    if (checkPrefix(prefix) === '') throw new Error('refusing to delete a whole bucket: the prefix is empty');
    const [files] = await this.gcs.getFiles({ prefix, autoPaginate: true });
    await mapLimit(files, 16, async (f) => {
      await f.delete({ ignoreNotFound: true });
    });
    return files.length;
  }

  async deleteObjects(names: readonly string[]): Promise<number> {
    const deleted = await mapLimit(names, 16, async (name) => {
      try {
        await this.gcs.file(checkName(name)).delete();
        return 1;
      } catch (error) {
        if (code(error) === 404) return 0;
        throw error;
      }
    });
    return deleted.reduce((n: number, d) => n + d, 0);
  }

  /** A bucket has no capacity a run could exhaust. */
  async room(): Promise<undefined> {
    return undefined;
  }
}
