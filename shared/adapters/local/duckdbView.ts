// The embedded feature view: each (shard, view group) file is stitched from the source shard's
// group files, the chosen columns' chunks copied byte for byte as the merge does
// (parquetStitch.ts). Within a shard every source group has the same row groups, so nothing is
// decoded or aligned; the work is reading and writing the chosen columns once.

import { promises as fs } from 'node:fs';
import type { ViewJob, ViewResult, ViewShard } from '../../ports.js';
import type { FolderObjectStore } from './folderStore.js';
import { readLayout, type FooterLayout } from './parquetLayout.js';
import { oneFile, stitchParquet, type StitchSource } from './parquetStitch.js';

const pad = (n: number, width: number) => String(n).padStart(width, '0');

export function viewObject(prefix: string, shard: string, group: number): string {
  return `${prefix}shard-${shard}/group-${pad(group, 3)}/part-00000.parquet`;
}

export async function viewLocal(output: FolderObjectStore, job: ViewJob): Promise<ViewResult> {
  const home = new Map<string, number>();
  for (const g of job.sourceGroups) for (const c of g.columns.slice(1)) home.set(c, g.index);
  const temps: string[] = [];
  // A view of the same name is replaced: it is derived, and the same selection gives the same files.
  await output.deletePrefix(job.outputPrefix);
  try {
    const shards: ViewShard[] = [];
    for (const shard of job.shards) {
      // One readable file per source group of the shard (a group written in several parts is concatenated first).
      const files = new Map<number, { file: string; layout: FooterLayout }>();
      const sourceFile = async (index: number) => {
        if (!files.has(index)) {
          const parts = shard.groups.find((g) => g.index === index)?.files ?? [];
          if (parts.length === 0) throw new Error(`shard ${shard.id} has no files for source group ${index}`);
          const file = await oneFile(parts.map((p) => output.uri(p)), () => output.tempPath('.parquet'), temps);
          files.set(index, { file, layout: readLayout(file) });
        }
        return files.get(index)!;
      };
      const groups: ViewShard['groups'] = [];
      for (const group of job.groups) {
        const wanted = group.columns.slice(1);
        const byGroup = new Map<number, string[]>();
        for (const c of wanted) {
          const index = home.get(c);
          if (index === undefined) throw new Error(`column ${c} is in no group of the source dataset`);
          byGroup.set(index, [...(byGroup.get(index) ?? []), c]);
        }
        // The source groups in order keep the columns in the source's order; the key comes from the first.
        const sources: StitchSource[] = [];
        for (const index of [...byGroup.keys()].sort((a, b) => a - b)) {
          const { file, layout } = await sourceFile(index);
          const columns = [...(sources.length === 0 ? [job.key] : []), ...byGroup.get(index)!].map((c) => ({ source: c, output: c }));
          sources.push({ file, layout, columns });
        }
        const temp = await output.tempPath('.parquet');
        temps.push(temp);
        const [part] = await stitchParquet(sources, () => temp, Number.MAX_SAFE_INTEGER);
        const object = viewObject(job.outputPrefix, shard.id, group.index);
        await output.adopt(object, part!.file);
        groups.push({ index: group.index, files: [object], rows: part!.rows, bytes: part!.bytes });
      }
      shards.push({ id: shard.id, start: shard.start, end: shard.end, rows: shard.rows, groups });
    }
    return { state: 'done', shards };
  } finally {
    await Promise.all(temps.map((t) => fs.rm(t, { force: true })));
  }
}
