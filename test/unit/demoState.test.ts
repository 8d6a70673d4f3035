// demo.json, the record of what the demo warehouse holds (shared/cli/demo.ts): written whole or
// not at all, and a record that does not parse reads as none (the demo is then built again).

import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { readDemoState, writeDemoState } from '../../shared/cli/demo.js';
import { tempDir } from '../helpers/temp.js';

describe('demo.json', () => {
  it('is replaced whole, leaving no temp file, and reads back as written', async () => {
    const home = tempDir('demo-state');
    await writeDemoState(home, { version: 3, pairs: ['eurusd'], rows: 600, building: true });
    await writeDemoState(home, { version: 3, pairs: ['eurusd'], rows: 600, appended: 120 });
    assert.deepEqual(await readDemoState(home), { version: 3, pairs: ['eurusd'], rows: 600, appended: 120 });
    assert.deepEqual(await fs.readdir(home), ['demo.json']);
  });

  it('reads as none when missing or cut short', async () => {
    const home = tempDir('demo-state');
    assert.equal(await readDemoState(home), undefined);
    await fs.writeFile(path.join(home, 'demo.json'), '{"version": 3, "pairs": ["eur');
    assert.equal(await readDemoState(home), undefined);
  });
});
