// A folder standing in for a Cloud Storage bucket. Writes are atomic (a temp file renamed into
// place) and each finished object emits the same "finalized" notification a bucket would.

import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { FinalizedObject, ObjectStore, StoredObject } from '../../ports.js';

const SAFE_NAME = /^[A-Za-z0-9_.\-]+(\/[A-Za-z0-9_.\-]+)*$/;

export class FolderObjectStore implements ObjectStore {
  readonly bucket: string;
  /**
   * A footer read here fetches 16 KiB first, then the rest if the footer is longer: checkpoint
   * footers are 1.5 KB (median) to 24 KB at 232 columns, and the default 512 KiB read a refresh's
   * 100 KB checkpoint files whole (6,682 footer reads, 1 GB, in one refresh at 20,000 rows).
   */
  readonly footerPrefetchBytes = 1 << 14;
  private listeners: ((object: FinalizedObject) => void)[] = [];
  /**
   * Folders this store has made, made once: a refresh asks for 2,000 temp paths and adopts as many
   * files, and a recursive mkdir of an existing folder each time took 0.7 s of the main thread.
   */
  private readonly made = new Map<string, Promise<void>>();

  constructor(readonly root: string, bucket?: string) {
    this.root = path.resolve(root);
    this.bucket = bucket ?? path.basename(this.root);
  }

  /** Called for every object that finishes writing, like a bucket's finalize notification. */
  onFinalize(listener: (object: FinalizedObject) => void): void {
    this.listeners.push(listener);
  }

  uri(name: string): string {
    return this.localPath(name);
  }

  localPath(name: string): string {
    if (!SAFE_NAME.test(name) || name.split('/').some((p) => p === '.' || p === '..')) {
      throw new Error(`object name ${JSON.stringify(name)} is not a safe path`);
    }
    return path.join(this.root, name);
  }

  /** A fresh temp path on the same filesystem, for writers that produce a file (DuckDB COPY). */
  async tempPath(suffix = ''): Promise<string> {
    const dir = path.join(this.root, '.tmp');
    await this.folder(dir);
    return path.join(dir, `${Date.now()}-${randomBytes(6).toString('hex')}${suffix}`);
  }

  /** Moves a finished temp file into place atomically and emits its finalize notification. */
  async adopt(name: string, tempFile: string): Promise<void> {
    const target = this.localPath(name);
    await this.intoFolder(path.dirname(target), () => fs.rename(tempFile, target));
    await this.finalized(name);
  }

  /** Makes `dir` (and its parents) once for this store; a failed attempt is tried again next time. */
  private folder(dir: string): Promise<void> {
    let made = this.made.get(dir);
    if (!made) {
      made = fs.mkdir(dir, { recursive: true }).then(() => undefined);
      made.catch(() => this.made.delete(dir));
      this.made.set(dir, made);
    }
    return made;
  }

  /**
   * Runs `place` (a rename or a link into `dir`) once `dir` is made. If the folder was removed since
   * this store made it (by hand, or a test's cleanup), it is made again and `place` runs once more.
   */
  private async intoFolder<T>(dir: string, place: () => Promise<T>): Promise<T> {
    await this.folder(dir);
    try {
      return await place();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      this.made.delete(dir);
      await this.folder(dir);
      return place();
    }
  }

  async write(name: string, data: Uint8Array | string, options: { ifAbsent?: boolean } = {}): Promise<boolean> {
    const target = this.localPath(name);
    const dir = path.dirname(target);
    const temp = await this.tempPath();
    await fs.writeFile(temp, data);
    if (options.ifAbsent) {
      // link() fails if the target exists: an atomic create-if-absent, like ifGenerationMatch=0.
      try {
        await this.intoFolder(dir, () => fs.link(temp, target));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw error;
      } finally {
        await fs.rm(temp, { force: true });
      }
    } else {
      await this.intoFolder(dir, () => fs.rename(temp, target));
    }
    await this.finalized(name);
    return true;
  }

  async read(name: string): Promise<Uint8Array> {
    return fs.readFile(this.localPath(name));
  }

  async readRange(name: string, start: number, end: number): Promise<Uint8Array> {
    const handle = await fs.open(this.localPath(name), 'r');
    try {
      // Its own memory, not the shared pool's, and not zeroed first: the read fills it.
      const buffer = Buffer.allocUnsafeSlow(Math.max(0, end - start));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  async size(name: string): Promise<number | undefined> {
    try {
      return (await fs.stat(this.localPath(name))).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await fs.readdir(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      // A folder's entries at once, not one after another: a run's staging holds thousands of
      // files, and each stat is a round trip to the thread pool (retention listed a refresh's
      // checkpoints in about 2 s one by one). The result is sorted below.
      await Promise.all(
        entries.map(async (e) => {
          if (e.name === '.tmp') return;
          const name = rel ? `${rel}/${e.name}` : e.name;
          if (e.isDirectory()) await walk(path.join(dir, e.name), name);
          else if (name.startsWith(prefix)) out.push({ name, size: (await fs.stat(path.join(dir, e.name))).size });
        }),
      );
    };
    // Walk only below the prefix's folder part.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    await walk(folder ? this.localPath(folder) : this.root, folder);
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async deletePrefix(prefix: string): Promise<number> {
    const objects = await this.list(prefix);
    await Promise.all(objects.map((o) => fs.rm(this.localPath(o.name), { force: true })));
    // A bucket has no folders: the ones left empty go too, as far up as they are empty.
    const dirs = [...new Set(objects.map((o) => path.dirname(this.localPath(o.name))))].sort((a, b) => b.length - a.length);
    for (const dir of dirs) {
      for (let d = dir; d.startsWith(`${this.root}${path.sep}`); d = path.dirname(d)) {
        if (!(await fs.rmdir(d).then(() => true, () => false))) break; // not empty (or gone): stop
      }
    }
    return objects.length;
  }

  private async finalized(name: string): Promise<void> {
    const size = (await this.size(name)) ?? 0;
    for (const listener of this.listeners) listener({ bucket: this.bucket, name, size });
  }
}
