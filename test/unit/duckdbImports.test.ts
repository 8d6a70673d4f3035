// The product's code takes DuckDB's values from shared/adapters/local/duckdbApi.ts, which loads the
// CommonJS package with `require`: an ES `import` of a value from it anywhere else has Node scan the
// package's 181 files for their export names on every command that opens the warehouse (the
// import of the embedded runtime took 0.53 s instead of 0.36 s). Type imports are erased: allowed.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

const ROOTS = ['shared', 'functions'];
const LOADER = path.join('shared', 'adapters', 'local', 'duckdbApi.ts');

const sources = (root: string): string[] =>
  readdirSync(root, { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.(ts|mts|mjs)$/.test(file) && !file.split(path.sep).includes('node_modules'))
    .map((file) => path.join(root, file));

describe('DuckDB is loaded with require, in one place', () => {
  it('no module but duckdbApi.ts imports a value from @duckdb/node-api', () => {
    const offenders = ROOTS.flatMap(sources)
      .filter((file) => file !== LOADER)
      .flatMap((file) => {
        // Every import statement naming the package, whole (an import may span lines).
        const statements = readFileSync(file, 'utf8').match(/import\s[^;]*?from\s+'@duckdb\/node-api'/g) ?? [];
        return statements.filter((s) => !/^import\s+type\s/.test(s)).map((s) => `${file}: ${s.replace(/\s+/g, ' ')}`);
      });
    assert.deepEqual(offenders, []);
  });

  it('duckdbApi.ts gives the package\'s own values', async () => {
    const loaded = await import('../../shared/adapters/local/duckdbApi.js');
    const api = await import('@duckdb/node-api');
    assert.equal(loaded.DuckDBInstance, api.DuckDBInstance);
    assert.equal(loaded.listValue, api.listValue);
  });
});
