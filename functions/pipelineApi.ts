// pipelineApi: a small JSON API for operators.
//   GET  /runs/{runId}          {run, landed}
//   GET  /pairs/{pair}          {pair, active, last}: the pair's active run and its latest run (or null)
//   POST /runs                  body as startRun's (bare pair or JSON): validated here, then published to
//                               the run-requests topic for startRun: 202 {pair, accepted, watch, messageId}
//                               with Location: /pairs/{pair}. The API does not run startRun itself: its
//                               service account has no BigQuery role (least privilege), startRun's has.
//   GET  /requests/{messageId}  {messageId, refused}: why startRun refused the request POST /runs published
//                               (null while it has not: watch the pair for its run)
//   POST /runs/{runId}/rerun    {"mode": "missing" | "merge" | "features", "features"?: [...]}: 200 {run, features}
// Errors are {error}: 400 bad input, 404 unknown run or route, 405 wrong method, 409 conflict.

import { http, type Request } from '@google-cloud/functions-framework';
import type { ChainDeps } from '../shared/chain/deps.js';
import { attributes, decodeRunRequest } from '../shared/chain/messages.js';
import { decodeRerunRequest, rerun } from '../shared/chain/rerun.js';
import { requireRun } from '../shared/chain/runs.js';
import { InputError, NotFoundError, REQUEST_ID, assertRunId, validatePair } from '../shared/naming.js';
import { MethodNotAllowed, bodyText, jsonBody, jsonFunction, type Reply } from './handlers.js';

type Route = (deps: ChainDeps, req: Request, param: string) => Promise<Reply>;

/** Path pattern (`:x` = one parameter) -> method -> handler. */
const ROUTES: [string, Partial<Record<'GET' | 'POST', Route>>][] = [
  ['runs/:runId', { GET: getRun }],
  ['pairs/:pair', { GET: getPair }],
  ['requests/:messageId', { GET: getRequest }],
  ['runs', { POST: postRun }],
  ['runs/:runId/rerun', { POST: postRerun }],
];

const ROUTE_LIST = 'GET /runs/{runId}, GET /pairs/{pair}, GET /requests/{messageId}, POST /runs, POST /runs/{runId}/rerun';

export const pipelineApi = jsonFunction('api', async (deps, req) => {
  const segments = pathSegments(req.path);
  for (const [pattern, methods] of ROUTES) {
    const param = match(pattern, segments);
    if (param === undefined) continue;
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    const route = method === 'GET' || method === 'POST' ? methods[method] : undefined;
    if (!route) throw new MethodNotAllowed(req.method, Object.keys(methods));
    return route(deps, req, param);
  }
  throw new NotFoundError(`no route ${req.method} ${req.path.slice(0, 100)} (routes: ${ROUTE_LIST})`);
});

http('pipelineApi', pipelineApi);

async function getRun(deps: ChainDeps, _req: Request, runId: string): Promise<Reply> {
  const run = await requireRun(deps, assertRunId(runId));
  return { status: 200, body: { run, landed: await deps.store.countCheckpoints(run.runId) } };
}

async function getPair(deps: ChainDeps, _req: Request, pair: string): Promise<Reply> {
  validatePair(pair, deps.config.currencies);
  const [active, last] = await Promise.all([deps.store.activeRun(pair), deps.store.lastRun(pair)]);
  return { status: 200, body: { pair, active: active ?? null, last: last ?? null } };
}

async function getRequest(deps: ChainDeps, _req: Request, messageId: string): Promise<Reply> {
  if (!REQUEST_ID.test(messageId)) throw new InputError(`message id ${JSON.stringify(messageId.slice(0, 80))} must be letters, digits, _ and -`);
  const refusal = await deps.store.getRefusal(messageId);
  return { status: 200, body: { messageId, refused: refusal ? { reason: refusal.reason, pair: refusal.pair, at: refusal.at } : null } };
}

async function postRun(deps: ChainDeps, req: Request): Promise<Reply> {
  const text = bodyText(req, 'the run request (eurusd, or {"pair": "eurusd", "start"?, "end"?, "force"?})');
  const request = decodeRunRequest(req.is('json') ? req.body : text, deps.config.currencies);
  const messageId = await deps.bus.publish(deps.config.topics.runRequests, request, attributes({ pair: request.pair }));
  const watch = `/pairs/${request.pair}`;
  return { status: 202, body: { pair: request.pair, accepted: true, watch, messageId }, headers: { Location: watch } };
}

async function postRerun(deps: ChainDeps, req: Request, runId: string): Promise<Reply> {
  const request = decodeRerunRequest(jsonBody(req, 'the rerun request'));
  const { run, features } = await rerun(deps, assertRunId(runId), request);
  return { status: 200, body: { run, features } };
}

/** Path segments, percent-decoded; a trailing slash is ignored. */
function pathSegments(path: string): string[] {
  try {
    return path.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
  } catch {
    throw new InputError('the request path is not valid percent-encoding');
  }
}

/** The pattern's one parameter ('' when it has none), or undefined when the path does not match. */
function match(pattern: string, segments: string[]): string | undefined {
  const parts = pattern.split('/');
  if (parts.length !== segments.length) return undefined;
  let param = '';
  for (const [i, part] of parts.entries()) {
    if (part.startsWith(':')) param = segments[i]!;
    else if (part !== segments[i]) return undefined;
  }
  return param;
}
