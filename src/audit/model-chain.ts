// A model's own audit chain (`model:<name>`): changes of its owner and disagreements between its
// registry of record and PostgreSQL, verifiable like a promotion's.
import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { archiveAuditRecords } from './archive';
import type { AuditSealer } from './seal';

/** The audit archive's chain of a model (`audit_events.promotion_id`). */
export const modelAuditId = (model: string) => `model:${model}`;

/**
 * Appends a `registry_disagreement` to the model's chain: what disagreed between an environment's
 * registry of record and PostgreSQL (`detail` names only versions and Modelgate's own digests).
 */
export async function archiveRegistryDisagreement(
  pool: Pool,
  detail: { kind: string; model: string; environment: string; version?: string; message: string },
  sealer?: AuditSealer,
): Promise<void> {
  await archiveAuditRecords(
    pool,
    modelAuditId(detail.model),
    [{ occurredAt: new Date().toISOString(), actor: 'modelgate', action: 'registry_disagreement', detail: { ...detail } }],
    randomUUID(),
    sealer,
  );
}
