// Workflows of the floor worker of the load benchmark. The floor is registered under the name
// `PromotionWorkflow`, so the API starts, lists and decides it exactly as a real promotion: it
// runs the same activities (registry, checks, evidence, approval, webhook deployment, registry
// move, lifecycle announcement, audit archive), keeps the same search attributes and accepts the
// same `decide` Update — but without the policy engine: no separation of duties, evidence
// binding, overrides, revisions, deadlines, notifications, timeline or continue-as-new. Its cost
// against the real worker's is the cost of Modelgate's lifecycle code under load.
import { condition, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { AuditActivities } from '../../src/activities/audit';
import type { CheckActivities } from '../../src/activities/checks';
import type { DeploymentActivities } from '../../src/activities/deployment';
import type { PromotionActivities } from '../../src/activities/promotion';
import { CHECK_NAMES, checkActivityName } from '../../src/shared/checks';
import { promotionUpdates, refusedUpdate, stateQuery } from '../../src/shared/messages';
import type { MessagePayloads, MessageResult, PromotionInput, PromotionState, PromotionStatus, TimelineEntry } from '../../src/shared/promotion';
import { SearchAttributes } from '../../src/shared/search-attributes';
import { environmentPolicyOf, providerActivities } from '../../src/workflows/deployment-stage';

export { ModelEnvironmentWorkflow } from '../../src/workflows/model-environment';

const checks = proxyActivities<CheckActivities>({ startToCloseTimeout: '30 minutes', heartbeatTimeout: '2 minutes', retry: { maximumAttempts: 3 } });
const records = proxyActivities<PromotionActivities & DeploymentActivities & AuditActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** The floor: a promotion's activities and messages with no policy logic. */
export async function PromotionWorkflow(input: PromotionInput): Promise<{ status: PromotionStatus }> {
  const { policy, manifest, promotionId } = input;
  const at = () => new Date(Date.now()).toISOString();
  const timeline: TimelineEntry[] = [{ at: at(), actor: input.submitter.id, action: 'submitted' }];
  const approvals: Record<string, Set<string>> = {};
  const processed: Record<string, MessageResult> = {};
  let status: PromotionStatus = 'VALIDATING';
  let stage = -1;
  const openGates = () => (status === 'IN_REVIEW' ? policy.stages[stage]!.gates.filter((g) => (approvals[g.name]?.size ?? 0) < g.quorum) : []);
  const publish = () => {
    const open = openGates();
    upsertSearchAttributes([
      { key: SearchAttributes.PromotionStatus, value: status },
      { key: SearchAttributes.PendingGates, value: open.map((g) => g.name) },
      { key: SearchAttributes.PendingRoles, value: [...new Set(open.flatMap((g) => g.roles))].sort() },
    ]);
  };

  // The API reads the state after each message (metrics); the floor's is minimal.
  setHandler(stateQuery, () => ({ promotionId, status, run: 1, checkRuns: 1, checks: [], stages: [], timeline }) as unknown as PromotionState);
  setHandler(
    promotionUpdates.decide,
    (payload) => {
      const first = processed[payload.requestId];
      if (first) return first;
      (approvals[payload.gate] ??= new Set()).add(payload.actor.id);
      timeline.push({ at: at(), actor: payload.actor.id, action: `decision_${payload.decision}`, detail: { gate: payload.gate } });
      const gate = policy.stages[stage]!.gates.find((g) => g.name === payload.gate)!;
      const count = approvals[payload.gate]!.size;
      const result: MessageResult = {
        requestId: payload.requestId,
        message: 'decide',
        status,
        summary: `approved gate ${gate.name} (${count}/${gate.quorum})${count >= gate.quorum ? ': gate passed' : ''}`,
      };
      processed[payload.requestId] = result;
      publish();
      return result;
    },
    {
      validator: (payload: MessagePayloads['decide']) => {
        if (processed[payload.requestId]) return;
        const gate = openGates().find((g) => g.name === payload.gate);
        if (!gate) throw refusedUpdate({ kind: 'conflict', reason: `gate ${payload.gate} is not open` });
        if (!payload.actor.roles.some((r) => gate.roles.includes(r))) throw refusedUpdate({ kind: 'forbidden', reason: `gate ${gate.name} needs one of the roles: ${gate.roles.join(', ')}` });
        if (approvals[gate.name]?.has(payload.actor.id)) throw refusedUpdate({ kind: 'forbidden', reason: `${payload.actor.id} already approved gate ${gate.name}` });
      },
    },
  );

  await records.registerSubmission({ promotionId, manifest, effectiveTier: policy.effectiveTier });
  const enabled = CHECK_NAMES.filter((name) => policy.checks[name].enforcement !== 'off');
  const results = await Promise.all(
    enabled.map((name) => checks[checkActivityName(name)]({ promotionId, manifest, settings: policy.checks, trustedKeys: policy.trustedKeys })),
  );
  const seal = await records.sealEvidence({ manifest, checks: results });
  if (!policy.autoApprove) {
    status = 'IN_REVIEW';
    for (stage = 0; stage < policy.stages.length; stage++) {
      publish();
      await condition(() => openGates().length === 0);
    }
  }
  status = 'APPROVED';
  publish();
  const validUntil = new Date(Date.now() + policy.approvalValidForMs).toISOString();
  await records.recordApproval({
    promotionId,
    model: manifest.model.name,
    version: manifest.model.version,
    environment: manifest.target,
    decidedBy: 'reviewers',
    policyVersion: policy.version,
    evidenceDigest: seal.evidenceDigest,
    validForMs: policy.approvalValidForMs,
    validUntil,
  });
  status = 'DEPLOYING';
  publish();
  const request = {
    deploymentId: `${promotionId}#deploy`,
    action: 'deploy' as const,
    promotionId,
    model: manifest.model.name,
    version: manifest.model.version,
    environment: manifest.target,
    artifact: { uri: manifest.artifact.uri, sha256: manifest.artifact.sha256 ?? '', format: manifest.artifact.format },
  };
  if (policy.deployment) await providerActivities(policy.deployment, 'provision deployment').provisionDeployment({ provider: policy.deployment, request });
  await records.activateVersion({ promotionId, model: manifest.model.name, version: manifest.model.version, environment: manifest.target });
  status = 'DEPLOYED';
  timeline.push({ at: at(), actor: 'modelgate', action: 'deployed' });
  publish();
  await records.announceToEnvironment({
    kind: 'deployed',
    model: manifest.model.name,
    environment: manifest.target,
    purpose: 'promotion',
    serving: {
      version: manifest.model.version,
      promotionId,
      manifest,
      approvedAt: at(),
      validUntil,
      approvers: Object.values(approvals).flatMap((s) => [...s]),
      certified: true,
    },
    policy: environmentPolicyOf(policy),
  });
  await records.archiveAudit({ promotionId, policyVersion: policy.version, timeline, executionId: workflowInfo().firstExecutionRunId });
  return { status };
}
