// The state and rules of one model in one environment after approval (docs/lifecycle.md#after-
// deployment): what promotions announce, who may ask for a rollback or a re-certification and
// when, which version a rollback restores, when the approval's notice and expiry fall. No
// Temporal calls: the workflow (src/workflows/model-environment.ts) gives it its effects and runs
// the activities; tests drive it directly. Deterministic.
import type { EnvironmentAnnouncement, EnvironmentState, RecertifyRequest, RollbackRequest, ServingVersion } from '../shared/environment';
import { actorProblem } from '../shared/message-table';
import type { MessageRefusal } from '../shared/promotion';
import { Lifecycle } from './lifecycle';

/** Events kept in the state (older ones are in the workflow's history and the audit archive). */
export const MAX_ENVIRONMENT_EVENTS = 200;
/** Earlier versions kept as rollback targets. */
export const MAX_PREVIOUS_VERSIONS = 10;

/** What the machine asks of the workflow that runs it. */
export interface EnvironmentEffects {
  /** Sends a notification about the serving version (never fails anything). */
  notify(event: string, detail: string): void;
  /** Marks the version's approval revoked in the registry. */
  revokeApproval(version: string): void;
  /** Shows the state in the Temporal UI. */
  publish(): void;
}

/** What the approval's clock asks for now: nothing, a wait (`approval notice` or `approval expiry`), or re-certification. */
export type ExpiryStep = { kind: 'idle' } | { kind: 'wait'; ms: number; summary: string } | { kind: 'expired'; serving: ServingVersion };

const refuse = (kind: MessageRefusal['kind'], reason: string): MessageRefusal => ({ kind, reason });

const isText = (v: unknown) => typeof v === 'string' && v.trim().length > 0;

/** One model's lifecycle in one environment. */
export class EnvironmentMachine extends Lifecycle<EnvironmentState, unknown> {
  constructor(
    state: EnvironmentState,
    processed: Record<string, unknown> | undefined,
    readonly effects: EnvironmentEffects,
  ) {
    super(state, processed, MAX_ENVIRONMENT_EVENTS);
  }

  /** The first result of a request id, when it was processed before. */
  firstResultOf<R>(requestId: string | undefined): R | undefined {
    return requestId ? (this.processed[requestId] as R | undefined) : undefined;
  }

  /** Remembers a request's result and wakes the waits. */
  done(requestId: string | undefined, result: unknown): void {
    if (requestId) this.processed[requestId] = result;
    this.changed();
    this.effects.publish();
  }

  /** Sends a notification about the serving version, naming its owner and approvers. */
  notify(event: string, detail: string): void {
    const s = this.state.serving;
    if (!s) return;
    this.effects.notify(event, `${detail} (owner ${s.manifest.model.owner}${s.approvers.length ? `; approved by ${s.approvers.join(', ')}` : ''})`);
  }

  /** Takes what a promotion announces: a deployed or re-certified version, or a failed re-certification. */
  announced(a: EnvironmentAnnouncement): void {
    const { state } = this;
    if (a.kind === 'deployed') {
      state.policy = a.policy;
      if (a.purpose === 'recertification') {
        if (state.recertification?.promotionId === a.serving.promotionId) state.recertification = undefined;
        if (state.serving?.version === a.serving.version && state.serving.validUntil !== a.serving.validUntil) {
          state.serving = { ...state.serving, approvedAt: a.serving.approvedAt, validUntil: a.serving.validUntil, approvers: a.serving.approvers, certified: true };
          this.record('modelgate', 'recertified', { version: a.serving.version, promotionId: a.serving.promotionId, validUntil: a.serving.validUntil });
        }
      } else if (state.serving?.promotionId !== a.serving.promotionId) {
        if (state.serving && state.serving.version !== a.serving.version) this.keepPrevious(state.serving, a.serving.version);
        state.serving = a.serving;
        this.record('modelgate', 'version_deployed', { version: a.serving.version, promotionId: a.serving.promotionId, validUntil: a.serving.validUntil });
      }
    } else {
      if (state.recertification?.promotionId !== a.promotionId) return; // a repeat, or not ours
      state.recertification = undefined;
      this.record('modelgate', 'recertification_failed', { version: a.version, promotionId: a.promotionId, status: a.status, reason: a.reason });
      if (state.serving?.version === a.version) {
        state.serving.certified = false;
        this.notify('recertification_failed', `re-certification ${a.promotionId} ended ${a.status}: ${a.reason}; the version keeps serving without a valid approval`);
        this.effects.revokeApproval(a.version);
      }
    }
    this.changed();
    this.effects.publish();
  }

  /** Puts `version` first among the earlier versions (rollback targets), without `except`, bounded. */
  keepPrevious(version: ServingVersion, except: string): void {
    const { state } = this;
    state.previous = [version, ...state.previous.filter((v) => v.version !== version.version && v.version !== except)].slice(0, MAX_PREVIOUS_VERSIONS);
  }

  /** Why a re-certification request is refused now, or undefined. */
  recertifyRefusal(request: RecertifyRequest): MessageRefusal | undefined {
    const { state } = this;
    const problem = actorProblem(request) ?? (isText(request.reason) ? undefined : 'reason: required');
    if (problem) return refuse('invalid', problem);
    if (request.trigger !== 'drift' && request.trigger !== 'policy_change') return refuse('invalid', 'trigger: must be "drift" or "policy_change"');
    const allowed = state.policy?.requestRoles ?? [];
    if (!request.actor.roles.some((r) => allowed.includes(r))) {
      return refuse('forbidden', `asking for re-certification needs one of the roles: ${allowed.join(', ') || '(none configured)'}`);
    }
    if (!state.serving) return refuse('conflict', `no version of ${state.model} serves ${state.environment}`);
    if (state.recertification) return refuse('conflict', `a re-certification is already running: ${state.recertification.promotionId}`);
    return undefined;
  }

  /** The version a rollback restores: the one named, or the newest with a valid approval not rolled back from. */
  rollbackTarget(request: RollbackRequest): ServingVersion | undefined {
    const t = Date.now();
    return this.state.previous.find((v) => (request.toVersion ? v.version === request.toVersion : !v.rolledBackAt && Date.parse(v.validUntil) > t));
  }

  /** Why a rollback request is refused now, or undefined. */
  rollbackRefusal(request: RollbackRequest): MessageRefusal | undefined {
    const { state } = this;
    const problem = actorProblem(request) ?? (isText(request.justification) ? undefined : 'justification: a rollback needs a justification');
    if (problem) return refuse('invalid', problem);
    const allowed = state.policy?.rollbackRoles ?? [];
    if (!request.actor.roles.some((r) => allowed.includes(r))) return refuse('forbidden', `a rollback needs one of the roles: ${allowed.join(', ') || '(none configured)'}`);
    if (!state.serving) return refuse('conflict', `no version of ${state.model} serves ${state.environment}`);
    if (state.rollingBack) return refuse('conflict', `a rollback is already in progress: ${state.rollingBack}`);
    const target = this.rollbackTarget(request);
    if (target && request.toVersion && !(Date.parse(target.validUntil) > Date.now())) {
      return refuse(
        'conflict',
        `the approval of ${target.version} for ${state.environment} expired at ${target.validUntil}: a rollback needs a still-valid approval (promote it again instead)`,
      );
    }
    if (target) return undefined;
    const earlier = state.previous.map((v) => `${v.version}${!request.toVersion && v.rolledBackAt ? ' (rolled back from)' : ''}`).join(', ') || 'none';
    return refuse(
      'conflict',
      request.toVersion
        ? `${request.toVersion} did not serve ${state.environment} before ${state.serving.version} (earlier: ${earlier})`
        : `no earlier version with a valid approval that was not rolled back from (earlier: ${earlier}); name one with toVersion`,
    );
  }

  /** The approval's clock: sends the notice once it is due, says when to wake, or that the approval expired. */
  expiryStep(): ExpiryStep {
    const { state } = this;
    const s = state.serving;
    if (!s || !s.certified || state.recertification || !state.policy) return { kind: 'idle' };
    const t = Date.now();
    const expiry = Date.parse(s.validUntil);
    const noticeAt = expiry - state.policy.notifyBeforeMs;
    if (t >= expiry) {
      s.certified = false;
      this.record('modelgate', 'approval_expired', { version: s.version, validUntil: s.validUntil });
      return { kind: 'expired', serving: s };
    }
    if (t >= noticeAt && state.expiryNoticeFor !== s.validUntil) {
      state.expiryNoticeFor = s.validUntil;
      this.record('modelgate', 'approval_expiring', { version: s.version, validUntil: s.validUntil });
      this.notify('approval_expiring', `the approval of ${s.version} in ${state.environment} expires at ${s.validUntil}; re-certification starts then`);
      this.effects.publish();
    }
    const noticeSent = state.expiryNoticeFor === s.validUntil;
    return { kind: 'wait', ms: Math.max((noticeSent ? expiry : noticeAt) - t, 1), summary: noticeSent ? 'approval expiry' : 'approval notice' };
  }

  /** What the Temporal UI shows as the lifecycle's current details. */
  details(): string {
    const { state } = this;
    const s = state.serving;
    const lines = [
      s
        ? `**${state.model}@${s.version}** serves ${state.environment}; approval ${s.certified ? `valid until ${s.validUntil}` : 'EXPIRED or revoked'}`
        : `Nothing serves ${state.environment} yet`,
    ];
    if (state.recertification) lines.push(`Re-certification running: ${state.recertification.promotionId} (${state.recertification.trigger})`);
    if (state.rollingBack) lines.push(`Rollback in progress: ${state.rollingBack}`);
    if (state.previous.length) lines.push(`Earlier versions: ${state.previous.map((v) => v.version).join(', ')}`);
    return lines.join('\n\n');
  }
}
