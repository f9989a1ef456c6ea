// The floor of the workflow benchmark: the work of a promotion without Modelgate's lifecycle code.
// Registered under the name `PromotionWorkflow` (its worker runs this bundle instead of the real
// one), so `startPromotion` starts it and `sendPromotionMessage` decides it exactly as a real
// promotion. Per promotion it does what PromotionWorkflow does for the benchmark's policy: the same
// activities with the same inputs (policy verification, the checks on the checks task queue,
// version claim, evidence seal, approval, registry move, lifecycle announcement, audit archive of
// a timeline with the same entries), the same search-attribute upserts (all eight keys, at the
// same points, each when they changed) and patch markers, with the same review summary kept in the
// memo (published once per workflow task), the same `decide` Update and `state` query, a timer per review deadline — but
// no rules: no separation of duties, evidence binding, overrides, revisions, deadlines,
// escalation, notifications, refusal log or continue-as-new. The benchmark reports both sides'
// history shapes, so that the sameness is checked, not assumed.
import { CancellationScope, condition, proxyActivities, setHandler, sleep, workflowInfo } from '@temporalio/workflow';
import type { AuditActivities } from '../../src/activities/audit';
import type { CheckActivities } from '../../src/activities/checks';
import type { DeploymentActivities } from '../../src/activities/deployment';
import type { PolicyStoreActivities } from '../../src/activities/policy-store';
import type { PromotionActivities } from '../../src/activities/promotion';
import { CHECK_NAMES, type CheckResult, checkActivityName } from '../../src/shared/checks';
import { promotionUpdates, refusedUpdate, stateQuery } from '../../src/shared/messages';
import type { GateState, MessageResult, PromotionInput, PromotionState } from '../../src/shared/promotion';
import { SearchAttributes } from '../../src/shared/search-attributes';
import { checksTaskQueueOf } from '../../src/shared/task-queues';
import { environmentPolicyOf } from '../../src/workflows/deployment-stage';
import { submittedState } from '../../src/workflows/promotion-machine';
import { ReviewSummaryMemo, SearchAttributesUpsert } from '../../src/workflows/promotion-visibility';

// The promotion's lifecycle workflow, which the announcement starts, lives in the same bundle.
export { ModelEnvironmentWorkflow } from '../../src/workflows/model-environment';

const retried = { startToCloseTimeout: '1 minute', retry: { initialInterval: '1 second', maximumInterval: '1 minute' } } as const;
const records = proxyActivities<PromotionActivities & DeploymentActivities & AuditActivities & PolicyStoreActivities>(retried);
const checksOn = (taskQueue: string) =>
  proxyActivities<CheckActivities>({ startToCloseTimeout: '30 minutes', heartbeatTimeout: '2 minutes', retry: { maximumAttempts: 3 }, taskQueue: checksTaskQueueOf(taskQueue) });

/** The floor promotion: see the file's header. Returns its final state. */
export async function PromotionWorkflow(input: PromotionInput): Promise<PromotionState> {
  const { policy } = input;
  // The same state shape as a real promotion's, so that the `state` query answers as much.
  const state = submittedState(input);
  const { manifest, promotionId } = state;
  const now = () => new Date(Date.now()).toISOString();
  const record = (actor: string, action: string, detail?: Record<string, unknown>) => state.timeline.push({ at: now(), actor, action, ...(detail ? { detail } : {}) });
  const processed = new Map<string, MessageResult>();
  let changes = 0;
  const gates = () => state.stages.flatMap((s) => s.gates);
  const openGates = () => (state.status === 'IN_REVIEW' ? gates().filter((g) => g.status === 'open') : []);
  const reviewSummary = new ReviewSummaryMemo();
  const searchAttributes = new SearchAttributesUpsert();
  const publishNow = () => {
    publishDue = false;
    const open = openGates();
    searchAttributes.upsert([
      { key: SearchAttributes.ModelName, value: manifest.model.name },
      { key: SearchAttributes.ModelVersion, value: manifest.model.version },
      { key: SearchAttributes.TargetEnvironment, value: manifest.target },
      { key: SearchAttributes.RiskTier, value: state.effectiveTier },
      { key: SearchAttributes.Submitter, value: state.submitter.id },
      { key: SearchAttributes.PromotionStatus, value: state.status },
      { key: SearchAttributes.PendingGates, value: open.map((g) => g.name) },
      { key: SearchAttributes.PendingRoles, value: [...new Set(open.flatMap((g) => g.roles))].sort() },
    ]);
    reviewSummary.publish(state);
  };
  // Published once at the end of what a workflow task sets off, as a promotion's (visibility-once-per-task):
  // a condition resolved when the SDK looks at the conditions, waiting further while the review wait is over but not resumed.
  let publishDue = false;
  let waitingFor: (() => boolean) | undefined;
  const publish = () => {
    if (publishDue) return;
    publishDue = true;
    const publishIfDue = () => publishDue && publishNow();
    void condition(() => !(waitingFor?.() ?? false)).then(publishIfDue, publishIfDue);
  };

  const publishTimes = (n: number) => Array.from({ length: n }).forEach(publish);
  setHandler(stateQuery, () => state);
  setHandler(
    promotionUpdates.decide,
    (p) => {
      const gate = gates().find((g) => g.name === p.gate)!;
      gate.signatures.push({ actorId: p.actor.id, roles: p.actor.roles, decision: p.decision, at: now(), requestId: p.requestId, evidenceDigest: state.evidenceDigest ?? '' });
      record(p.actor.id, `decision_${p.decision}`, { gate: gate.name, comment: p.comment, evidenceDigest: state.evidenceDigest });
      const passed = gate.signatures.length >= gate.quorum;
      if (passed) {
        gate.status = 'approved';
        gate.decidedAt = now();
      }
      const result: MessageResult = {
        requestId: p.requestId,
        message: 'decide',
        status: state.status,
        summary: `approved gate ${gate.name} (${gate.signatures.length}/${gate.quorum})${passed ? ': gate passed' : ''}`,
      };
      processed.set(p.requestId, result);
      changes += 1;
      publish();
      return result;
    },
    {
      validator: (p) => {
        const gate = openGates().find((g) => g.name === p.gate);
        if (!gate) throw refusedUpdate({ kind: 'conflict', reason: `gate ${p.gate} is not open` });
      },
    },
  );

  record(state.submitter.id, 'submitted', {
    policy: `${policy.name}@${policy.version}`,
    policyDigest: policy.digest,
    declaredTier: policy.declaredTier,
    effectiveTier: policy.effectiveTier,
    tierReasons: policy.tierReasons,
  });
  // Where a real promotion publishes, the floor does too: as often, all eight keys, upserted when they changed (as a promotion's).
  // A new promotion records one patch marker, its changes' baseline (and the SDK upserts TemporalChangeVersion with it):
  // the floor records it too, with its first publish (Modelgate's visibility classes ask for it).
  publishTimes(4);
  await records.verifyPolicy({ policy, manifest });
  publishTimes(4);

  // Checks: integrity and security in one pass, the others one activity each.
  state.checkRuns = 1;
  record('modelgate', 'checks_started', { run: 1 });
  const enabled = CHECK_NAMES.filter((name) => policy.checks[name].enforcement !== 'off');
  const input2 = { promotionId, manifest, settings: policy.checks, trustedKeys: policy.trustedKeys, ...(policy.trustedRoots ? { trustedRoots: policy.trustedRoots } : {}) };
  const checks = checksOn(workflowInfo().taskQueue);
  const lists: CheckResult[][] = await Promise.all([
    checks.runArtifactChecks(input2),
    ...enabled.filter((name) => name !== 'integrity' && name !== 'security').map(async (name) => [await checks[checkActivityName(name)](input2)]),
  ]);
  state.checks = lists.flat();
  const claimed = await records.registerSubmission({ promotionId, manifest, effectiveTier: state.effectiveTier });
  if (claimed?.owner) state.registeredOwner = claimed.owner;
  state.versionClaim = 'claimed';
  record('modelgate', 'version_claimed', { version: manifest.model.version, owner: manifest.model.owner, integrity: 'passed' });
  const seal = await records.sealEvidence({ manifest, checks: state.checks });
  state.evidenceDigest = seal.evidenceDigest;
  record('modelgate', 'checks_completed', { run: 1, evidenceDigest: seal.evidenceDigest, results: Object.fromEntries(state.checks.map((c) => [c.name, c.status])) });
  state.status = 'IN_REVIEW';
  publish();

  // Review: each stage's gates open, then a wait (with the SLA's timer, as a real promotion's) for the quorum.
  for (const [index, stage] of state.stages.entries()) {
    const definition = policy.stages[index]!;
    stage.status = 'active';
    state.currentStage = index;
    for (const gate of stage.gates) {
      const def = definition.gates.find((g) => g.name === gate.name)!;
      gate.status = 'open';
      gate.openedAt = now();
      gate.slaAt = def.slaMs !== undefined ? new Date(Date.now() + def.slaMs).toISOString() : undefined;
      gate.deadlineAt = def.timeoutMs !== undefined ? new Date(Date.now() + def.timeoutMs).toISOString() : undefined;
      record('modelgate', 'gate_opened', { gate: gate.name, roles: gate.roles, quorum: gate.quorum, deadline: gate.deadlineAt });
    }
    publish();
    const passed = (g: GateState) => g.status === 'approved';
    // One timer per deadline, kept across the waits for it (as a promotion's), cancelled when the next SLA differs or the stage passes.
    let timer: { at: number; scope: CancellationScope; fired: boolean } | undefined;
    const stopTimer = () => {
      if (timer && !timer.fired) timer.scope.cancel();
      timer = undefined;
    };
    while (!stage.gates.every(passed)) {
      const seen = changes;
      const at = Math.min(...stage.gates.filter((g) => !passed(g) && g.slaAt).map((g) => Date.parse(g.slaAt!)));
      if (timer?.at !== at) stopTimer();
      if (Number.isFinite(at) && !timer) {
        const started = { at, scope: new CancellationScope(), fired: false };
        started.scope.run(() => sleep(at - Date.now())).then(
          () => (started.fired = true),
          () => undefined,
        );
        timer = started;
      }
      const waited = timer;
      waitingFor = () => changes !== seen || (waited?.fired ?? false);
      await condition(waitingFor);
      waitingFor = undefined;
      publish();
    }
    stopTimer();
    stage.status = 'passed';
  }
  state.status = 'APPROVED';
  state.outcome = { status: 'APPROVED', at: now(), by: 'reviewers', reason: 'every gate of every stage passed' };
  record('modelgate', 'approved', { evidenceDigest: state.evidenceDigest });
  publish();

  // Approval, registry move, announcement, archive.
  publish();
  state.approval = { at: now(), validUntil: new Date(Date.now() + policy.approvalValidForMs).toISOString() };
  await records.recordApproval({
    promotionId,
    model: manifest.model.name,
    version: manifest.model.version,
    environment: manifest.target,
    decidedBy: 'reviewers',
    policyVersion: policy.version,
    evidenceDigest: state.evidenceDigest,
    validForMs: policy.approvalValidForMs,
    validUntil: state.approval.validUntil,
  });
  state.status = 'DEPLOYING';
  record('modelgate', 'deploying', { environment: manifest.target });
  publishTimes(4);
  const moved = await records.activateVersion({ promotionId, model: manifest.model.name, version: manifest.model.version, environment: manifest.target });
  state.deployment = { environment: manifest.target, at: now(), status: 'deployed', ...moved };
  state.status = 'DEPLOYED';
  state.outcome = { status: 'DEPLOYED', at: now(), by: 'modelgate', reason: `serving ${manifest.target}` };
  record('modelgate', 'deployed', { reason: state.outcome.reason });
  publishTimes(2);
  await records.announceToEnvironment({
    kind: 'deployed',
    model: manifest.model.name,
    environment: manifest.target,
    purpose: 'promotion',
    serving: {
      version: manifest.model.version,
      promotionId,
      manifest,
      approvedAt: state.approval.at,
      validUntil: state.approval.validUntil,
      approvers: [...new Set(gates().flatMap((g) => g.signatures.map((s) => s.actorId)))],
      submitter: state.submitter.id,
      certified: true,
    },
    policy: environmentPolicyOf(policy),
  });
  publish();
  await records.archiveAudit({ promotionId, policyVersion: policy.version, timeline: state.timeline, executionId: workflowInfo().firstExecutionRunId });
  if (publishDue) publishNow();
  return state;
}
