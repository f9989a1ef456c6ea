// A promotion of one model version to one environment (docs/lifecycle.md). The rules and the
// state are the PromotionMachine's; this file registers the message handlers and runs the
// lifecycle loop: checks, review, approval, deployment. Workflow code: deterministic.
import { ApplicationFailure, condition, setHandler, workflowInfo } from '@temporalio/workflow';
import { mlflowModelOf } from '../manifest/schema';
import type { DeploymentCompletion } from '../shared/deployment';
import { MESSAGE_KINDS, type MessageKind } from '../shared/message-table';
import { anyMessageSignal, anyMessageUpdate, completeDeploymentUpdate, refusedUpdate, repeatedRequest, stateQuery } from '../shared/messages';
import type { PromotionInput, PromotionState, PromotionStatus } from '../shared/promotion';
import { announceToEnvironment, checkDeploymentReport, runDeploymentStage } from './deployment-stage';
import { continueAsNewWhenDue, PendingWork } from './lifecycle';
import { auditActivities, claimVersion, recordApproval, runChecks, sendNotice, signalCaller, verifyStart, writeBackToMlflow } from './promotion-activities';
import { takesChange } from './promotion-changes';
import { PromotionMachine, submittedState } from './promotion-machine';
import { type PromotionVisibility, publish as publishTo, ReviewSummaryMemo, SearchAttributesUpsert } from './promotion-visibility';

export { MAX_REFUSED_KEPT } from './promotion-machine';

/** Continue as new after this many history events even if the server does not suggest it. */
export const DEFAULT_HISTORY_EVENT_LIMIT = 5_000;

/** The statuses a promotion waits in with a deadline (review gates, the remediation window). */
const DEADLINE_STATUSES: ReadonlySet<PromotionStatus> = new Set(['IN_REVIEW', 'CHECKS_FAILED', 'CHANGES_REQUESTED']);

/**
 * A promotion of one model version to one environment: automated checks, auto-approval or
 * staged review gates with quorum, separation of duties, deadlines and escalation, overrides,
 * revisions, then registry and deployment. Decides only by the policy it was started with.
 * Returns its final state.
 */
export async function PromotionWorkflow(input: PromotionInput): Promise<PromotionState> {
  const { policy } = input;
  // State handed to a fresh start is not a continuation: it is ignored (and the start refused below).
  const carried = input.carried && workflowInfo().continuedFromExecutionRunId ? input.carried : undefined;
  const state = carried?.state ?? submittedState(input);
  if (carried) state.run += 1;
  const pending = new PendingWork();
  const visibility: PromotionVisibility = { searchAttributes: new SearchAttributesUpsert(), memo: new ReviewSummaryMemo() };
  // Since visibility-once-per-task a promotion publishes once at the end of what a workflow task
  // sets off (its messages and activity results applied, the code they woke run on to its next
  // wait), however many steps that took: before, a decision that closed a stage and the opening of
  // the next upserted twice in one task.
  let publishDue = false;
  const publishNow = (machine: PromotionMachine) => {
    publishDue = false;
    publishTo(machine, visibility);
  };
  const publish = (machine: PromotionMachine) => {
    if (!takesChange('visibility-once-per-task')) return publishTo(machine, visibility);
    if (publishDue) return;
    publishDue = true;
    // A condition resolves only when the SDK looks at the conditions, after the task's messages and
    // activity results were applied; this one waits further while the lifecycle's own wait is over
    // but has not resumed yet, so that what it goes on to do (open the next stage) is published too.
    const publishIfDue = () => publishDue && publishNow(machine);
    void condition(() => !machine.waitIsOver()).then(publishIfDue, publishIfDue);
  };
  // A request id is one person's (promotions started before request-id-per-actor keep one id space for everyone).
  const m: PromotionMachine = new PromotionMachine(
    state,
    policy,
    { notify: (notice) => ((sent) => sent && pending.track(sent))(sendNotice(m, notice)), publish: () => publish(m) },
    carried?.processed,
    takesChange('request-id-per-actor'),
  );

  // ---- messages: each kind is an Update (answers at once) and a Signal (for operators) -------
  // Since operator-signals a Signal is accepted only from a role the policy grants operator
  // Signals, and is recorded with its caller's Temporal identity (read from the history).
  const signalsFromOperators = takesChange('operator-signals');
  const receiveSignal = (kind: MessageKind, payload: Parameters<typeof m.receive>[1]) => {
    if (!signalsFromOperators) return void m.receive(kind, payload, 'signal');
    if (m.screenSignal(kind, payload)) return;
    pending.track(signalCaller(kind, payload).then((caller) => m.receive(kind, payload, 'signal', caller)));
  };
  const register = (kind: MessageKind) => {
    setHandler(anyMessageUpdate(kind), (payload) => m.receive(kind, payload, 'update')!, {
      validator: (payload) => {
        // A repeat is answered with its first result by refusing it: a refused Update leaves no
        // event in the history, so a client's retries never interleave with the promotion's work.
        const first = m.firstResultOf(payload);
        if (first) throw repeatedRequest(first);
        const refused = m.refusalOf(kind, payload);
        if (refused) throw refusedUpdate(refused);
      },
    });
    setHandler(anyMessageSignal(kind), (payload) => receiveSignal(kind, payload));
  };
  MESSAGE_KINDS.forEach(register);
  setHandler(stateQuery, () => state);
  let completion: DeploymentCompletion | undefined;
  setHandler(completeDeploymentUpdate, (report) => ((completion = report), { accepted: true as const }), {
    validator: (report) => checkDeploymentReport(state, report),
  });

  const continueWhenDue = () =>
    continueAsNewWhenDue<typeof PromotionWorkflow>(
      input.historyEventLimit ?? DEFAULT_HISTORY_EVENT_LIMIT,
      pending,
      (historyLength) => {
        m.record('modelgate', 'continued_as_new', { historyLength, run: state.run });
        return [{ ...input, manifest: state.manifest, carried: { state, processed: m.processed } }];
      },
      () => !m.isTerminal(),
    );
  /** Waits for a change or the deadline `ms` away; since kept-deadline-timers a deadline's timer serves every wait for it. */
  const waitForChangeOr = (ms: number | undefined, summary: string) =>
    takesChange('kept-deadline-timers') ? m.waitForDeadline(ms, summary) : m.waitForChange(ms, summary);
  /** Waits in the remediation window for a revision or an override; ends EXPIRED once it has passed. */
  const awaitRevision = async (expiredReason: string) => {
    const left = m.remediationLeft(expiredReason);
    if (left === 0) return;
    await continueWhenDue();
    await waitForChangeOr(left, 'remediation window');
  };

  // ---- the lifecycle ------------------------------------------------------------------------
  if (!carried) {
    m.recordSubmission();
    publish(m);
  }
  // Since verify-policy a promotion checks the policy (or the continuation) it was started with.
  if (takesChange('verify-policy')) await verifyStart(m, input);
  if (!carried && !m.isTerminal()) {
    // Since claim-version-after-integrity the version is claimed once integrity passed (a junk digest claims nothing).
    if (takesChange('claim-version-after-integrity')) state.versionClaim = 'pending';
    else await claimVersion(m);
  }
  publish(m);

  while (!m.isTerminal()) {
    // A deadline's timer is kept only while the promotion waits in one of the statuses that have deadlines.
    if (!DEADLINE_STATUSES.has(state.status)) m.cancelDeadlineTimer();
    switch (state.status) {
      case 'VALIDATING':
        if (await runChecks(m)) m.afterChecks();
        break;
      case 'CHECKS_FAILED':
        if (!m.clearWaivedChecks()) await awaitRevision('no revision or override within the remediation window after failed checks');
        break;
      case 'CHANGES_REQUESTED':
        await awaitRevision('no revision within the remediation window after changes were requested');
        break;
      case 'IN_REVIEW': {
        const next = m.reviewStep();
        if (next === 'done' || m.isTerminal()) break;
        await continueWhenDue();
        await waitForChangeOr(next?.ms, next?.summary ?? 'review');
        break;
      }
      case 'APPROVED':
        await recordApproval(m);
        break;
      case 'DEPLOYING':
        await runDeploymentStage(m, { legacy: !takesChange('deploy-provider'), completion: () => completion });
        break;
      default:
        throw ApplicationFailure.nonRetryable(`unexpected status ${state.status}`);
    }
    publish(m);
  }

  // Since mlflow-write-back-rejection a rejected models:/ version that was checked (its evidence
  // sealed) is tagged in MLflow, and the governed alias leaves it.
  if (state.status === 'REJECTED' && state.evidenceDigest && mlflowModelOf(state.manifest.artifact.uri) && takesChange('mlflow-write-back-rejection')) {
    await writeBackToMlflow(m, 'rejected');
  }
  m.cancelDeadlineTimer();
  // Let running handlers and notifications finish before the promotion closes.
  await pending.settled();
  publish(m);
  if (takesChange('deploy-provider')) await announceToEnvironment(state, policy);
  if (takesChange('archive-audit')) {
    await auditActivities.archiveAudit({ promotionId: state.promotionId, policyVersion: policy.version, timeline: state.timeline, executionId: workflowInfo().firstExecutionRunId });
  }
  if (publishDue) publishNow(m);
  return state;
}
