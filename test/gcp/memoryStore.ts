// An in-memory object store with gs:// URIs, standing in for a bucket behind the warehouse (the
// fake BigQuery writes its exports here), and recording the ranges read.

import { objectBytes, type ObjectData, type ObjectStore, type StoredObject } from '../../shared/ports.js';

export class MemoryObjectStore implements ObjectStore {
  readonly objects = new Map<string, Uint8Array>();
  readonly rangeReads: { name: string; start: number; end: number }[] = [];
  /** Generation of each object, bumped on every write, as Cloud Storage does. */
  readonly generations = new Map<string, number>();
  private generation = 1000;

  constructor(readonly bucket: string) {}

  uri(name: string): string {
    return `gs://${this.bucket}/${name}`;
  }

  async write(name: string, data: ObjectData, options: { ifAbsent?: boolean } = {}): Promise<boolean> {
    if (options.ifAbsent && this.objects.has(name)) return false;
    this.objects.set(name, objectBytes(data));
    this.generations.set(name, ++this.generation);
    return true;
  }

  async copy(from: string, to: string): Promise<void> {
    this.objects.set(to, await this.read(from));
  }

  async read(name: string): Promise<Uint8Array> {
    const data = this.objects.get(name);
    if (!data) throw Object.assign(new Error(`no object ${name}`), { code: 404 });
    return data;
  }

  async readRange(name: string, start: number, end: number): Promise<Uint8Array> {
    this.rangeReads.push({ name, start, end });
    return (await this.read(name)).slice(start, end);
  }

  async size(name: string): Promise<number | undefined> {
    return this.objects.get(name)?.byteLength;
  }

  async sizes(names: readonly string[]): Promise<(number | undefined)[]> {
    return names.map((name) => this.objects.get(name)?.byteLength);
  }

  async list(prefix: string): Promise<(StoredObject & { generation: string })[]> {
    return [...this.objects]
      .filter(([name]) => name.startsWith(prefix))
      .map(([name, data]) => ({ name, size: data.byteLength, generation: String(this.generations.get(name)) }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async deletePrefix(prefix: string): Promise<number> {
    const names = [...this.objects.keys()].filter((n) => n.startsWith(prefix));
    names.forEach((n) => this.objects.delete(n));
    return names.length;
  }

  async deleteObjects(names: readonly string[]): Promise<number> {
    return names.filter((n) => this.objects.delete(n)).length;
  }

  /** Unbounded, as the bucket it stands in for. */
  async room(): Promise<undefined> {
    return undefined;
  }
}
