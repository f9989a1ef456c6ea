import type { Pool } from 'pg';
import type { AuditSealer } from '../audit/seal';
import type { RegistryOfRecord } from '../registry';
import type { SourceRules } from '../sources/rules';
import { MIGRATIONS_TABLE } from '../db/migrate';
import { createAuditActivities } from './audit';
import { createCheckActivities } from './checks';
import { createDeploymentActivities } from './deployment';
import { createPolicyStoreActivities } from './policy-store';
import { createPromotionActivities } from './promotion';
import { createSignalCallerActivities } from './signal-caller';
import { createMlflowActivities } from './mlflow';

/** What the activities need from their process. */
export interface ActivityDeps {
  pool: Pool;
  /** Base URL of links in notifications. */
  publicUrl: string;
  temporalUiUrl: string;
  namespace: string;
  /** Task queue of promotions (re-certifications start there). */
  taskQueue: string;
  /** Folder of the policy files (re-certifications run under the current policy). */
  policyDir: string;
  /** Where manifests' sources may be read from (ARTIFACT_ROOTS, ARTIFACT_HOSTS and the limits). */
  sources: SourceRules;
  /** Content-addressed store of verified artifacts (ARTIFACT_STORE_DIR). */
  artifactStoreDir: string;
  /** How deployers reach that store (ARTIFACT_STORE_URI), when they can. */
  artifactStoreUri?: string;
  /** Signs and checkpoints the heads of the audit chains the worker archives (AUDIT_SIGNING_KEY_FILE). */
  auditSealer?: AuditSealer;
  /** Environment → the MLflow alias Modelgate governs there (MLFLOW_ALIASES); the client is `sources.mlflow`. */
  mlflowAliases?: Readonly<Record<string, string>>;
  /** Each environment's registry of record (absent: PostgreSQL for every environment). */
  registryOfRecord?: RegistryOfRecord;
}

/** Result of {@link createActivities}' `describeStack`: what the worker sees of its database. */
export interface StackDescription {
  postgresVersion: string;
  migrationsApplied: number;
  workerPid: number;
}

/**
 * Builds the activities of the Modelgate worker around their dependencies.
 * Workflows import the type of the returned object only.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createCheckActivities({ pool: deps.pool, sources: deps.sources, artifactStoreDir: deps.artifactStoreDir, ...(deps.registryOfRecord ? { registryOfRecord: deps.registryOfRecord } : {}) }),
    ...createPromotionActivities(deps),
    ...createAuditActivities({ pool: deps.pool, ...(deps.auditSealer ? { sealer: deps.auditSealer } : {}) }),
    ...createMlflowActivities({ ...(deps.sources.mlflow ? { client: deps.sources.mlflow } : {}), aliases: deps.mlflowAliases ?? {}, pool: deps.pool, policyDir: deps.policyDir }),
    ...createPolicyStoreActivities({ policyDir: deps.policyDir, ...(deps.sources.mlflow && deps.mlflowAliases ? { mlflowAliases: deps.mlflowAliases } : {}) }),
    ...createSignalCallerActivities(),
    ...createDeploymentActivities({ policyDir: deps.policyDir, taskQueue: deps.taskQueue, publicUrl: deps.publicUrl, artifactStoreDir: deps.artifactStoreDir, ...(deps.artifactStoreUri ? { artifactStoreUri: deps.artifactStoreUri } : {}) }),
    /** Reads the database's version and migration count: proves worker ↔ PostgreSQL. */
    async describeStack(): Promise<StackDescription> {
      const version = await deps.pool.query<{ server_version: string }>('SHOW server_version');
      const migrations = await deps.pool.query<{ count: string }>(
        `SELECT count(*)::text AS count FROM ${MIGRATIONS_TABLE}`,
      );
      return {
        postgresVersion: version.rows[0]!.server_version,
        migrationsApplied: Number(migrations.rows[0]!.count),
        workerPid: process.pid,
      };
    },
  };
}

/** The activity interface that workflows proxy. */
export type Activities = ReturnType<typeof createActivities>;
