// The guard of the governed MLflow aliases (MLFLOW_ALIASES): one long-running workflow per task
// queue (`mlflow-alias-guard:<task queue>`). MLflow's webhooks do not say who moved an alias, so
// an alias pointing at a version Modelgate did not approve for its environment is moved back
// whoever moved it: on each verified `model_version_alias.created` report (a Signal from the
// webhook receiver) for the reported models, and every reconcile interval for all of them. Each
// move found is written to the audit (`unauthorized_alias_move`) before it is restored, then the
// notification targets are told. Workflow code: deterministic.
import { condition, makeContinueAsNewFunc, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { AuditActivities } from '../activities/audit';
import type { MlflowActivities, UnauthorizedAliasMove } from '../activities/mlflow';
import type { PromotionActivities } from '../activities/promotion';
import { isMlflowAliasSet, MAX_QUEUED_ALIAS_REPORTS, type MlflowAliasGuardInput, type MlflowAliasSet, mlflowAliasGuardSignals } from '../shared/mlflow-alias-guard';
import { causeOf, NEVER_ENDING_CONTINUE_AS_NEW } from './lifecycle';

/** Rounds (reconciliations or reports handled) before the guard continues as new. */
const ROUNDS_PER_RUN = 200;
/** History events before the guard continues as new, whatever the rounds. */
const HISTORY_EVENT_LIMIT = 5_000;

/** Reads MLflow and the registry: bounded, retried (MLflow may be down for a while). */
const reading = proxyActivities<MlflowActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5, nonRetryableErrorTypes: ['MlflowNotConfigured'] },
  summary: 'find unauthorized alias moves',
});
/** Restores one alias and archives its record: retried until done (idempotent). */
const restoring = proxyActivities<MlflowActivities & AuditActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: ['MlflowNotConfigured', 'MlflowNotApplicable'] },
  summary: 'restore governed alias',
});
/** Notifications: a few attempts; a failing receiver changes nothing. */
const notifying = proxyActivities<PromotionActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 5, initialInterval: '2 seconds', backoffCoefficient: 2 },
  summary: 'notify unauthorized_alias_move',
});

/** Guards the governed MLflow aliases of the promotions on its task queue; never ends (continues as new). */
export async function MlflowAliasGuardWorkflow(input: MlflowAliasGuardInput): Promise<void> {
  const queued: MlflowAliasSet[] = [...(input.carried?.queued ?? [])];
  let incidents = input.carried?.incidents ?? 0;
  setHandler(mlflowAliasGuardSignals.aliasSet, (report) => {
    // Hostile until checked: a malformed report or one past the bound is dropped (the next reconciliation covers it).
    if (!isMlflowAliasSet(report) || queued.length >= MAX_QUEUED_ALIAS_REPORTS) return;
    if (!queued.some((q) => q.model === report.model && q.alias === report.alias)) queued.push({ model: report.model, alias: report.alias, version: report.version });
  });
  // The whole run id: UUIDv7 ids of runs started close together share their first characters.
  const chain = workflowInfo().firstExecutionRunId;

  for (let round = 0; round < ROUNDS_PER_RUN && workflowInfo().historyLength < HISTORY_EVENT_LIMIT; round++) {
    const reported = (await condition(() => queued.length > 0, input.reconcileIntervalMs)) ? queued.splice(0) : undefined;
    let moves: UnauthorizedAliasMove[];
    try {
      moves = await reading.findUnauthorizedAliases(reported ? { reported } : {});
    } catch {
      continue; // MLflow or the registry unreachable: the next round tries again.
    }
    for (const move of moves) await guard(move, `mlflow-alias-guard:${move.model}:${move.environment}:${chain}-${++incidents}`);
  }
  await makeContinueAsNewFunc<typeof MlflowAliasGuardWorkflow>(NEVER_ENDING_CONTINUE_AS_NEW)({ ...input, carried: { queued, incidents } });
}

/** Records one unauthorized move in the audit (its own chain, `auditId`), restores the alias, notifies. */
async function guard(move: UnauthorizedAliasMove, auditId: string): Promise<void> {
  const { model, environment, alias, found } = move;
  const at = new Date(Date.now()).toISOString();
  const restoreTo = move.restoreTo ?? 'deleted';
  await restoring.archiveAudit({
    promotionId: auditId,
    policyVersion: '',
    timeline: [{ at, actor: 'modelgate', action: 'unauthorized_alias_move', detail: { model, environment, alias, found, restoreTo } }],
  });
  let outcome: string;
  try {
    outcome = (await restoring.restoreGovernedAlias({ model, environment, alias, found })).restored;
  } catch (err) {
    outcome = `failed: ${causeOf(err)}`;
  }
  if (move.urls.length === 0) return;
  const detail = `${alias} of ${model} pointed at ${found}, not approved for ${environment}: ${outcome === 'deleted' ? 'deleted' : outcome === 'unchanged' ? 'already moved by Modelgate' : outcome.startsWith('failed') ? `not restored (${outcome})` : `moved back to ${outcome}`}`;
  await notifying
    .sendNotification({ event: 'unauthorized_alias_move', promotionId: auditId, model, version: found, target: environment, status: outcome.startsWith('failed') ? 'not_restored' : 'restored', detail, urls: move.urls })
    .catch(() => undefined);
}
