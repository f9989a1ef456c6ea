import type { Pool } from 'pg';
import { archiveAuditRecords } from '../audit/archive';
import type { AuditSealer } from '../audit/seal';
import { auditRecordOf } from '../audit/timeline';
import { timelineObservations } from '../metrics/durations';
import { recordDurationObservations } from '../metrics/store';
import type { TimelineEntry } from '../shared/promotion';

/** Input of `archiveAudit`: the promotion's whole timeline and its policy version. */
export interface ArchiveAuditInput {
  promotionId: string;
  policyVersion: string;
  timeline: TimelineEntry[];
  /** The workflow execution's first run id: a resubmission under the same id continues the chain (absent in older promotions). */
  executionId?: string;
}

/** Activities that keep the audit trail beyond Temporal's retention. */
export function createAuditActivities(deps: { pool: Pool; sealer?: AuditSealer }) {
  return {
    /**
     * Archives the promotion's timeline into `audit_events`, hash-chained and append-only, and
     * records the durations it shows (gate decisions, approval velocity) for `/metrics`.
     * Idempotent: a retry adds nothing that is already there. With the worker's sealer, the chain's
     * new head is signed and checkpointed outside the database; rows found in the way with other
     * content fail the activity (AuditChainConflict) rather than being adopted.
     */
    async archiveAudit(input: ArchiveAuditInput): Promise<{ archived: number; added: number; observed: number }> {
      const records = input.timeline.map((entry) => auditRecordOf(entry, input.policyVersion));
      const added = await archiveAuditRecords(deps.pool, input.promotionId, records, input.executionId, deps.sealer);
      const observed = await recordDurationObservations(deps.pool, timelineObservations(input.promotionId, input.timeline));
      return { archived: records.length, added, observed };
    },
  };
}

/** The audit activities' interface, for the workflow's proxy. */
export type AuditActivities = ReturnType<typeof createAuditActivities>;
