// An environment whose registry of record is the MLflow Model Registry (policy `registry: mlflow`),
// against a real MLflow tracking server, real PostgreSQL and real Temporal: an approved promotion
// makes the record answer the approved version (the alias, confirmed by PostgreSQL's approval and
// the pinned digest tag); an alias moved by hand to a version nobody approved makes the read fail
// closed, audited as `registry_disagreement`, and neither the next promotion's checks, a rollback
// nor a deployment act on it.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { createPromotionActivities, REGISTRY_DISAGREEMENT } from '../../src/activities/promotion';
import { readAuditArchive } from '../../src/audit/archive';
import { modelAuditId } from '../../src/audit/model-chain';
import { verifyChain } from '../../src/audit/chain';
import { type LoadedPolicy, loadPolicyFile } from '../../src/policy/load';
import { auditedRegistryOfRecord, policyDirRecords } from '../../src/promotions/registry-of-record';
import { startPromotion } from '../../src/promotions/start';
import { RegistryDisagreement, type RegistryOfRecord } from '../../src/registry';
import { createMlflowClient, MLFLOW_TAGS } from '../../src/sources/mlflow';
import { environmentQuery, environmentUpdates, environmentWorkflowId } from '../../src/shared/environment';
import { sendUpdate, waitForState } from '../support/promotions';
import { testSources } from '../support/sources';
import { type Harness, logModel, manifestOf, mlflowUri, startWorker, stopWorker } from './support';

const POLICY_DIR = path.join(__dirname, '..', 'fixtures', 'policies-mlflow-record');
const reviewer = { id: 'rita', roles: ['ml-reviewer'] };
const submitter = { id: 'sam', roles: ['data-scientist'] };

describe('MLflow as the registry of record of production', () => {
  const model = `record-${randomUUID().slice(0, 8)}`;
  const mlflow = () => createMlflowClient({ trackingUri: mlflowUri() }, testSources());
  let h: Harness;
  let policy: LoadedPolicy;
  let registryOf: RegistryOfRecord;

  beforeAll(async () => {
    await logModel(model, 3);
    h = await startWorker({ trackingUri: mlflowUri() }, POLICY_DIR);
    policy = await loadPolicyFile(path.join(POLICY_DIR, 'mlflow-record.yaml'));
    // The same factory as the worker's, over the same policies, MLflow and database.
    registryOf = auditedRegistryOfRecord({
      pool: h.pool,
      mlflow: { client: mlflow(), aliases: h.config.mlflow!.aliases },
      records: policyDirRecords(POLICY_DIR, h.config.mlflow),
    });
  }, 900_000);

  afterAll(() => stopWorker(h), 60_000);

  const disagreements = async () => (await readAuditArchive(h.pool, modelAuditId(model))).filter((r) => r.action === 'registry_disagreement');

  it('approval: the record answers the approved version, its MLflow version tagged with the pinned digest', async () => {
    const production = await registryOf('production');
    expect(await production.servingVersion(model, 'production')).toBeUndefined();

    const started = await startPromotion(h.client, { manifest: manifestOf(model, '1'), submitter, policy, taskQueue: h.config.temporal.taskQueue });
    const handle = h.client.workflow.getHandle(started.promotionId);
    const inReview = await waitForState(handle, (s) => s.status === 'IN_REVIEW' || s.status === 'CHECKS_FAILED', 180_000);
    expect(inReview.checks.filter((c) => c.status !== 'pass').map((c) => `${c.name}: ${c.summary}`)).toEqual([]);
    await sendUpdate(handle, 'decide', { actor: reviewer, gate: 'technical', decision: 'approve' });
    const done = await waitForState(handle, (s) => s.status === 'DEPLOYED' || s.status === 'DEPLOY_FAILED', 60_000);
    expect(done.status).toBe('DEPLOYED');

    expect((await mlflow().getModelVersion(model, '1')).tags[MLFLOW_TAGS.artifactSha256]).toBe(done.manifest.artifact.sha256);
    const serving = await production.servingVersion(model, 'production');
    expect(serving?.version).toBe('1');
    expect(serving?.metrics).toMatchObject({ accuracy: done.manifest.metrics.accuracy });
    expect(await production.digestOf(model, '1')).toBe(done.manifest.artifact.sha256);
    expect(await disagreements()).toEqual([]);
  }, 300_000);

  it('an alias moved by hand to an unapproved version: the read refuses, the disagreement is audited, no promotion uses it', async () => {
    // Version 2 is registered in PostgreSQL by its own promotion's claim below, never approved.
    await mlflow().setAlias(model, 'champion', '2');
    const production = await registryOf('production');
    const refused = await production.servingVersion(model, 'production').catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(RegistryDisagreement);
    expect((refused as RegistryDisagreement).detail).toEqual({
      kind: 'alias_on_unapproved_version',
      model,
      environment: 'production',
      version: '2',
      message: `MLflow's alias champion of ${model} points at version 2, but Modelgate holds no approval of it for production`,
    });
    const audited = await disagreements();
    expect(audited.map((r) => [r.actor, r.detail])).toEqual([['modelgate', (refused as RegistryDisagreement).detail]]);
    expect(verifyChain(await readAuditArchive(h.pool, modelAuditId(model)))).toMatchObject({ ok: true });

    // The next promotion's performance check compares with what serves production: it refuses to.
    const started = await startPromotion(h.client, { manifest: manifestOf(model, '2'), submitter, policy, taskQueue: h.config.temporal.taskQueue });
    const handle = h.client.workflow.getHandle(started.promotionId);
    const failed = await waitForState(handle, (s) => s.status === 'IN_REVIEW' || s.status === 'CHECKS_FAILED', 180_000);
    expect(failed.status).toBe('CHECKS_FAILED');
    const performance = failed.checks.find((c) => c.name === 'performance');
    expect(performance?.status).toBe('error');
    expect(performance?.summary).toContain('the registry of record of production disagrees with Modelgate');
    expect((await disagreements()).length).toBeGreaterThanOrEqual(2);

    // Put back on the approved version, the record answers again.
    await mlflow().setAlias(model, 'champion', '1');
    expect((await production.servingVersion(model, 'production'))?.version).toBe('1');
  }, 300_000);

  it('a digest tag that is not the pinned digest is a disagreement too', async () => {
    const pinned = (await (await registryOf('production')).findVersion(model, '1'))!.sha256;
    await mlflow().setModelVersionTag(model, '1', MLFLOW_TAGS.artifactSha256, 'f'.repeat(64));
    try {
      const refused = await (await registryOf('production')).servingVersion(model, 'production').catch((err: unknown) => err);
      expect((refused as RegistryDisagreement).detail).toMatchObject({ kind: 'digest_mismatch', version: '1' });
      expect((refused as Error).message).not.toContain('f'.repeat(64));
      expect((refused as Error).message).toContain(pinned.slice(0, 12));
    } finally {
      await mlflow().setModelVersionTag(model, '1', MLFLOW_TAGS.artifactSha256, pinned);
    }
  }, 120_000);

  it('a rollback while the alias points at an unapproved version is refused naming the disagreement; nothing moves', async () => {
    // Version 3 is approved and deployed: production serves 3, version 1 is the rollback target.
    const started = await startPromotion(h.client, { manifest: manifestOf(model, '3'), submitter, policy, taskQueue: h.config.temporal.taskQueue });
    const handle = h.client.workflow.getHandle(started.promotionId);
    await waitForState(handle, (s) => s.status === 'IN_REVIEW', 180_000);
    await sendUpdate(handle, 'decide', { actor: reviewer, gate: 'technical', decision: 'approve' });
    expect((await waitForState(handle, (s) => s.status === 'DEPLOYED' || s.status === 'DEPLOY_FAILED', 60_000)).status).toBe('DEPLOYED');
    const lifecycle = h.client.workflow.getHandle(environmentWorkflowId(model, 'production'));
    for (let i = 0; (await lifecycle.query(environmentQuery).catch(() => undefined))?.serving?.version !== '3'; i++) {
      if (i > 200) throw new Error('the lifecycle never served version 3');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await mlflow().versionOfAlias(model, 'champion')).toBe('3');

    await mlflow().setAlias(model, 'champion', '2');
    try {
      const before = (await disagreements()).length;
      const result = await lifecycle.executeUpdate(environmentUpdates.rollback, {
        args: [{ actor: { id: 'rick', roles: ['risk-manager'] }, justification: 'latency doubled', toVersion: '1' }],
      });
      expect(result.status).toBe('failed');
      expect(result.detail).toContain(`the registry of record of production disagrees with Modelgate: MLflow's alias champion of ${model} points at version 2`);
      expect((await lifecycle.query(environmentQuery)).serving?.version).toBe('3');
      expect((await (await registryOf('production')).findVersion(model, '3'))?.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect((await disagreements()).length).toBeGreaterThan(before);
    } finally {
      await mlflow().setAlias(model, 'champion', '3');
    }
  }, 300_000);

  it('no deployment moves the environment while the alias points at an unapproved version', async () => {
    const activities = createPromotionActivities({ pool: h.pool, publicUrl: 'http://localhost', temporalUiUrl: 'http://localhost', namespace: 'default', registryOfRecord: registryOf });
    await mlflow().setAlias(model, 'champion', '2');
    try {
      const refused = await activities.activateVersion({ promotionId: `deploy-${randomUUID()}`, model, version: '1', environment: 'production' }).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(ApplicationFailure);
      expect((refused as ApplicationFailure).type).toBe(REGISTRY_DISAGREEMENT);
      expect((refused as ApplicationFailure).nonRetryable).toBe(true);
      expect((refused as Error).message).toContain(`the registry of record of production disagrees with Modelgate: MLflow's alias champion of ${model} points at version 2`);
      const serving = await h.pool.query('SELECT version FROM environment_deployments WHERE model_name = $1 AND environment = $2 AND superseded_at IS NULL', [model, 'production']);
      expect(serving.rows).toEqual([{ version: '3' }]);
    } finally {
      await mlflow().setAlias(model, 'champion', '3');
    }
  }, 120_000);

  it('an alias moved by hand to an older approved version is a disagreement too: approved is not serving', async () => {
    // Production serves 3; version 1 was approved and deployed before it, its approval still valid.
    expect(await mlflow().versionOfAlias(model, 'champion')).toBe('3');
    await mlflow().setAlias(model, 'champion', '1');
    try {
      const refused = await (await registryOf('production')).servingVersion(model, 'production').catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(RegistryDisagreement);
      expect((refused as RegistryDisagreement).detail).toEqual({
        kind: 'alias_off_deployed_version',
        model,
        environment: 'production',
        version: '1',
        message: `MLflow's alias champion of ${model} points at version 1, which is neither the version Modelgate deployed to production (3) nor one approved since`,
      });
    } finally {
      await mlflow().setAlias(model, 'champion', '3');
    }
    expect((await (await registryOf('production')).servingVersion(model, 'production'))?.version).toBe('3');
  }, 120_000);
});
