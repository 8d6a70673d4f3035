// The disk check before a run (shared/chain/diskRoom.ts): what a run writes, estimated from its
// frozen manifest and build plan, and the refusal when a store's file system cannot hold it.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import sinon from 'sinon';
import { checkRoom, estimateWrites, sizeText } from '../../shared/chain/diskRoom.js';
import { loadConfig } from '../../shared/config.js';
import { buildManifest, type RunManifest } from '../../shared/manifest.js';
import { planMerge } from '../../shared/planner.js';
import type { ObjectStore, Room } from '../../shared/ports.js';
import { folderRoom } from '../../shared/adapters/local/folderRoom.js';
import { checkDemoRoom } from '../../shared/cli/demo.js';
import { demoTableBytes } from '../../shared/demo/size.js';
import { tempDir } from '../helpers/temp.js';

// Groups of at most 3 columns and the key, narrower than the config allows, so two tables make several.
const config = { ...loadConfig({ BQX_SHARD: 'day' }), groupColumns: 4 };
const col = (name: string) => ({ name, type: 'FLOAT64' });
const key = { name: 'interval_time', type: 'TIMESTAMP' };

/** eurusd with two tables of 3 and 5 columns, two label columns: 11 output columns. 1,000 label rows over two days. */
function manifest(): RunManifest {
  return buildManifest({
    runId: 'eurusd-1', pair: 'eurusd', createdAt: '2021-03-03T00:00:00Z',
    window: { start: '2021-03-01T00:00:00.000Z', end: '2021-03-03T00:00:00.000Z' },
    labelRows: 1000,
    featureCatalog: [
      { table: 'agg_eurusd', columns: [key, col('a1'), col('a2'), col('a3')] },
      { table: 'reg_eurusd', columns: [key, col('r1'), col('r2'), col('r3'), col('r4'), col('r5')] },
    ],
    labelTable: { table: 'targets_eurusd', columns: [key, col('target_bqx45_h15'), col('target_bqx90_h30')] },
    config,
  });
}

const PROFILE = 600 * 11 * 8;

describe('diskRoom: the writes a run is estimated to make', () => {
  it('a first run writes every checkpoint (its columns and key, 8 bytes a cell) and the whole dataset with its profile sample', () => {
    const m = manifest();
    assert.equal(m.columnCount, 11);
    assert.deepEqual(estimateWrites(m, undefined, config), { staging: 1000 * (4 + 6) * 8, output: 1000 * 11 * 8 + PROFILE });
  });

  it('a run with every checkpoint reused and every shard shared writes only the profile', () => {
    const m = manifest();
    for (const f of m.features) f.reuse = { runId: 'eurusd-0', entry: 'x' };
    assert.deepEqual(estimateWrites(m, { rebuilt: [] }, config), { staging: 0, output: PROFILE });
  });

  it('a refresh counts the new minutes\' rows apart from the earlier window\'s: extracts of the new range, the grown shard from where it grew', () => {
    const m = manifest();
    const range = { start: '2021-03-02T12:00:00.000Z', end: '2021-03-03T00:00:00.000Z' };
    m.features[0]!.incremental = { from: 'eurusd-0', files: [], sizes: [], rows: 900, sourceRows: 900, duplicates: 0, range };
    m.features[1]!.reuse = { runId: 'eurusd-0', entry: 'x' };
    // 900 rows in the first 36 hours, 100 in the last 12 (a weekend in between would do the same).
    const writes = estimateWrites(m, { rebuilt: ['20210302'], grown: [{ id: '20210302', from: range.start }] } as never, config, { end: range.start, rows: 900 });
    assert.equal(writes.staging, 100 * 4 * 8);
    assert.equal(writes.output, 100 * 11 * 8 + PROFILE);
    // Spread over the whole window instead, the new range would be a quarter of the rows.
    assert.equal(estimateWrites(m, undefined, config).staging, 250 * 4 * 8);
  });

  it('a run that builds only some column groups counts their columns (the key in each)', () => {
    const m = manifest();
    const groups = planMerge(m, config).groups;
    assert.ok(groups.length >= 3, `groups of ${groups.map((g) => g.columns.length)}`);
    const last = groups[groups.length - 1]!;
    const writes = estimateWrites(m, { rebuilt: ['20210301', '20210302'], groups: [last.index] }, config);
    assert.equal(writes.output, 1000 * last.columns.length * 8 + PROFILE);
    // Half the shards: half the rows.
    assert.equal(estimateWrites(m, { rebuilt: ['20210302'] }, config).output, 500 * 11 * 8 + PROFILE);
  });
});

function store(room: Room | undefined): ObjectStore {
  return { room: async () => room } as unknown as ObjectStore;
}

describe('diskRoom: the check', () => {
  const GB = 1e9;

  it('tells sizes as people read them', () => {
    assert.deepEqual([999, 60_500, 203_400_000, 1_412_400_000, 142_700_000_000].map(sizeText), ['1 KB', '61 KB', '203 MB', '1.41 GB', '142.7 GB']);
  });

  it('passes what fits, and stores without a bound (a bucket)', async () => {
    const rooms = await checkRoom({ staging: store({ free: 3 * GB, volume: '1', where: '/a' }), output: store({ free: 3 * GB, volume: '1', where: '/a' }) }, { staging: GB, output: GB });
    assert.equal(rooms.length, 1, 'one file system, counted once');
    assert.deepEqual(await checkRoom({ staging: store(undefined), output: store(undefined) }, { staging: 1e15, output: 1e15 }), []);
  });

  it('counts staging and output together on one file system, and refuses with what it needs, what is free and what to do', async () => {
    const one = { free: 1.5 * GB, volume: '7', where: '/home/u/.bqx' };
    await assert.rejects(
      checkRoom({ staging: store(one), output: store(one) }, { staging: GB, output: GB }),
      (e: Error) => {
        assert.equal(e.name, 'InputError');
        assert.match(e.message, /^not enough disk for this run: it writes about 2\.00 GB \(checkpoints 1\.00 GB, dataset 1\.00 GB\) and \/home\/u\/\.bqx has 1\.50 GB free\./);
        assert.match(e.message, /bqx gc --keep 1/);
        assert.match(e.message, /BQX_DISK_CHECK=off/);
        return true;
      },
    );
  });

  it('checks two file systems apart: only the one that is short refuses', async () => {
    const staging = store({ free: 1.5 * GB, volume: '1', where: '/fast' });
    await checkRoom({ staging, output: store({ free: 1.5 * GB, volume: '2', where: '/big' }) }, { staging: GB, output: GB });
    await assert.rejects(checkRoom({ staging, output: store({ free: 0.5 * GB, volume: '2', where: '/big' }) }, { staging: GB, output: GB }), /about 1\.00 GB and \/big has 500 MB free/);
  });
});

describe('diskRoom: a folder\'s room', () => {
  afterEach(() => sinon.restore());

  it('is its file system\'s free bytes for this user, found from the nearest folder that exists', () => {
    const dir = tempDir('room');
    const room = folderRoom(`${dir}/not/made/yet`);
    assert.equal(room.where, dir);
    assert.equal(room.volume, String(fs.statSync(dir).dev));
    const space = fs.statfsSync(dir);
    assert.ok(Math.abs(room.free - space.bavail * space.bsize) < 1e9, `${room.free} free`);
  });

  it('refuses a demo build the disk cannot hold, with the rows that would fit; a build that fits passes', () => {
    const home = tempDir('room');
    const tables = demoTableBytes(['eurusd'], 10_000);
    // 2 GB free: the tables (1.44 GB) fit, not with a first run's 2.73 GB after them.
    sinon.stub(fs, 'statfsSync').returns({ bavail: 2e9 / 4096, bsize: 4096 } as fs.StatsFs);
    assert.ok(tables > 1.4e9 && tables < 1.5e9, `${tables}`);
    checkDemoRoom(home, ['eurusd'], 10_000, undefined, false);
    assert.throws(() => checkDemoRoom(home, ['eurusd'], 10_000, undefined, true), (e: Error) => {
      assert.equal(e.name, 'InputError');
      assert.match(e.message, /^not enough disk for the demo at 10000 rows: its tables take about 1\.44 GB and the first run writes about 2\.73 GB more, and .* has 2\.00 GB free\. About --rows 4000 fits;/);
      return true;
    });
    // The demo it replaces counts as free: the same 2 GB hold a 10,000-row demo over a 5,000-row one, with its run.
    checkDemoRoom(home, ['eurusd'], 10_000, { version: 3, pairs: ['eurusd'], rows: 5_000 }, false);
  });
});
