// The deployment stage of a promotion (after APPROVED): provision through the environment's
// provider, wait for an asynchronous deployer's report, compensate on failure, then move the
// registry; and afterwards tell the environment's lifecycle workflow. Workflow code: deterministic.
import { condition, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { DeploymentActivities } from '../activities/deployment';
import type { PromotionActivities } from '../activities/promotion';
import type { ResolvedDeployment, ResolvedPolicy } from '../policy/resolved';
import type { DeploymentCompletion, DeploymentRequest } from '../shared/deployment';
import { DeploymentFailureType, promotionDeploymentId } from '../shared/deployment';
import type { EnvironmentAnnouncement, EnvironmentPolicy } from '../shared/environment';
import type { PromotionState } from '../shared/promotion';
import { causeOf } from './lifecycle';
import { takesChange } from './promotion-changes';
import { recordActivities as promotionRecordActivities } from './promotion-activities';
import type { PromotionMachine } from './promotion-machine';

const DEPLOYMENT_NON_RETRYABLE_TYPES: string[] = Object.values(DeploymentFailureType);

/** Registry moves and lifecycle announcements under `summary`: retried until they succeed (idempotent). */
const recordActivities = (summary: string) =>
  proxyActivities<PromotionActivities & DeploymentActivities>({
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
    summary,
  });

/** A provider's activities with the retry policy the environment asks for, under `summary`. */
export function providerActivities(provider: ResolvedDeployment, summary: string) {
  return proxyActivities<DeploymentActivities>({
    summary,
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

/** What the deployment stage needs besides the promotion. */
export interface DeploymentStageOptions {
  /** Promotions started before deploy-provider only move the registry. */
  legacy: boolean;
  /** The latest completion report of an asynchronous deployer (set by the `completeDeployment` update). */
  completion(): DeploymentCompletion | undefined;
}

/** Refuses a deployer's completion report the promotion is not waiting for (the `completeDeployment` validator). */
export function checkDeploymentReport(state: PromotionState, report: DeploymentCompletion | undefined): void {
  const waiting = state.deployment?.status === 'awaiting_completion' ? state.deployment.deploymentId : undefined;
  if (!waiting) throw new Error(`the promotion is not waiting for a deployment report (status ${state.status})`);
  if (report?.deploymentId !== waiting) throw new Error(`unknown deployment "${String(report?.deploymentId)}" (waiting for ${waiting})`);
  if (report.status !== 'succeeded' && report.status !== 'failed') throw new Error('status must be "succeeded" or "failed"');
}

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
export async function runDeploymentStage(m: PromotionMachine, options: DeploymentStageOptions): Promise<void> {
  const { state, policy } = m;
  if (options.legacy) return activateOnly(m);
  const model = state.manifest.model.name;
  const version = state.manifest.model.version;
  const environment = state.manifest.target;
  if (state.recertification) {
    state.deployment = { environment, at: m.now(), status: 'deployed', detail: 're-certified; nothing provisioned' };
    m.end('DEPLOYED', 'modelgate', `re-certified: ${model}@${version} keeps serving ${environment}`);
    return;
  }
  const provider = policy.deployment;
  // Since deployment-id-per-run, the id names this execution too: a version promoted again gets
  // another id, so a report of the earlier deployment cannot complete the new one.
  const deploymentId = takesChange('deployment-id-per-run')
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
      // Pinned before any check ran (a models:/ artifact's digest is computed by the worker).
      sha256: state.manifest.artifact.sha256 ?? '',
      format: state.manifest.artifact.format,
      ...verifiedCopyOf(state.checks),
    },
  };
  const fail = async (reason: string) => {
    state.deployment = { ...state.deployment!, status: 'failed', detail: reason };
    m.record('modelgate', 'deployment_failed', { deploymentId, reason });
    if (provider) {
      try {
        const undone = await providerActivities(provider, 'compensate deployment').compensateDeployment({ provider, request });
        state.deployment.status = 'rolled_back';
        m.record('modelgate', 'deployment_compensated', { deploymentId, detail: undone.detail });
      } catch (err) {
        m.record('modelgate', 'compensation_failed', { deploymentId, reason: causeOf(err), attention: 'manual clean-up of the provider needed' });
      }
    }
    m.end('DEPLOY_FAILED', 'modelgate', `deployment failed; registry unchanged, the previous version still serves: ${reason}`);
  };

  state.deployment = { environment, at: m.now(), deploymentId, ...(provider ? { provider: provider.provider } : {}), status: 'provisioning' };
  if (provider) {
    m.record('modelgate', 'deployment_requested', { deploymentId, provider: provider.provider, version });
    m.effects.publish();
    try {
      const outcome = await providerActivities(provider, 'provision deployment').provisionDeployment({ provider, request });
      state.deployment = { ...state.deployment, ...(outcome.reference ? { reference: outcome.reference } : {}), detail: outcome.detail };
      if (outcome.status === 'accepted' && provider.provider === 'webhook') {
        const deadline = new Date(Date.now() + provider.callbackTimeoutMs).toISOString();
        state.deployment = { ...state.deployment, status: 'awaiting_completion', secretEnv: provider.secretEnv, completionDeadline: deadline };
        m.record('modelgate', 'deployment_accepted', { deploymentId, detail: outcome.detail, completionDeadline: deadline });
        m.effects.publish();
        const reported = await condition(() => options.completion() !== undefined, provider.callbackTimeoutMs);
        const report = options.completion();
        if (!reported || !report) return fail(`no completion report by ${deadline}`);
        m.record('deployer', 'deployment_reported', { deploymentId, status: report.status, detail: report.detail });
        if (report.status === 'failed') return fail(`the deployer reported a failure${report.detail ? `: ${report.detail}` : ''}`);
        if (report.reference) state.deployment.reference = report.reference;
      }
      m.record('modelgate', 'deployment_provisioned', { deploymentId, reference: state.deployment.reference, detail: state.deployment.detail });
    } catch (err) {
      return fail(causeOf(err));
    }
  }
  try {
    const moved = await recordActivities('activate version').activateVersion({ promotionId: state.promotionId, model, version, environment });
    state.deployment = { ...state.deployment, at: m.now(), status: 'deployed', ...moved };
    m.end('DEPLOYED', 'modelgate', `serving ${environment}${moved.previousVersion ? ` (supersedes ${moved.previousVersion})` : ''}`);
  } catch (err) {
    await fail(causeOf(err));
  }
}

/** The deployment of promotions started before deploy-provider: the registry moves, nothing is provisioned. */
async function activateOnly(m: PromotionMachine): Promise<void> {
  const { state } = m;
  try {
    const moved = await promotionRecordActivities('activate version').activateVersion({
      promotionId: state.promotionId,
      model: state.manifest.model.name,
      version: state.manifest.model.version,
      environment: state.manifest.target,
    });
    state.deployment = { environment: state.manifest.target, at: m.now(), ...moved };
    m.end('DEPLOYED', 'modelgate', `serving ${state.manifest.target}${moved.previousVersion ? ` (supersedes ${moved.previousVersion})` : ''}`);
  } catch (err) {
    m.end('DEPLOY_FAILED', 'modelgate', `deployment failed; registry unchanged: ${causeOf(err)}`);
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
  if (announcement) await recordActivities('announce to the environment').announceToEnvironment(announcement);
}
