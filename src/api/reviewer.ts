// The caller's own view: who they are (`GET /v1/me`) and what waits on them (`GET /v1/review-queue`).
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { Client } from '@temporalio/client';
import { Router } from 'express';
import type { LoadedPolicy } from '../policy/load';
import { REVIEW_SUMMARY_MEMO_KEY, reviewSummaryOf, type ReviewSummary } from '../policy/review-summary';
import { queueEntryIn, sortQueue, type QueueEntry } from '../promotions/review-queue';
import { actorOf } from './auth';
import { MeSchema, REVIEW_QUEUE_LIMIT, ReviewQueueSchema } from './dashboard-schemas';
import { BEARER, errorResponses, json, named } from './openapi-parts';
import { promotionListQuery, quote } from './promotion-reads';
import { createReviewStateReader, reviewSummaryOfMemo } from './review-states';

/** How many promotion states (of promotions without a review summary in their memo) are read at once. */
const STATE_READS_AT_ONCE = 16;

/** What the reviewer routes need. */
export interface ReviewerRoutesDeps {
  client: Client;
  policies: ReadonlyMap<string, LoadedPolicy>;
  /** Task queue of this deployment's worker: the queue reads the states of its promotions only. */
  taskQueue: string;
}

/** Runs `task` over `items`, at most `limit` at once, keeping the order. */
async function mapAtMost<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

/** Builds `GET /v1/me` and `GET /v1/review-queue`. */
export function reviewerRoutes(deps: ReviewerRoutesDeps): Router {
  const router = Router();
  const { client } = deps;
  // A promotion whose worker is down must not stall the queue: 2 s at most per promotion.
  const readState = createReviewStateReader(client, { timeoutMs: 2_000 });

  router.get('/me', (_req, res) => {
    const actor = actorOf(res);
    res.json({ id: actor.id, roles: actor.roles, ...(actor.rolesProblem ? { rolesProblem: actor.rolesProblem } : {}) });
  });

  router.get('/review-queue', async (_req, res) => {
    const actor = actorOf(res);
    const pending = promotionListQuery({ pendingFor: 'me' }, actor);
    if (!pending) {
      res.json({ entries: [], truncated: false, unreadable: [] });
      return;
    }
    const query = `${pending} AND TaskQueue = ${quote(deps.taskQueue)}`;
    const page = await client.workflowService.listWorkflowExecutions({ namespace: client.options.namespace, query, pageSize: REVIEW_QUEUE_LIMIT });
    const converter = client.options.loadedDataConverter.payloadConverter;
    const listed = (page.executions ?? []).flatMap((e) => (e.execution?.workflowId ? [{ id: e.execution.workflowId, memo: e.memo?.fields?.[REVIEW_SUMMARY_MEMO_KEY] }] : []));
    const unreadable: string[] = [];
    // A promotion's review summary comes from its memo; promotions started before review-queue-memo
    // (no summary in their memo yet) have their state read instead.
    const summaries = await mapAtMost(listed, STATE_READS_AT_ONCE, async ({ id, memo }): Promise<[string, ReviewSummary] | undefined> => {
      if (memo) {
        const reading = reviewSummaryOfMemo(memo, converter);
        if ('summary' in reading) return [id, reading.summary];
        // The workflow writes a valid summary: a malformed one was not written by it. Shown as unreadable.
        unreadable.push(id);
        return undefined;
      }
      try {
        return [id, reviewSummaryOf(await readState(id))];
      } catch {
        // Closed between the listing and the query, or its worker is down or busy: shown as unreadable.
        unreadable.push(id);
        return undefined;
      }
    });
    const entries: QueueEntry[] = [];
    for (const read of summaries) {
      if (!read) continue;
      const [id, summary] = read;
      const separationOfDuties = deps.policies.get(summary.policy)?.policy.separationOfDuties ?? { allowSamePersonOnMultipleGates: false };
      const entry = queueEntryIn(id, summary, actor, separationOfDuties);
      if (entry) entries.push(entry);
    }
    const truncated = !!page.nextPageToken && page.nextPageToken.length > 0;
    res.json({ entries: sortQueue(entries), truncated, unreadable: unreadable.sort() });
  });

  return router;
}

/** Registers `GET /v1/me` and `GET /v1/review-queue` in the OpenAPI document. */
export function registerReviewerPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({
    method: 'get',
    path: '/v1/me',
    summary: 'The authenticated caller: id and roles, as the API reads them from the token',
    security: BEARER,
    responses: { 200: { description: 'the caller', content: json(MeSchema) }, ...errorResponses() },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/review-queue',
    summary: "The caller's queue: promotions with an open gate the caller may sign now, nearest deadline first",
    security: BEARER,
    responses: { 200: { description: 'the queue', content: json(named(registry, 'ReviewQueue', ReviewQueueSchema)) }, ...errorResponses() },
  });
}
