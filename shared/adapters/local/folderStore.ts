// A folder standing in for a Cloud Storage bucket. Writes are atomic (a temp file renamed into
// place) and each finished object emits the same "finalized" notification a bucket would.
//
// The file system calls are synchronous behind the port's promises. They are small (a stat, a
// footer's 16 KiB, a rename) on a local disk, and each of node:fs's promise calls is a round trip
// through libuv's thread pool: here an awaited stat took 146 us against 5.6 us for statSync, and an
// open, read and close 490 us against 6.3 us. A refresh makes about 15 such calls per feature, 667
// features, all on the thread that runs the chain. Three kinds go to libuv's threads instead,
// where the kernel's work outweighs the round trip: reads of large objects (ASYNC_READ_BYTES), an
// object written from parts (writeParts) and deletes (deleteObjects).

import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { FinalizedObject, ObjectData, ObjectStore, Room, StoredObject } from '../../ports.js';
import { folderRoom } from './folderRoom.js';
import { promisify } from 'node:util';
import { MadeFolders } from './madeFolders.js';
import { mapLimit } from '../../concurrency.js';

const readAt = promisify(fs.read);

/** Deletes in flight at once: libuv's thread pool has four threads unless told otherwise. */
const UNLINKS_AT_ONCE = 4;

/**
 * Objects from this size on are read on libuv's threads, the rest at once on the caller's: the
 * stored profile's sample (77 MB at 20,000 rows) is read while the profile's threads scan, where a
 * read on the chain's thread held the profile up (shared/chain/profileReuse.ts `earlierScan`).
 */
const ASYNC_READ_BYTES = 1 << 20;

const SAFE_NAME = /^[A-Za-z0-9_.\-]+(\/[A-Za-z0-9_.\-]+)*$/;
/** The store's scratch folder, under its root: never listed, emptied by `sweepScratch`. */
const SCRATCH = '.tmp';

export class FolderObjectStore implements ObjectStore {
  readonly bucket: string;
  /**
   * A footer read here fetches 16 KiB first, then the rest if the footer is longer: checkpoint
   * footers are 1.5 KB (median) to 24 KB at 232 columns, and the default 512 KiB read a refresh's
   * 100 KB checkpoint files whole (6,682 footer reads, 1 GB, in one refresh at 20,000 rows).
   */
  readonly footerPrefetchBytes = 1 << 14;
  private listeners: ((object: FinalizedObject) => void)[] = [];
  private readonly folders = new MadeFolders();

  /**
   * Temp names: this store's own random prefix and a count, unique across processes and stores
   * sharing the folder (random bytes for each name were about 20 µs, 4,000 names a refresh).
   */
  private readonly tempPrefix = `${Date.now().toString(36)}-${process.pid}-${randomBytes(6).toString('hex')}`;
  private temps = 0;

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
    return this.newTemp(suffix);
  }

  private newTemp(suffix = ''): string {
    const dir = path.join(this.root, SCRATCH);
    this.folders.make(dir);
    return path.join(dir, `${this.tempPrefix}-${(this.temps++).toString(36)}${suffix}`);
  }

  /**
   * Empties the scratch folder of what a process that stopped before finishing left there (a temp
   * file an extract or a merge was writing, a merge's work folder): nothing else removes it, and a
   * merge killed at 20,000 rows leaves up to 1.4 GB. Only for a caller that knows no other process
   * writes here: the embedded runtime, once it holds the warehouse's lock (one process per home).
   */
  sweepScratch(): { entries: number; bytes: number } {
    const dir = path.join(this.root, SCRATCH);
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: 0, bytes: 0 };
      throw error;
    }
    let bytes = 0;
    for (const e of entries) {
      const at = path.join(dir, e.name);
      bytes += sizeUnder(at);
      fs.rmSync(at, { recursive: true, force: true });
    }
    return { entries: entries.length, bytes };
  }

  /** Moves a finished temp file into place atomically and emits its finalize notification. */
  async adopt(name: string, tempFile: string): Promise<void> {
    const target = this.localPath(name);
    this.folders.into(path.dirname(target), () => fs.renameSync(tempFile, target));
    this.finalized(name);
  }

  /**
   * A copy of the file made by the kernel (a clone where the file system shares blocks), then put
   * in place as a write is: not a hard link, so a later change to one file in place (a test's
   * corruption) never shows in the other.
   */
  async copy(from: string, to: string): Promise<void> {
    const target = this.localPath(to);
    const temp = this.newTemp();
    fs.copyFileSync(this.localPath(from), temp, fs.constants.COPYFILE_FICLONE);
    this.folders.into(path.dirname(target), () => fs.renameSync(temp, target));
    this.finalized(to);
  }

  async write(name: string, data: ObjectData, options: { ifAbsent?: boolean } = {}): Promise<boolean> {
    const target = this.localPath(name);
    const dir = path.dirname(target);
    // Nothing awaited before the parts' write is handed to libuv: a caller that goes on with its
    // own work right after calling this has the copy made meanwhile (writeParts).
    const temp = this.newTemp();
    if (typeof data === 'string' || data instanceof Uint8Array) fs.writeFileSync(temp, data);
    else await writeParts(temp, data);
    if (options.ifAbsent) {
      // link() fails if the target exists: an atomic create-if-absent, like ifGenerationMatch=0.
      try {
        this.folders.into(dir, () => fs.linkSync(temp, target));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
        throw error;
      } finally {
        fs.rmSync(temp, { force: true });
      }
    } else {
      this.folders.into(dir, () => fs.renameSync(temp, target));
    }
    this.finalized(name);
    return true;
  }

  async read(name: string): Promise<Uint8Array> {
    const fd = fs.openSync(this.localPath(name), 'r');
    try {
      const { size } = fs.fstatSync(fd);
      if (size < ASYNC_READ_BYTES) return fs.readFileSync(fd);
      // Its own memory, not the shared pool's, and not zeroed first: the read fills it.
      const buffer = Buffer.allocUnsafeSlow(size);
      let done = 0;
      for (let n = 1; done < size && n > 0; done += n) n = (await readAt(fd, buffer, done, size - done, done)).bytesRead;
      return buffer.subarray(0, done);
    } finally {
      fs.closeSync(fd);
    }
  }

  async readRange(name: string, start: number, end: number): Promise<Uint8Array> {
    const fd = fs.openSync(this.localPath(name), 'r');
    try {
      // Its own memory, not the shared pool's, and not zeroed first: the read fills it.
      const buffer = Buffer.allocUnsafeSlow(Math.max(0, end - start));
      let done = 0;
      for (let n = 1; done < buffer.length && n > 0; done += n) n = fs.readSync(fd, buffer, done, buffer.length - done, start + done);
      return buffer.subarray(0, done);
    } finally {
      fs.closeSync(fd);
    }
  }

  async size(name: string): Promise<number | undefined> {
    return this.sizeOf(name);
  }

  /** A stat each: cheaper here than listing their folders. */
  async sizes(names: readonly string[]): Promise<(number | undefined)[]> {
    return names.map((name) => this.sizeOf(name));
  }

  private sizeOf(name: string): number | undefined {
    return fs.statSync(this.localPath(name), { throwIfNoEntry: false })?.size;
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    const walk = (dir: string, rel: string): void => {
      let entries;
      try {
        entries = fs.readdirSync(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const e of entries) {
        if (e.name === SCRATCH) continue;
        const name = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) walk(path.join(dir, e.name), name);
        else if (name.startsWith(prefix)) {
          // Gone since the folder was read (a concurrent delete): not listed, as a bucket would not.
          const stat = fs.statSync(path.join(dir, e.name), { throwIfNoEntry: false });
          if (stat) out.push({ name, size: stat.size });
        }
      }
    };
    // Walk only below the prefix's folder part.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    walk(folder ? this.localPath(folder) : this.root, folder);
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async deletePrefix(prefix: string): Promise<number> {
    const objects = await this.list(prefix);
    await this.deleteObjects(objects.map((o) => o.name));
    return objects.length;
  }

  /**
   * Several unlinks in flight on libuv's threads, not one after another here: removing a file
   * frees its blocks (and, on a disk mounted with `discard`, trims them), which the kernel does
   * while the call waits. Retention removing an older run's 12,464 files (2.8 GB): 1.4-1.8 s one
   * at a time, 1.07 s four at a time.
   */
  async deleteObjects(names: readonly string[]): Promise<number> {
    const files = names.map((name) => this.localPath(name));
    const gone = await mapLimit(files, UNLINKS_AT_ONCE, async (file) => {
      try {
        await fs.promises.unlink(file);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw error;
      }
    });
    this.pruneFolders(files.map((file) => path.dirname(file)));
    return gone.filter(Boolean).length;
  }

  async room(): Promise<Room> {
    return folderRoom(this.root);
  }

  /** A bucket has no folders: the ones a delete left empty go too, as far up as they are empty. */
  private pruneFolders(folders: readonly string[]): void {
    const dirs = [...new Set(folders)].sort((a, b) => b.length - a.length);
    for (const dir of dirs) {
      for (let d = dir; d.startsWith(`${this.root}${path.sep}`); d = path.dirname(d)) {
        try {
          fs.rmdirSync(d);
        } catch {
          break; // not empty (or gone): stop
        }
      }
    }
  }

  private finalized(name: string): void {
    const size = this.sizeOf(name) ?? 0;
    for (const listener of this.listeners) listener({ bucket: this.bucket, name, size });
  }
}

/** Bytes of a file, or of every file under a folder. */
function sizeUnder(at: string): number {
  const stat = fs.lstatSync(at, { throwIfNoEntry: false });
  if (!stat?.isDirectory()) return stat?.size ?? 0;
  return fs.readdirSync(at).reduce((n, name) => n + sizeUnder(path.join(at, name)), 0);
}

/**
 * Parts into a new file, in order, written off this thread: a dataset's raw profile is one such
 * write of about 77 MB (17,038 columns), which the caller overlaps with its own work (the page, the
 * report's and manifest's JSON) instead of waiting for the copy. One libuv request, issued before
 * this returns: it takes any number of parts (libuv splits them at IOV_MAX) and finishes a short
 * write itself, with no turn of this thread's loop between its steps.
 */
async function writeParts(file: string, parts: readonly Uint8Array[]): Promise<void> {
  const fd = fs.openSync(file, 'w');
  try {
    const total = parts.reduce((n, p) => n + p.byteLength, 0);
    const written = await new Promise<number>((resolve, reject) => fs.writev(fd, parts as Uint8Array[], (error, n) => (error ? reject(error) : resolve(n))));
    if (written !== total) throw new Error(`${file}: wrote ${written} of ${total} bytes`);
  } finally {
    fs.closeSync(fd);
  }
}
