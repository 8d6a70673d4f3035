// The file system a bench's data lies on, written with its results: on ext4 without a journal a new
// file costs 0.5-0.7 ms for a minute after files are removed (bench/HISTORY.md, 2026-12-04), which
// moves a refresh's wall by seconds, so a ratio is read with the file system it was measured on.

import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';

export interface FileSystem {
  mount: string;
  device: string;
  type: string;
  /** ext4 only: whether it keeps a journal (jbd2 lists it in /proc/fs/jbd2). */
  journal?: boolean;
}

/** The mount holding `dir` (the longest mount point above it), from /proc/mounts; undefined off Linux. */
export function fileSystemOf(dir: string): FileSystem | undefined {
  let at: string;
  try {
    at = realpathSync(dir);
  } catch {
    return undefined;
  }
  if (!existsSync('/proc/mounts')) return undefined;
  const mounts = readFileSync('/proc/mounts', 'utf8').trim().split('\n').map((line) => line.split(' '));
  const holding = mounts
    .filter(([, mount]) => mount && (at === mount || at.startsWith(mount === '/' ? '/' : `${mount}/`)))
    .sort((a, b) => b[1]!.length - a[1]!.length)[0];
  if (!holding) return undefined;
  const [device, mount, type] = holding as [string, string, string];
  const found: FileSystem = { mount, device, type };
  if (type === 'ext4') found.journal = existsSync(`/proc/fs/jbd2/${path.basename(device)}-8`);
  return found;
}

/**
 * Bytes the machine has read from its disks since it started (/proc/vmstat `pgpgin`, in KiB):
 * differences around a step show what it read past the page cache (system-wide, so nothing else
 * should run beside it); undefined off Linux.
 */
export function diskReadBytes(): number | undefined {
  try {
    const line = readFileSync('/proc/vmstat', 'utf8').split('\n').find((l) => l.startsWith('pgpgin '));
    return line ? Number(line.split(' ')[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
