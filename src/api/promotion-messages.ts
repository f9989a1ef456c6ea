// `POST /v1/promotions/{id}/<path>`: the messages a promotion accepts, one route per row of the
// message table (src/shared/message-table.ts), each sent as a Workflow Update with the caller as
// the actor. Refusals are mapped by the error middleware (src/api/domain-errors.ts).
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import { Router } from 'express';
import { ManifestRevisionSchema } from '../manifest/schema';
import { sendPromotionMessage } from '../promotions/messages';
import type { SourceRules } from '../sources/rules';
import { MESSAGE_KINDS, type MessageKind, PROMOTION_MESSAGES } from '../shared/message-table';
import type { MessagePayloads } from '../shared/promotion';
import { SearchAttributes } from '../shared/search-attributes';
import { PromotionEnded } from './domain-errors';
import { BEARER, bodyErrorResponses, json, named, promotionIdParams } from './openapi-parts';
import { actorOf, parseInput, refuseSources, requestIdOf } from './request';
import { MessageResultSchema, PromotionIdSchema } from './schemas';
import { askWorker, WORKER_ANSWER_TIMEOUT_MS } from './worker-answer';

/** What the message routes need. */
export interface PromotionMessageRoutesDeps {
  client: Client;
  /** Where a revision's sources may be read from. */
  sources: SourceRules;
  /** How long a message waits for a worker to answer (default {@link WORKER_ANSWER_TIMEOUT_MS}). */
  workerAnswerTimeoutMs?: number;
}

/** The body a client sends with each message: the table's, with no other field. */
const requestSchemaOf = (kind: MessageKind) => PROMOTION_MESSAGES[kind].body.strict();

/**
 * What Temporal's refusal of an Update to a promotion means: a promotion that has ended
 * ({@link PromotionEnded}), or `err` itself (one Temporal does not know is its
 * `WorkflowNotFoundError`).
 */
async function endedOr(client: Client, err: unknown, promotionId: string): Promise<unknown> {
  if (err instanceof WorkflowNotFoundError) {
    try {
      const description = await client.workflow.getHandle(promotionId).describe();
      return new PromotionEnded(promotionId, description.typedSearchAttributes.get(SearchAttributes.PromotionStatus) ?? description.status.name);
    } catch (describeError) {
      if (describeError instanceof WorkflowNotFoundError) return err;
      throw describeError;
    }
  }
  return /workflow execution already completed/i.test(err instanceof Error ? err.message : '') ? new PromotionEnded(promotionId) : err;
}

/** Builds `POST /v1/promotions/{id}/<path>` for every message kind. */
export function promotionMessageRoutes(deps: PromotionMessageRoutesDeps): Router {
  const router = Router();
  const { client } = deps;
  const answerTimeoutMs = deps.workerAnswerTimeoutMs ?? WORKER_ANSWER_TIMEOUT_MS;

  const route = <K extends MessageKind>(kind: K) => {
    const schema = requestSchemaOf(kind);
    router.post(`/:id/${PROMOTION_MESSAGES[kind].path}`, async (req, res) => {
      const body = parseInput(schema, req.body, 'body');
      if ('changes' in body) refuseSources(body.changes, deps.sources, 'revision', 'changes.');
      const promotionId = parseInput(PromotionIdSchema, req.params.id, 'path');
      const message = { ...body, actor: actorOf(res), requestId: requestIdOf(req, body.requestId) } as MessagePayloads[K];
      const handle = client.workflow.getHandle(promotionId);
      const result = await askWorker(client, `promotion ${promotionId}`, answerTimeoutMs, () => sendPromotionMessage(handle, kind, message)).catch(
        async (err: unknown) => {
          throw await endedOr(client, err, promotionId);
        },
      );
      res.json({ promotionId, ...result });
    });
  };
  MESSAGE_KINDS.forEach(route);
  return router;
}

/** Registers the message routes in the OpenAPI document: one operation per message kind. */
export function registerPromotionMessagePaths(registry: OpenAPIRegistry): void {
  named(registry, 'ManifestRevision', ManifestRevisionSchema);
  const messageResult = named(registry, 'MessageResult', MessageResultSchema);
  for (const kind of MESSAGE_KINDS) {
    registry.registerPath({
      method: 'post',
      path: `/v1/promotions/{id}/${PROMOTION_MESSAGES[kind].path}`,
      summary: PROMOTION_MESSAGES[kind].title,
      security: BEARER,
      request: { params: promotionIdParams, body: { required: true, content: json(requestSchemaOf(kind)) } },
      responses: { 200: { description: 'accepted; the promotion state after it', content: json(messageResult) }, ...bodyErrorResponses(403, 404, 409, 422) },
    });
  }
}
