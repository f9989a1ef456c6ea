// Approvals of versions for environments in PostgreSQL (`version_approvals`).
import type { Pool } from 'pg';
import type { Approvals } from './port';

/** {@link Approvals} over `version_approvals`. */
export function createPgApprovals(pool: Pool): Approvals {
  return {
    async recordApproval(input) {
      await pool.query(
        `INSERT INTO version_approvals (model_name, version, environment, promotion_id, status, decided_by, policy_version, evidence_digest, valid_until)
         VALUES ($1, $2, $3, $4, 'approved', $5, $6, $7, COALESCE($9::timestamptz, now() + ($8 || ' milliseconds')::interval))
         ON CONFLICT (model_name, version, environment) DO UPDATE SET
           promotion_id = EXCLUDED.promotion_id, status = EXCLUDED.status, decided_by = EXCLUDED.decided_by,
           policy_version = EXCLUDED.policy_version, evidence_digest = EXCLUDED.evidence_digest,
           valid_until = EXCLUDED.valid_until, updated_at = now()`,
        [input.model, input.version, input.environment, input.promotionId, input.decidedBy, input.policyVersion, input.evidenceDigest, String(input.validForMs), input.validUntil ?? null],
      );
    },
    async approvalOf(model, version, environment) {
      const { rows } = await pool.query<{ promotion_id: string; status: 'approved' | 'expired' | 'revoked'; valid_until: Date }>(
        'SELECT promotion_id, status, valid_until FROM version_approvals WHERE model_name = $1 AND version = $2 AND environment = $3',
        [model, version, environment],
      );
      const row = rows[0];
      return row ? { promotionId: row.promotion_id, status: row.status, validUntil: row.valid_until } : undefined;
    },
    async setApprovalStatus(input) {
      await pool.query(
        `UPDATE version_approvals SET status = $4, updated_at = now()
          WHERE model_name = $1 AND version = $2 AND environment = $3 AND status IN ('approved', 'expired')`,
        [input.model, input.version, input.environment, input.status],
      );
    },
  };
}
