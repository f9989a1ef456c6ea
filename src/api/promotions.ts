import { randomUUID } from 'node:crypto';
import { type Client, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, WorkflowNotFoundError } from '@temporalio/common';
import { decodeTypedSearchAttributes } from '@temporalio/common/lib/converter/payload-search-attributes';
import { optionalTsToMs } from '@temporalio/common/lib/time';
import { type Request, type Response, Router } from 'express';
import type { Pool } from 'pg';
import type { z } from 'zod';
import { readAuditArchive, readRefusedAttempts } from '../audit/archive';
import type { ChainedAuditRecord } from '../audit/chain';
import { mergeTimeline, renderAuditEvent, renderRefusal, auditRecordOf, type AuditEvent, summarizeArchivedPromotion } from '../audit/timeline';
import { describeIssues, PromotionManifestSchema } from '../manifest/schema';
import type { LoadedPolicy } from '../policy/load';
import { PolicyRefusal } from '../policy/resolve';
import { sendPromotionMessage } from '../promotions/messages';
import { type ManifestSources, manifestSourceProblems } from '../sources/manifest';
import type { SourceRules } from '../sources/rules';
import { ModelOwnerConflict, PromotionConflict, startPromotion, SubmitterRefusal, VersionDigestConflict } from '../promotions/start';
import { createPgRegistry } from '../registry';
import { PROMOTION_WORKFLOW_TYPE, promotionWorkflowId, stateQuery } from '../shared/messages';
import type { Actor, MessageKind, MessagePayloads, MessageResult, PromotionInput, PromotionState } from '../shared/promotion';
import { SearchAttributes } from '../shared/search-attributes';
import { actorOf } from './auth';
import { ApiError } from './errors';
import { askWorker, WORKER_ANSWER_TIMEOUT_MS } from './worker-answer';
import { apiCodeOfRefusal } from './message-refusals';
import type { ApiMetrics } from './metrics';
import { decodePageToken, encodePageToken } from './page-token';
import {
  AuditQuerySchema,
  DecisionRequestSchema,
  ExpediteRequestSchema,
  ListPromotionsQuerySchema,
  OverrideRequestSchema,
  PromotionIdSchema,
  RevisionRequestSchema,
  SubmitPromotionQuerySchema,
  WithdrawRequestSchema,
} from './schemas';

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
  /** How long a message or a state read waits for a worker to answer (default {@link WORKER_ANSWER_TIMEOUT_MS}). */
  workerAnswerTimeoutMs?: number;
}

/** Name of the policy used when a submission names none. */
export const DEFAULT_POLICY_NAME = 'default';

/**
 * Parses `input` with `schema`, or throws a 400 naming every field path that is wrong.
 * `where` prefixes the paths (`body`, `query`).
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, where: string): z.infer<S> {
  const parsed = schema.safeParse(input ?? {});
  if (!parsed.success) {
    const problems = describeIssues(parsed.error);
    throw new ApiError('invalid_input', `invalid ${where}: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`, { problems });
  }
  return parsed.data;
}

/** Escapes a value for a single-quoted string in a Temporal visibility query. */
export function quote(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Visibility query of `GET /promotions` for the filters and, with `pendingFor=me`, the caller's roles. */
export function promotionListQuery(
  filters: { status?: string; model?: string; target?: string; tier?: string; pendingFor?: 'me' },
  actor: Actor,
): string | undefined {
  const clauses = [`WorkflowType = ${quote(PROMOTION_WORKFLOW_TYPE)}`];
  if (filters.status) clauses.push(`PromotionStatus = ${quote(filters.status)}`);
  if (filters.model) clauses.push(`ModelName = ${quote(filters.model)}`);
  if (filters.target) clauses.push(`TargetEnvironment = ${quote(filters.target)}`);
  if (filters.tier) clauses.push(`RiskTier = ${quote(filters.tier)}`);
  if (filters.pendingFor === 'me') {
    if (actor.roles.length === 0) return undefined;
    clauses.push(`PromotionStatus = 'IN_REVIEW'`);
    clauses.push(`PendingRoles IN (${actor.roles.map(quote).join(', ')})`);
    clauses.push(`Submitter != ${quote(actor.id)}`);
    clauses.push(`ExecutionStatus = 'Running'`);
  }
  return clauses.join(' AND ');
}

const MESSAGE_ACTIONS: Record<string, MessageKind> = {
  decisions: 'decide',
  overrides: 'override',
  expedite: 'expedite',
  revisions: 'revise',
  withdraw: 'withdraw',
};

/** The promotion a submission is for, when its body names the model, version and target (even if the rest is invalid). */
function submittedPromotionId(body: unknown): string | undefined {
  const manifest = body as { model?: { name?: unknown; version?: unknown }; target?: unknown } | undefined;
  const parts = [manifest?.model?.name, manifest?.model?.version, manifest?.target];
  const named = (part: unknown): part is string => typeof part === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(part);
  return parts.every(named) ? promotionWorkflowId(...(parts as [string, string, string])) : undefined;
}

/** What an HTTP request attempted, for the refusal log: the action and the promotion (when known). */
export function describeAttempt(req: { method: string; path: string; body?: unknown }): { action: string; promotionId?: string } {
  const path = req.path.replace(/^\/v1/, '');
  const match = /^\/promotions\/([^/]+)(?:\/([^/]+))?\/?$/.exec(path);
  if (match) {
    let promotionId: string;
    try {
      promotionId = decodeURIComponent(match[1]!);
    } catch {
      promotionId = match[1]!;
    }
    const sub = match[2];
    if (req.method === 'POST' && sub && MESSAGE_ACTIONS[sub]) return { action: MESSAGE_ACTIONS[sub], promotionId };
    return { action: `${req.method.toLowerCase()}_${sub ?? 'promotion'}`, promotionId };
  }
  if (req.method === 'POST' && /^\/promotions\/?$/.test(path)) {
    const promotionId = submittedPromotionId(req.body);
    return { action: 'submit', ...(promotionId ? { promotionId } : {}) };
  }
  return { action: `${req.method.toLowerCase()} ${path}` };
}

/** Builds the `/v1/promotions` routes. */
export function promotionRoutes(deps: PromotionRoutesDeps): Router {
  const router = Router();
  const { client } = deps;
  const answerTimeoutMs = deps.workerAnswerTimeoutMs ?? WORKER_ANSWER_TIMEOUT_MS;
  const registry = createPgRegistry(deps.pool);
  const links = (promotionId: string) => {
    const id = encodeURIComponent(promotionId);
    return {
      self: `/v1/promotions/${id}`,
      audit: `/v1/promotions/${id}/audit`,
      temporalUi: `${deps.temporalUiUrl}/namespaces/${client.options.namespace}/workflows/${id}`,
    };
  };

  /** Refuses (400) a manifest or revision naming a source the rules refuse, naming each field and rule. */
  const refuseSources = (manifest: ManifestSources, what: string, pathPrefix: string) => {
    const problems = manifestSourceProblems(manifest, deps.sources);
    if (problems.length === 0) return;
    throw new ApiError('invalid_input', `invalid ${what}: ${problems.map((p) => `${pathPrefix}${p.message}`).join('; ')}`, {
      problems: problems.map((p) => ({ path: `${pathPrefix}${p.path}`, message: p.message, rule: p.rule })),
    });
  };

  router.post('/', async (req, res) => {
    const submitter = actorOf(res);
    const manifest = parseInput(PromotionManifestSchema, req.body, 'manifest');
    refuseSources(manifest, 'manifest', '');
    const { policy: policyName } = parseInput(SubmitPromotionQuerySchema, req.query, 'query');
    const name = policyName ?? DEFAULT_POLICY_NAME;
    const policy = deps.policies.get(name);
    if (!policy) {
      throw new ApiError('refused_by_policy', `no policy named "${name}" (policies: ${[...deps.policies.keys()].join(', ')})`, {
        problems: [{ path: 'policy', message: 'unknown policy' }],
      });
    }
    let started;
    try {
      const submissionKey = req.get('idempotency-key');
      started = await startPromotion(client, {
        manifest,
        submitter,
        policy,
        taskQueue: deps.taskQueue,
        registry,
        ...(submissionKey ? { submissionKey } : {}),
      });
    } catch (err) {
      if (err instanceof PolicyRefusal) {
        throw new ApiError('refused_by_policy', err.message, err.path ? { problems: [{ path: err.path, message: err.message }] } : undefined);
      }
      if (err instanceof VersionDigestConflict) {
        throw new ApiError('conflict', err.message, {
          problems: [{ path: 'artifact.sha256', message: `differs from the registered digest ${err.registeredDigest}` }],
        });
      }
      if (err instanceof PromotionConflict) throw new ApiError('conflict', err.message, { promotionId: err.promotionId });
      if (err instanceof ModelOwnerConflict) {
        throw new ApiError('conflict', err.message, { problems: [{ path: 'model.owner', message: `differs from the registered owner ${err.registeredOwner}` }] });
      }
      if (err instanceof SubmitterRefusal) throw new ApiError('forbidden', err.message);
      throw err;
    }
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

  /** Sends a message as a Workflow Update with the authenticated actor; maps refusals. */
  const sendMessage = async <K extends MessageKind>(
    req: Request,
    res: Response,
    kind: K,
    payload: Omit<MessagePayloads[K], 'actor' | 'requestId'> & { requestId?: string },
  ) => {
    const actor = actorOf(res);
    const promotionId = parseInput(PromotionIdSchema, req.params.id, 'path');
    const requestId = payload.requestId ?? req.get('idempotency-key') ?? randomUUID();
    const message = { ...payload, actor, requestId } as MessagePayloads[K];
    let result: MessageResult;
    try {
      result = await askWorker(client, `promotion ${promotionId}`, answerTimeoutMs, () => sendPromotionMessage(client.workflow.getHandle(promotionId), kind, message));
    } catch (err) {
      throw err instanceof ApiError ? err : await messageError(client, err, promotionId);
    }
    res.json({ promotionId, ...result });
  };

  router.post('/:id/decisions', async (req, res) => {
    const body = parseInput(DecisionRequestSchema, req.body, 'body');
    await sendMessage(req, res, 'decide', body);
  });
  router.post('/:id/overrides', async (req, res) => {
    const body = parseInput(OverrideRequestSchema, req.body, 'body');
    await sendMessage(req, res, 'override', body);
  });
  router.post('/:id/expedite', async (req, res) => {
    const body = parseInput(ExpediteRequestSchema, req.body, 'body');
    await sendMessage(req, res, 'expedite', body);
  });
  router.post('/:id/revisions', async (req, res) => {
    const body = parseInput(RevisionRequestSchema, req.body, 'body');
    refuseSources(body.changes as ManifestSources, 'revision', 'changes.');
    await sendMessage(req, res, 'revise', body as Omit<MessagePayloads['revise'], 'actor' | 'requestId'>);
  });
  router.post('/:id/withdraw', async (req, res) => {
    const body = parseInput(WithdrawRequestSchema, req.body, 'body');
    await sendMessage(req, res, 'withdraw', body);
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

/**
 * A promotion's audit timeline: from Temporal while it has the history (the workflow's own
 * timeline), else from the hash-chained archive in PostgreSQL; with the refused attempts
 * logged for it either way.
 *
 * @throws {ApiError} `not_found` when neither knows the promotion.
 */
export async function auditTimeline(
  deps: Pick<PromotionRoutesDeps, 'client' | 'pool'>,
  promotionId: string,
  source: 'auto' | 'temporal' | 'archive',
): Promise<{ promotionId: string; source: 'temporal' | 'archive'; events: AuditEvent[]; chain?: ChainedAuditRecord[] }> {
  const state = source === 'archive' ? undefined : await readPromotionState(deps.client, promotionId);
  if (!state && source === 'temporal') throw new ApiError('not_found', `Temporal has no history of promotion ${promotionId}`);
  if (state) {
    const policyVersion = state.policy.version;
    const refusals = await readRefusedAttempts(deps.pool, promotionId, state.submittedAt);
    const events = state.timeline.map((entry) => renderAuditEvent(auditRecordOf(entry, policyVersion), policyVersion));
    return { promotionId, source: 'temporal', events: mergeTimeline(events, refusals.map((r) => renderRefusal(r, policyVersion))) };
  }
  const archived = await readAuditArchive(deps.pool, promotionId);
  if (archived.length === 0) throw new ApiError('not_found', `no promotion ${promotionId} in Temporal or in the audit archive`);
  const policyVersion = String(archived[0]!.detail.policyVersion ?? '');
  const events = archived.map((record) => renderAuditEvent(record, policyVersion));
  // `source=archive` adds the raw chained rows, so that clients recompute the chain themselves.
  if (source === 'archive') return { promotionId, source: 'archive', events, chain: archived };
  const refusals = await readRefusedAttempts(deps.pool, promotionId, archived[0]!.occurredAt);
  return { promotionId, source: 'archive', events: mergeTimeline(events, refusals.map((r) => renderRefusal(r, policyVersion))) };
}

/**
 * A promotion's state from Temporal: the `state` query while it runs; once it has completed,
 * its result (the workflow returns its final state) read from its history, so that no worker
 * has to replay it. One that failed or was terminated is queried (a worker replays it).
 *
 * @returns `undefined` when Temporal does not hold the promotion (never submitted, or past the
 *   namespace's retention).
 */
export async function readPromotionState(
  client: Client,
  promotionId: string,
  timeoutMs = WORKER_ANSWER_TIMEOUT_MS,
): Promise<PromotionState | undefined> {
  const handle = client.workflow.getHandle<(input: PromotionInput) => Promise<PromotionState>>(promotionId);
  try {
    const description = await handle.describe();
    if (description.status.name === 'COMPLETED') return await handle.result();
    return await askWorker(client, `promotion ${promotionId}`, timeoutMs, () => handle.query(stateQuery));
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/**
 * Maps a failed Update to the API's errors: a refusal by its failure type, with the promotion's
 * reason as the message; a promotion that has ended is a conflict (409), one Temporal does not
 * know is 404.
 */
async function messageError(client: Client, err: unknown, promotionId: string): Promise<Error> {
  if (err instanceof WorkflowUpdateFailedError) {
    const code = err.cause instanceof ApplicationFailure ? apiCodeOfRefusal(err.cause.type ?? undefined) : undefined;
    // Anything but a refusal is a failure of the promotion's code: a 500, its detail logged.
    return code && err.cause ? new ApiError(code, err.cause.message) : err;
  }
  if (err instanceof WorkflowNotFoundError) {
    try {
      const description = await client.workflow.getHandle(promotionId).describe();
      const status = description.typedSearchAttributes.get(SearchAttributes.PromotionStatus) ?? description.status.name;
      return new ApiError('conflict', `promotion ${promotionId} has ended (${status}); it accepts no more messages`);
    } catch (describeError) {
      if (describeError instanceof WorkflowNotFoundError) return new ApiError('not_found', `no promotion ${promotionId}`);
      throw describeError;
    }
  }
  const message = err instanceof Error ? err.message : '';
  if (/workflow execution already completed/i.test(message)) {
    return new ApiError('conflict', `promotion ${promotionId} has ended; it accepts no more messages`);
  }
  return err instanceof Error ? err : new Error(String(err));
}
