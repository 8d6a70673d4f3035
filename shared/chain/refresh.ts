// Incremental refresh (issue 9, item 3): `--refresh` builds the next version of a pair's dataset
// from its last succeeded one. The window keeps the previous version's start and is extended to
// the label table's new end; the schema drift since the previous version (tables added and
// removed, columns added and removed, types changed) is recorded on the run and in report.json.
// What is redone is decided in startRun, from data versions, never from names or times:
//   - extracts (incremental.ts): a feature whose rows inside the previous window have the same
//     data version as when that version extracted them (the warehouse's version of a key range:
//     BigQuery from the partitions on the key that meet it, embedded from the change log an append
//     writes with its range) reads only [previous end, new end) and lists the previous run's
//     files before the new ones (embedded, the files of the previous partial last shard are
//     rewritten with the new minutes of that shard, so the merge aligns nothing); any other
//     feature is reused by fingerprint or extracted whole;
//   - output shards (shareShards.ts): when every feature's old rows are unchanged, the columns and
//     groups are the same and the label rows up to a shard's end are unchanged (the label table's
//     version of the previous window, or of all but its last 2,880 minutes, since labels look
//     ahead), that shard's files are the previous version's, listed by reference in the new
//     _manifest.json; the rest (the grown last shard, the new ones) are built and verified.
// A refresh is therefore identical, cell for cell, to a `--no-reuse` full build of the same window
// (test/embedded/refresh.test.ts), and reads from the warehouse only the new minutes of every
// unchanged feature plus the label rows of the shards it builds (run.rowsRead).
// Not done: when the previous end falls inside a BigQuery partition, that partition's append moves
// the old window's version and the feature is extracted whole (re-reading only the last partition
// would need the version of [start, its start) recorded by the previous run). The profile carries
// its column pass on from the previous version's kept scan state, reading only the rows it built
// (shared/chain/profileReuse.ts `earlierScan`); the findings are then made over every column.

import type { RunManifest } from '../manifest.js';
import { InputError } from '../naming.js';
import type { RunRecord } from '../ports.js';
import type { ChainDeps } from './deps.js';

export interface SchemaDrift {
  tablesAdded: string[];
  tablesRemoved: string[];
  /** `table.column` */
  columnsAdded: string[];
  columnsRemoved: string[];
  typesChanged: { column: string; from: string; to: string }[];
}

export interface RefreshInfo {
  /** The succeeded run this version follows. */
  from: string;
  previousWindow: RunRecord['window'];
  drift: SchemaDrift;
  /** Output shards taken from the previous version by reference, and rebuilt by this run. */
  sharedShards: number;
  rebuiltShards: number;
  /** Their ids (shared/chain/shareShards.ts), and why nothing is shared when nothing is. */
  shards?: { shared: string[]; rebuilt: string[]; why?: string; damaged?: string; grown?: { id: string; from: string; relabelled?: boolean }[]; relabelled?: string[] };
  /** Features extracting only the new range (shared/chain/incremental.ts). */
  incremental?: number;
}

/** The pair's newest succeeded run whose manifest is still readable: what a refresh follows. */
export async function refreshBase(deps: Pick<ChainDeps, 'store' | 'staging'>, pair: string): Promise<{ run: RunRecord; manifest: RunManifest }> {
  const runs = (await deps.store.listRuns(pair)).filter((r) => r.state === 'succeeded' && r.collected?.scope !== 'all');
  for (const run of [...runs].reverse()) {
    try {
      const manifest = JSON.parse(Buffer.from(await deps.staging.read(run.manifestObject)).toString('utf8')) as RunManifest;
      return { run, manifest };
    } catch {
      // its manifest is gone (retention): try an older one
    }
  }
  // Succeeded runs whose manifests are all gone: on Google Cloud, the staging bucket's lifecycle
  // rule deletes runs/ after staging_retention_days, whatever retention keeps.
  if (runs.length > 0) throw new InputError(`pair ${pair} has ${runs.length} succeeded run(s), but none has its run manifest left in staging (${runs.at(-1)!.manifestObject}: removed by retention, or by the staging bucket's lifecycle rule after staging_retention_days): run it without --refresh (a full build)`);
  throw new InputError(`pair ${pair} has no succeeded run to refresh from: run it without --refresh first`);
}

/** What changed in the features' schemas between two run manifests. */
export function schemaDrift(previous: RunManifest, next: RunManifest): SchemaDrift {
  const columns = (m: RunManifest) => {
    const out = new Map<string, string>();
    for (const f of m.features) for (const c of f.columns) out.set(`${f.feature}.${c.source}`, c.type);
    return out;
  };
  const before = new Set(previous.features.map((f) => f.feature));
  const after = new Set(next.features.map((f) => f.feature));
  const was = columns(previous);
  const now = columns(next);
  const tableOf = (column: string) => column.slice(0, column.indexOf('.'));
  return {
    tablesAdded: [...after].filter((t) => !before.has(t)).sort(),
    tablesRemoved: [...before].filter((t) => !after.has(t)).sort(),
    // Columns of added or removed tables are told by the table, not column by column.
    columnsAdded: [...now.keys()].filter((c) => !was.has(c) && before.has(tableOf(c))).sort(),
    columnsRemoved: [...was.keys()].filter((c) => !now.has(c) && after.has(tableOf(c))).sort(),
    typesChanged: [...now].filter(([c, t]) => was.has(c) && was.get(c) !== t).map(([column, to]) => ({ column, from: was.get(column)!, to })).sort((a, b) => a.column.localeCompare(b.column)),
  };
}

/** `2 tables added, 1 column removed`, or `none`. */
export function describeDrift(d: SchemaDrift): string {
  const parts: [number, string][] = [
    [d.tablesAdded.length, 'table(s) added'],
    [d.tablesRemoved.length, 'table(s) removed'],
    [d.columnsAdded.length, 'column(s) added'],
    [d.columnsRemoved.length, 'column(s) removed'],
    [d.typesChanged.length, 'type(s) changed'],
  ];
  const said = parts.filter(([n]) => n > 0).map(([n, what]) => `${n} ${what}`);
  return said.length ? said.join(', ') : 'none';
}
