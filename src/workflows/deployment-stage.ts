// The deployment stage of a promotion (after APPROVED): provision through the environment's
// provider, wait for an asynchronous deployer's report, compensate on failure, then move the
// registry; and afterwards tell the environment's lifecycle workflow. Workflow code: deterministic.
import { ActivityFailure, condition, patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { DeploymentActivities } from '../activities/deployment';
import type { PromotionActivities } from '../activities/promotion';
import type { ResolvedDeployment, ResolvedPolicy } from '../policy/resolved';
import type { DeploymentCompletion, DeploymentRequest } from '../shared/deployment';
import { DeploymentFailureType, promotionDeploymentId } from '../shared/deployment';
import type { EnvironmentAnnouncement, EnvironmentPolicy } from '../shared/environment';
import type { PromotionState, PromotionStatus } from '../shared/promotion';

const DEPLOYMENT_NON_RETRYABLE_TYPES: string[] = Object.values(DeploymentFailureType);

/** Registry moves and lifecycle announcements: retried until they succeed (idempotent). */
const recordActivities = proxyActivities<PromotionActivities & DeploymentActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** A provider's activities with the retry policy the environment asks for. */
export function providerActivities(provider: ResolvedDeployment) {
  return proxyActivities<DeploymentActivities>({
    startToCloseTimeout: provider.requestTimeoutMs + 2_000,
    retry: {
      maximumAttempts: provider.retry.maximumAttempts,
      initialInterval: provider.retry.initialIntervalMs,
      backoffCoefficient: provider.retry.backoffCoefficient,
      maximumInterval: provider.retry.maximumIntervalMs,
      nonRetryableErrorTypes: DEPLOYMENT_NON_RETRYABLE_TYPES,
    },
  });
}

/** What the deployment stage needs from the promotion. */
export interface DeploymentStageContext {
  state: PromotionState;
  policy: ResolvedPolicy;
  now(): string;
  record(actor: string, action: string, detail?: Record<string, unknown>): void;
  end(status: PromotionStatus, by: string, reason: string): void;
  publish(): void;
  /** The latest completion report of an asynchronous deployer (set by the `completeDeployment` update). */
  completion(): DeploymentCompletion | undefined;
}

const causeOf = (err: unknown) => (err instanceof ActivityFailure ? (err.cause?.message ?? err.message) : String(err));

/** Where the integrity check kept the bytes it verified (promotions checked before the store have none). */
function verifiedCopyOf(checks: PromotionState['checks']): { verifiedCopy?: string } {
  const copy = checks.find((c) => c.name === 'integrity' && c.status === 'pass')?.metrics.verifiedCopy;
  return typeof copy === 'string' ? { verifiedCopy: copy } : {};
}

/**
 * Runs the DEPLOYING state to its end: DEPLOYED (provisioned, then the environment moved in one
 * transaction) or DEPLOY_FAILED (compensated: registry unchanged, previous version serving).
 * A re-certification renews the approval of the serving version and provisions nothing.
 */
export async function runDeploymentStage(ctx: DeploymentStageContext): Promise<void> {
  const { state, policy } = ctx;
  const model = state.manifest.model.name;
  const version = state.manifest.model.version;
  const environment = state.manifest.target;
  if (state.recertification) {
    state.deployment = { environment, at: ctx.now(), status: 'deployed', detail: 're-certified; nothing provisioned' };
    ctx.end('DEPLOYED', 'modelgate', `re-certified: ${model}@${version} keeps serving ${environment}`);
    return;
  }
  const provider = policy.deployment;
  // Since deployment-id-per-run, the id names this execution too: a version promoted again gets
  // another id, so a report of the earlier deployment cannot complete the new one.
  const deploymentId = patched('deployment-id-per-run')
    ? `${promotionDeploymentId(state.promotionId)}:${workflowInfo().firstExecutionRunId}`
    : promotionDeploymentId(state.promotionId);
  const request: DeploymentRequest = {
    deploymentId,
    action: 'deploy',
    promotionId: state.promotionId,
    model,
    version,
    environment,
    artifact: {
      uri: state.manifest.artifact.uri,
      sha256: state.manifest.artifact.sha256,
      format: state.manifest.artifact.format,
      ...verifiedCopyOf(state.checks),
    },
  };
  const fail = async (reason: string) => {
    state.deployment = { ...state.deployment!, status: 'failed', detail: reason };
    ctx.record('modelgate', 'deployment_failed', { deploymentId, reason });
    if (provider) {
      try {
        const undone = await providerActivities(provider).compensateDeployment({ provider, request });
        state.deployment.status = 'rolled_back';
        ctx.record('modelgate', 'deployment_compensated', { deploymentId, detail: undone.detail });
      } catch (err) {
        ctx.record('modelgate', 'compensation_failed', { deploymentId, reason: causeOf(err), attention: 'manual clean-up of the provider needed' });
      }
    }
    ctx.end('DEPLOY_FAILED', 'modelgate', `deployment failed; registry unchanged, the previous version still serves: ${reason}`);
  };

  state.deployment = { environment, at: ctx.now(), deploymentId, ...(provider ? { provider: provider.provider } : {}), status: 'provisioning' };
  if (provider) {
    ctx.record('modelgate', 'deployment_requested', { deploymentId, provider: provider.provider, version });
    ctx.publish();
    try {
      const outcome = await providerActivities(provider).provisionDeployment({ provider, request });
      state.deployment = { ...state.deployment, ...(outcome.reference ? { reference: outcome.reference } : {}), detail: outcome.detail };
      if (outcome.status === 'accepted' && provider.provider === 'webhook') {
        const deadline = new Date(Date.now() + provider.callbackTimeoutMs).toISOString();
        state.deployment = { ...state.deployment, status: 'awaiting_completion', secretEnv: provider.secretEnv, completionDeadline: deadline };
        ctx.record('modelgate', 'deployment_accepted', { deploymentId, detail: outcome.detail, completionDeadline: deadline });
        ctx.publish();
        const reported = await condition(() => ctx.completion() !== undefined, provider.callbackTimeoutMs);
        const report = ctx.completion();
        if (!reported || !report) return fail(`no completion report by ${deadline}`);
        ctx.record('deployer', 'deployment_reported', { deploymentId, status: report.status, detail: report.detail });
        if (report.status === 'failed') return fail(`the deployer reported a failure${report.detail ? `: ${report.detail}` : ''}`);
        if (report.reference) state.deployment.reference = report.reference;
      }
      ctx.record('modelgate', 'deployment_provisioned', { deploymentId, reference: state.deployment.reference, detail: state.deployment.detail });
    } catch (err) {
      return fail(causeOf(err));
    }
  }
  try {
    const moved = await recordActivities.activateVersion({ promotionId: state.promotionId, model, version, environment });
    state.deployment = { ...state.deployment, at: ctx.now(), status: 'deployed', ...moved };
    ctx.end('DEPLOYED', 'modelgate', `serving ${environment}${moved.previousVersion ? ` (supersedes ${moved.previousVersion})` : ''}`);
  } catch (err) {
    await fail(causeOf(err));
  }
}

/** The lifecycle-relevant rules of a promotion's policy. */
export function environmentPolicyOf(policy: ResolvedPolicy): EnvironmentPolicy {
  return {
    name: policy.name,
    version: policy.version,
    ...(policy.deployment ? { deployment: policy.deployment } : {}),
    rollbackRoles: policy.overrides.rollback ?? [],
    requestRoles: policy.recertification?.requestRoles ?? [],
    approvalValidForMs: policy.approvalValidForMs,
    notifyBeforeMs: policy.recertification?.notifyBeforeMs ?? 0,
    notifications: policy.notifications,
  };
}

/**
 * Tells the environment's lifecycle workflow how the promotion ended: a deployed (or
 * re-certified) version and its approval's expiry, or a failed re-certification.
 */
export async function announceToEnvironment(state: PromotionState, policy: ResolvedPolicy): Promise<void> {
  const model = state.manifest.model.name;
  const environment = state.manifest.target;
  let announcement: EnvironmentAnnouncement | undefined;
  if (state.status === 'DEPLOYED' && state.approval) {
    const approvers = [
      ...new Set(state.stages.flatMap((s) => s.gates.flatMap((g) => g.signatures.filter((x) => x.decision === 'approve').map((x) => x.actorId)))),
    ];
    announcement = {
      kind: 'deployed',
      model,
      environment,
      purpose: state.recertification ? 'recertification' : 'promotion',
      serving: {
        version: state.manifest.model.version,
        promotionId: state.promotionId,
        manifest: state.manifest,
        approvedAt: state.approval.at,
        validUntil: state.approval.validUntil,
        approvers,
        ...(state.recertification ? {} : { submitter: state.submitter.id }),
        certified: true,
      },
      policy: environmentPolicyOf(policy),
    };
  } else if (state.recertification) {
    announcement = {
      kind: 'recertification_ended',
      model,
      environment,
      promotionId: state.promotionId,
      version: state.manifest.model.version,
      status: state.status,
      reason: state.outcome?.reason ?? state.status,
    };
  }
  if (announcement) await recordActivities.announceToEnvironment(announcement);
}
