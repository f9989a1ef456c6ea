// The activities of a model's lifecycle in an environment, each under the summary the Temporal UI
// shows, and the rollback built on them. Workflow code: deterministic.
import { patched, proxyActivities } from '@temporalio/workflow';
import type { AuditActivities } from '../activities/audit';
import type { DeploymentActivities } from '../activities/deployment';
import type { MlflowActivities } from '../activities/mlflow';
import type { PromotionActivities } from '../activities/promotion';
import { mlflowModelOf } from '../manifest/schema';
import type { DeploymentRequest } from '../shared/deployment';
import { type RollbackRequest, type RollbackResult, rollbackId } from '../shared/environment';
import type { TimelineEntry } from '../shared/promotion';
import { providerActivities } from './deployment-stage';
import type { EnvironmentMachine } from './environment-machine';
import { causeOf } from './lifecycle';

/** Registry, audit and starts under `summary`: retried until they succeed (idempotent); a missing policy is final. */
export const lifecycleActivities = (summary: string) =>
  proxyActivities<PromotionActivities & DeploymentActivities & AuditActivities>({
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute', nonRetryableErrorTypes: ['PolicyMissing'] },
    summary,
  });

/** Notifications: a few attempts; a failing receiver changes nothing. */
export const notificationActivities = (event: string) =>
  proxyActivities<PromotionActivities>({
    startToCloseTimeout: '30 seconds',
    retry: { maximumAttempts: 5, initialInterval: '2 seconds', backoffCoefficient: 2 },
    summary: `notify ${event}`,
  });

/** A rollback the registry does not confirm: nothing was provisioned, so nothing is compensated. */
class RollbackRefused extends Error {}

/** Rolls the environment back to an earlier approved version: provision, move the registry, or compensate. */
export async function rollBack(m: EnvironmentMachine, request: RollbackRequest): Promise<RollbackResult> {
  const { state } = m;
  const from = state.serving!;
  const to = m.rollbackTarget(request)!;
  const id = rollbackId(state.model, state.environment, ++state.rollbacks);
  state.rollingBack = id;
  m.effects.publish();
  const trail: TimelineEntry[] = [];
  const log = (actor: string, action: string, detail: Record<string, unknown>) => {
    trail.push({ at: m.now(), actor, action, detail });
    m.record(actor, action, { rollbackId: id, ...detail });
  };
  log(request.actor.id, 'rollback_requested', { from: from.version, to: to.version, justification: request.justification, breakGlass: true });
  const provider = state.policy?.deployment;
  const { model, environment } = state;
  const artifact = { uri: to.manifest.artifact.uri, sha256: to.manifest.artifact.sha256 ?? '', format: to.manifest.artifact.format };
  const deployment: DeploymentRequest = { deploymentId: id, action: 'rollback', promotionId: id, model, version: to.version, environment, artifact, previousVersion: from.version };
  let result: RollbackResult;
  try {
    // Since rollback-confirmed-by-registry the registry, not the lifecycle's list, says whether the target may serve.
    if (patched('rollback-confirmed-by-registry')) {
      const confirmation = await lifecycleActivities('confirm rollback target').confirmRollbackTarget({ model, version: to.version, environment, sha256: artifact.sha256 });
      if (!confirmation.confirmed) throw new RollbackRefused(`refused before provisioning: ${confirmation.reason}`);
    }
    if (provider) {
      const outcome = await providerActivities(provider, 'provision rollback').provisionDeployment({ provider, request: deployment });
      log('modelgate', 'rollback_provisioned', { provider: provider.provider, reference: outcome.reference, detail: outcome.detail });
    }
    await lifecycleActivities('activate version').activateVersion({ promotionId: id, model, version: to.version, environment });
    m.keepPrevious({ ...from, rolledBackAt: m.now() }, to.version);
    const { rolledBackAt: _rolledBackAt, ...restored } = to;
    state.serving = restored;
    result = { rollbackId: id, fromVersion: from.version, toVersion: to.version, status: 'rolled_back', detail: `${to.version} serves ${environment} again (was ${from.version})` };
    log(request.actor.id, 'rolled_back', { from: from.version, to: to.version });
    // Since mlflow-write-back-rollback the governed MLflow alias follows a models:/ version rolled back to.
    if (mlflowModelOf(to.manifest.artifact.uri) && patched('mlflow-write-back-rollback')) await writeRollbackToMlflow(id, environment, from.manifest.artifact.uri, to.manifest.artifact.uri, log);
    m.notify('rolled_back', `${request.actor.id} rolled ${environment} back from ${from.version} to ${to.version}: ${request.justification}`);
  } catch (err) {
    const reason = err instanceof RollbackRefused ? err.message : causeOf(err);
    log('modelgate', 'rollback_failed', { reason });
    if (provider && !(err instanceof RollbackRefused)) {
      try {
        const undone = await providerActivities(provider, 'compensate rollback').compensateDeployment({ provider, request: deployment });
        log('modelgate', 'deployment_compensated', { detail: undone.detail });
      } catch (compensationError) {
        log('modelgate', 'compensation_failed', { reason: causeOf(compensationError), attention: 'manual clean-up of the provider needed' });
      }
    }
    result = { rollbackId: id, fromVersion: from.version, toVersion: to.version, status: 'failed', detail: `rollback failed; ${from.version} still serves: ${reason}` };
    m.notify('rollback_failed', result.detail);
  }
  await lifecycleActivities('archive rollback audit').archiveAudit({ promotionId: id, policyVersion: state.policy?.version ?? '', timeline: trail });
  state.rollingBack = undefined;
  m.done(request.requestId, result);
  return result;
}

/** MLflow write-back of a rollback: retried until MLflow answers (idempotent); recorded either way, never failing the rollback. */
async function writeRollbackToMlflow(
  rollbackId: string,
  environment: string,
  fromArtifactUri: string,
  toArtifactUri: string,
  log: (actor: string, action: string, detail: Record<string, unknown>) => void,
): Promise<void> {
  try {
    const written = await proxyActivities<MlflowActivities>({
      startToCloseTimeout: '1 minute',
      retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: ['MlflowNotConfigured', 'MlflowNotApplicable'] },
      summary: 'write rollback to MLflow',
    }).writeRollbackToMlflow({ rollbackId, environment, fromArtifactUri, toArtifactUri });
    log('modelgate', 'mlflow_updated', { decision: 'rolled_back', ...(written.alias ? { alias: written.alias } : {}) });
  } catch (err) {
    log('modelgate', 'mlflow_update_failed', { decision: 'rolled_back', error: causeOf(err) });
  }
}
