// The one factory of registries of record: each environment's policy names its record
// (`registry: builtin | mlflow`, src/policy/registry-records.ts); every read of "what serves /
// what is registered" asks the registry this returns for the environment.
import type { Pool } from 'pg';
import type { RegistryKind } from '../policy/schema';
import type { MlflowClient } from '../sources/mlflow';
import type { RegistryDisagreementDetail } from './disagreement';
import { governedAliasStates } from './mlflow-aliases';
import { createMlflowRecordRegistry } from './mlflow-record';
import type { Registry } from './port';
import { createPgRegistry } from './pg';

/** What {@link createRegistryOfRecord} needs. */
export interface RegistryOfRecordDeps {
  pool: Pool;
  /** The configured MLflow tracking server and its governed aliases (absent: MLflow is no record). */
  mlflow?: { client: MlflowClient; aliases: Readonly<Record<string, string>> };
  /** Each environment's record as the policies name it (absent environments: builtin); may throw. */
  records: () => Promise<ReadonlyMap<string, RegistryKind>> | ReadonlyMap<string, RegistryKind>;
  /** Records a disagreement between MLflow and PostgreSQL (the audit). */
  onDisagreement: (detail: RegistryDisagreementDetail) => Promise<void>;
}

/** Picks an environment's registry of record. */
export type RegistryOfRecord = (environment: string) => Promise<Registry>;

/**
 * Builds {@link RegistryOfRecord}: the built-in registry for `builtin` environments, the MLflow
 * record (over the same built-in registry) for `mlflow` ones. An environment whose policy names
 * MLflow while this process has no MLflow or no alias for it fails closed (an Error naming it).
 */
export function createRegistryOfRecord(deps: RegistryOfRecordDeps): RegistryOfRecord {
  const builtin = createPgRegistry(deps.pool);
  return async (environment) => {
    const kind = (await deps.records()).get(environment) ?? 'builtin';
    if (kind === 'builtin') return builtin;
    const alias = deps.mlflow?.aliases[environment];
    if (!deps.mlflow || alias === undefined) {
      throw new Error(`the registry of record of ${environment} is MLflow, but this process has no MLflow tracking server or no MLFLOW_ALIASES entry for ${environment}`);
    }
    const aliasTargets = async (model: string) => {
      const [state] = await governedAliasStates(deps.pool, environment, [model]);
      return { ...(state?.serving ? { serving: state.serving } : {}), approvedSince: state?.approvedSince ?? [] };
    };
    return createMlflowRecordRegistry({ builtin, client: deps.mlflow.client, environment, alias, onDisagreement: deps.onDisagreement, aliasTargets });
  };
}
