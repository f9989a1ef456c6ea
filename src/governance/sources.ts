// Where the governance figures come from: Temporal visibility (every promotion it holds, by
// status) and the audit archive in PostgreSQL (closed promotions' timelines).
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { archivedEventOfRow } from '../audit/archive';
import { PROMOTION_WORKFLOW_TYPE } from '../shared/messages';
import { PROMOTION_STATUSES, type PromotionStatus } from '../shared/promotion';
import { type ArchivedAuditEvent, GOVERNANCE_ACTIONS } from './stats';

/**
 * Counts the promotions Temporal visibility holds (running, and closed ones within the
 * namespace's retention) by their `PromotionStatus`, one count query per status.
 */
export async function countPromotionsByStatus(client: Client): Promise<Array<{ status: PromotionStatus; count: number }>> {
  const counts = await Promise.all(
    PROMOTION_STATUSES.map(async (status) => {
      const { count } = await client.workflow.count(`WorkflowType = '${PROMOTION_WORKFLOW_TYPE}' AND PromotionStatus = '${status}'`);
      return { status, count: Number(count) };
    }),
  );
  return counts;
}

/**
 * The archived events that {@link computeArchiveStats} reads, of the promotion ids with an
 * execution submitted at or after `since`, in chain order (earlier executions of those ids
 * included: `computeArchiveStats` with `since` leaves them out).
 */
export async function readArchivedGovernanceEvents(pool: Pool, since: Date): Promise<ArchivedAuditEvent[]> {
  const result = await pool.query<{ promotion_id: string; seq: number; occurred_at: Date; actor: string; action: string; detail: Record<string, unknown> }>(
    // Only the detail fields the figures read (the rest, e.g. digests, is never parsed).
    `SELECT e.promotion_id, e.seq, e.occurred_at, e.actor, e.action,
            jsonb_strip_nulls(jsonb_build_object(
              'effectiveTier', e.detail->'effectiveTier', 'gate', e.detail->'gate', 'comment', e.detail->'comment',
              'reason', e.detail->'reason', 'results', e.detail->'results')) AS detail
       FROM audit_events e
      WHERE e.action = ANY($2)
        AND e.promotion_id IN (SELECT promotion_id FROM audit_events WHERE action = 'submitted' AND occurred_at >= $1)
      ORDER BY e.promotion_id, e.seq`,
    [since, [...GOVERNANCE_ACTIONS]],
  );
  return result.rows.map(archivedEventOfRow);
}
