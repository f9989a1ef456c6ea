// A promotion's state and rules (docs/lifecycle.md): which message is accepted when and by
// whom, what it changes, which deadlines run and what happens when they pass. No Temporal
// calls: the workflow (src/workflows/promotion.ts) gives it two effects, `notify` and
// `publish`, and runs the activities; tests drive it directly. Deterministic.
import { blockingChecks, evaluateAutoApproval, hasAnyRole, validApprovals } from '../policy/evaluate';
import type { ResolvedPolicy } from '../policy/resolved';
import type { CheckName } from '../shared/checks';
import { refusedUpdate } from '../shared/messages';
import { type MessageKind, payloadProblem } from '../shared/message-table';
import type {
  GateState,
  MessagePayloads,
  MessageRefusal,
  MessageResult,
  PromotionInput,
  PromotionState,
  PromotionStatus,
  StageState,
} from '../shared/promotion';
import { TERMINAL_STATUSES } from '../shared/promotion';
import { Lifecycle } from './lifecycle';
import { MESSAGE_EFFECTS } from './promotion-effects';
import { MESSAGE_RULES } from './promotion-rules';

/** Refused signals kept in the state; more are counted in `refusedTotal`, not kept. */
export const MAX_REFUSED_KEPT = 200;

/** Who sent an accepted operator Signal, as Temporal recorded it, or why that could not be read. */
export type SignalCallerAnswer = { temporalIdentity: string } | { problem: string };

/** A notification the promotion sends to the policy's receivers for `event`. */
export interface PromotionNotice {
  event: string;
  gate?: string;
  roles?: string[];
  deadline?: string;
  detail?: string;
}

/** What the machine asks of the workflow that runs it. */
export interface PromotionEffects {
  /** Sends a notification (never fails the promotion). */
  notify(notice: PromotionNotice): void;
  /** Shows the state in Temporal: search attributes and current details. */
  publish(): void;
}

/** The next deadline of an open review: how long until it, and which it is (`SLA technical`, `deadline legal`). */
export interface NextDeadline {
  ms: number;
  summary: string;
}

/** Identity that decisions made by the policy itself are recorded under. */
export const policyActor = (policy: ResolvedPolicy) => `policy@${policy.version}`;

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

/** The state of a promotion that has just been submitted. */
export function submittedState(input: PromotionInput): PromotionState {
  const { policy } = input;
  return {
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
}

/**
 * One promotion's state and rules. The workflow registers a handler per message kind that asks
 * {@link PromotionMachine.refusalOf} (in the Update's validator) and calls
 * {@link PromotionMachine.receive}; its loop calls the step methods by status.
 */
export class PromotionMachine extends Lifecycle<PromotionState, MessageResult> {
  constructor(
    state: PromotionState,
    readonly policy: ResolvedPolicy,
    readonly effects: PromotionEffects,
    processed: Record<string, MessageResult> | undefined,
    /** Whether request ids are per actor (promotions since `request-id-per-actor`) or one space for everyone. */
    private readonly requestIdsPerActor: boolean,
  ) {
    super(state, processed);
  }

  /** The first event of the trail: who submitted, under which policy and tier. */
  recordSubmission(): void {
    const { policy, state } = this;
    this.record(state.submitter.id, 'submitted', {
      policy: `${policy.name}@${policy.version}`,
      policyDigest: policy.digest,
      declaredTier: policy.declaredTier,
      effectiveTier: policy.effectiveTier,
      tierReasons: policy.tierReasons,
      ...(state.recertification ? { recertification: state.recertification } : {}),
    });
  }

  /** The promotion has ended. */
  isTerminal(): boolean {
    return TERMINAL_STATUSES.has(this.state.status);
  }

  gates(): GateState[] {
    return this.state.stages.flatMap((s) => s.gates);
  }

  openGates(): GateState[] {
    return this.gates().filter((g) => g.status === 'open');
  }

  /** The gate named `name` (the rules have checked that it exists). */
  gate(name: string): GateState {
    return this.gates().find((g) => g.name === name)!;
  }

  /** Ends the promotion in `status`: outcome, timeline and notification. */
  end(status: PromotionStatus, by: string, reason: string): void {
    this.state.status = status;
    this.state.outcome = { status, at: this.now(), by, reason };
    this.record(by, status.toLowerCase(), { reason });
    this.effects.notify({ event: status.toLowerCase(), detail: reason });
  }

  // ---- messages ------------------------------------------------------------------------------

  /** Where a message's first result is kept: its actor and request id. */
  private processedKey(payload: unknown): string {
    const p = (payload && typeof payload === 'object' ? payload : {}) as { requestId?: unknown; actor?: { id?: unknown } };
    const requestId = typeof p.requestId === 'string' ? p.requestId : '';
    return this.requestIdsPerActor ? `${typeof p.actor?.id === 'string' ? p.actor.id : ''}\u0000${requestId}` : requestId;
  }

  /** The first result of this message's request id from this actor, when it was processed before. */
  firstResultOf(payload: unknown): MessageResult | undefined {
    return payload && typeof payload === 'object' ? this.processed[this.processedKey(payload)] : undefined;
  }

  /** Why the promotion refuses the message now (shape, state, roles, separation of duties), or `undefined`. */
  refusalOf<K extends MessageKind>(kind: K, payload: MessagePayloads[K]): MessageRefusal | undefined {
    const problem = payloadProblem(kind, payload);
    return problem ? { kind: 'invalid', reason: problem } : (MESSAGE_RULES[kind] as (p: MessagePayloads[K], s: PromotionState, policy: ResolvedPolicy) => MessageRefusal | undefined)(payload, this.state, this.policy);
  }

  /**
   * Why the promotion refuses a message arriving as a Temporal Signal: its shape, an actor holding
   * no role the policy grants operator Signals (`operatorSignals`), then the rules of the Update.
   */
  signalRefusalOf<K extends MessageKind>(kind: K, payload: MessagePayloads[K]): MessageRefusal | undefined {
    const problem = payloadProblem(kind, payload);
    if (problem) return { kind: 'invalid', reason: problem };
    const roles = this.policy.operatorSignals ?? [];
    if (!hasAnyRole(payload.actor, roles)) {
      return {
        kind: 'forbidden',
        reason:
          roles.length === 0
            ? 'the policy accepts no message as a Temporal Signal (operatorSignals names no role); use the API'
            : `${payload.actor.id} holds no role the policy grants operator Signals (needs one of: ${roles.join(', ')}); use the API`,
      };
    }
    return this.refusalOf(kind, payload);
  }

  /**
   * Screens an operator's Signal before its caller is looked up: `true` when it is a repeat
   * (nothing to do) or refused (recorded, bounded); `false` when it may be applied.
   */
  screenSignal<K extends MessageKind>(kind: K, payload: MessagePayloads[K]): boolean {
    if (this.firstResultOf(payload)) return true;
    const refused = this.signalRefusalOf(kind, payload);
    if (refused) this.recordRefusedSignal(kind, payload, refused.reason);
    return refused !== undefined;
  }

  /**
   * Takes a message: a repeat answers with its first result; a refused Update throws the refusal;
   * a refused Signal is recorded (bounded) and answers `undefined`; an accepted one is applied.
   * A Signal screened by {@link screenSignal} comes with its `caller`: the events it causes are
   * recorded `via: signal` with the caller's Temporal identity, and one whose caller could not be
   * read is refused.
   */
  receive<K extends MessageKind>(kind: K, payload: MessagePayloads[K], via: 'update' | 'signal', caller?: SignalCallerAnswer): MessageResult | undefined {
    const first = this.firstResultOf(payload);
    if (first) return first;
    const refused =
      caller && 'problem' in caller
        ? { kind: 'forbidden' as const, reason: `the Signal's caller could not be read from the promotion's history: ${caller.problem}` }
        : caller
          ? this.signalRefusalOf(kind, payload)
          : this.refusalOf(kind, payload);
    if (refused) {
      if (via === 'update') throw refusedUpdate(refused);
      this.recordRefusedSignal(kind, payload, refused.reason);
      return undefined;
    }
    let summary: string;
    this.attribution = caller && 'temporalIdentity' in caller ? { via: 'signal', temporalIdentity: caller.temporalIdentity } : undefined;
    try {
      summary = (MESSAGE_EFFECTS[kind] as (m: PromotionMachine, p: MessagePayloads[K]) => string)(this, payload);
    } finally {
      this.attribution = undefined;
    }
    const result: MessageResult = { requestId: payload.requestId, message: kind, status: this.state.status, summary };
    this.processed[this.processedKey(payload)] = result;
    this.changed();
    this.effects.publish();
    return result;
  }

  /** A flood of bad signals must not grow the state: the latest are kept, the timeline has the first, all are counted. */
  private recordRefusedSignal(kind: MessageKind, payload: unknown, reason: string): void {
    const { state } = this;
    const p = (payload ?? {}) as { actor?: { id?: unknown }; requestId?: unknown };
    state.refusedTotal = (state.refusedTotal ?? state.refused.length) + 1;
    if (state.refused.length >= MAX_REFUSED_KEPT) state.refused.shift();
    state.refused.push({
      at: this.now(),
      message: kind,
      via: 'signal',
      ...(typeof p.actor?.id === 'string' ? { actorId: p.actor.id } : {}),
      ...(typeof p.requestId === 'string' ? { requestId: p.requestId } : {}),
      reason,
    });
    if (state.refusedTotal <= MAX_REFUSED_KEPT) {
      this.record(typeof p.actor?.id === 'string' ? p.actor.id : 'unknown', 'refused', { message: kind, via: 'signal', reason });
    }
  }

  // ---- checks --------------------------------------------------------------------------------

  /** Integrity passed in the last checks run (or the policy does not check it). */
  integrityPassed(): boolean {
    if (this.policy.checks.integrity.enforcement === 'off') return true;
    return this.state.checks.some((c) => c.name === 'integrity' && c.status === 'pass');
  }

  /** The checks blocking the promotion (failed, required, not waived on this evidence). */
  blocking(): CheckName[] {
    return blockingChecks(this.state.checks, this.state.waivers, this.state.evidenceDigest);
  }

  /** After a revision changed the evidence: void the signatures on the old evidence, reset gates. */
  voidStaleApprovals(): void {
    let voided = 0;
    for (const stage of this.state.stages) {
      for (const gate of stage.gates) {
        for (const s of gate.signatures) {
          if (!s.void && s.evidenceDigest !== this.state.evidenceDigest) {
            s.void = true;
            voided += 1;
          }
        }
        if (gate.status !== 'forced') gate.status = validApprovals(gate) >= gate.quorum ? 'approved' : 'waiting';
      }
      stage.status = stage.gates.every((g) => g.status === 'approved' || g.status === 'forced') ? 'passed' : 'waiting';
    }
    if (voided > 0) this.record('modelgate', 'approvals_voided', { count: voided, reason: 'the evidence changed' });
  }

  /** From VALIDATING with checks done: CHECKS_FAILED, auto-approved, or into review. */
  afterChecks(): void {
    const { state, policy } = this;
    const blocking = this.blocking();
    if (blocking.length > 0) {
      state.status = 'CHECKS_FAILED';
      state.remediationDeadline = new Date(Date.now() + policy.remediationWindowMs).toISOString();
      this.record('modelgate', 'checks_failed', { blocking });
      this.effects.notify({ event: 'checks_failed', deadline: state.remediationDeadline, detail: `blocking checks: ${blocking.join(', ')}` });
      return;
    }
    const auto = evaluateAutoApproval(policy.autoApprove, state.checks, state.manifest.metrics);
    if (auto.approved && state.waivers.length === 0) {
      state.status = 'APPROVED';
      state.outcome = { status: 'APPROVED', at: this.now(), by: policyActor(policy), reason: 'auto-approved: every condition of the policy holds' };
      this.record(policyActor(policy), 'auto_approved', { evidenceDigest: state.evidenceDigest });
      return;
    }
    if (policy.autoApprove) this.record(policyActor(policy), 'auto_approval_not_applicable', { reasons: auto.reasons });
    state.status = 'IN_REVIEW';
    state.currentStage = undefined;
  }

  /** CHECKS_FAILED with every blocking check waived: on as if the checks had passed. */
  clearWaivedChecks(): boolean {
    if (this.blocking().length > 0) return false;
    this.record('modelgate', 'checks_cleared', { by: 'override' });
    this.state.status = 'VALIDATING';
    this.afterChecks();
    return true;
  }

  /** Milliseconds left in the remediation window; at 0 the promotion has ended EXPIRED with `expiredReason`. */
  remediationLeft(expiredReason: string): number {
    const left = Date.parse(this.state.remediationDeadline!) - Date.now();
    if (left <= 0) this.end('EXPIRED', policyActor(this.policy), expiredReason);
    return Math.max(left, 0);
  }

  // ---- review --------------------------------------------------------------------------------

  /** Shortens a gate's SLA and deadline to the policy's expedited ones (never lengthens them). */
  shortenDeadlines(gate: GateState): void {
    const t = Date.now();
    const { expedite } = this.policy;
    if (expedite.slaMs !== undefined && !gate.escalated) {
      const expedited = new Date(t + expedite.slaMs).toISOString();
      if (!gate.slaAt || expedited < gate.slaAt) gate.slaAt = expedited;
    }
    if (expedite.timeoutMs !== undefined) {
      const expedited = new Date(t + expedite.timeoutMs).toISOString();
      if (!gate.deadlineAt || expedited < gate.deadlineAt) gate.deadlineAt = expedited;
    }
  }

  private openStage(index: number): void {
    const { state } = this;
    const stage = state.stages[index]!;
    const definition = this.policy.stages[index]!;
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
      if (state.expedited) this.shortenDeadlines(gate);
      this.record('modelgate', 'gate_opened', { gate: gate.name, roles: gate.roles, quorum: gate.quorum, deadline: gate.deadlineAt });
      this.effects.notify({ event: 'gate_opened', gate: gate.name, roles: gate.roles, deadline: gate.deadlineAt });
    }
  }

  /**
   * One step of IN_REVIEW: approves when every gate passed, opens the first stage with a gate
   * to decide, ends the promotion on a passed deadline, escalates on a passed SLA.
   *
   * @returns the next deadline to wake up at (undefined: none, wait for a message), or `'done'`
   *   when the promotion left IN_REVIEW.
   */
  reviewStep(): NextDeadline | undefined | 'done' {
    const { state, policy } = this;
    const index = state.stages.findIndex((s) => s.gates.some((g) => g.status !== 'approved' && g.status !== 'forced'));
    if (index === -1) {
      state.stages.forEach((s) => (s.status = 'passed'));
      state.status = 'APPROVED';
      state.outcome = { status: 'APPROVED', at: this.now(), by: 'reviewers', reason: 'every gate of every stage passed' };
      this.record('modelgate', 'approved', { evidenceDigest: state.evidenceDigest });
      return 'done';
    }
    state.stages.slice(0, index).forEach((s) => (s.status = 'passed'));
    if (state.currentStage !== index || state.stages[index]!.status !== 'active') {
      this.openStage(index);
      this.effects.publish();
    }
    const t = Date.now();
    let next: NextDeadline | undefined;
    for (const gate of this.openGates()) {
      if (gate.deadlineAt && Date.parse(gate.deadlineAt) <= t) {
        gate.status = 'timed_out';
        gate.decidedAt = this.now();
        this.record(policyActor(policy), 'gate_timed_out', { gate: gate.name, onTimeout: gate.onTimeout });
        this.end(gate.onTimeout === 'reject' ? 'REJECTED' : 'EXPIRED', policyActor(policy), `gate ${gate.name} passed its deadline ${gate.deadlineAt} without a decision`);
        return 'done';
      }
      if (!gate.escalated && gate.slaAt && Date.parse(gate.slaAt) <= t) {
        gate.escalated = true;
        this.record(policyActor(policy), 'gate_escalated', { gate: gate.name, escalateTo: gate.escalateTo });
        this.effects.notify({ event: 'sla_reminder', gate: gate.name, roles: gate.roles, deadline: gate.deadlineAt });
        if (gate.escalateTo.length > 0) this.effects.notify({ event: 'escalated', gate: gate.name, roles: gate.escalateTo, deadline: gate.deadlineAt });
        this.effects.publish();
      }
      const candidates: Array<[string | undefined, string]> = [
        [gate.escalated ? undefined : gate.slaAt, `SLA ${gate.name}`],
        [gate.deadlineAt, `deadline ${gate.name}`],
      ];
      for (const [at, summary] of candidates) {
        if (at && (next === undefined || Date.parse(at) - t < next.ms)) next = { ms: Date.parse(at) - t, summary };
      }
    }
    return next;
  }

  /** APPROVED → DEPLOYING: the approval and its validity (the registry is written by the workflow). */
  approve(): void {
    this.state.approval = { at: this.now(), validUntil: new Date(Date.now() + this.policy.approvalValidForMs).toISOString() };
  }
}
