// Where a folder is to be made or written into (BQX_HOME, `bqx plan --sql-out`), the path's parts
// that exist must be folders: asked first, a file there is named as such, where the write would
// fail deep inside with ENOTDIR (`mkdir '…/README.md/logs'`) after the work before it was done.

import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * The path that is a file where `dir` needs a folder: `dir` itself, or the nearest part of its path
 * that exists. Undefined when `dir` is a folder or can be made one.
 */
export async function fileInTheWay(dir: string): Promise<string | undefined> {
  const stat = await fs.stat(dir).catch(() => undefined);
  if (stat) return stat.isDirectory() ? undefined : dir;
  for (let up = path.dirname(path.resolve(dir)); ; up = path.dirname(up)) {
    const above = await fs.stat(up).catch(() => undefined);
    if (above) return above.isDirectory() ? undefined : up;
    if (up === path.dirname(up)) return undefined;
  }
}
