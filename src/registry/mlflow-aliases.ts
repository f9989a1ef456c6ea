// What Modelgate's registry says a governed MLflow alias may point at: per model known in an
// environment, the version approved and serving there, and versions approved since it went live
// (their deployment is in flight: the approval write-back moves the alias before the deployment).
// Only approvals still valid count (status `approved` and not past their valid_until).
import type { Pool } from 'pg';

/** Most models of one environment one reconciliation reads. */
export const MAX_GUARDED_MODELS = 1_000;

/** The versions a governed alias of `model` may point at in one environment. */
export interface GovernedAliasState {
  model: string;
  /** The version serving the environment with a current approval: where the alias belongs. */
  serving?: string;
  /** Versions approved after the serving version went live (deployments in flight). */
  approvedSince: string[];
}

/**
 * The governed-alias state of each model Modelgate knows in `environment` (approved or deployed
 * there), or only of `models` when given; at most {@link MAX_GUARDED_MODELS}, by name.
 */
export async function governedAliasStates(pool: Pool, environment: string, models?: readonly string[]): Promise<GovernedAliasState[]> {
  const { rows } = await pool.query<{ model: string; serving: string | null; approved_since: string[] | null }>(
    `WITH known AS (
       SELECT model_name FROM version_approvals WHERE environment = $1
       UNION SELECT model_name FROM environment_deployments WHERE environment = $1
     ), picked AS (
       SELECT model_name FROM known WHERE $2::text[] IS NULL OR model_name = ANY($2::text[])
       ORDER BY model_name LIMIT $3
     )
     SELECT p.model_name AS model,
            (SELECT d.version FROM environment_deployments d
               JOIN version_approvals a ON a.model_name = d.model_name AND a.version = d.version AND a.environment = d.environment
              WHERE d.model_name = p.model_name AND d.environment = $1 AND d.superseded_at IS NULL AND a.status = 'approved'
                AND (a.valid_until IS NULL OR a.valid_until > now())) AS serving,
            (SELECT array_agg(a.version ORDER BY a.updated_at) FROM version_approvals a
              WHERE a.model_name = p.model_name AND a.environment = $1 AND a.status = 'approved'
                AND (a.valid_until IS NULL OR a.valid_until > now())
                AND a.updated_at > COALESCE((SELECT d.deployed_at FROM environment_deployments d
                                              WHERE d.model_name = p.model_name AND d.environment = $1 AND d.superseded_at IS NULL), '-infinity')) AS approved_since
       FROM picked p ORDER BY p.model_name`,
    [environment, models ? [...models] : null, MAX_GUARDED_MODELS],
  );
  return rows.map((r) => ({ model: r.model, ...(r.serving ? { serving: r.serving } : {}), approvedSince: r.approved_since ?? [] }));
}
