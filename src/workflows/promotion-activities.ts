// The activities a promotion runs, each with its retry policy and the summary the Temporal UI
// shows beside it (`check security`, `seal evidence`, `notify gate_opened`), and the checks stage
// built on them. Workflow code: deterministic.
import { ActivityCancellationType, CancellationScope, condition, proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/common';
import type { AuditActivities } from '../activities/audit';
import type { CheckActivities } from '../activities/checks';
import type { PolicyStoreActivities } from '../activities/policy-store';
import type { PromotionActivities } from '../activities/promotion';
import type { SignalCallerActivities } from '../activities/signal-caller';
import type { MlflowActivities } from '../activities/mlflow';
import { CHECK_NAMES, type CheckName, type CheckResult, checkActivityName } from '../shared/checks';
import { ownerOf, type PromotionInput } from '../shared/promotion';
import { mlflowModelOf } from '../manifest/schema';
import { checksTaskQueueOf } from '../shared/task-queues';
import { causeOf } from './lifecycle';
import { takesChange } from './promotion-changes';
import { policyActor, type PromotionMachine, type PromotionNotice, type SignalCallerAnswer } from './promotion-machine';

/** Checks: retried a few times when they cannot run; then recorded as `error`. */
const CHECK_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  // A withdrawal cancels running checks; the promotion closes once they have stopped.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 3, initialInterval: '1 second', backoffCoefficient: 2 },
};

/** Registry writes and evidence: retried until they succeed (idempotent); a digest conflict is final. */
const RECORD_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: ['VersionDigestConflict'] },
};

/** Audit archive: retried until it succeeds (idempotent), so the trail outlives retention. */
const AUDIT_OPTIONS: ActivityOptions = { startToCloseTimeout: '1 minute', retry: { initialInterval: '1 second', maximumInterval: '1 minute' } };

/** Notifications: a few attempts; a failing receiver never fails a promotion. */
const NOTIFICATION_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 5, initialInterval: '2 seconds', backoffCoefficient: 2 },
};

/**
 * Check activities under `summary`, on the checks task queue (`<this workflow's queue>-checks`,
 * served by the checks worker) or, with `ownQueue` (promotions started before checks had a
 * queue of their own), on the workflow's own task queue.
 */
export const checkActivities = (summary: string, ownQueue = false) =>
  proxyActivities<CheckActivities>({ ...CHECK_OPTIONS, summary, ...(ownQueue ? {} : { taskQueue: checksTaskQueueOf(workflowInfo().taskQueue) }) });
/** Registry and evidence activities under `summary`. */
export const recordActivities = (summary: string) => proxyActivities<PromotionActivities>({ ...RECORD_OPTIONS, summary });
/** The audit archive activity. */
export const auditActivities = proxyActivities<AuditActivities>({ ...AUDIT_OPTIONS, summary: 'archive audit trail' });

/** Reading a Signal's caller: a local activity, a few quick attempts. */
const signalCallerActivities = proxyLocalActivities<SignalCallerActivities>({
  startToCloseTimeout: '10 seconds',
  retry: { maximumAttempts: 3, initialInterval: '500 milliseconds' },
  summary: 'read the Signal caller',
});

/** The Temporal identity of the client that sent the Signal `kind` with `payload`, or why it could not be read. */
export function signalCaller(kind: string, payload: unknown): Promise<SignalCallerAnswer> {
  return signalCallerActivities.signalCaller({ name: kind, payload }).catch((err: unknown) => ({ problem: causeOf(err) }));
}

/** Sends a promotion's notice to the policy's receivers for its event; returns undefined when none listens. */
export function sendNotice(machine: PromotionMachine, notice: PromotionNotice): Promise<unknown> | undefined {
  const { state, policy } = machine;
  const urls = policy.notifications.filter((n) => n.events.includes('*') || n.events.includes(notice.event)).map((n) => n.url);
  if (urls.length === 0) return undefined;
  const { event, ...extra } = notice;
  return proxyActivities<PromotionActivities>({ ...NOTIFICATION_OPTIONS, summary: `notify ${event}` })
    .sendNotification({
      event,
      promotionId: state.promotionId,
      model: state.manifest.model.name,
      version: state.manifest.model.version,
      target: state.manifest.target,
      status: state.status,
      urls,
      ...extra,
    })
    .catch((err: unknown) => machine.record('modelgate', 'notification_failed', { event, error: causeOf(err) }));
}

/**
 * Before the promotion decides anything: a first run asks the policy store whether the policy it
 * was started with is the store's, resolved for its manifest; a carried run must have been
 * continued by Temporal (state handed to a fresh start is forged). Ends REJECTED naming the reason.
 */
export async function verifyStart(machine: PromotionMachine, input: PromotionInput): Promise<void> {
  let reason: string | undefined;
  if (input.carried) {
    if (!workflowInfo().continuedFromExecutionRunId) reason = 'it was started with carried state but was not continued from an earlier run (forged)';
  } else {
    const verdict = await proxyActivities<PolicyStoreActivities>({ ...RECORD_OPTIONS, summary: 'verify policy' }).verifyPolicy({
      policy: input.policy,
      manifest: input.manifest,
    });
    if (!verdict.verified) reason = verdict.reason;
  }
  if (reason && !machine.isTerminal()) machine.end('REJECTED', 'modelgate', `refused before any decision: ${reason}`);
}

/** The `error` results of checks whose activity failed after its retries. */
function errorResults(machine: PromotionMachine, names: CheckName[], err: unknown, started: number): CheckResult[] {
  if (CancellationScope.current().consideredCancelled) throw err;
  const cause = causeOf(err);
  return names.map((name) => ({
    name,
    status: 'error' as const,
    required: machine.policy.checks[name].enforcement === 'required',
    summary: `${name} check could not run after retries: ${cause}`,
    findings: [{ kind: 'check_error', severity: 'high' as const, message: cause }],
    metrics: {},
    durationMs: Date.now() - started,
  }));
}

/**
 * Runs `names`' activity; failures after retries become `error` results. Chained, not `async`: a
 * promotion's workflow tasks replay this for every check, and each promise the workflow makes
 * costs the SDK a stack-trace capture.
 */
function runCheckActivity(machine: PromotionMachine, names: CheckName[], run: () => Promise<CheckResult[]>): Promise<CheckResult[]> {
  const started = Date.now();
  return run().catch((err: unknown) => errorResults(machine, names, err, started));
}

/**
 * Claims the model version in the registry; ends the promotion REJECTED when the registry holds
 * the version with another digest or the model with another owner.
 */
export async function claimVersion(machine: PromotionMachine): Promise<void> {
  const { state } = machine;
  try {
    const claimed = await recordActivities('claim model version').registerSubmission({
      promotionId: state.promotionId,
      manifest: state.manifest,
      effectiveTier: state.effectiveTier,
    });
    if (claimed?.owner) state.registeredOwner = claimed.owner;
    if (state.versionClaim) {
      state.versionClaim = 'claimed';
      machine.record('modelgate', 'version_claimed', {
        version: state.manifest.model.version,
        owner: ownerOf(state),
        integrity: machine.integrityPassed() ? 'passed' : 'waived',
      });
    }
  } catch (err) {
    machine.end('REJECTED', policyActor(machine.policy), causeOf(err));
  }
}

/** APPROVED → DEPLOYING: claims the version if integrity was waived, records the approval and its validity in the registry. */
export async function recordApproval(m: PromotionMachine): Promise<void> {
  const { state, policy } = m;
  // Integrity was waived (break-glass): the version is claimed only now, once approved.
  if (state.versionClaim === 'pending') {
    await claimVersion(m);
    if (m.isTerminal()) return;
  }
  m.effects.publish();
  m.effects.notify({ event: 'approved', detail: state.outcome?.reason });
  m.approve();
  await recordActivities('record approval').recordApproval({
    promotionId: state.promotionId,
    model: state.manifest.model.name,
    version: state.manifest.model.version,
    environment: state.manifest.target,
    decidedBy: state.outcome?.by ?? 'reviewers',
    policyVersion: policy.version,
    evidenceDigest: state.evidenceDigest ?? '',
    validForMs: policy.approvalValidForMs,
    validUntil: state.approval!.validUntil,
  });
  if (mlflowModelOf(state.manifest.artifact.uri) && takesChange('mlflow-write-back')) await writeBackToMlflow(m, 'approved');
  state.status = 'DEPLOYING';
  m.record('modelgate', 'deploying', { environment: state.manifest.target });
  m.effects.publish();
}

/** MLflow write-back: retried until MLflow answers (idempotent); a missing configuration is final. */
const MLFLOW_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: ['MlflowNotConfigured', 'MlflowNotApplicable'] },
};

/**
 * Writes a decision back to the MLflow Model Registry (tags; on approval the environment's alias
 * moves to the version, on rejection an alias pointing at it moves back) and records it (`mlflow_updated`), or records why it could not (`mlflow_update_failed`).
 */
export async function writeBackToMlflow(m: PromotionMachine, decision: 'approved' | 'rejected'): Promise<void> {
  const { state, policy } = m;
  try {
    const written = await proxyActivities<MlflowActivities>({ ...MLFLOW_OPTIONS, summary: `write ${decision} to MLflow` }).writeBackToMlflow({
      promotionId: state.promotionId,
      artifactUri: state.manifest.artifact.uri,
      environment: state.manifest.target,
      decision,
      evidenceDigest: state.evidenceDigest ?? '',
      policy: `${policy.name}@${policy.version}`,
      decidedAt: state.approval?.at ?? new Date(Date.now()).toISOString(),
    });
    m.record('modelgate', 'mlflow_updated', { decision, ...(written.alias ? { alias: written.alias } : {}), ...(written.aliasRestored ? { aliasRestored: written.aliasRestored } : {}) });
  } catch (err) {
    m.record('modelgate', 'mlflow_update_failed', { decision, error: causeOf(err) });
  }
}

/**
 * Pins a `models:/` artifact: its digest, and the metrics (when the manifest declares none) and
 * lineage of its MLflow run, become the promotion's manifest (`source_pinned`). Returns the
 * failure when MLflow could not be read after retries (`source_pin_failed`; the checks are then
 * `error` results and a revision runs them, and the pin, again).
 */
async function pinMlflowSource(machine: PromotionMachine): Promise<{ error: unknown } | undefined> {
  const { state } = machine;
  const uri = state.manifest.artifact.uri;
  try {
    const pinned = await checkActivities('pin MLflow source').pinMlflowSource({ promotionId: state.promotionId, manifest: state.manifest });
    const metricsFromRun = Object.keys(state.manifest.metrics).length === 0 && Object.keys(pinned.runMetrics).length > 0;
    state.manifest = {
      ...state.manifest,
      artifact: { ...state.manifest.artifact, sha256: pinned.sha256 },
      lineage: pinned.lineage,
      ...(metricsFromRun ? { metrics: pinned.runMetrics } : {}),
    };
    machine.record('modelgate', 'source_pinned', {
      uri,
      sha256: pinned.sha256,
      files: pinned.files,
      bytes: pinned.bytes,
      ...(pinned.runId ? { runId: pinned.runId } : {}),
      metrics: metricsFromRun ? 'from the MLflow run' : 'declared',
      datasets: pinned.datasets,
    });
    machine.effects.publish();
    return undefined;
  } catch (err) {
    if (CancellationScope.current().consideredCancelled) throw err;
    machine.record('modelgate', 'source_pin_failed', { uri, error: causeOf(err) });
    return { error: err };
  }
}

/**
 * Runs every enabled check, claims the version once integrity passed, seals the evidence.
 *
 * @returns false when the promotion ended meanwhile (withdrawn, or its version claim refused).
 */
export async function runChecks(machine: PromotionMachine): Promise<boolean> {
  const { state, policy } = machine;
  state.checkRuns += 1;
  machine.record('modelgate', 'checks_started', { run: state.checkRuns });
  const enabled = CHECK_NAMES.filter((name) => policy.checks[name].enforcement !== 'off');
  // A models:/ artifact is pinned (downloaded, hashed, its run read) before its checks run.
  const started = Date.now();
  const pinFailure =
    state.manifest.artifact.sha256 === undefined && mlflowModelOf(state.manifest.artifact.uri) && takesChange('mlflow-source-pin') ? await pinMlflowSource(machine) : undefined;
  const input = {
    promotionId: state.promotionId,
    manifest: state.manifest,
    settings: policy.checks,
    trustedKeys: policy.trustedKeys,
    ...(policy.trustedRoots ? { trustedRoots: policy.trustedRoots } : {}),
  };
  // Promotions started before one-artifact-pass run integrity and security as two activities.
  const onePass = enabled.includes('integrity') && enabled.includes('security') && takesChange('one-artifact-pass');
  // Promotions started before checks-task-queue schedule their checks on their own task queue.
  const ownQueue = !takesChange('checks-task-queue');
  const scope = new CancellationScope();
  const results = pinFailure
    ? Promise.resolve(errorResults(machine, enabled, pinFailure.error, started))
    : scope
    .run(() =>
      Promise.all([
        ...(onePass ? [runCheckActivity(machine, ['integrity', 'security'], () => checkActivities('check integrity + security', ownQueue).runArtifactChecks(input))] : []),
        ...enabled
          .filter((name) => !onePass || (name !== 'integrity' && name !== 'security'))
          .map((name) => runCheckActivity(machine, [name], () => checkActivities(`check ${name}`, ownQueue)[checkActivityName(name)](input).then((result) => [result]))),
      ]),
    )
    .then((lists) => lists.flat().sort((a, b) => CHECK_NAMES.indexOf(a.name) - CHECK_NAMES.indexOf(b.name)));
  const ended = condition(() => machine.isTerminal());
  // The results (an array, even when empty), or undefined when the promotion ended first.
  const first = await Promise.race([results, ended.then(() => undefined)]);
  if (!first) {
    scope.cancel();
    await results.catch(() => undefined);
    return false;
  }
  state.checks = first;
  if (state.versionClaim === 'pending' && machine.integrityPassed()) {
    await claimVersion(machine);
    if (machine.isTerminal()) return false;
  }
  const seal = await recordActivities('seal evidence').sealEvidence({ manifest: state.manifest, checks: state.checks });
  const previousEvidence = state.evidenceDigest;
  state.evidenceDigest = seal.evidenceDigest;
  if (previousEvidence && previousEvidence !== seal.evidenceDigest) machine.voidStaleApprovals();
  machine.record('modelgate', 'checks_completed', {
    run: state.checkRuns,
    evidenceDigest: seal.evidenceDigest,
    results: Object.fromEntries(state.checks.map((c) => [c.name, c.status])),
  });
  return !machine.isTerminal();
}
