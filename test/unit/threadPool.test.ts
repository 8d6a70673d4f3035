// Which file a worker thread loads when the pool is started from the TypeScript sources (as the
// tests start it): the compiled CLI's copy of the worker module while that build is current (no
// tsx in the thread: about 190 ms to a first answer against 660 ms), the .ts file through tsx when
// it is not or with BQX_TSX=1; and a pool's thread answers from the file chosen.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILD_DIR, compiledMain } from '../../shared/cli/compiled.cjs';
import { ThreadPool, workerModule } from '../../shared/adapters/local/threadPool.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('thread pool: the worker module a thread loads', function () {
  this.timeout(30_000);

  it('from the sources, the compiled worker while the build is current, else the .ts file through tsx', () => {
    const chosen = workerModule('profileScanWorker');
    if (compiledMain(ROOT) !== null) {
      assert.equal(fileURLToPath(chosen.url), path.join(ROOT, BUILD_DIR, 'shared', 'adapters', 'local', 'profileScanWorker.js'));
      assert.equal(chosen.tsx, false);
    } else {
      assert.equal(fileURLToPath(chosen.url), path.join(ROOT, 'shared', 'adapters', 'local', 'profileScanWorker.ts'));
      assert.equal(chosen.tsx, true);
    }
    assert.ok(existsSync(fileURLToPath(chosen.url)));
  });

  it('with BQX_TSX=1, the .ts file through tsx whatever the build', () => {
    const before = process.env.BQX_TSX;
    process.env.BQX_TSX = '1';
    try {
      const chosen = workerModule('keyedWriteWorker');
      assert.equal(fileURLToPath(chosen.url), path.join(ROOT, 'shared', 'adapters', 'local', 'keyedWriteWorker.ts'));
      assert.equal(chosen.tsx, true);
    } finally {
      if (before === undefined) delete process.env.BQX_TSX;
      else process.env.BQX_TSX = before;
    }
  });

  for (const tsx of [false, true]) {
    it(`a thread loads the chosen file and answers its tasks${tsx ? ' (through tsx)' : ''}`, async () => {
      const before = process.env.BQX_TSX;
      if (tsx) process.env.BQX_TSX = '1';
      const pool = new ThreadPool<unknown, unknown>('profileScanWorker', 1, 'profile scan');
      try {
        // A task the worker cannot read: its error comes back from the thread, so the module loaded and served it.
        await assert.rejects(pool.run({}), /^Error: profile scan thread: /);
        assert.equal(pool.failed, false, 'a task that threw leaves the thread serving');
      } finally {
        if (before === undefined) delete process.env.BQX_TSX;
        else process.env.BQX_TSX = before;
        await pool.close();
      }
    });
  }
});
