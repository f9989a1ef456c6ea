import {
  type Client,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
} from '@temporalio/client';
import type { PromotionManifest } from '../manifest/schema';
import type { LoadedPolicy } from '../policy/load';
import { resolvePolicy } from '../policy/resolve';
import type { ResolvedPolicy } from '../policy/resolved';
import { canonicalJson } from '../shared/canonical-json';
import { PROMOTION_WORKFLOW_TYPE, promotionWorkflowId, stateQuery } from '../shared/messages';
import { recertificationWorkflowId } from '../shared/environment';
import type { Actor, PromotionInput, RecertificationRequest } from '../shared/promotion';
import { SearchAttributes } from '../shared/search-attributes';
import { hasAnyRole } from '../policy/evaluate';
import { modelOwnerConflictMessage, type SubmissionRegistration, versionDigestConflictMessage } from '../registry';
import { traceContextMemo } from '../tracing';

/** A submission of the same model version and target with a different manifest, while one runs. */
export class PromotionConflict extends Error {
  constructor(
    message: string,
    readonly promotionId: string,
  ) {
    super(message);
    this.name = 'PromotionConflict';
  }
}

/** A submission of a model version with another artifact digest than the one the registry holds for it. */
export class VersionDigestConflict extends Error {
  constructor(
    readonly model: string,
    readonly version: string,
    readonly registeredDigest: string,
  ) {
    super(versionDigestConflictMessage(model, version, registeredDigest));
    this.name = 'VersionDigestConflict';
  }
}

/** A manifest naming another owner than the one the registry holds for the model. */
export class ModelOwnerConflict extends Error {
  constructor(
    readonly model: string,
    readonly registeredOwner: string,
    claimedOwner: string,
  ) {
    super(modelOwnerConflictMessage(model, registeredOwner, claimedOwner));
    this.name = 'ModelOwnerConflict';
  }
}

/** A submitter without a role the policy's `submitters` names. */
export class SubmitterRefusal extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SubmitterRefusal';
  }
}

/** What {@link startPromotion} needs. */
export interface StartPromotionRequest {
  manifest: PromotionManifest;
  submitter: Actor;
  policy: LoadedPolicy;
  taskQueue: string;
  /**
   * The registry, to refuse a version registered with another digest, or a manifest naming another
   * owner, before anything starts (one question to PostgreSQL, asked while the policy is resolved).
   * Without it the promotion starts and its `registerSubmission` activity refuses the version
   * (the promotion ends REJECTED), which also decides when two submissions race.
   */
  registry?: SubmissionRegistration;
  /** Overrides the default continue-as-new threshold (tests). */
  historyEventLimit?: number;
  /** Re-certifies the version serving the target (started by its environment's lifecycle). */
  recertification?: RecertificationRequest;
  /**
   * The client's idempotency key of this submission: a retry with the same key returns the
   * promotion it started, also after that promotion has ended (without a key, a submission after
   * the end starts the promotion again).
   */
  submissionKey?: string;
}

/** Result of a submission: the promotion, and whether it already existed. */
export interface StartedPromotion {
  promotionId: string;
  runId: string;
  existing: boolean;
}

/**
 * Starts the promotion of a manifest under a policy. The workflow id is readable
 * (`promote:<model>:<version>:<target>`); a repeated identical submission returns the
 * running promotion instead of starting a second one.
 *
 * @throws {SubmitterRefusal} when the submitter holds no role of the policy's `submitters` (not for a re-certification).
 * @throws {PolicyRefusal} when the policy does not govern the target.
 * @throws {VersionDigestConflict} when `request.registry` holds the version with another digest.
 * @throws {ModelOwnerConflict} when `request.registry` holds the model with another owner.
 * @throws {PromotionConflict} when a promotion of that version and target runs with another manifest.
 */
export async function startPromotion(client: Client, request: StartPromotionRequest): Promise<StartedPromotion> {
  const { manifest, submitter } = request;
  const submitters = request.policy.policy.submitters;
  if (!request.recertification && !hasAnyRole(submitter, submitters)) {
    throw new SubmitterRefusal(
      submitters.length === 0
        ? `policy ${request.policy.policy.name} names no submitters; no one may submit under it`
        : `${submitter.id} may not submit promotions under policy ${request.policy.policy.name} (needs one of: ${submitters.join(', ')})`,
    );
  }
  const policy = await resolveAndCheckRegistry(request);
  const promotionId = request.recertification
    ? recertificationWorkflowId(manifest.model.name, manifest.model.version, manifest.target, request.recertification.sequence)
    : promotionWorkflowId(manifest.model.name, manifest.model.version, manifest.target);
  if (request.submissionKey) {
    const earlier = await startedWithKey(client, promotionId, request.submissionKey);
    if (earlier) return earlier;
  }
  const input: PromotionInput = {
    promotionId,
    manifest,
    submitter,
    submittedAt: new Date().toISOString(),
    policy,
    ...(request.historyEventLimit ? { historyEventLimit: request.historyEventLimit } : {}),
    ...(request.recertification ? { recertification: request.recertification } : {}),
  };
  let handle;
  try {
    handle = await client.workflow.start(PROMOTION_WORKFLOW_TYPE, {
      workflowId: promotionId,
      taskQueue: request.taskQueue,
      args: [input],
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
      // The submission's trace context (tracing on) is kept so that later messages join its trace.
      ...memoOf({ ...(request.submissionKey ? { [SUBMISSION_KEY_MEMO]: request.submissionKey } : {}), ...traceContextMemo() }),
      // A re-certification runs once per sequence number, even if its start is retried.
      workflowIdReusePolicy: request.recertification ? WorkflowIdReusePolicy.REJECT_DUPLICATE : WorkflowIdReusePolicy.ALLOW_DUPLICATE,
      typedSearchAttributes: [
        { key: SearchAttributes.ModelName, value: manifest.model.name },
        { key: SearchAttributes.ModelVersion, value: manifest.model.version },
        { key: SearchAttributes.TargetEnvironment, value: manifest.target },
        { key: SearchAttributes.RiskTier, value: policy.effectiveTier },
        { key: SearchAttributes.PromotionStatus, value: 'VALIDATING' },
        { key: SearchAttributes.Submitter, value: submitter.id },
      ],
      staticSummary: `${request.recertification ? 'Re-certify' : 'Promote'} ${manifest.model.name}@${manifest.model.version} → ${manifest.target} (${policy.effectiveTier} risk)`,
      staticDetails: [
        `**Model** ${manifest.model.name}@${manifest.model.version}, owner ${manifest.model.owner}`,
        `**Artifact** ${manifest.artifact.uri} (${manifest.artifact.format}), sha256 ${manifest.artifact.sha256 ?? 'pinned by the worker from MLflow'}`,
        `**Submitted by** ${submitter.id} under policy ${policy.name}@${policy.version} (${policy.digest.slice(0, 12)})`,
        `**Tier** declared ${policy.declaredTier}, effective ${policy.effectiveTier}${policy.tierReasons.length ? ` — ${policy.tierReasons.join('; ')}` : ''}`,
      ].join('\n\n'),
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const running = client.workflow.getHandle(promotionId);
    const state = await running.query(stateQuery);
    if (canonicalJson(state.manifest) !== canonicalJson(manifest) || state.submitter.id !== submitter.id) {
      throw new PromotionConflict(
        `a promotion of ${manifest.model.name}@${manifest.model.version} to ${manifest.target} is already running with another manifest or submitter; withdraw it or wait for it to end`,
        promotionId,
      );
    }
    const description = await running.describe();
    return { promotionId, runId: description.runId, existing: true };
  }
  return { promotionId, runId: handle.firstExecutionRunId, existing: false };
}

/** Resolves the policy while the registry look-up (a network round trip) is under way. */
async function resolveAndCheckRegistry({ manifest, policy, registry }: StartPromotionRequest): Promise<ResolvedPolicy> {
  const { name, version } = manifest.model;
  const registered = registry?.registrationOf(name, version);
  let resolved: ResolvedPolicy;
  try {
    resolved = resolvePolicy(policy, manifest);
  } catch (err) {
    registered?.catch(() => undefined);
    throw err;
  }
  const { digest, owner } = (await registered) ?? {};
  if (owner !== undefined && owner !== manifest.model.owner) throw new ModelOwnerConflict(name, owner, manifest.model.owner);
  if (digest && manifest.artifact.sha256 !== undefined && digest !== manifest.artifact.sha256) throw new VersionDigestConflict(name, version, digest);
  return resolved;
}

/** Memo field holding the idempotency key a promotion was submitted with. */
export const SUBMISSION_KEY_MEMO = 'submissionKey';

/** The latest execution of `promotionId` when it was started with `key` (running or ended), else undefined. */
async function startedWithKey(client: Client, promotionId: string, key: string): Promise<StartedPromotion | undefined> {
  try {
    const description = await client.workflow.getHandle(promotionId).describe();
    if (description.memo?.[SUBMISSION_KEY_MEMO] !== key) return undefined;
    return { promotionId, runId: description.runId, existing: true };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

const memoOf = (memo: Record<string, string>) => (Object.keys(memo).length > 0 ? { memo } : {});
