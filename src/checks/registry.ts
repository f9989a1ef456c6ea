import type { Pool } from 'pg';

/** What the registry knows of one model version. */
export interface RegisteredVersion {
  sha256: string;
  metrics: Record<string, unknown>;
}

/** The version now serving an environment. */
export interface ServingVersion {
  version: string;
  metrics: Record<string, unknown>;
}

/** Read access to the model registry that the lineage and performance checks need. */
export interface RegistryReader {
  /** The registered version `version` of `model`, or undefined when it was never registered. */
  findVersion(model: string, version: string): Promise<RegisteredVersion | undefined>;
  /** The version of `model` currently serving `environment`, or undefined. */
  servingVersion(model: string, environment: string): Promise<ServingVersion | undefined>;
}

/** A {@link RegistryReader} over the PostgreSQL registry tables (`model_versions`, `environment_deployments`). */
export function createPgRegistryReader(pool: Pool): RegistryReader {
  return {
    async findVersion(model, version) {
      const { rows } = await pool.query<{ artifact_sha256: string; metrics: Record<string, unknown> }>(
        'SELECT artifact_sha256, metrics FROM model_versions WHERE model_name = $1 AND version = $2',
        [model, version],
      );
      const row = rows[0];
      return row ? { sha256: row.artifact_sha256, metrics: row.metrics ?? {} } : undefined;
    },
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
  };
}
