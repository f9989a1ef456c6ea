// The lifecycle of one model in one environment, after its versions are approved: approval
// expiry with a notice before, re-certification (at expiry, on drift, on a policy change) and
// manual rollback to an earlier approved version. One long-lived workflow per model and
// environment (`environment:<model>:<environment>`), continuing as new; durable timers, no cron.
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { AuditActivities } from '../activities/audit';
import type { DeploymentActivities } from '../activities/deployment';
import type { PromotionActivities } from '../activities/promotion';
import type { DeploymentRequest } from '../shared/deployment';
import {
  type EnvironmentAnnouncement,
  type EnvironmentInput,
  type EnvironmentState,
  EnvironmentRefusal,
  environmentQuery,
  environmentSignals,
  environmentUpdates,
  type RecertifyRequest,
  type RollbackRequest,
  type RollbackResult,
  rollbackId,
  type ServingVersion,
} from '../shared/environment';
import type { TimelineEntry } from '../shared/promotion';
import { providerActivities } from './deployment-stage';

/** Registry, audit and starts: retried until they succeed (idempotent); a missing policy is final. */
const lifecycleActivities = proxyActivities<PromotionActivities & DeploymentActivities & AuditActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: ['PolicyMissing'] },
});

/** Notifications: a few attempts; a failing receiver changes nothing. */
const notificationActivities = proxyActivities<PromotionActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 5, initialInterval: '2 seconds', backoffCoefficient: 2 },
});

/** Events kept in the state (older ones are in the workflow's history and the audit archive). */
export const MAX_ENVIRONMENT_EVENTS = 200;
/** Earlier versions kept as rollback targets. */
export const MAX_PREVIOUS_VERSIONS = 10;
/** Continue as new after this many history events. */
const HISTORY_EVENT_LIMIT = 2_000;

const causeOf = (err: unknown) => (err instanceof ActivityFailure ? (err.cause?.message ?? err.message) : String(err));
const refuse = (type: string, message: string): never => {
  throw ApplicationFailure.create({ type, message, nonRetryable: true });
};

/** Problems with an actor-carrying payload's shape, or undefined. */
function actorProblem(payload: { actor?: { id?: unknown; roles?: unknown } } | undefined): string | undefined {
  const actor = payload?.actor;
  if (!actor || typeof actor.id !== 'string' || actor.id.length === 0) return 'actor.id: required';
  if (!Array.isArray(actor.roles) || actor.roles.some((r) => typeof r !== 'string')) return 'actor.roles: must be a list of roles';
  return undefined;
}

/**
 * The lifecycle of a model in an environment. Started (or signalled) by every promotion that
 * deploys to it; answers the `rollback` and `recertify` updates of the API.
 */
export async function ModelEnvironmentWorkflow(input: EnvironmentInput): Promise<EnvironmentState> {
  const state: EnvironmentState = input.carried?.state ?? {
    model: input.model,
    environment: input.environment,
    previous: [],
    recertifications: 0,
    rollbacks: 0,
    timeline: [],
  };
  // No prototype: a request id such as `constructor` or `__proto__` is a key like any other.
  const processed: Record<string, unknown> = Object.assign(Object.create(null) as Record<string, unknown>, input.carried?.processed);
  let changes = 0;
  const now = () => new Date(Date.now()).toISOString();
  const record = (actor: string, action: string, detail?: Record<string, unknown>) => {
    state.timeline.push({ at: now(), actor, action, ...(detail ? { detail } : {}) });
    if (state.timeline.length > MAX_ENVIRONMENT_EVENTS) state.timeline.shift();
  };
  const publish = () => {
    const s = state.serving;
    const lines = [
      s
        ? `**${state.model}@${s.version}** serves ${state.environment}; approval ${s.certified ? `valid until ${s.validUntil}` : 'EXPIRED or revoked'}`
        : `Nothing serves ${state.environment} yet`,
    ];
    if (state.recertification) lines.push(`Re-certification running: ${state.recertification.promotionId} (${state.recertification.trigger})`);
    if (state.rollingBack) lines.push(`Rollback in progress: ${state.rollingBack}`);
    if (state.previous.length) lines.push(`Earlier versions: ${state.previous.map((v) => v.version).join(', ')}`);
    setCurrentDetails(lines.join('\n\n'));
  };
  /** Work started from handlers; continue-as-new waits for it. */
  const inFlight = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    const tracked = work.catch(() => undefined).finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  };
  const notify = (event: string, detail: string) => {
    const urls = (state.policy?.notifications ?? []).filter((n) => n.events.includes('*') || n.events.includes(event)).map((n) => n.url);
    const s = state.serving;
    if (urls.length === 0 || !s) return;
    track(
      notificationActivities.sendNotification({
        event,
        promotionId: s.promotionId,
        model: state.model,
        version: s.version,
        target: state.environment,
        status: s.certified ? 'certified' : 'uncertified',
        roles: s.approvers,
        detail: `${detail} (owner ${s.manifest.model.owner}${s.approvers.length ? `; approved by ${s.approvers.join(', ')}` : ''})`,
        urls,
      }).catch(() => record('modelgate', 'notification_failed', { event })),
    );
  };

  // ---- what promotions announce -----------------------------------------------------------
  const announced = (a: EnvironmentAnnouncement) => {
    if (a.kind === 'deployed') {
      state.policy = a.policy;
      if (a.purpose === 'recertification') {
        if (state.recertification?.promotionId === a.serving.promotionId) state.recertification = undefined;
        if (state.serving?.version === a.serving.version && state.serving.validUntil !== a.serving.validUntil) {
          state.serving = { ...state.serving, approvedAt: a.serving.approvedAt, validUntil: a.serving.validUntil, approvers: a.serving.approvers, certified: true };
          record('modelgate', 'recertified', { version: a.serving.version, promotionId: a.serving.promotionId, validUntil: a.serving.validUntil });
        }
      } else if (state.serving?.promotionId !== a.serving.promotionId) {
        if (state.serving && state.serving.version !== a.serving.version) {
          state.previous = [state.serving, ...state.previous.filter((v) => v.version !== state.serving!.version && v.version !== a.serving.version)].slice(
            0,
            MAX_PREVIOUS_VERSIONS,
          );
        }
        state.serving = a.serving;
        record('modelgate', 'version_deployed', { version: a.serving.version, promotionId: a.serving.promotionId, validUntil: a.serving.validUntil });
      }
    } else {
      if (state.recertification?.promotionId !== a.promotionId) return; // a repeat, or not ours
      state.recertification = undefined;
      record('modelgate', 'recertification_failed', { version: a.version, promotionId: a.promotionId, status: a.status, reason: a.reason });
      if (state.serving?.version === a.version) {
        state.serving.certified = false;
        notify('recertification_failed', `re-certification ${a.promotionId} ended ${a.status}: ${a.reason}; the version keeps serving without a valid approval`);
        track(lifecycleActivities.setApprovalStatus({ model: state.model, version: a.version, environment: state.environment, status: 'revoked' }));
      }
    }
    changes += 1;
    publish();
  };
  setHandler(environmentSignals.announce, announced);
  setHandler(environmentQuery, () => state);

  // ---- re-certification ----------------------------------------------------------------------
  const startRecertification = async (trigger: 'expiry' | 'drift' | 'policy_change', reason: string, requestedBy: string): Promise<string | undefined> => {
    const serving = state.serving!;
    const sequence = ++state.recertifications;
    try {
      const started = await lifecycleActivities.startRecertification({
        manifest: serving.manifest,
        policyName: state.policy!.name,
        sequence,
        reason,
        trigger,
        requestedBy,
        // Who may not decide: the version's submitter and whoever asked (not Modelgate's own expiry).
        excluded: [...new Set([serving.submitter, requestedBy].filter((id): id is string => !!id && id !== 'modelgate'))],
      });
      state.recertification = { promotionId: started.promotionId, version: serving.version, trigger, reason, startedAt: now() };
      record(requestedBy, 'recertification_started', { promotionId: started.promotionId, version: serving.version, trigger, reason });
      notify('recertification_started', `re-certification ${started.promotionId} started (${trigger}): ${reason}`);
      return started.promotionId;
    } catch (err) {
      record('modelgate', 'recertification_not_started', { trigger, reason: causeOf(err) });
      notify('recertification_not_started', causeOf(err));
      return undefined;
    } finally {
      changes += 1;
      publish();
    }
  };

  setHandler(
    environmentUpdates.recertify,
    async (request: RecertifyRequest) => {
      const first = request.requestId ? (processed[request.requestId] as { promotionId: string } | undefined) : undefined;
      if (first) return first;
      const promotionId = await startRecertification(request.trigger, request.reason, request.actor.id);
      if (!promotionId) refuse(EnvironmentRefusal.refusedByPolicy, 'the re-certification could not be started (see the lifecycle\'s events)');
      const result = { promotionId: promotionId! };
      if (request.requestId) processed[request.requestId] = result;
      return result;
    },
    {
      validator: (request: RecertifyRequest) => {
        if (request?.requestId && processed[request.requestId]) return;
        const problem = actorProblem(request) ?? (typeof request.reason !== 'string' || request.reason.trim().length === 0 ? 'reason: required' : undefined);
        if (problem) refuse(EnvironmentRefusal.invalid, problem);
        if (request.trigger !== 'drift' && request.trigger !== 'policy_change') refuse(EnvironmentRefusal.invalid, 'trigger: must be "drift" or "policy_change"');
        const allowed = state.policy?.requestRoles ?? [];
        if (!request.actor.roles.some((r) => allowed.includes(r))) {
          refuse(EnvironmentRefusal.forbidden, `asking for re-certification needs one of the roles: ${allowed.join(', ') || '(none configured)'}`);
        }
        if (!state.serving) refuse(EnvironmentRefusal.conflict, `no version of ${state.model} serves ${state.environment}`);
        if (state.recertification) refuse(EnvironmentRefusal.conflict, `a re-certification is already running: ${state.recertification.promotionId}`);
      },
    },
  );

  // ---- rollback ------------------------------------------------------------------------------
  const rollbackTarget = (request: RollbackRequest): ServingVersion | undefined => {
    const t = Date.now();
    return state.previous.find((v) => (request.toVersion ? v.version === request.toVersion : !v.rolledBackAt && Date.parse(v.validUntil) > t));
  };

  setHandler(
    environmentUpdates.rollback,
    async (request: RollbackRequest): Promise<RollbackResult> => {
      const first = request.requestId ? (processed[request.requestId] as RollbackResult | undefined) : undefined;
      if (first) return first;
      const from = state.serving!;
      const to = rollbackTarget(request)!;
      const id = rollbackId(state.model, state.environment, ++state.rollbacks);
      state.rollingBack = id;
      publish();
      const trail: TimelineEntry[] = [];
      const log = (actor: string, action: string, detail: Record<string, unknown>) => {
        trail.push({ at: now(), actor, action, detail });
        record(actor, action, { rollbackId: id, ...detail });
      };
      log(request.actor.id, 'rollback_requested', { from: from.version, to: to.version, justification: request.justification, breakGlass: true });
      const provider = state.policy?.deployment;
      const deployment: DeploymentRequest = {
        deploymentId: id,
        action: 'rollback',
        promotionId: id,
        model: state.model,
        version: to.version,
        environment: state.environment,
        artifact: { uri: to.manifest.artifact.uri, sha256: to.manifest.artifact.sha256, format: to.manifest.artifact.format },
        previousVersion: from.version,
      };
      let result: RollbackResult;
      try {
        if (provider) {
          const outcome = await providerActivities(provider).provisionDeployment({ provider, request: deployment });
          log('modelgate', 'rollback_provisioned', { provider: provider.provider, reference: outcome.reference, detail: outcome.detail });
        }
        await lifecycleActivities.activateVersion({ promotionId: id, model: state.model, version: to.version, environment: state.environment });
        state.previous = [{ ...from, rolledBackAt: now() }, ...state.previous.filter((v) => v.version !== to.version && v.version !== from.version)].slice(
          0,
          MAX_PREVIOUS_VERSIONS,
        );
        const { rolledBackAt: _rolledBackAt, ...restored } = to;
        state.serving = restored;
        result = { rollbackId: id, fromVersion: from.version, toVersion: to.version, status: 'rolled_back', detail: `${to.version} serves ${state.environment} again (was ${from.version})` };
        log(request.actor.id, 'rolled_back', { from: from.version, to: to.version });
        notify('rolled_back', `${request.actor.id} rolled ${state.environment} back from ${from.version} to ${to.version}: ${request.justification}`);
      } catch (err) {
        const reason = causeOf(err);
        log('modelgate', 'rollback_failed', { reason });
        if (provider) {
          try {
            const undone = await providerActivities(provider).compensateDeployment({ provider, request: deployment });
            log('modelgate', 'deployment_compensated', { detail: undone.detail });
          } catch (compensationError) {
            log('modelgate', 'compensation_failed', { reason: causeOf(compensationError), attention: 'manual clean-up of the provider needed' });
          }
        }
        result = { rollbackId: id, fromVersion: from.version, toVersion: to.version, status: 'failed', detail: `rollback failed; ${from.version} still serves: ${reason}` };
        notify('rollback_failed', result.detail);
      }
      await lifecycleActivities.archiveAudit({ promotionId: id, policyVersion: state.policy?.version ?? '', timeline: trail });
      state.rollingBack = undefined;
      if (request.requestId) processed[request.requestId] = result;
      changes += 1;
      publish();
      return result;
    },
    {
      validator: (request: RollbackRequest) => {
        if (request?.requestId && processed[request.requestId]) return;
        const problem =
          actorProblem(request) ??
          (typeof request.justification !== 'string' || request.justification.trim().length === 0 ? 'justification: a rollback needs a justification' : undefined);
        if (problem) refuse(EnvironmentRefusal.invalid, problem);
        const allowed = state.policy?.rollbackRoles ?? [];
        if (!request.actor.roles.some((r) => allowed.includes(r))) {
          refuse(EnvironmentRefusal.forbidden, `a rollback needs one of the roles: ${allowed.join(', ') || '(none configured)'}`);
        }
        if (!state.serving) refuse(EnvironmentRefusal.conflict, `no version of ${state.model} serves ${state.environment}`);
        if (state.rollingBack) refuse(EnvironmentRefusal.conflict, `a rollback is already in progress: ${state.rollingBack}`);
        const target = rollbackTarget(request);
        if (target && request.toVersion && !(Date.parse(target.validUntil) > Date.now())) {
          refuse(
            EnvironmentRefusal.conflict,
            `the approval of ${target.version} for ${state.environment} expired at ${target.validUntil}: a rollback needs a still-valid approval (promote it again instead)`,
          );
        }
        if (!target) {
          refuse(
            EnvironmentRefusal.conflict,
            request.toVersion
              ? `${request.toVersion} did not serve ${state.environment} before ${state.serving!.version} (earlier: ${state.previous.map((v) => v.version).join(', ') || 'none'})`
              : `no earlier version with a valid approval that was not rolled back from (earlier: ${state.previous.map((v) => `${v.version}${v.rolledBackAt ? ' (rolled back from)' : ''}`).join(', ') || 'none'}); name one with toVersion`,
          );
        }
      },
    },
  );

  // ---- approval expiry -----------------------------------------------------------------------
  publish();
  for (;;) {
    const s = state.serving;
    let wait: number | undefined;
    if (s && s.certified && !state.recertification && state.policy) {
      const t = Date.now();
      const expiry = Date.parse(s.validUntil);
      const noticeAt = expiry - state.policy.notifyBeforeMs;
      if (t >= expiry) {
        s.certified = false;
        record('modelgate', 'approval_expired', { version: s.version, validUntil: s.validUntil });
        await lifecycleActivities.setApprovalStatus({ model: state.model, version: s.version, environment: state.environment, status: 'expired' });
        await startRecertification('expiry', `the approval of ${s.version} expired at ${s.validUntil}`, 'modelgate');
        continue;
      }
      if (t >= noticeAt && state.expiryNoticeFor !== s.validUntil) {
        state.expiryNoticeFor = s.validUntil;
        record('modelgate', 'approval_expiring', { version: s.version, validUntil: s.validUntil });
        notify('approval_expiring', `the approval of ${s.version} in ${state.environment} expires at ${s.validUntil}; re-certification starts then`);
        publish();
      }
      wait = (state.expiryNoticeFor === s.validUntil ? expiry : noticeAt) - t;
    }
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > HISTORY_EVENT_LIMIT) {
      await condition(() => allHandlersFinished() && inFlight.size === 0);
      const kept = Object.entries(processed).slice(-500);
      await continueAsNew<typeof ModelEnvironmentWorkflow>({ ...input, carried: { state, processed: Object.fromEntries(kept) } });
    }
    const seen = changes;
    if (wait === undefined) await condition(() => changes !== seen);
    else await condition(() => changes !== seen, Math.max(wait, 1));
  }
}
