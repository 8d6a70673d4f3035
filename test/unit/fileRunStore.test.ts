import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileRunStore } from '../../shared/adapters/local/fileRunStore.js';
import { runStoreContract } from '../contracts/runStore.contract.js';

runStoreContract(
  'embedded file store',
  async () => new FileRunStore(mkdtempSync(path.join(os.tmpdir(), 'bqx-store-'))),
  async (store) => {
    await store.close();
    return new FileRunStore((store as FileRunStore).root);
  },
);
