// The lifecycle of one model in one environment, after its versions are approved: approval
// expiry with a notice before, re-certification (at expiry, on drift, on a policy change) and
// manual rollback to an earlier approved version. One long-lived workflow per model and
// environment (`environment:<model>:<environment>`), continuing as new; durable timers, no cron.
// The rules and the state are the EnvironmentMachine's; this file registers the handlers and
// runs the activities. Workflow code: deterministic.
import { setCurrentDetails, setHandler } from '@temporalio/workflow';
import {
  type EnvironmentInput,
  type EnvironmentState,
  environmentQuery,
  environmentSignals,
  environmentUpdates,
  type RecertifyRequest,
  type RollbackRequest,
  type RollbackResult,
} from '../shared/environment';
import { refusedUpdate } from '../shared/messages';
import { lifecycleActivities, notificationActivities, rollBack } from './environment-activities';
import { EnvironmentMachine } from './environment-machine';
import { causeOf, continueAsNewWhenDue, NEVER_ENDING_CONTINUE_AS_NEW, PendingWork } from './lifecycle';

export { MAX_ENVIRONMENT_EVENTS, MAX_PREVIOUS_VERSIONS } from './environment-machine';

/** Continue as new after more than this many history events. */
const HISTORY_EVENT_LIMIT = 2_000;

/**
 * The lifecycle of a model in an environment. Started (or signalled) by every promotion that
 * deploys to it; answers the `rollback` and `recertify` updates of the API.
 */
export async function ModelEnvironmentWorkflow(input: EnvironmentInput): Promise<EnvironmentState> {
  const state: EnvironmentState = input.carried?.state ?? { model: input.model, environment: input.environment, previous: [], recertifications: 0, rollbacks: 0, timeline: [] };
  const pending = new PendingWork();
  const m: EnvironmentMachine = new EnvironmentMachine(state, input.carried?.processed, {
    notify: (event, detail) => {
      const urls = (state.policy?.notifications ?? []).filter((n) => n.events.includes('*') || n.events.includes(event)).map((n) => n.url);
      const s = state.serving!;
      if (urls.length === 0) return;
      const status = s.certified ? 'certified' : 'uncertified';
      const notice = { event, promotionId: s.promotionId, model: state.model, version: s.version, target: state.environment, status, roles: s.approvers, detail, urls };
      pending.track(notificationActivities(event).sendNotification(notice).catch(() => m.record('modelgate', 'notification_failed', { event })));
    },
    revokeApproval: (version) =>
      pending.track(lifecycleActivities('revoke approval').setApprovalStatus({ model: state.model, version, environment: state.environment, status: 'revoked' })),
    publish: () => setCurrentDetails(m.details()),
  });
  setHandler(environmentSignals.announce, (a) => m.announced(a));
  setHandler(environmentQuery, () => state);

  const startRecertification = async (trigger: 'expiry' | 'drift' | 'policy_change', reason: string, requestedBy: string): Promise<string | undefined> => {
    const serving = state.serving!;
    const sequence = ++state.recertifications;
    try {
      const started = await lifecycleActivities('start re-certification').startRecertification({
        manifest: serving.manifest,
        policyName: state.policy!.name,
        sequence,
        reason,
        trigger,
        requestedBy,
        // Who may not decide: the version's submitter and whoever asked (not Modelgate's own expiry).
        excluded: [...new Set([serving.submitter, requestedBy].filter((id): id is string => !!id && id !== 'modelgate'))],
      });
      state.recertification = { promotionId: started.promotionId, version: serving.version, trigger, reason, startedAt: m.now() };
      m.record(requestedBy, 'recertification_started', { promotionId: started.promotionId, version: serving.version, trigger, reason });
      m.notify('recertification_started', `re-certification ${started.promotionId} started (${trigger}): ${reason}`);
      return started.promotionId;
    } catch (err) {
      m.record('modelgate', 'recertification_not_started', { trigger, reason: causeOf(err) });
      m.notify('recertification_not_started', causeOf(err));
      return undefined;
    } finally {
      m.done(undefined, undefined);
    }
  };

  setHandler(
    environmentUpdates.recertify,
    async (request: RecertifyRequest) => {
      const first = m.firstResultOf<{ promotionId: string }>(request.requestId);
      if (first) return first;
      const promotionId = await startRecertification(request.trigger, request.reason, request.actor.id);
      if (!promotionId) throw refusedUpdate({ kind: 'policy', reason: "the re-certification could not be started (see the lifecycle's events)" });
      m.done(request.requestId, { promotionId });
      return { promotionId };
    },
    {
      validator: (request: RecertifyRequest) => {
        if (m.firstResultOf(request?.requestId)) return;
        const refused = m.recertifyRefusal(request);
        if (refused) throw refusedUpdate(refused);
      },
    },
  );

  setHandler(environmentUpdates.rollback, (request: RollbackRequest) => m.firstResultOf<RollbackResult>(request.requestId) ?? rollBack(m, request), {
    validator: (request: RollbackRequest) => {
      if (m.firstResultOf(request?.requestId)) return;
      const refused = m.rollbackRefusal(request);
      if (refused) throw refusedUpdate(refused);
    },
  });

  // ---- approval expiry -----------------------------------------------------------------------
  m.effects.publish();
  for (;;) {
    const step = m.expiryStep();
    if (step.kind === 'expired') {
      await lifecycleActivities('expire approval').setApprovalStatus({ model: state.model, version: step.serving.version, environment: state.environment, status: 'expired' });
      await startRecertification('expiry', `the approval of ${step.serving.version} expired at ${step.serving.validUntil}`, 'modelgate');
      continue;
    }
    await continueAsNewWhenDue<typeof ModelEnvironmentWorkflow>(HISTORY_EVENT_LIMIT + 1, pending, () => {
      const kept = Object.entries(m.processed).slice(-500);
      return [{ ...input, carried: { state, processed: Object.fromEntries(kept) } }];
    }, undefined, NEVER_ENDING_CONTINUE_AS_NEW);
    await m.waitForChange(step.kind === 'wait' ? step.ms : undefined, step.kind === 'wait' ? step.summary : 'lifecycle');
  }
}
