// `/v1/promotions`: submit, list, a promotion's state and its audit timeline. The messages are
// src/api/promotion-messages.ts, the evidence packs src/api/evidence.ts.
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { Client } from '@temporalio/client';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { Router } from 'express';
import type { Pool } from 'pg';
import { z } from 'zod';
import { readAuditArchive } from '../audit/archive';
import { summarizeArchivedPromotion } from '../audit/timeline';
import { PromotionManifestSchema } from '../manifest/schema';
import type { LoadedPolicy } from '../policy/load';
import { startPromotion } from '../promotions/start';
import { createSubmissionRegistration } from '../registry';
import type { SourceRules } from '../sources/rules';
import { SearchAttributes } from '../shared/search-attributes';
import { ApiError } from './errors';
import type { ApiMetrics } from './metrics';
import { BEARER, bodyErrorResponses, errorResponses, json, named, promotionIdParams } from './openapi-parts';
import { decodePageToken, encodePageToken } from './page-token';
import { auditTimeline, promotionListQuery, readPromotionState } from './promotion-reads';
import { actorOf, parseInput, refuseSources } from './request';
import {
  ArchivedPromotionSchema,
  AuditQuerySchema,
  AuditTimelineSchema,
  ListPromotionsQuerySchema,
  PromotionIdSchema,
  PromotionListSchema,
  PromotionStateResponseSchema,
  SubmitPromotionQuerySchema,
  SubmittedPromotionSchema,
} from './schemas';
import { WORKER_ANSWER_TIMEOUT_MS } from './worker-answer';

/** What the promotion routes need. */
export interface PromotionRoutesDeps {
  client: Client;
  pool: Pool;
  /** Where manifests' sources may be read from: submissions naming others are refused. */
  sources: SourceRules;
  /** Loaded policies by name; `default` governs submissions that name none. */
  policies: ReadonlyMap<string, LoadedPolicy>;
  taskQueue: string;
  /** Base URL of the Temporal UI (links). */
  temporalUiUrl: string;
  metrics?: ApiMetrics;
  /** How long a state read waits for a worker to answer (default {@link WORKER_ANSWER_TIMEOUT_MS}). */
  workerAnswerTimeoutMs?: number;
}

/** Name of the policy used when a submission names none. */
export const DEFAULT_POLICY_NAME = 'default';

/** Builds `POST /v1/promotions`, `GET /v1/promotions`, `GET …/{id}` and `GET …/{id}/audit`. */
export function promotionRoutes(deps: PromotionRoutesDeps): Router {
  const router = Router();
  const { client } = deps;
  const answerTimeoutMs = deps.workerAnswerTimeoutMs ?? WORKER_ANSWER_TIMEOUT_MS;
  const registry = createSubmissionRegistration(deps.pool);
  const links = (promotionId: string) => {
    const id = encodeURIComponent(promotionId);
    return {
      self: `/v1/promotions/${id}`,
      audit: `/v1/promotions/${id}/audit`,
      temporalUi: `${deps.temporalUiUrl}/namespaces/${client.options.namespace}/workflows/${id}`,
    };
  };

  router.post('/', async (req, res) => {
    const submitter = actorOf(res);
    const manifest = parseInput(PromotionManifestSchema, req.body, 'manifest');
    refuseSources(manifest, deps.sources, 'manifest', '');
    const { policy: policyName } = parseInput(SubmitPromotionQuerySchema, req.query, 'query');
    const name = policyName ?? DEFAULT_POLICY_NAME;
    const policy = deps.policies.get(name);
    if (!policy) {
      throw new ApiError('refused_by_policy', `no policy named "${name}" (policies: ${[...deps.policies.keys()].join(', ')})`, {
        problems: [{ path: 'policy', message: 'unknown policy' }],
      });
    }
    const submissionKey = req.get('idempotency-key');
    const started = await startPromotion(client, {
      manifest,
      submitter,
      policy,
      taskQueue: deps.taskQueue,
      registry,
      ...(submissionKey ? { submissionKey } : {}),
    });
    if (!started.existing) deps.metrics?.promotionSubmitted();
    res.status(started.existing ? 200 : 201).json({
      promotionId: started.promotionId,
      runId: started.runId,
      existing: started.existing,
      status: 'VALIDATING',
      links: links(started.promotionId),
    });
  });

  router.get('/', async (req, res) => {
    const actor = actorOf(res);
    const query = parseInput(ListPromotionsQuerySchema, req.query, 'query');
    const visibilityQuery = promotionListQuery(query, actor);
    if (!visibilityQuery) {
      res.json({ promotions: [], query: '(the caller holds no role)' });
      return;
    }
    const nextPageToken = query.pageToken ? decodePageToken(visibilityQuery, query.pageToken) : undefined;
    const page = await client.workflowService.listWorkflowExecutions({
      namespace: client.options.namespace,
      query: visibilityQuery,
      pageSize: query.pageSize,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    const promotions = (page.executions ?? []).map((execution) => {
      const attributes = decodeTypedSearchAttributes(execution.searchAttributes?.indexedFields);
      const startedAt = optionalTsToMs(execution.startTime);
      const closedAt = optionalTsToMs(execution.closeTime);
      return {
        promotionId: execution.execution?.workflowId ?? '',
        model: attributes.get(SearchAttributes.ModelName),
        version: attributes.get(SearchAttributes.ModelVersion),
        target: attributes.get(SearchAttributes.TargetEnvironment),
        riskTier: attributes.get(SearchAttributes.RiskTier),
        status: attributes.get(SearchAttributes.PromotionStatus),
        submitter: attributes.get(SearchAttributes.Submitter),
        pendingGates: attributes.get(SearchAttributes.PendingGates) ?? [],
        pendingRoles: attributes.get(SearchAttributes.PendingRoles) ?? [],
        ...(startedAt !== undefined ? { startedAt: new Date(startedAt).toISOString() } : {}),
        ...(closedAt !== undefined ? { closedAt: new Date(closedAt).toISOString() } : {}),
      };
    });
    const token = page.nextPageToken && page.nextPageToken.length > 0 ? encodePageToken(visibilityQuery, page.nextPageToken) : undefined;
    res.json({ promotions, ...(token ? { nextPageToken: token } : {}), query: visibilityQuery });
  });

  router.get('/:id', async (req, res) => {
    const promotionId = parseInput(PromotionIdSchema, req.params.id, 'path');
    const state = await readPromotionState(client, promotionId, answerTimeoutMs);
    if (state) {
      res.json({ ...state, source: 'temporal', links: links(promotionId) });
      return;
    }
    // Past the namespace's retention Temporal forgets a promotion; its archived audit trail remains.
    const archived = await readAuditArchive(deps.pool, promotionId);
    if (archived.length === 0) throw new ApiError('not_found', `no promotion ${promotionId} in Temporal or in the audit archive`);
    const { self, audit } = links(promotionId);
    res.json({ ...summarizeArchivedPromotion(promotionId, archived), links: { self, audit } });
  });

  router.get('/:id/audit', async (req, res) => {
    const promotionId = parseInput(PromotionIdSchema, req.params.id, 'path');
    const query = parseInput(AuditQuerySchema, req.query, 'query');
    const timeline = await auditTimeline(deps, promotionId, query.source);
    if (query.format === 'jsonl') {
      res.type('application/x-ndjson').send(timeline.events.map((e) => JSON.stringify(e)).join('\n') + (timeline.events.length ? '\n' : ''));
      return;
    }
    res.json(timeline);
  });

  return router;
}

/** Registers the promotion routes in the OpenAPI document. */
export function registerPromotionPaths(registry: OpenAPIRegistry): void {
  const manifest = named(registry, 'PromotionManifest', PromotionManifestSchema);
  const audit = named(registry, 'AuditTimeline', AuditTimelineSchema);
  const archived = named(registry, 'ArchivedPromotion', ArchivedPromotionSchema);
  const liveState = PromotionStateResponseSchema.extend({ source: z.literal('temporal') }).describe(
    "the whole state, as the promotion's `state` query (or, once completed, its result) gives it",
  );
  registry.registerPath({
    method: 'post',
    path: '/v1/promotions',
    summary: 'Submit a model version for promotion (the submitter is the caller)',
    security: BEARER,
    request: { query: SubmitPromotionQuerySchema, body: { required: true, content: json(manifest) } },
    responses: {
      201: { description: 'started', content: json(SubmittedPromotionSchema) },
      200: { description: 'an identical submission is already running; that promotion', content: json(SubmittedPromotionSchema) },
      ...bodyErrorResponses(409, 422),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/promotions',
    summary: 'List promotions (Temporal visibility on the search attributes), paginated',
    security: BEARER,
    request: { query: ListPromotionsQuerySchema },
    responses: { 200: { description: 'a page', content: json(PromotionListSchema) }, ...errorResponses() },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/promotions/{id}',
    summary: 'The whole current state of a promotion',
    security: BEARER,
    request: { params: promotionIdParams },
    responses: {
      200: {
        description:
          'the state (checks, stages, gates, approvals, deadlines, timeline; `source: temporal`); for a promotion Temporal no longer ' +
          'holds (past retention), the summary of its archived audit trail (`source: archive`, ArchivedPromotion)',
        content: json(z.union([liveState, archived])),
      },
      ...errorResponses(404),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/promotions/{id}/audit',
    summary: 'Readable audit timeline (JSON or JSONL), from Temporal or the hash-chained archive',
    security: BEARER,
    request: { params: promotionIdParams, query: AuditQuerySchema },
    responses: {
      200: { description: 'the timeline', content: { ...json(audit), 'application/x-ndjson': { schema: z.string() } } },
      ...errorResponses(404),
    },
  });
}
