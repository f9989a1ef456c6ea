// Which version serves which environment, in PostgreSQL (`environment_deployments`).
import type { Pool } from 'pg';
import { inTransaction } from '../db/transaction';
import type { EnvironmentDeployments, RegistryReader } from './port';

/** {@link EnvironmentDeployments} and `servingVersion` of {@link RegistryReader} over `environment_deployments`. */
export function createPgEnvironmentDeployments(pool: Pool): EnvironmentDeployments & Pick<RegistryReader, 'servingVersion'> {
  return {
    async servingVersion(model, environment) {
      const { rows } = await pool.query<{ version: string; metrics: Record<string, unknown> }>(
        `SELECT d.version, v.metrics
           FROM environment_deployments d
           JOIN model_versions v ON v.model_name = d.model_name AND v.version = d.version
          WHERE d.model_name = $1 AND d.environment = $2 AND d.superseded_at IS NULL`,
        [model, environment],
      );
      const row = rows[0];
      return row ? { version: row.version, metrics: row.metrics ?? {} } : undefined;
    },

    activateVersion: (input) =>
      inTransaction(pool, async (client) => {
        // Serialize moves of one model's environment.
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${input.model}/${input.environment}`]);
        const done = await client.query<{ previous: string | null }>(
          `SELECT (SELECT version FROM environment_deployments p WHERE p.superseded_by_promotion_id = d.promotion_id
                     AND p.model_name = d.model_name AND p.environment = d.environment) AS previous
             FROM environment_deployments d WHERE d.promotion_id = $1 AND d.environment = $2`,
          [input.promotionId, input.environment],
        );
        if (done.rowCount) return done.rows[0]!.previous ? { previousVersion: done.rows[0]!.previous } : {};
        const previous = await client.query<{ version: string }>(
          `UPDATE environment_deployments SET superseded_at = now(), superseded_by_promotion_id = $3
            WHERE model_name = $1 AND environment = $2 AND superseded_at IS NULL
            RETURNING version`,
          [input.model, input.environment, input.promotionId],
        );
        await client.query(
          `INSERT INTO environment_deployments (model_name, environment, version, promotion_id) VALUES ($1, $2, $3, $4)`,
          [input.model, input.environment, input.version, input.promotionId],
        );
        return previous.rows[0] ? { previousVersion: previous.rows[0].version } : {};
      }),
  };
}
