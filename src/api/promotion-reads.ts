// What the routes read of promotions: their state from Temporal, their audit timeline (Temporal
// or the archive), the visibility query that lists them. Used by several routers.
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/common';
import type { Pool } from 'pg';
import { readAuditArchive, readRefusedAttempts } from '../audit/archive';
import type { ChainedAuditRecord } from '../audit/chain';
import { auditRecordOf, type AuditEvent, mergeTimeline, renderAuditEvent, renderRefusal } from '../audit/timeline';
import { PROMOTION_WORKFLOW_TYPE, stateQuery } from '../shared/messages';
import type { Actor, PromotionInput, PromotionState } from '../shared/promotion';
import { ApiError } from './errors';
import { askWorker, WORKER_ANSWER_TIMEOUT_MS } from './worker-answer';

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

/**
 * A promotion's audit timeline: from Temporal while it has the history (the workflow's own
 * timeline), else from the hash-chained archive in PostgreSQL; with the refused attempts
 * logged for it either way.
 *
 * @throws {ApiError} `not_found` when neither knows the promotion.
 */
export async function auditTimeline(
  deps: { client: Client; pool: Pool },
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
