// The registry's models as the API lists them and an admin changes their owner (`models`,
// `model_versions`, `version_approvals`, `environment_deployments`).
import type { Pool } from 'pg';
import type { ModelCatalog } from './port';

/** {@link ModelCatalog} over the PostgreSQL registry tables. */
export function createPgModelCatalog(pool: Pool): ModelCatalog {
  return {
    async listModels({ after, limit }) {
      const result = await pool.query<{ name: string; owner: string; description: string; versions: number; serving: Record<string, string> | null; updated_at: Date }>(
        `SELECT m.name, m.owner, m.description, m.updated_at,
                (SELECT count(*)::int FROM model_versions v WHERE v.model_name = m.name) AS versions,
                (SELECT jsonb_object_agg(d.environment, d.version) FROM environment_deployments d
                  WHERE d.model_name = m.name AND d.superseded_at IS NULL) AS serving
           FROM models m
          WHERE ($1::text IS NULL OR m.name > $1)
          ORDER BY m.name
          LIMIT $2`,
        [after, limit],
      );
      return result.rows.map((r) => ({ name: r.name, owner: r.owner, description: r.description, versions: r.versions, serving: r.serving, updatedAt: r.updated_at }));
    },

    async getModel(name) {
      const model = await pool.query<{ name: string; owner: string; description: string; created_at: Date }>(
        'SELECT name, owner, description, created_at FROM models WHERE name = $1',
        [name],
      );
      const m = model.rows[0];
      if (!m) return undefined;
      const versions = await pool.query<{
        version: string; artifact_sha256: string; artifact_uri: string; artifact_format: string; risk_tier: string;
        metrics: Record<string, number>; first_promotion_id: string; created_at: Date; approvals: unknown[] | null;
      }>(
        `SELECT v.version, v.artifact_sha256, v.artifact_uri, v.artifact_format, v.risk_tier, v.metrics, v.first_promotion_id, v.created_at,
                (SELECT jsonb_agg(jsonb_build_object('environment', a.environment, 'status', a.status, 'promotionId', a.promotion_id,
                          'decidedBy', a.decided_by, 'policyVersion', a.policy_version, 'evidenceDigest', a.evidence_digest,
                          'validUntil', a.valid_until) ORDER BY a.environment)
                   FROM version_approvals a WHERE a.model_name = v.model_name AND a.version = v.version) AS approvals
           FROM model_versions v WHERE v.model_name = $1 ORDER BY v.created_at, v.version`,
        [name],
      );
      const deployments = await pool.query<{ environment: string; version: string; promotion_id: string; deployed_at: Date; superseded_at: Date | null }>(
        `SELECT environment, version, promotion_id, deployed_at, superseded_at FROM environment_deployments
          WHERE model_name = $1 ORDER BY environment, deployed_at`,
        [name],
      );
      return {
        name: m.name,
        owner: m.owner,
        description: m.description,
        createdAt: m.created_at,
        versions: versions.rows.map((v) => ({
          version: v.version,
          artifactSha256: v.artifact_sha256,
          artifactUri: v.artifact_uri,
          artifactFormat: v.artifact_format,
          riskTier: v.risk_tier,
          metrics: v.metrics,
          firstPromotionId: v.first_promotion_id,
          createdAt: v.created_at,
          approvals: v.approvals,
        })),
        deployments: deployments.rows.map((d) => ({
          environment: d.environment,
          version: d.version,
          promotionId: d.promotion_id,
          deployedAt: d.deployed_at,
          supersededAt: d.superseded_at,
        })),
      };
    },

    async changeOwner(name, owner) {
      const changed = await pool.query<{ previous: string }>(
        `UPDATE models m SET owner = $2, updated_at = now() FROM (SELECT owner FROM models WHERE name = $1 FOR UPDATE) previous
          WHERE m.name = $1 RETURNING previous.owner AS previous`,
        [name, owner],
      );
      return changed.rows[0]?.previous;
    },
  };
}
