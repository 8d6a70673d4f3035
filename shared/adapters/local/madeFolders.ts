// The folders a local store (folderStore.ts, fileRunStore.ts) has made, each made once: a
// recursive mkdir of a folder that exists still walks its path, and a refresh writes thousands of
// files into a few folders (0.7 s of the chain's thread for the folder store's, 0.27 s for the run
// store's). A folder removed since (by hand, or a test's cleanup) is noticed where a write into it
// fails with ENOENT, and made again.

import fs from 'node:fs';

export class MadeFolders {
  private readonly made = new Set<string>();

  /** Makes `dir` (and its parents) unless this store made it before. */
  make(dir: string): void {
    if (this.made.has(dir)) return;
    fs.mkdirSync(dir, { recursive: true });
    this.made.add(dir);
  }

  /**
   * Runs `place` (a write, a rename or a link into `dir`) once `dir` is made. If the folder was
   * removed since it was made, it is made again and `place` runs once more.
   */
  into<T>(dir: string, place: () => T): T {
    this.make(dir);
    try {
      return place();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      this.made.delete(dir);
      this.make(dir);
      return place();
    }
  }
}
