
import { FileRunStore } from '../../shared/adapters/local/fileRunStore.js';
import { runStoreContract } from '../contracts/runStore.contract.js';
import { tempDir } from '../helpers/temp.js';

runStoreContract(
  'embedded file store',
  async () => new FileRunStore(tempDir('store')),
  async (store) => {
    await store.close();
    return new FileRunStore((store as FileRunStore).root);
  },
);
