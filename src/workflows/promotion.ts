import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { AuditActivities } from '../activities/audit';
import type { CheckActivities } from '../activities/checks';
import type { PromotionActivities } from '../activities/promotion';
import { blockingChecks, evaluateAutoApproval, eligibleRoles, validApprovals } from '../policy/evaluate';
import type { ResolvedPolicy } from '../policy/resolved';
import { CHECK_NAMES, type CheckName, type CheckResult, checkActivityName } from '../shared/checks';
import { completeDeploymentUpdate, promotionSignals, refusedUpdate, promotionUpdates, repeatedRequest, stateQuery } from '../shared/messages';
import type { DeploymentCompletion } from '../shared/deployment';
import type {
  GateState,
  MessageKind,
  MessagePayloads,
  MessageRefusal,
  MessageResult,
  PromotionInput,
  PromotionState,
  PromotionStatus,
  StageState,
} from '../shared/promotion';
import { ownerOf, TERMINAL_STATUSES } from '../shared/promotion';
import { SearchAttributes } from '../shared/search-attributes';
import { messageRefusal, payloadProblem } from './promotion-rules';
import { announceToEnvironment, runDeploymentStage } from './deployment-stage';

/** Checks: retried a few times when they cannot run; then recorded as `error`. */
const checkActivities = proxyActivities<CheckActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  // A withdrawal cancels running checks; the promotion closes once they have stopped.
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { maximumAttempts: 3, initialInterval: '1 second', backoffCoefficient: 2 },
});

/** Registry writes and evidence: retried until they succeed (idempotent). */
const recordActivities = proxyActivities<PromotionActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: ['VersionDigestConflict'] },
});

/** Audit archive: retried until it succeeds (idempotent), so the trail outlives retention. */
const auditActivities = proxyActivities<AuditActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});

/** Notifications: a few attempts; a failing receiver never fails a promotion. */
const notificationActivities = proxyActivities<PromotionActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 5, initialInterval: '2 seconds', backoffCoefficient: 2 },
});

/** Continue as new after this many history events even if the server does not suggest it. */
export const DEFAULT_HISTORY_EVENT_LIMIT = 5_000;

/** Refused signals kept in the state; more are counted in `refusedTotal`, not kept. */
export const MAX_REFUSED_KEPT = 200;

/** Identity that decisions made by the policy itself are recorded under. */
const policyActor = (policy: ResolvedPolicy) => `policy@${policy.version}`;

function initialStages(policy: ResolvedPolicy): StageState[] {
  return policy.stages.map((stage) => ({
    name: stage.name,
    status: 'waiting',
    gates: stage.gates.map(
      (gate): GateState => ({
        name: gate.name,
        title: gate.title,
        roles: gate.roles,
        quorum: gate.quorum,
        escalateTo: gate.escalateTo,
        onTimeout: gate.onTimeout,
        status: 'waiting',
        signatures: [],
        escalated: false,
      }),
    ),
  }));
}

/**
 * A promotion of one model version to one environment (docs/lifecycle.md): automated
 * checks, auto-approval or staged review gates with quorum, separation of duties,
 * deadlines and escalation, overrides, revisions, then registry and deployment.
 * Decides only by the policy it was started with. Returns its final state.
 */
export async function PromotionWorkflow(input: PromotionInput): Promise<PromotionState> {
  const policy = input.policy;
  const now = () => new Date(Date.now()).toISOString();
  const state: PromotionState = input.carried?.state ?? {
    promotionId: input.promotionId,
    manifest: input.manifest,
    submitter: input.submitter,
    submittedAt: input.submittedAt,
    status: 'VALIDATING',
    policy: { name: policy.name, version: policy.version, digest: policy.digest },
    declaredTier: policy.declaredTier,
    effectiveTier: policy.effectiveTier,
    tierReasons: policy.tierReasons,
    checks: [],
    checkRuns: 0,
    waivers: [],
    stages: initialStages(policy),
    revisions: 0,
    refused: [],
    timeline: [],
    run: 1,
    ...(input.recertification ? { recertification: input.recertification } : {}),
  };
  if (input.carried) state.run += 1;
  // No prototype: a request id such as `constructor` or `__proto__` is a key like any other.
  const processed: Record<string, MessageResult> = Object.assign(Object.create(null) as Record<string, MessageResult>, input.carried?.processed);
  // A request id is one person's: another person's message with the same id is not a repeat of it
  // (promotions started before request-id-per-actor keep one id space for everyone).
  const requestIdsPerActor = patched('request-id-per-actor');
  /** Where a message's first result is kept: its actor and request id. */
  const processedKey = (payload: unknown): string => {
    const p = (payload && typeof payload === 'object' ? payload : {}) as { requestId?: unknown; actor?: { id?: unknown } };
    const requestId = typeof p.requestId === 'string' ? p.requestId : '';
    return requestIdsPerActor ? `${typeof p.actor?.id === 'string' ? p.actor.id : ''}\u0000${requestId}` : requestId;
  };
  const historyEventLimit = input.historyEventLimit ?? DEFAULT_HISTORY_EVENT_LIMIT;
  /** Bumped by every accepted message, so waits wake up and look again. */
  let changes = 0;
  const notifications = new Set<Promise<unknown>>();

  const record = (actor: string, action: string, detail?: Record<string, unknown>) => {
    state.timeline.push({ at: now(), actor, action, ...(detail ? { detail } : {}) });
  };
  const isTerminal = () => TERMINAL_STATUSES.has(state.status);
  const allGates = () => state.stages.flatMap((s) => s.gates);
  const openGates = () => allGates().filter((g) => g.status === 'open');

  // ---- visibility ------------------------------------------------------------------------
  const publish = () => {
    const open = state.status === 'IN_REVIEW' ? openGates() : [];
    upsertSearchAttributes([
      { key: SearchAttributes.ModelName, value: state.manifest.model.name },
      { key: SearchAttributes.ModelVersion, value: state.manifest.model.version },
      { key: SearchAttributes.TargetEnvironment, value: state.manifest.target },
      { key: SearchAttributes.RiskTier, value: state.effectiveTier },
      { key: SearchAttributes.Submitter, value: state.submitter.id },
      { key: SearchAttributes.PromotionStatus, value: state.status },
      { key: SearchAttributes.PendingGates, value: open.map((g) => g.name) },
      { key: SearchAttributes.PendingRoles, value: [...new Set(open.flatMap(eligibleRoles))].sort() },
    ]);
    const lines = [
      `**${state.status}** — ${state.manifest.model.name}@${state.manifest.model.version} → ${state.manifest.target} (tier ${state.effectiveTier}, policy ${policy.name}@${policy.version})`,
    ];
    if (open.length > 0) {
      lines.push(
        `Waiting on: ${open
          .map((g) => `${g.title} ${validApprovals(g)}/${g.quorum} (roles: ${eligibleRoles(g).join(', ')}${g.deadlineAt ? `; deadline ${g.deadlineAt}` : ''})`)
          .join('; ')}`,
      );
    }
    if (state.status === 'CHECKS_FAILED') lines.push(`Blocking checks: ${blockingChecks(state.checks, state.waivers, state.evidenceDigest).join(', ')}`);
    if (state.remediationDeadline && (state.status === 'CHECKS_FAILED' || state.status === 'CHANGES_REQUESTED')) {
      lines.push(`Revision due by ${state.remediationDeadline}`);
    }
    if (state.expedited) lines.push(`Expedited by ${state.expedited.by}: ${state.expedited.reason}`);
    if (state.outcome) lines.push(`Outcome: ${state.outcome.reason} (by ${state.outcome.by})`);
    setCurrentDetails(lines.join('\n\n'));
  };

  // ---- notifications (never fail the promotion) ------------------------------------------
  const notify = (event: string, extra: { gate?: string; roles?: string[]; deadline?: string; detail?: string } = {}) => {
    const urls = policy.notifications.filter((n) => n.events.includes('*') || n.events.includes(event)).map((n) => n.url);
    if (urls.length === 0) return;
    const sent = notificationActivities
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
      .catch((err: unknown) => {
        log.warn('notification not delivered', { event, error: err instanceof Error ? err.message : String(err) });
        record('modelgate', 'notification_failed', { event, error: err instanceof ActivityFailure ? err.cause?.message : String(err) });
      })
      .finally(() => notifications.delete(sent));
    notifications.add(sent);
  };

  const end = (status: PromotionStatus, by: string, reason: string) => {
    state.status = status;
    state.outcome = { status, at: now(), by, reason };
    record(by, status.toLowerCase(), { reason });
    notify(status.toLowerCase(), { detail: reason });
  };

  // ---- messages: one function serves the Update and the Signal ---------------------------
  const refusalOf = <K extends MessageKind>(kind: K, payload: MessagePayloads[K]): MessageRefusal | undefined => {
    const problem = payloadProblem(kind, payload);
    return problem ? { kind: 'invalid', reason: problem } : messageRefusal(kind, payload, state, policy);
  };
  /** A refused Update fails with the refusal's type (what the API maps to a status) and reason. */
  const findGate = (name: string) => allGates().find((g) => g.name === name)!;

  const apply = <K extends MessageKind>(kind: K, payload: MessagePayloads[K]): string => {
    const actor = payload.actor;
    switch (kind) {
      case 'decide': {
        const p = payload as MessagePayloads['decide'];
        const gate = findGate(p.gate);
        gate.signatures.push({
          actorId: actor.id,
          roles: actor.roles,
          decision: p.decision,
          ...(p.comment ? { comment: p.comment } : {}),
          at: now(),
          requestId: p.requestId,
          evidenceDigest: state.evidenceDigest ?? '',
        });
        record(actor.id, `decision_${p.decision}`, { gate: gate.name, comment: p.comment, evidenceDigest: state.evidenceDigest });
        if (p.decision === 'reject') {
          gate.status = 'rejected';
          gate.decidedAt = now();
          end('REJECTED', actor.id, `gate ${gate.name} rejected: ${p.comment}`);
          return `rejected at gate ${gate.name}`;
        }
        if (p.decision === 'request_changes') {
          gate.status = 'changes_requested';
          gate.decidedAt = now();
          state.status = 'CHANGES_REQUESTED';
          state.remediationDeadline = new Date(Date.now() + policy.remediationWindowMs).toISOString();
          notify('changes_requested', { gate: gate.name, deadline: state.remediationDeadline, detail: p.comment });
          return `changes requested at gate ${gate.name}; revision due by ${state.remediationDeadline}`;
        }
        const count = validApprovals(gate);
        if (count >= gate.quorum) {
          gate.status = 'approved';
          gate.decidedAt = now();
          return `approved gate ${gate.name} (${count}/${gate.quorum}): gate passed`;
        }
        return `approved gate ${gate.name} (${count}/${gate.quorum})`;
      }
      case 'override': {
        const p = payload as MessagePayloads['override'];
        if (p.kind === 'waive_check') {
          state.waivers.push({
            check: p.target as CheckName,
            by: actor.id,
            justification: p.justification,
            at: now(),
            evidenceDigest: state.evidenceDigest ?? '',
          });
          record(actor.id, 'override_waive_check', { check: p.target, justification: p.justification, breakGlass: true });
          notify('override', { detail: `check ${p.target} waived by ${actor.id}: ${p.justification}` });
          return `check ${p.target} waived`;
        }
        const gate = findGate(p.target);
        gate.status = 'forced';
        gate.decidedAt = now();
        gate.forced = { by: actor.id, justification: p.justification, at: now() };
        record(actor.id, 'override_force_gate', { gate: gate.name, justification: p.justification, breakGlass: true });
        notify('override', { gate: gate.name, detail: `gate ${gate.name} forced by ${actor.id}: ${p.justification}` });
        return `gate ${gate.name} forced`;
      }
      case 'expedite': {
        const p = payload as MessagePayloads['expedite'];
        state.expedited = { by: actor.id, reason: p.reason, at: now() };
        for (const gate of openGates()) shortenDeadlines(gate);
        record(actor.id, 'expedited', { reason: p.reason });
        for (const gate of openGates()) {
          notify('expedited', { gate: gate.name, roles: eligibleRoles(gate), deadline: gate.deadlineAt, detail: p.reason });
        }
        return 'expedited: shorter deadlines apply';
      }
      case 'revise': {
        const p = payload as MessagePayloads['revise'];
        const { description, ...evidence } = p.changes;
        state.manifest = {
          ...state.manifest,
          ...(evidence as Partial<PromotionState['manifest']>),
          model: description !== undefined ? { ...state.manifest.model, description } : state.manifest.model,
        };
        state.revisions += 1;
        state.status = 'VALIDATING';
        state.remediationDeadline = undefined;
        record(actor.id, 'revised', { fields: Object.keys(p.changes), comment: p.comment });
        return `revision ${state.revisions} accepted; checks re-run`;
      }
      case 'withdraw': {
        const p = payload as MessagePayloads['withdraw'];
        end('WITHDRAWN', actor.id, p.reason);
        return 'withdrawn';
      }
    }
    return 'ignored';
  };

  const receive = <K extends MessageKind>(kind: K, payload: MessagePayloads[K], via: 'update' | 'signal'): MessageResult | undefined => {
    const first = payload && typeof payload === 'object' ? processed[processedKey(payload)] : undefined;
    if (first) return first;
    const refusal = refusalOf(kind, payload);
    if (refusal) {
      const reason = refusal.reason;
      if (via === 'signal') {
        const p = (payload ?? {}) as Partial<MessagePayloads[K]>;
        state.refusedTotal = (state.refusedTotal ?? state.refused.length) + 1;
        // A flood of bad signals must not grow the state (it is carried across continue-as-new):
        // the most recent refusals are kept, the timeline records the first ones, all are counted.
        if (state.refused.length >= MAX_REFUSED_KEPT) state.refused.shift();
        state.refused.push({
          at: now(),
          message: kind,
          via,
          ...(typeof p.actor?.id === 'string' ? { actorId: p.actor.id } : {}),
          ...(typeof p.requestId === 'string' ? { requestId: p.requestId } : {}),
          reason,
        });
        if (state.refusedTotal <= MAX_REFUSED_KEPT) {
          record(typeof p.actor?.id === 'string' ? p.actor.id : 'unknown', 'refused', { message: kind, via, reason });
        }
        return undefined;
      }
      throw refusedUpdate(refusal);
    }
    const summary = apply(kind, payload);
    const result: MessageResult = { requestId: payload.requestId, message: kind, status: state.status, summary };
    processed[processedKey(payload)] = result;
    changes += 1;
    publish();
    return result;
  };

  const registerMessage = <K extends MessageKind>(kind: K) => {
    const update = promotionUpdates[kind] as unknown as UpdateDefinition<MessageResult, [MessagePayloads[K]]>;
    const signal = promotionSignals[kind] as unknown as SignalDefinition<[MessagePayloads[K]]>;
    setHandler(update, (payload) => receive(kind, payload, 'update')!, {
      validator: (payload) => {
        const first = processed[processedKey(payload)];
        // A repeat is answered with the first result by refusing it: a refused Update leaves no
        // event in the history, so a client's retries never interleave with the promotion's work.
        if (first) throw repeatedRequest(first);
        const refusal = refusalOf(kind, payload);
        if (refusal) throw refusedUpdate(refusal);
      },
    });
    setHandler(signal, (payload) => {
      receive(kind, payload, 'signal');
    });
  };
  (['decide', 'override', 'expedite', 'revise', 'withdraw'] as const).forEach(registerMessage);
  setHandler(stateQuery, () => state);
  let deploymentCompletion: DeploymentCompletion | undefined;
  setHandler(completeDeploymentUpdate, (report) => {
    deploymentCompletion = report;
    return { accepted: true };
  }, {
    validator: (report) => {
      const waiting = state.deployment?.status === 'awaiting_completion' ? state.deployment.deploymentId : undefined;
      if (!waiting) throw new Error(`the promotion is not waiting for a deployment report (status ${state.status})`);
      if (report?.deploymentId !== waiting) throw new Error(`unknown deployment "${String(report?.deploymentId)}" (waiting for ${waiting})`);
      if (report.status !== 'succeeded' && report.status !== 'failed') throw new Error('status must be "succeeded" or "failed"');
    },
  });

  // ---- deadlines ------------------------------------------------------------------------
  function shortenDeadlines(gate: GateState) {
    const t = Date.now();
    if (policy.expedite.slaMs !== undefined && !gate.escalated) {
      const expedited = new Date(t + policy.expedite.slaMs).toISOString();
      if (!gate.slaAt || expedited < gate.slaAt) gate.slaAt = expedited;
    }
    if (policy.expedite.timeoutMs !== undefined) {
      const expedited = new Date(t + policy.expedite.timeoutMs).toISOString();
      if (!gate.deadlineAt || expedited < gate.deadlineAt) gate.deadlineAt = expedited;
    }
  }

  function openStage(index: number) {
    const stage = state.stages[index]!;
    const definition = policy.stages[index]!;
    stage.status = 'active';
    state.currentStage = index;
    const t = Date.now();
    for (const gate of stage.gates) {
      if (gate.status === 'approved' || gate.status === 'forced') continue;
      const def = definition.gates.find((g) => g.name === gate.name)!;
      gate.status = 'open';
      gate.escalated = false;
      gate.openedAt = new Date(t).toISOString();
      gate.slaAt = def.slaMs !== undefined ? new Date(t + def.slaMs).toISOString() : undefined;
      gate.deadlineAt = def.timeoutMs !== undefined ? new Date(t + def.timeoutMs).toISOString() : undefined;
      if (state.expedited) shortenDeadlines(gate);
      record('modelgate', 'gate_opened', { gate: gate.name, roles: gate.roles, quorum: gate.quorum, deadline: gate.deadlineAt });
      notify('gate_opened', { gate: gate.name, roles: gate.roles, deadline: gate.deadlineAt });
    }
  }

  /** Waits until a message changes something, or `ms` passes. */
  const waitForChange = async (ms: number | undefined) => {
    const seen = changes;
    if (ms === undefined) await condition(() => changes !== seen);
    else if (ms > 0) await condition(() => changes !== seen, ms);
  };

  // ---- checks ---------------------------------------------------------------------------
  const checkInput = () => ({ promotionId: state.promotionId, manifest: state.manifest, settings: policy.checks, trustedKeys: policy.trustedKeys });
  /** The `error` results of checks whose activity failed after its retries. */
  const errorResults = (names: CheckName[], err: unknown, started: number): CheckResult[] => {
    if (CancellationScope.current().consideredCancelled) throw err;
    const cause = err instanceof ActivityFailure ? (err.cause?.message ?? err.message) : String(err);
    return names.map((name) => ({
      name,
      status: 'error' as const,
      required: policy.checks[name].enforcement === 'required',
      summary: `${name} check could not run after retries: ${cause}`,
      findings: [{ kind: 'check_error', severity: 'high' as const, message: cause }],
      metrics: {},
      durationMs: Date.now() - started,
    }));
  };
  const runOneCheck = async (name: CheckName): Promise<CheckResult[]> => {
    const started = Date.now();
    try {
      return [await checkActivities[checkActivityName(name)](checkInput())];
    } catch (err) {
      return errorResults([name], err, started);
    }
  };
  /** Integrity and security in one activity: one fetch of the artifact, one pass over one copy. */
  const runArtifactChecks = async (): Promise<CheckResult[]> => {
    const started = Date.now();
    try {
      return await checkActivities.runArtifactChecks(checkInput());
    } catch (err) {
      return errorResults(['integrity', 'security'], err, started);
    }
  };

  /** Runs every enabled check; returns false when the promotion ended meanwhile (withdrawn). */
  const runChecks = async (): Promise<boolean> => {
    state.checkRuns += 1;
    record('modelgate', 'checks_started', { run: state.checkRuns });
    const enabled = CHECK_NAMES.filter((name) => policy.checks[name].enforcement !== 'off');
    // Promotions started before one-artifact-pass run integrity and security as two activities.
    const onePass = enabled.includes('integrity') && enabled.includes('security') && patched('one-artifact-pass');
    const scope = new CancellationScope();
    const results = scope
      .run(() =>
        Promise.all([
          ...(onePass ? [runArtifactChecks()] : []),
          ...enabled.filter((name) => !onePass || (name !== 'integrity' && name !== 'security')).map(runOneCheck),
        ]),
      )
      .then((lists) => lists.flat().sort((a, b) => CHECK_NAMES.indexOf(a.name) - CHECK_NAMES.indexOf(b.name)));
    const ended = condition(isTerminal);
    const first = await Promise.race([results.then((r) => ({ r })), ended.then(() => undefined)]);
    if (!first) {
      scope.cancel();
      await results.catch(() => undefined);
      return false;
    }
    state.checks = first.r;
    if (state.versionClaim === 'pending' && integrityPassed()) {
      await claimVersion();
      if (isTerminal()) return false;
    }
    const seal = await recordActivities.sealEvidence({ manifest: state.manifest, checks: state.checks });
    const previousEvidence = state.evidenceDigest;
    state.evidenceDigest = seal.evidenceDigest;
    if (previousEvidence && previousEvidence !== seal.evidenceDigest) voidStaleApprovals();
    record('modelgate', 'checks_completed', {
      run: state.checkRuns,
      evidenceDigest: seal.evidenceDigest,
      results: Object.fromEntries(state.checks.map((c) => [c.name, c.status])),
    });
    return !isTerminal();
  };

  /** Integrity passed in the last checks run (or the policy does not check it). */
  function integrityPassed(): boolean {
    if (policy.checks.integrity.enforcement === 'off') return true;
    return state.checks.some((c) => c.name === 'integrity' && c.status === 'pass');
  }

  /**
   * Claims the model version in the registry; ends REJECTED when the registry holds the version
   * with another digest or the model with another owner.
   */
  async function claimVersion(): Promise<void> {
    try {
      const claimed = await recordActivities.registerSubmission({ promotionId: state.promotionId, manifest: state.manifest, effectiveTier: state.effectiveTier });
      if (claimed?.owner) state.registeredOwner = claimed.owner;
      if (state.versionClaim) {
        state.versionClaim = 'claimed';
        record('modelgate', 'version_claimed', {
          version: state.manifest.model.version,
          owner: ownerOf(state),
          integrity: integrityPassed() ? 'passed' : 'waived',
        });
      }
    } catch (err) {
      const cause = err instanceof ActivityFailure ? (err.cause?.message ?? err.message) : String(err);
      end('REJECTED', policyActor(policy), cause);
    }
  }

  /** After a revision changed the evidence: void the signatures on the old evidence, reset gates. */
  function voidStaleApprovals() {
    let voided = 0;
    for (const stage of state.stages) {
      for (const gate of stage.gates) {
        for (const s of gate.signatures) {
          if (!s.void && s.evidenceDigest !== state.evidenceDigest) {
            s.void = true;
            voided += 1;
          }
        }
        if (gate.status !== 'forced') {
          gate.status = validApprovals(gate) >= gate.quorum ? 'approved' : 'waiting';
        }
      }
      stage.status = stage.gates.every((g) => g.status === 'approved' || g.status === 'forced') ? 'passed' : 'waiting';
    }
    if (voided > 0) record('modelgate', 'approvals_voided', { count: voided, reason: 'the evidence changed' });
  }

  /** From VALIDATING with checks done: CHECKS_FAILED, auto-approved, or into review. */
  const afterChecks = () => {
    const blocking = blockingChecks(state.checks, state.waivers, state.evidenceDigest);
    if (blocking.length > 0) {
      state.status = 'CHECKS_FAILED';
      state.remediationDeadline = new Date(Date.now() + policy.remediationWindowMs).toISOString();
      record('modelgate', 'checks_failed', { blocking });
      notify('checks_failed', { deadline: state.remediationDeadline, detail: `blocking checks: ${blocking.join(', ')}` });
      return;
    }
    const auto = evaluateAutoApproval(policy.autoApprove, state.checks, state.manifest.metrics);
    if (auto.approved && state.waivers.length === 0) {
      state.status = 'APPROVED';
      state.outcome = { status: 'APPROVED', at: now(), by: policyActor(policy), reason: 'auto-approved: every condition of the policy holds' };
      record(policyActor(policy), 'auto_approved', { evidenceDigest: state.evidenceDigest });
      return;
    }
    if (policy.autoApprove) record(policyActor(policy), 'auto_approval_not_applicable', { reasons: auto.reasons });
    state.status = 'IN_REVIEW';
    state.currentStage = undefined;
  };

  // ---- continue-as-new --------------------------------------------------------------------
  const maybeContinueAsNew = async () => {
    const info = workflowInfo();
    if (!info.continueAsNewSuggested && info.historyLength < historyEventLimit) return;
    await condition(() => notifications.size === 0 && allHandlersFinished());
    if (isTerminal()) return;
    record('modelgate', 'continued_as_new', { historyLength: info.historyLength, run: state.run });
    await continueAsNew<typeof PromotionWorkflow>({ ...input, manifest: state.manifest, carried: { state, processed } });
  };

  /** Waits in the remediation window for a message; ends EXPIRED with `expiredReason` once it has passed. */
  const awaitRevision = async (expiredReason: string) => {
    const left = Date.parse(state.remediationDeadline!) - Date.now();
    if (left <= 0) {
      end('EXPIRED', policyActor(policy), expiredReason);
      return;
    }
    await maybeContinueAsNew();
    await waitForChange(left);
  };

  // ---- the lifecycle --------------------------------------------------------------------
  if (!input.carried) {
    record(state.submitter.id, 'submitted', {
      policy: `${policy.name}@${policy.version}`,
      policyDigest: policy.digest,
      declaredTier: policy.declaredTier,
      effectiveTier: policy.effectiveTier,
      tierReasons: policy.tierReasons,
      ...(input.recertification ? { recertification: input.recertification } : {}),
    });
    publish();
    // Promotions since claim-version-after-integrity claim the version once its integrity check
    // passed (a junk digest claims nothing); older ones claimed it here, at submission.
    if (patched('claim-version-after-integrity')) state.versionClaim = 'pending';
    else await claimVersion();
  }
  publish();

  while (!isTerminal()) {
    switch (state.status) {
      case 'VALIDATING': {
        if (await runChecks()) afterChecks();
        break;
      }
      case 'CHECKS_FAILED': {
        if (blockingChecks(state.checks, state.waivers, state.evidenceDigest).length === 0) {
          record('modelgate', 'checks_cleared', { by: 'override' });
          state.status = 'VALIDATING';
          afterChecks();
          break;
        }
        await awaitRevision('no revision or override within the remediation window after failed checks');
        break;
      }
      case 'CHANGES_REQUESTED': {
        await awaitRevision('no revision within the remediation window after changes were requested');
        break;
      }
      case 'IN_REVIEW': {
        const index = state.stages.findIndex((s) => s.gates.some((g) => g.status !== 'approved' && g.status !== 'forced'));
        if (index === -1) {
          state.stages.forEach((s) => (s.status = 'passed'));
          state.status = 'APPROVED';
          state.outcome = { status: 'APPROVED', at: now(), by: 'reviewers', reason: 'every gate of every stage passed' };
          record('modelgate', 'approved', { evidenceDigest: state.evidenceDigest });
          break;
        }
        state.stages.slice(0, index).forEach((s) => (s.status = 'passed'));
        if (state.currentStage !== index || state.stages[index]!.status !== 'active') {
          openStage(index);
          publish();
        }
        const t = Date.now();
        let next: number | undefined;
        for (const gate of openGates()) {
          if (gate.deadlineAt && Date.parse(gate.deadlineAt) <= t) {
            gate.status = 'timed_out';
            gate.decidedAt = now();
            record(policyActor(policy), 'gate_timed_out', { gate: gate.name, onTimeout: gate.onTimeout });
            end(
              gate.onTimeout === 'reject' ? 'REJECTED' : 'EXPIRED',
              policyActor(policy),
              `gate ${gate.name} passed its deadline ${gate.deadlineAt} without a decision`,
            );
            break;
          }
          if (!gate.escalated && gate.slaAt && Date.parse(gate.slaAt) <= t) {
            gate.escalated = true;
            record(policyActor(policy), 'gate_escalated', { gate: gate.name, escalateTo: gate.escalateTo });
            notify('sla_reminder', { gate: gate.name, roles: gate.roles, deadline: gate.deadlineAt });
            if (gate.escalateTo.length > 0) notify('escalated', { gate: gate.name, roles: gate.escalateTo, deadline: gate.deadlineAt });
            publish();
          }
          for (const at of [gate.escalated ? undefined : gate.slaAt, gate.deadlineAt]) {
            if (at) next = Math.min(next ?? Infinity, Date.parse(at) - t);
          }
        }
        if (isTerminal()) break;
        await maybeContinueAsNew();
        await waitForChange(next);
        break;
      }
      case 'APPROVED': {
        // Integrity was waived (break-glass): the version is claimed only now, once approved.
        if (state.versionClaim === 'pending') {
          await claimVersion();
          if (isTerminal()) break;
        }
        publish();
        notify('approved', { detail: state.outcome?.reason });
        state.approval = { at: now(), validUntil: new Date(Date.now() + policy.approvalValidForMs).toISOString() };
        await recordActivities.recordApproval({
          promotionId: state.promotionId,
          model: state.manifest.model.name,
          version: state.manifest.model.version,
          environment: state.manifest.target,
          decidedBy: state.outcome?.by ?? 'reviewers',
          policyVersion: policy.version,
          evidenceDigest: state.evidenceDigest ?? '',
          validForMs: policy.approvalValidForMs,
          validUntil: state.approval.validUntil,
        });
        state.status = 'DEPLOYING';
        record('modelgate', 'deploying', { environment: state.manifest.target });
        publish();
        break;
      }
      case 'DEPLOYING': {
        if (patched('deploy-provider')) {
          await runDeploymentStage({ state, policy, now, record, end, publish, completion: () => deploymentCompletion });
          break;
        }
        try {
          const moved = await recordActivities.activateVersion({
            promotionId: state.promotionId,
            model: state.manifest.model.name,
            version: state.manifest.model.version,
            environment: state.manifest.target,
          });
          state.deployment = { environment: state.manifest.target, at: now(), ...moved };
          end('DEPLOYED', 'modelgate', `serving ${state.manifest.target}${moved.previousVersion ? ` (supersedes ${moved.previousVersion})` : ''}`);
        } catch (err) {
          const cause = err instanceof ActivityFailure ? (err.cause?.message ?? err.message) : String(err);
          end('DEPLOY_FAILED', 'modelgate', `deployment failed; registry unchanged: ${cause}`);
        }
        break;
      }
      default:
        throw ApplicationFailure.nonRetryable(`unexpected status ${state.status}`);
    }
    publish();
  }

  // Let running handlers and notifications finish before the promotion closes.
  await condition(() => notifications.size === 0 && allHandlersFinished());
  publish();
  if (patched('deploy-provider')) await announceToEnvironment(state, policy);
  if (patched('archive-audit')) {
    await auditActivities.archiveAudit({
      promotionId: state.promotionId,
      policyVersion: policy.version,
      timeline: state.timeline,
      executionId: workflowInfo().firstExecutionRunId,
    });
  }
  return state;
}
