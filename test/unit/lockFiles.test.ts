// The lock files npm ci installs from (the root's, test/'s, bench/'s) name every registry
// package's tarball. Without `resolved`, npm ci asks the registry for each package's metadata
// first (475 requests, 5-13 s each here when the cached copy is stale): the first run's install
// took 41.6 s with them missing and 9.9 s without. .ci/fix-lock.py adds them; .npmrc keeps them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

interface LockEntry {
  /** The package's own name where the folder is an alias's (string-width-cjs is npm:string-width). */
  name?: string;
  version?: string;
  resolved?: string;
  integrity?: string;
  link?: boolean;
}

for (const file of ['package-lock.json', 'test/package-lock.json', 'bench/package-lock.json']) {
  describe(`lock file ${file}`, () => {
    const packages = (JSON.parse(readFileSync(file, 'utf8')) as { packages: Record<string, LockEntry> }).packages;

    it('names the tarball of every package it pins by integrity', () => {
      const entries = Object.entries(packages).filter(([key, e]) => key !== '' && !e.link && e.integrity);
      assert.ok(entries.length > 0, 'the lock pins packages');
      const missing = entries.filter(([, e]) => !e.resolved).map(([key]) => key);
      assert.deepEqual(missing, [], 'run python3 .ci/fix-lock.py on this lock file');
      for (const [key, e] of entries) {
        const name = e.name ?? key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length);
        assert.match(e.resolved!, /^https:\/\/registry\.npmjs\.org\//, key);
        assert.ok(e.resolved!.endsWith(`-${e.version}.tgz`), `${key}: ${e.resolved} is not version ${e.version}`);
        assert.ok(e.resolved!.includes(`/${name}/-/`), `${key}: ${e.resolved} is not ${name}'s`);
      }
    });
  });
}

describe('the root install', () => {
  it("leaves the tests' analyzer and parser and the bench's Polars peer to their own folders", () => {
    const root = JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string>; scripts: Record<string, string> };
    const all = { ...root.dependencies, ...root.devDependencies };
    for (const heavy of ['@fivetrandevelopers/zetasql', 'node-sql-parser', 'nodejs-polars']) assert.equal(all[heavy], undefined, `${heavy} is in the root package.json`);
    assert.match(root.scripts.pretest!, /install-nested\.mjs test/);
    assert.match(root.scripts.prebench!, /install-nested\.mjs bench/);
    const testDeps = (JSON.parse(readFileSync('test/package.json', 'utf8')) as { dependencies: Record<string, string> }).dependencies;
    assert.ok(testDeps['@fivetrandevelopers/zetasql'] && testDeps['node-sql-parser']);
    const benchDeps = (JSON.parse(readFileSync('bench/package.json', 'utf8')) as { dependencies: Record<string, string> }).dependencies;
    assert.ok(benchDeps['nodejs-polars']);
  });
});
