import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Pool } from 'pg';
import type { PromotionManifest } from '../manifest/schema';
import type { CheckResult } from '../shared/checks';
import { type ApprovalRecord, createPgRegistry, modelOwnerConflictMessage, RegistryDisagreement, type RegistryOfRecord, type VersionClaim, versionDigestConflictMessage } from '../registry';
import { auditedRegistryOfRecord } from '../promotions/registry-of-record';
import { canonicalJson } from '../shared/canonical-json';

/** Identifies exactly what a reviewer saw: the artifact, the manifest and the check results. */
export interface EvidenceSeal {
  evidenceDigest: string;
  manifestDigest: string;
  checksDigest: string;
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
  const evidenceDigest = sha256(`${input.manifest.artifact.sha256 ?? ''}\n${manifestDigest}\n${checksDigest}`);
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
  /** Each environment's registry of record (absent: PostgreSQL for every environment). */
  registryOfRecord?: RegistryOfRecord;
}

/** Thrown by {@link createPromotionActivities}' `registerSubmission` when a version's digest would change. */
export const DIGEST_CONFLICT = 'VersionDigestConflict';
/** Thrown by {@link createPromotionActivities}' `activateVersion` when the environment's registry of record disagrees with PostgreSQL. */
export const REGISTRY_DISAGREEMENT = 'RegistryDisagreement';
/** Thrown by {@link createPromotionActivities}' `registerSubmission` when the manifest names another owner than the registered one. */
export const OWNER_CONFLICT = 'ModelOwnerConflict';

/** Activities of the promotion lifecycle other than the checks. */
export function createPromotionActivities(deps: PromotionActivityDeps) {
  const registry = createPgRegistry(deps.pool);
  const registryOf = deps.registryOfRecord ?? auditedRegistryOfRecord({ pool: deps.pool });
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
    async registerSubmission(input: VersionClaim): Promise<{ owner: string }> {
      const { manifest } = input;
      const claim = await registry.claimVersion(input);
      if (claim.status === 'owner_conflict') {
        throw ApplicationFailure.create({
          type: OWNER_CONFLICT,
          nonRetryable: true,
          message: modelOwnerConflictMessage(manifest.model.name, claim.registeredOwner, manifest.model.owner),
        });
      }
      if (claim.status === 'digest_conflict') {
        throw ApplicationFailure.create({
          type: DIGEST_CONFLICT,
          nonRetryable: true,
          message: versionDigestConflictMessage(manifest.model.name, manifest.model.version, claim.registeredDigest ?? '(none)'),
        });
      }
      return { owner: claim.owner };
    },

    /**
     * Records the approval of a version for an environment (idempotent upsert) in the
     * environment's registry of record (MLflow's: the version is tagged with its pinned digest too).
     */
    async recordApproval(input: ApprovalRecord): Promise<void> {
      await (await registryOf(input.environment)).recordApproval(input);
    },

    /**
     * Marks a version's approval for an environment `expired` (its validity passed) or `revoked`
     * (its re-certification failed). Idempotent; a later approval sets it back to `approved`.
     */
    async setApprovalStatus(input: { model: string; version: string; environment: string; status: 'expired' | 'revoked' }): Promise<void> {
      await registry.setApprovalStatus(input);
    },

    /**
     * Whether the registry holds what a rollback to `version` needs: a still-valid approval of it
     * for `environment`, and the version registered with the digest the rollback would deploy.
     * The lifecycle's own list of earlier versions is not proof (a Signal can write to it).
     */
    async confirmRollbackTarget(input: { model: string; version: string; environment: string; sha256: string }): Promise<{ confirmed: true } | { confirmed: false; reason: string }> {
      const { model, version, environment, sha256 } = input;
      try {
        const record = await registryOf(environment);
        // No rollback acts on a record that disagrees with PostgreSQL (the read audits it).
        await record.servingVersion(model, environment);
        const approval = await record.approvalOf(model, version, environment);
        if (!approval) return { confirmed: false, reason: `the registry holds no approval of ${model}@${version} for ${environment}` };
        if (approval.status !== 'approved') return { confirmed: false, reason: `the registry's approval of ${model}@${version} for ${environment} is ${approval.status}` };
        if (!(approval.validUntil.getTime() > Date.now())) {
          return { confirmed: false, reason: `the registry's approval of ${model}@${version} for ${environment} expired at ${approval.validUntil.toISOString()}` };
        }
        const registered = await record.digestOf(model, version);
        if (registered !== sha256) {
          return { confirmed: false, reason: `${model}@${version} is registered with digest ${registered ?? '(none)'}, not the ${sha256.slice(0, 12)}… the rollback would deploy` };
        }
        return { confirmed: true };
      } catch (err) {
        if (err instanceof RegistryDisagreement) return { confirmed: false, reason: `the registry of record of ${environment} disagrees with Modelgate: ${err.message}` };
        throw err;
      }
    },

    /**
     * Moves an environment to a version in one transaction: the version serving now is
     * marked superseded (never deleted). Idempotent per promotion. Refused ({@link REGISTRY_DISAGREEMENT},
     * not retried) while the environment's registry of record disagrees with PostgreSQL.
     *
     * @returns the version that served before (if any).
     */
    async activateVersion(input: { promotionId: string; model: string; version: string; environment: string }): Promise<{ previousVersion?: string }> {
      const record = await registryOf(input.environment);
      try {
        // No deployment moves an environment whose record disagrees with PostgreSQL (the read audits it).
        await record.servingVersion(input.model, input.environment);
      } catch (err) {
        if (!(err instanceof RegistryDisagreement)) throw err;
        throw ApplicationFailure.create({ type: REGISTRY_DISAGREEMENT, nonRetryable: true, message: `the registry of record of ${input.environment} disagrees with Modelgate: ${err.message}` });
      }
      return record.activateVersion(input);
    },
  };
}

/** The promotion activities' interface, for the workflow's proxies. */
export type PromotionActivities = ReturnType<typeof createPromotionActivities>;
