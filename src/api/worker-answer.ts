// Queries and Updates are answered by a worker. While none serves the task queue, Temporal holds
// them (or, once the queue has had no poller for a while, refuses them), so the API bounds the
// wait and answers 503 with what did not answer.
import type { Client } from '@temporalio/client';
import { ApiError, isNoWorkerAnswer, isWorkflowTaskRetrying } from './errors';

/**
 * How long the API waits for a worker to answer a message or a state read of a running workflow
 * (a promotion or an environment's lifecycle) before it answers 503. A message retried with the
 * same requestId is applied once, whether or not the first attempt was.
 */
export const WORKER_ANSWER_TIMEOUT_MS = 20_000;

/**
 * Runs `call` (a query or an Update of one workflow) with a deadline of `timeoutMs`; when no
 * worker answered, throws a 503 `not_ready` that names `what` (e.g. `promotion promote:…`).
 * Other errors are rethrown as they are.
 */
export async function askWorker<T>(client: Client, what: string, timeoutMs: number, call: () => Promise<T>): Promise<T> {
  try {
    return await client.withDeadline(Date.now() + timeoutMs, call);
  } catch (err) {
    if (isWorkflowTaskRetrying(err)) {
      throw new ApiError('not_ready', `${what} cannot answer yet: its last workflow task failed and Temporal is retrying it; retry shortly (a message retried with the same requestId is applied once)`);
    }
    if (!isNoWorkerAnswer(err)) throw err;
    throw new ApiError(
      'not_ready',
      `${what} did not answer within ${Math.round(timeoutMs / 1000)} s: no worker is serving it right now, or Temporal is overloaded; retry shortly (a message retried with the same requestId is applied once)`,
    );
  }
}
