// Before a CLI command talks to Google Cloud (`--target gcp`), Application Default Credentials must
// be found. Without them the Firestore and Pub/Sub clients fail inside their own background work, as
// unhandled rejections: `bqx status --target gcp` on a machine never logged in printed the client
// library's stack trace and exited 1, instead of an error the CLI can report. Only finding them is
// checked, the way the clients will (from process.env, the well-known gcloud file, then the metadata
// server): no token is fetched here, so a revoked or expired login still fails at the first request.

import { GoogleAuth } from 'google-auth-library';
import { errorMessage } from '../log.js';
import { InputError } from '../naming.js';

/** The Google Cloud services a command calls, with the variable that points each at its emulator. */
const EMULATOR_VARIABLES = { pubsub: 'PUBSUB_EMULATOR_HOST', firestore: 'FIRESTORE_EMULATOR_HOST', bigquery: undefined } as const;
export type GcpService = keyof typeof EMULATOR_VARIABLES;

/** Throws an InputError naming the fix when no credentials are found; nothing when every service is emulated. */
export async function assertCredentials(services: readonly GcpService[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const emulated = services.every((s) => {
    const variable = EMULATOR_VARIABLES[s];
    return variable !== undefined && Boolean(env[variable]);
  });
  if (emulated) return;
  try {
    await new GoogleAuth({ scopes: ['https://www.googleapis.com/auth/cloud-platform'] }).getClient();
  } catch (error) {
    throw new InputError(
      `no Google Cloud credentials for ${services.join(', ')}: run \`gcloud auth application-default login\`, or set GOOGLE_APPLICATION_CREDENTIALS to a service account key file (${errorMessage(error)})`,
    );
  }
}
