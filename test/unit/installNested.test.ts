// scripts/install-nested.mjs: what `npm test` and `npm run bench` run first. It installs a folder's
// own lock file once, records the lock's hash, skips while the hash holds, and installs again when
// the lock changes. A folder with no dependencies, npm offline: nothing reaches the network.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const script = path.resolve('scripts', 'install-nested.mjs');

function install(dir: string) {
  // Offline and without the update check: npm has nothing to fetch here, and a test reaches no network.
  const env = { ...process.env, npm_config_offline: 'true', npm_config_update_notifier: 'false' };
  const run = spawnSync(process.execPath, [script, dir], { encoding: 'utf8', env });
  return { code: run.status, stderr: run.stderr };
}

describe('scripts/install-nested.mjs', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'bqx-nested-'));
    await fs.writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'nested', private: true, dependencies: {} }));
    await fs.writeFile(path.join(dir, 'package-lock.json'), JSON.stringify({ name: 'nested', lockfileVersion: 3, requires: true, packages: { '': { name: 'nested' } } }));
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  it('installs once, skips while the lock is unchanged, installs again when it changes', async () => {
    const first = install(dir);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /installing its own dependencies/);
    const marker = path.join(dir, 'node_modules', '.bqx-lock-sha256');
    assert.ok(existsSync(marker), 'the lock hash is recorded after the install');

    const second = install(dir);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stderr, '', 'an unchanged lock installs nothing');

    await fs.writeFile(path.join(dir, 'package-lock.json'), JSON.stringify({ name: 'nested', version: '1.0.0', lockfileVersion: 3, requires: true, packages: { '': { name: 'nested', version: '1.0.0' } } }));
    const third = install(dir);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stderr, /installing its own dependencies/);
  });

  it('refuses a folder without a lock file, and says which', async () => {
    const bare = await fs.mkdtemp(path.join(os.tmpdir(), 'bqx-nested-bare-'));
    try {
      const run = install(bare);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /no package-lock\.json/);
    } finally {
      await fs.rm(bare, { recursive: true, force: true });
    }
  });
});
