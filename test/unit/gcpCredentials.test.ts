// The credentials check before `--target gcp` commands (shared/runtime/gcpCredentials.ts): without
// it, the Firestore and Pub/Sub clients failed as unhandled rejections (a stack trace, exit 1). Here
// without any network: a key file that is missing fails at once, and one that exists is only parsed.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { assertCredentials } from '../../shared/runtime/gcpCredentials.js';
import { tempDir } from '../helpers/temp.js';

describe('the Google Cloud credentials check', () => {
  const saved = process.env.GOOGLE_APPLICATION_CREDENTIALS;
  afterEach(() => {
    if (saved === undefined) delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
    else process.env.GOOGLE_APPLICATION_CREDENTIALS = saved;
  });

  it('without credentials: an InputError that names the fix and what the library said', async () => {
    process.env.GOOGLE_APPLICATION_CREDENTIALS = path.join(tempDir('creds'), 'missing.json');
    await assert.rejects(assertCredentials(['pubsub', 'firestore'], {}), (e: Error) => {
      assert.equal(e.name, 'InputError');
      assert.match(e.message, /^no Google Cloud credentials for pubsub, firestore: run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS/);
      assert.match(e.message, /missing\.json/);
      return true;
    });
  });

  it('with a service account key file: passes without fetching a token (the key is not used here)', async () => {
    const file = path.join(tempDir('creds'), 'key.json');
    // Not a real key: the check only finds and parses the file, as the clients do before their first request.
    writeFileSync(file, JSON.stringify({ type: 'service_account', project_id: 'demo-x', client_email: 'bqx@demo-x.iam.gserviceaccount.com', private_key: 'not-a-key' }));
    process.env.GOOGLE_APPLICATION_CREDENTIALS = file;
    await assertCredentials(['bigquery'], {});
  });

  it('every service on its emulator: nothing is looked up; BigQuery has no emulator, so it is always checked', async () => {
    process.env.GOOGLE_APPLICATION_CREDENTIALS = path.join(tempDir('creds'), 'missing.json');
    const emulators = { PUBSUB_EMULATOR_HOST: '127.0.0.1:8085', FIRESTORE_EMULATOR_HOST: '127.0.0.1:8080' };
    await assertCredentials(['pubsub', 'firestore'], emulators);
    await assert.rejects(assertCredentials(['pubsub', 'firestore'], { PUBSUB_EMULATOR_HOST: '127.0.0.1:8085' }), /no Google Cloud credentials/);
    await assert.rejects(assertCredentials(['bigquery'], emulators), /no Google Cloud credentials for bigquery/);
  });
});
