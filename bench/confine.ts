// `--machine-memory-mb N [--read-mbps M]`: the e2e rounds run as on a machine whose memory (the
// run's resident memory and its page cache together) is N MB, reading from a disk of M MB/s. At
// 20,000 rows the run's 2.5 GiB of checkpoints and 2.5 GiB of output then no longer fit in the
// page cache, as 177,748 rows' 23 GB do not fit in this machine's 24 GiB: what bqx does past the
// page cache (the order it reads what it wrote, how much it reads twice) is measured in a minute
// instead of on a set that takes 70 GiB of disk.
//
// Linux control groups v1 (memory, blkio), as this machine's kernel mounts them, through their
// files: the child's shell joins the groups and then runs node in its place, so every byte the run
// reads or caches is charged there. The page cache is dropped before each round, since pages an
// earlier round cached (charged elsewhere) would serve this one's reads. Needs root; anything
// missing is an error that says what, never a silent unconfined round.

import { existsSync, mkdirSync, readFileSync, realpathSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const MEMORY = '/sys/fs/cgroup/memory';
const BLKIO = '/sys/fs/cgroup/blkio';

export interface Confinement {
  memoryMb: number;
  readMbps?: number;
}

/** The groups for this bench process, made and limited; the shell line that joins them. */
export function prepareConfinement(c: Confinement, dataDir: string): { join: string; describe: string } {
  if (!existsSync(path.join(MEMORY, 'memory.limit_in_bytes'))) throw new Error(`--machine-memory-mb needs cgroup v1's memory controller at ${MEMORY} (not found)`);
  const name = `bqx-bench-${process.pid}`;
  const memory = path.join(MEMORY, name);
  const groups = [memory];
  write(() => mkdirSync(memory, { recursive: true }), memory);
  write(() => writeFileSync(path.join(memory, 'memory.limit_in_bytes'), String(c.memoryMb * 2 ** 20)), memory);
  if (c.readMbps !== undefined) {
    if (!existsSync(path.join(BLKIO, 'blkio.throttle.read_bps_device'))) throw new Error(`--read-mbps needs cgroup v1's blkio controller at ${BLKIO} (not found)`);
    const blkio = path.join(BLKIO, name);
    write(() => mkdirSync(blkio, { recursive: true }), blkio);
    write(() => writeFileSync(path.join(blkio, 'blkio.throttle.read_bps_device'), `${deviceOf(dataDir)} ${c.readMbps! * 2 ** 20}`), blkio);
    groups.push(blkio);
  }
  return {
    join: groups.map((g) => `echo $$ > ${path.join(g, 'cgroup.procs')}`).join(' && '),
    describe: `memory ${c.memoryMb} MB${c.readMbps !== undefined ? `, reads ${c.readMbps} MB/s` : ''} (cgroup ${name})`,
  };
}

/** Removes the groups (once no process is left in them). */
export function removeConfinement(): void {
  for (const root of [MEMORY, BLKIO]) {
    const group = path.join(root, `bqx-bench-${process.pid}`);
    if (existsSync(group)) rmdirSync(group);
  }
}

/** Empties the page cache (clean pages only: sync first), so a confined round starts cold. */
export function dropPageCache(): void {
  write(() => writeFileSync('/proc/sys/vm/drop_caches', '3'), '/proc/sys/vm/drop_caches', 'cannot drop the page cache', 'it needs root');
}

/** `major:minor` of the whole disk holding `dir` (blkio throttles whole devices, not partitions). */
function deviceOf(dir: string): string {
  const dev = statSync(dir).dev;
  const node = realpathSync(`/sys/dev/block/${Math.floor(dev / 256) & 0xfff}:${(dev & 0xff) | ((dev >> 12) & 0xfff00)}`);
  // A partition's disk is its parent in sysfs.
  return readFileSync(path.join(existsSync(path.join(node, 'partition')) ? path.dirname(node) : node, 'dev'), 'utf8').trim();
}

/** Runs `action`, which writes `target`; where it cannot, says for `what` what it `needs`. */
function write(action: () => void, target: string, what = '--machine-memory-mb', needs = 'confinement needs root and cgroup v1'): void {
  try {
    action();
  } catch (error) {
    throw new Error(`${what}: cannot write ${target} (${(error as Error).message}); ${needs}`);
  }
}
