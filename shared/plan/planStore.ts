// An in-memory bucket for `bqx plan`: the recording warehouse writes its placeholder checkpoints
// and merge notes here instead of Cloud Storage, and `uri` gives the gs:// URIs a run would use.

import { objectBytes, type ObjectData, type ObjectStore, type StoredObject } from '../ports.js';

export class PlanStore implements ObjectStore {
  private readonly objects = new Map<string, Uint8Array>();

  constructor(readonly bucket: string) {}

  uri(name: string): string {
    return `gs://${this.bucket}/${name}`;
  }

  /** The object name of one of this bucket's gs:// URIs, or undefined for another bucket's. */
  nameOf(uri: string): string | undefined {
    const prefix = `gs://${this.bucket}/`;
    return uri.startsWith(prefix) ? uri.slice(prefix.length) : undefined;
  }

  async write(name: string, data: ObjectData, options: { ifAbsent?: boolean } = {}): Promise<boolean> {
    if (options.ifAbsent && this.objects.has(name)) return false;
    this.objects.set(name, objectBytes(data));
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
    return (await this.read(name)).slice(start, end);
  }

  async size(name: string): Promise<number | undefined> {
    return this.objects.get(name)?.byteLength;
  }

  async sizes(names: readonly string[]): Promise<(number | undefined)[]> {
    return names.map((name) => this.objects.get(name)?.byteLength);
  }

  async list(prefix: string): Promise<StoredObject[]> {
    return [...this.objects]
      .filter(([name]) => name.startsWith(prefix))
      .map(([name, data]) => ({ name, size: data.byteLength }))
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

  /** Stands in for a bucket: unbounded. */
  async room(): Promise<undefined> {
    return undefined;
  }
}
