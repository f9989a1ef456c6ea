// Each environment's registry of record as the processes use it: picked by the environment's
// policy (src/registry/record.ts), its disagreements with PostgreSQL written to the model's audit
// chain (`registry_disagreement`).
import type { Pool } from 'pg';
import { archiveRegistryDisagreement } from '../audit/model-chain';
import type { AuditSealer } from '../audit/seal';
import { loadPolicyDir } from '../policy/load';
import { registryRecordsOf } from '../policy/registry-records';
import type { RegistryKind } from '../policy/schema';
import { createRegistryOfRecord, type RegistryOfRecord } from '../registry';
import type { MlflowClient } from '../sources/mlflow';

/** What {@link auditedRegistryOfRecord} needs. */
export interface AuditedRegistryOfRecordDeps {
  pool: Pool;
  mlflow?: { client: MlflowClient; aliases: Readonly<Record<string, string>> };
  /** Each environment's record (see {@link policyDirRecords}); absent: every environment is builtin. */
  records?: () => Promise<ReadonlyMap<string, RegistryKind>> | ReadonlyMap<string, RegistryKind>;
  /** Signs the audit chain's new heads, when the process has the audit key. */
  sealer?: AuditSealer;
}

/** The registry of record of each environment, disagreements audited. */
export function auditedRegistryOfRecord(deps: AuditedRegistryOfRecordDeps): RegistryOfRecord {
  const none: ReadonlyMap<string, RegistryKind> = new Map();
  return createRegistryOfRecord({
    pool: deps.pool,
    ...(deps.mlflow ? { mlflow: deps.mlflow } : {}),
    records: deps.records ?? (() => none),
    onDisagreement: (detail) => archiveRegistryDisagreement(deps.pool, detail, deps.sealer),
  });
}

/**
 * Each environment's record as the policy folder names it now (read at every call, as the policy
 * store is: a changed policy takes effect without a restart). Refused — an Error naming the
 * problem — when the policies disagree or name MLflow where `mlflow` is absent.
 */
export function policyDirRecords(policyDir: string, mlflow: { aliases: Readonly<Record<string, string>> } | undefined) {
  return async (): Promise<ReadonlyMap<string, RegistryKind>> => {
    const policies = await loadPolicyDir(policyDir);
    return registryRecordsOf([...policies.values()].map((p) => p.policy), { configured: mlflow !== undefined, aliases: mlflow?.aliases ?? {} });
  };
}
