// The guard of the governed MLflow aliases (MLFLOW_ALIASES): one long-running workflow per task
// queue (`mlflow-alias-guard:<task queue>`). MLflow's webhooks do not say who moved an alias, so
// an alias pointing at a version Modelgate did not approve for its environment is moved back
// whoever moved it: on each verified `model_version_alias.created` report (a Signal from the
// webhook receiver) for the reported models, and every reconcile interval for all of them, however
// many reports arrive (a full round also follows a dropped report or a round with moves left over).
// Each move found is written to the audit (`unauthorized_alias_move`) before it is restored, then
// the notification targets are told; a move that cannot be handled never stops the guard.
// Workflow code: deterministic.
import { condition, isCancellation, makeContinueAsNewFunc, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { AuditActivities } from '../activities/audit';
import type { MlflowActivities, UnauthorizedAliasMove } from '../activities/mlflow';
import type { PromotionActivities } from '../activities/promotion';
import { isMlflowAliasSet, MAX_MOVES_PER_ROUND, MAX_QUEUED_ALIAS_REPORTS, type MlflowAliasGuardInput, type MlflowAliasSet, mlflowAliasGuardSignals } from '../shared/mlflow-alias-guard';
import { causeOf, NEVER_ENDING_CONTINUE_AS_NEW } from './lifecycle';

/** Rounds (reconciliations or reports handled) before the guard continues as new. */
const ROUNDS_PER_RUN = 200;
/** History events before the guard continues as new, whatever the rounds. */
const HISTORY_EVENT_LIMIT = 5_000;
/** Shortest wait for a report (no busy rounds when the next full reconciliation is close). */
const MIN_WAIT_MS = 1_000;

/** Reads MLflow and the registry: bounded, retried (MLflow may be down for a while). */
const reading = proxyActivities<MlflowActivities>({
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5, nonRetryableErrorTypes: ['MlflowNotConfigured', 'MlflowRefused'] },
  summary: 'find unauthorized alias moves',
});
/** Restores one alias and archives its record: a few attempts (idempotent); MLflow refusing is final. */
const restoring = proxyActivities<MlflowActivities & AuditActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes: ['MlflowNotConfigured', 'MlflowNotApplicable', 'MlflowRefused'] },
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
  // A new chain reconciles at once; a continued run keeps its predecessor's schedule.
  let lastFullAt = input.carried?.lastFullAt ?? 0;
  let fullDue = input.carried?.fullDue ?? false;
  setHandler(mlflowAliasGuardSignals.aliasSet, (report) => {
    // Hostile until checked: a malformed report is dropped; one past the bound makes the next round full.
    if (!isMlflowAliasSet(report)) return;
    if (queued.some((q) => q.model === report.model && q.alias === report.alias)) return;
    if (queued.length >= MAX_QUEUED_ALIAS_REPORTS) fullDue = true;
    else queued.push({ model: report.model, alias: report.alias, version: report.version });
  });
  // The whole run id: UUIDv7 ids of runs started close together share their first characters.
  const chain = workflowInfo().firstExecutionRunId;
  const runIsLong = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= HISTORY_EVENT_LIMIT;
  const fullIsDue = () => fullDue || Date.now() - lastFullAt >= input.reconcileIntervalMs;

  for (let round = 0; round < ROUNDS_PER_RUN && !runIsLong(); round++) {
    // Reports are handled as they come, but never in place of the full reconciliation once it is due.
    if (!fullIsDue()) await condition(() => queued.length > 0 || fullDue, Math.max(MIN_WAIT_MS, lastFullAt + input.reconcileIntervalMs - Date.now()));
    const full = fullIsDue();
    const reported = queued.splice(0);
    if (!full && reported.length === 0) continue;
    if (full) {
      fullDue = false;
      lastFullAt = Date.now();
    }
    let moves: UnauthorizedAliasMove[];
    try {
      moves = await reading.findUnauthorizedAliases(full ? {} : { reported });
    } catch (err) {
      if (isCancellation(err)) throw err;
      continue; // MLflow or the registry unreachable: the next round tries again.
    }
    // Bounded rounds: the moves left over are found again by a full reconciliation right after.
    if (moves.length > MAX_MOVES_PER_ROUND) fullDue = true;
    for (const move of moves.slice(0, MAX_MOVES_PER_ROUND)) {
      if (runIsLong()) {
        fullDue = true;
        break;
      }
      try {
        await guard(move, `mlflow-alias-guard:${move.model}:${move.environment}:${chain}-${++incidents}`);
      } catch (err) {
        if (isCancellation(err)) throw err;
        // This move could not be audited or restored: the next full reconciliation finds it again.
      }
    }
  }
  await makeContinueAsNewFunc<typeof MlflowAliasGuardWorkflow>(NEVER_ENDING_CONTINUE_AS_NEW)({ ...input, carried: { queued, incidents, lastFullAt, fullDue } });
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
