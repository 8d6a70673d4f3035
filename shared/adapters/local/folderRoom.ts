// Free space under a folder, as a store's `room` (ports.ts): the file system's bytes available to
// this user (statfs's bavail, which leaves out what is reserved for root), and its device number,
// so that folders on one file system are counted against one free space.

import fs from 'node:fs';
import path from 'node:path';
import type { Room } from '../../ports.js';

/** The room of the file system holding `dir`, or of its nearest existing parent (a folder made on first write). */
export function folderRoom(dir: string): Room {
  let at = path.resolve(dir);
  while (!fs.existsSync(at) && path.dirname(at) !== at) at = path.dirname(at);
  const space = fs.statfsSync(at);
  return { free: space.bavail * space.bsize, volume: String(fs.statSync(at).dev), where: at };
}
