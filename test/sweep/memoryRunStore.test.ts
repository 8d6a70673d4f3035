// The sweep's in-memory run store keeps the same contract as the embedded file store and Firestore.

import { runStoreContract } from '../contracts/runStore.contract.js';
import { MemoryRunStore } from './memoryPorts.js';

runStoreContract('in-memory store of the fault sweep', async () => new MemoryRunStore());
