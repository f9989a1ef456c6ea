// The worker's HTTP endpoint for its orchestrator (WORKER_HEALTH_PORT): `GET /healthz` and
// `GET /readyz`, answered from the Temporal workers' states. It reads no request body, echoes
// nothing of the request, and answers 404 to anything else.
import { createServer, type Server } from 'node:http';

/** The worker states this endpoint reports (those of `@temporalio/worker`'s Worker). */
export type WorkerHealthState = 'INITIALIZED' | 'RUNNING' | 'STOPPED' | 'STOPPING' | 'DRAINING' | 'DRAINED' | 'FAILED';

/** Where the endpoint reads the worker's state from. */
export interface WorkerHealthSource {
  /** The role the process serves (WORKER_ROLE). */
  role: string;
  /** Each Temporal worker of the process, with its task queue. */
  states(): ReadonlyArray<{ taskQueue: string; state: WorkerHealthState }>;
}

/**
 * `/healthz`: 200 while no Temporal worker has failed (a failed worker makes the process exit
 * anyway; this catches one that hangs on its way out). `/readyz`: 200 while every Temporal worker
 * is RUNNING (polling its task queue), else 503; both name each queue's state.
 */
export function workerHealthResponse(pathname: string, source: WorkerHealthSource): { status: number; body: unknown } {
  const workers = source.states();
  const body = { role: source.role, workers };
  if (pathname === '/healthz') {
    const alive = workers.every((w) => w.state !== 'FAILED');
    return { status: alive ? 200 : 503, body: { status: alive ? 'ok' : 'failed', ...body } };
  }
  if (pathname === '/readyz') {
    const ready = workers.length > 0 && workers.every((w) => w.state === 'RUNNING');
    return { status: ready ? 200 : 503, body: { status: ready ? 'ready' : 'not ready', ...body } };
  }
  return { status: 404, body: { error: 'not found: the worker serves GET /healthz and GET /readyz' } };
}

/** Starts the endpoint on `host:port`; resolves once it listens. */
export async function startWorkerHealthServer(host: string, port: number, source: WorkerHealthSource): Promise<Server> {
  const server = createServer((req, res) => {
    const pathname = (req.url ?? '/').split('?')[0]!;
    const { status, body } =
      req.method === 'GET' || req.method === 'HEAD'
        ? workerHealthResponse(pathname, source)
        : { status: 405, body: { error: 'method not allowed: the worker serves GET only' } };
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
    res.end(req.method === 'HEAD' ? undefined : text);
  });
  server.headersTimeout = 5_000;
  server.requestTimeout = 5_000;
  server.maxHeadersCount = 50;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
