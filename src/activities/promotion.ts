import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { PromotionManifest } from '../manifest/schema';
import type { CheckResult } from '../shared/checks';
import { modelOwnerConflictMessage, versionDigestConflictMessage } from '../promotions/version-digests';

/** Identifies exactly what a reviewer saw: the artifact, the manifest and the check results. */
export interface EvidenceSeal {
  evidenceDigest: string;
  manifestDigest: string;
  checksDigest: string;
}

/** JSON with sorted keys, so that equal values always hash the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Computes the evidence digest an approval binds to: sha256 over the artifact digest,
 * the canonical manifest and the check results (without their timings, so an
 * identical re-run seals the same evidence).
 */
export function sealEvidence(input: { manifest: PromotionManifest; checks: CheckResult[] }): EvidenceSeal {
  const manifestDigest = sha256(canonicalJson(input.manifest));
  const checksDigest = sha256(
    canonicalJson(
      [...input.checks]
        .sort((a, b) => (a.name < b.name ? -1 : 1))
        .map(({ durationMs: _durationMs, ...rest }) => rest),
    ),
  );
  const evidenceDigest = sha256(`${input.manifest.artifact.sha256}\n${manifestDigest}\n${checksDigest}`);
  return { evidenceDigest, manifestDigest, checksDigest };
}

/** A promotion event delivered to the policy's webhooks. */
export interface PromotionNotification {
  event: string;
  promotionId: string;
  model: string;
  version: string;
  target: string;
  status: string;
  gate?: string;
  roles?: string[];
  deadline?: string;
  detail?: string;
  /** Webhook URLs of the policy that subscribe to this event. */
  urls: string[];
}

/** What the promotion activities need. */
export interface PromotionActivityDeps {
  pool: Pool;
  /** Base URL of links in notifications (the API or dashboard). */
  publicUrl: string;
  /** Base URL of the Temporal UI, for links to the workflow. */
  temporalUiUrl: string;
  namespace: string;
  /** Timeout of one webhook POST. */
  webhookTimeoutMs?: number;
}

/** Thrown by {@link createPromotionActivities}' `registerSubmission` when a version's digest would change. */
export const DIGEST_CONFLICT = 'VersionDigestConflict';
/** Thrown by {@link createPromotionActivities}' `registerSubmission` when the manifest names another owner than the registered one. */
export const OWNER_CONFLICT = 'ModelOwnerConflict';

/** Activities of the promotion lifecycle other than the checks. */
export function createPromotionActivities(deps: PromotionActivityDeps) {
  return {
    /** See {@link sealEvidence}. */
    async sealEvidence(input: { manifest: PromotionManifest; checks: CheckResult[] }): Promise<EvidenceSeal> {
      return sealEvidence(input);
    },

    /**
     * POSTs a promotion event to each subscribed webhook. Throws (so Temporal retries)
     * when a receiver fails; the workflow never lets a failing receiver fail a promotion.
     */
    async sendNotification(notification: PromotionNotification): Promise<{ delivered: number }> {
      const body = JSON.stringify({
        event: notification.event,
        promotionId: notification.promotionId,
        model: { name: notification.model, version: notification.version },
        target: notification.target,
        status: notification.status,
        gate: notification.gate,
        roles: notification.roles,
        deadline: notification.deadline,
        detail: notification.detail,
        link: `${deps.publicUrl.replace(/\/$/, '')}/v1/promotions/${encodeURIComponent(notification.promotionId)}`,
        temporalUiLink: `${deps.temporalUiUrl}/namespaces/${deps.namespace}/workflows/${encodeURIComponent(notification.promotionId)}`,
        attempt: Context.current().info.attempt,
      });
      const failures: string[] = [];
      for (const url of notification.urls) {
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'idempotency-key': `${notification.promotionId}:${notification.event}:${notification.gate ?? ''}:${Context.current().info.activityId}`,
            },
            body,
            signal: AbortSignal.timeout(deps.webhookTimeoutMs ?? 10_000),
          });
          if (!res.ok) failures.push(`${url}: HTTP ${res.status}`);
        } catch (err) {
          failures.push(`${url}: ${(err as Error).message}`);
        }
      }
      if (failures.length > 0) throw new Error(`notification ${notification.event} not delivered: ${failures.join('; ')}`);
      return { delivered: notification.urls.length };
    },

    /**
     * Claims the model version in the registry (idempotent; since `claim-version-after-integrity`
     * only once the integrity check passed). A model's owner is set when it is first registered
     * and changed only by an admin (`PUT /v1/models/{name}/owner`): a manifest naming another owner
     * fails with {@link OWNER_CONFLICT}. A version is immutable: the same version with another digest
     * fails with {@link DIGEST_CONFLICT}. Neither is retried.
     *
     * @returns the model's registered owner (whom separation of duties excludes).
     */
    async registerSubmission(input: { promotionId: string; manifest: PromotionManifest; effectiveTier: string }): Promise<{ owner: string }> {
      const { manifest } = input;
      const client = await deps.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query(
          `INSERT INTO models (name, owner, description) VALUES ($1, $2, $3)
           ON CONFLICT (name) DO NOTHING`,
          [manifest.model.name, manifest.model.owner, manifest.model.description],
        );
        const model = await client.query<{ owner: string }>('SELECT owner FROM models WHERE name = $1 FOR SHARE', [manifest.model.name]);
        const owner = model.rows[0]!.owner;
        if (owner !== manifest.model.owner) {
          throw ApplicationFailure.create({
            type: OWNER_CONFLICT,
            nonRetryable: true,
            message: modelOwnerConflictMessage(manifest.model.name, owner, manifest.model.owner),
          });
        }
        const inserted = await client.query(
          `INSERT INTO model_versions (model_name, version, artifact_sha256, artifact_uri, artifact_format, risk_tier, metrics, lineage, first_promotion_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (model_name, version) DO NOTHING
           RETURNING version`,
          [
            manifest.model.name,
            manifest.model.version,
            manifest.artifact.sha256,
            manifest.artifact.uri,
            manifest.artifact.format,
            input.effectiveTier,
            JSON.stringify(manifest.metrics),
            JSON.stringify(manifest.lineage),
            input.promotionId,
          ],
        );
        if (inserted.rowCount === 0) {
          const existing = await client.query<{ artifact_sha256: string }>(
            'SELECT artifact_sha256 FROM model_versions WHERE model_name = $1 AND version = $2',
            [manifest.model.name, manifest.model.version],
          );
          if (existing.rows[0]?.artifact_sha256 !== manifest.artifact.sha256) {
            throw ApplicationFailure.create({
              type: DIGEST_CONFLICT,
              nonRetryable: true,
              message: versionDigestConflictMessage(manifest.model.name, manifest.model.version, existing.rows[0]?.artifact_sha256 ?? '(none)'),
            });
          }
        }
        await client.query('COMMIT');
        return { owner };
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },

    /** Records the approval of a version for an environment (idempotent upsert). */
    async recordApproval(input: {
      promotionId: string;
      model: string;
      version: string;
      environment: string;
      decidedBy: string;
      policyVersion: string;
      evidenceDigest: string;
      validForMs: number;
      /** When the approval expires, as the workflow computed it (absent in promotions started before it did). */
      validUntil?: string;
    }): Promise<void> {
      await deps.pool.query(
        `INSERT INTO version_approvals (model_name, version, environment, promotion_id, status, decided_by, policy_version, evidence_digest, valid_until)
         VALUES ($1, $2, $3, $4, 'approved', $5, $6, $7, COALESCE($9::timestamptz, now() + ($8 || ' milliseconds')::interval))
         ON CONFLICT (model_name, version, environment) DO UPDATE SET
           promotion_id = EXCLUDED.promotion_id, status = EXCLUDED.status, decided_by = EXCLUDED.decided_by,
           policy_version = EXCLUDED.policy_version, evidence_digest = EXCLUDED.evidence_digest,
           valid_until = EXCLUDED.valid_until, updated_at = now()`,
        [input.model, input.version, input.environment, input.promotionId, input.decidedBy, input.policyVersion, input.evidenceDigest, String(input.validForMs), input.validUntil ?? null],
      );
    },

    /**
     * Marks a version's approval for an environment `expired` (its validity passed) or `revoked`
     * (its re-certification failed). Idempotent; a later approval sets it back to `approved`.
     */
    async setApprovalStatus(input: { model: string; version: string; environment: string; status: 'expired' | 'revoked' }): Promise<void> {
      await deps.pool.query(
        `UPDATE version_approvals SET status = $4, updated_at = now()
          WHERE model_name = $1 AND version = $2 AND environment = $3 AND status IN ('approved', 'expired')`,
        [input.model, input.version, input.environment, input.status],
      );
    },

    /**
     * Moves an environment to a version in one transaction: the version serving now is
     * marked superseded (never deleted). Idempotent per promotion.
     *
     * @returns the version that served before (if any).
     */
    async activateVersion(input: { promotionId: string; model: string; version: string; environment: string }): Promise<{ previousVersion?: string }> {
      const client = await deps.pool.connect();
      try {
        await client.query('BEGIN');
        // Serialize moves of one model's environment.
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${input.model}/${input.environment}`]);
        const done = await client.query<{ previous: string | null }>(
          `SELECT (SELECT version FROM environment_deployments p WHERE p.superseded_by_promotion_id = d.promotion_id
                     AND p.model_name = d.model_name AND p.environment = d.environment) AS previous
             FROM environment_deployments d WHERE d.promotion_id = $1 AND d.environment = $2`,
          [input.promotionId, input.environment],
        );
        if (done.rowCount) {
          await client.query('COMMIT');
          return done.rows[0]!.previous ? { previousVersion: done.rows[0]!.previous } : {};
        }
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
        await client.query('COMMIT');
        return previous.rows[0] ? { previousVersion: previous.rows[0].version } : {};
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release();
      }
    },
  };
}

/** The promotion activities' interface, for the workflow's proxies. */
export type PromotionActivities = ReturnType<typeof createPromotionActivities>;
