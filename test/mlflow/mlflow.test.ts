// MLflow Model Registry as the registry of record, against a real MLflow tracking server (started
// by scripts/lib.sh with a SQLite backend and the artifact proxy) and a scikit-learn model logged
// with the MLflow client: a promotion of models:/… pins the digest and the run's metrics and
// lineage and, approved, moves the alias and tags the version; rejected, tags it and moves the alias
// back; a rollback moves the alias; MLflow's webhooks are verified (signature, timestamp, delivery
// id), a tagged version starts its promotion, `modelgate mlflow connect` registers them; an alias
// moved by hand is moved back by the alias guard (webhook and reconciliation), audited and
// notified; an unreachable MLflow gives `error` results after retries, with the promotion's state kept.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { type AddressInfo, createServer } from 'node:net';
import path from 'node:path';
import request from 'supertest';
import type { Client } from '@temporalio/client';
import { runMlflowConnect } from '../../src/cli/mlflow-commands';
import { type LoadedPolicy, loadPolicyFile } from '../../src/policy/load';
import { startPromotion } from '../../src/promotions/start';
import { MLFLOW_DELIVERY_ID_HEADER, MLFLOW_SIGNATURE_HEADER, MLFLOW_TIMESTAMP_HEADER, signMlflowDelivery } from '../../src/registry/mlflow-webhooks';
import { environmentUpdates, environmentWorkflowId } from '../../src/shared/environment';
import { mlflowAliasGuardId, mlflowAliasGuardSignals } from '../../src/shared/mlflow-alias-guard';
import { createMlflowClient } from '../../src/sources/mlflow';
import { startMlflowAliasGuard } from '../../src/worker';
import { buildTestApp } from '../api/support';
import { recordHistory } from '../support/histories';
import { waitForState, sendUpdate } from '../support/promotions';
import { testSources } from '../support/sources';
import { type Harness, logModel, manifestOf, MLFLOW_TEST_POLICY as POLICY_FILE, mlflowUri, startWorker, stopWorker } from './support';

const WEBHOOK_SECRET = 'mlflow-webhook-secret-of-the-tests-0123456789';

const reviewer = { id: 'rita', roles: ['ml-reviewer'] };
const riskManager = { id: 'rick', roles: ['risk-manager'] };

/** Polls `read` until `done` holds (or fails after `timeoutMs`). */
async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
}
const submitter = { id: 'sam', roles: ['data-scientist'] };

describe('MLflow Model Registry as the registry of record', () => {
  const model = `credit-${randomUUID().slice(0, 8)}`;
  let versions: Awaited<ReturnType<typeof logModel>>;
  let h: Harness;
  let policy: LoadedPolicy;
  let server: Server;
  let apiUrl: string;
  let receiver: Server;
  const notifications: Array<{ event: string; model: { name: string; version: string }; status: string; detail: string }> = [];
  const mlflow = () => createMlflowClient({ trackingUri: mlflowUri() }, testSources());

  beforeAll(async () => {
    versions = await logModel(model, 3);
    // The notification receiver, subscribed to unauthorized_alias_move by the policy (a copy of the fixture).
    receiver = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        notifications.push(JSON.parse(body) as (typeof notifications)[number]);
        res.end('{}');
      });
    });
    receiver.listen(0, '127.0.0.1');
    await new Promise((r) => receiver.once('listening', r));
    const policyDir = await mkdtemp(path.join(tmpdir(), 'mlflow-policy-'));
    const policyFile = path.join(policyDir, path.basename(POLICY_FILE));
    const notifyUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/notify`;
    await writeFile(
      policyFile,
      (await readFile(POLICY_FILE, 'utf8')).replace('notifications: []', `notifications:\n  - { url: "${notifyUrl}", events: [unauthorized_alias_move] }\noverrides:\n  rollback: [risk-manager]`),
    );
    h = await startWorker({ trackingUri: mlflowUri() }, policyDir);
    policy = await loadPolicyFile(policyFile);
    const app = buildTestApp({
      client: h.client,
      pool: h.pool,
      policy,
      taskQueue: h.config.temporal.taskQueue,
      mlflowIntake: { secret: WEBHOOK_SECRET, promoteTag: 'modelgate.target', riskTier: 'low', format: 'other', roles: ['ml-engineer'] },
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }, 900_000);

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await new Promise((r) => receiver?.close(r));
    await stopWorker(h);
  }, 60_000);

  it('promotes models:/name/1 through approval: digest pinned, run metrics and lineage taken, alias and tags written back', async () => {
    expect(versions.map((v) => v.version)).toEqual(['1', '2', '3']);
    const started = await startPromotion(h.client, { manifest: manifestOf(model, '1'), submitter, policy, taskQueue: h.config.temporal.taskQueue });
    const handle = h.client.workflow.getHandle(started.promotionId);
    const inReview = await waitForState(handle, (s) => s.status === 'IN_REVIEW' || s.status === 'CHECKS_FAILED', 180_000);
    expect(inReview.checks.filter((c) => c.status !== 'pass').map((c) => `${c.name}: ${c.summary}`)).toEqual([]);
    expect(inReview.status).toBe('IN_REVIEW');
    const pinned = inReview.timeline.find((e) => e.action === 'source_pinned');
    expect(inReview.manifest.artifact.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(pinned?.detail).toMatchObject({ uri: `models:/${model}/1`, sha256: inReview.manifest.artifact.sha256, runId: versions[0]!.runId, metrics: 'from the MLflow run' });
    expect((pinned?.detail as { datasets: Array<{ name: string }> }).datasets.map((d) => d.name)).toEqual(['credit-train']);
    expect(inReview.manifest.metrics.accuracy).toBeGreaterThan(0.8);
    expect(inReview.manifest.metrics.auc).toBe(0.91);
    expect(inReview.manifest.lineage).toMatchObject({ codeCommit: versions[0]!.commit, runId: versions[0]!.runId });
    // The integrity check verified the pinned digest over a second download.
    expect(inReview.checks.find((c) => c.name === 'integrity')?.metrics.sha256).toBe(inReview.manifest.artifact.sha256);

    await sendUpdate(handle, 'decide', { actor: reviewer, gate: 'technical', decision: 'approve' });
    const done = await waitForState(handle, (s) => s.status === 'DEPLOYED' || s.status === 'DEPLOY_FAILED', 60_000);
    expect(done.status).toBe('DEPLOYED');
    expect(done.timeline.find((e) => e.action === 'mlflow_updated')?.detail).toEqual({ decision: 'approved', alias: 'champion' });

    expect(await mlflow().versionOfAlias(model, 'champion')).toBe('1');
    const tagged = await mlflow().getModelVersion(model, '1');
    expect(tagged.tags).toMatchObject({
      'modelgate.status': 'approved',
      'modelgate.promotion_id': started.promotionId,
      'modelgate.environment': 'production',
      'modelgate.evidence_digest': done.evidenceDigest,
      'modelgate.policy': `${policy.policy.name}@${policy.policy.version}`,
    });
    expect(Date.parse(tagged.tags['modelgate.approved_at']!)).not.toBeNaN();
    // The pin before the checks and the write-back at approval, replayed by test/replay.test.ts.
    await handle.result();
    await recordHistory('promotion-mlflow-pinned-written-back', handle);
  }, 300_000);

  describe('the webhook receiver', () => {
    const body = JSON.stringify({ entity: 'model_version_tag', action: 'set', timestamp: new Date().toISOString(), data: { name: 'nobody', version: '1', key: 'other', value: 'x' } });
    const post = (headers: Record<string, string>, payload = body) =>
      fetch(`${apiUrl}/v1/mlflow/webhooks`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: payload });
    const signed = (deliveryId: string, timestamp: string, payload = body, secret = WEBHOOK_SECRET) => ({
      [MLFLOW_DELIVERY_ID_HEADER]: deliveryId,
      [MLFLOW_TIMESTAMP_HEADER]: timestamp,
      [MLFLOW_SIGNATURE_HEADER]: signMlflowDelivery(secret, deliveryId, timestamp, payload),
    });
    const now = () => String(Math.floor(Date.now() / 1000));

    it('refuses a wrong signature, a signature over another body, an old timestamp and no signature, naming the problem', async () => {
      const wrongKey = await post(signed(randomUUID(), now(), body, 'another-secret-entirely-0123456789'));
      expect(wrongKey.status).toBe(401);
      expect(((await wrongKey.json()) as { error: { message: string } }).error.message).toMatch(/wrong X-MLflow-Signature/);
      const otherBody = await post(signed(randomUUID(), now(), body.replace('"x"', '"y"')));
      expect(otherBody.status).toBe(401);
      const old = await post(signed(randomUUID(), String(Math.floor(Date.now() / 1000) - 600)));
      expect(old.status).toBe(401);
      expect(((await old.json()) as { error: { message: string } }).error.message).toMatch(/outside the window/);
      const unsigned = await post({ [MLFLOW_DELIVERY_ID_HEADER]: randomUUID(), [MLFLOW_TIMESTAMP_HEADER]: now() });
      expect(unsigned.status).toBe(401);
    });

    it('refuses an alias report with 503 when no alias guard runs for the task queue (the reconciliation is then the only check)', async () => {
      const unguarded = buildTestApp({
        client: h.client,
        pool: h.pool,
        policy,
        taskQueue: `unguarded-${randomUUID().slice(0, 8)}`,
        mlflowIntake: { secret: WEBHOOK_SECRET, promoteTag: 'modelgate.target', riskTier: 'low', format: 'other', roles: ['ml-engineer'] },
      });
      const alias = JSON.stringify({ entity: 'model_version_alias', action: 'created', timestamp: new Date().toISOString(), data: { name: model, alias: 'champion', version: '2' } });
      const headers = signed(randomUUID(), now(), alias);
      const res = await request(unguarded).post('/v1/mlflow/webhooks').set(headers).set('content-type', 'application/json').send(alias);
      expect(res.status).toBe(503);
      expect((res.body as { error: { message: string } }).error.message).toMatch(/the MLflow alias guard is not running/);
      // Not handled, so not remembered: MLflow's retry of the same delivery is handled again, not refused as a replay.
      const retried = await request(unguarded).post('/v1/mlflow/webhooks').set(headers).set('content-type', 'application/json').send(alias);
      expect(retried.status).toBe(503);
    });

    it('accepts a delivery once and refuses its replay', async () => {
      const headers = signed(randomUUID(), now());
      const first = await post(headers);
      expect(first.status).toBe(200);
      expect(await first.json()).toEqual({ accepted: true, action: 'ignored' });
      const replay = await post(headers);
      expect(replay.status).toBe(409);
    });

    it('starts the promotion of a version tagged modelgate.target=production, delivered by MLflow itself', async () => {
      // Registered by MLflow 3.x (its webhook API), which signs each delivery with this secret.
      await mlflow().createWebhook({
        name: `modelgate-${model}`,
        url: `${apiUrl}/v1/mlflow/webhooks`,
        events: [{ entity: 'model_version_tag', action: 'set' }],
        secret: WEBHOOK_SECRET,
      });
      // MLflow looks its webhooks up through a cache (MLFLOW_WEBHOOK_CACHE_TTL=1 in the tests).
      await new Promise((r) => setTimeout(r, 1_500));
      await mlflow().setModelVersionTag(model, '2', 'modelgate.target', 'production');
      const handle = h.client.workflow.getHandle(`promote:${model}:2:production`);
      const state = await waitForStartedState(handle, 60_000);
      expect(state.submitter.id).toBe('mlflow-webhook');
      expect(state.manifest.artifact.uri).toBe(`models:/${model}/2`);
      expect(state.manifest.model.owner).toBe('olivia');
      const reviewed = await waitForState(handle, (s) => s.status === 'IN_REVIEW' || s.status === 'CHECKS_FAILED', 180_000);
      expect(reviewed.status).toBe('IN_REVIEW');
      expect(reviewed.manifest.artifact.sha256).toMatch(/^[0-9a-f]{64}$/);
    }, 300_000);
  });

  it('rejected: tags the version and moves the alias, set on it by hand, back to the version approved and serving', async () => {
    // No alias webhook yet and no reconciliation due: only the rejection's write-back moves it.
    await mlflow().setAlias(model, 'champion', '2');
    const handle = h.client.workflow.getHandle(`promote:${model}:2:production`);
    await waitForState(handle, (s) => s.status === 'IN_REVIEW', 180_000);
    await sendUpdate(handle, 'decide', { actor: reviewer, gate: 'technical', decision: 'reject', comment: 'calibration drifts' });
    const done = await waitForState(handle, (s) => s.status === 'REJECTED' && s.timeline.some((e) => e.action.startsWith('mlflow_update')), 60_000);
    expect(done.timeline.find((e) => e.action.startsWith('mlflow_update'))?.detail).toEqual({ decision: 'rejected', alias: 'champion', aliasRestored: '1' });
    expect(await mlflow().versionOfAlias(model, 'champion')).toBe('1');
    expect((await mlflow().getModelVersion(model, '2')).tags).toMatchObject({ 'modelgate.status': 'rejected', 'modelgate.promotion_id': handle.workflowId });
    await handle.result();
    await recordHistory('promotion-mlflow-rejected-written-back', handle);
  }, 300_000);

  it('rolled back: the alias follows the version rolled back to, both versions tagged', async () => {
    const started = await startPromotion(h.client, { manifest: manifestOf(model, '3'), submitter, policy, taskQueue: h.config.temporal.taskQueue });
    const handle = h.client.workflow.getHandle(started.promotionId);
    await waitForState(handle, (s) => s.status === 'IN_REVIEW', 180_000);
    await sendUpdate(handle, 'decide', { actor: reviewer, gate: 'technical', decision: 'approve' });
    expect((await waitForState(handle, (s) => s.status === 'DEPLOYED' || s.status === 'DEPLOY_FAILED', 60_000)).status).toBe('DEPLOYED');
    expect(await mlflow().versionOfAlias(model, 'champion')).toBe('3');
    const lifecycle = h.client.workflow.getHandle(environmentWorkflowId(model, 'production'));
    const result = await eventually(
      () => lifecycle.executeUpdate(environmentUpdates.rollback, { args: [{ actor: riskManager, justification: 'error rate doubled after 3', requestId: 'rb-mlflow' }] }).catch((err: unknown) => err),
      (r) => (r as { status?: string }).status === 'rolled_back',
      30_000,
    );
    expect(result).toMatchObject({ status: 'rolled_back', fromVersion: '3', toVersion: '1' });
    expect(await mlflow().versionOfAlias(model, 'champion')).toBe('1');
    const { rollbackId } = result as { rollbackId: string };
    expect((await mlflow().getModelVersion(model, '3')).tags).toMatchObject({ 'modelgate.status': 'rolled_back', 'modelgate.rollback_id': rollbackId });
    expect((await mlflow().getModelVersion(model, '1')).tags).toMatchObject({ 'modelgate.status': 'approved', 'modelgate.rollback_id': rollbackId });
    await recordHistory('environment-lifecycle-mlflow-rollback', lifecycle);
  }, 300_000);

  describe('the alias guard', () => {
    const auditRows = (found: string) =>
      h.pool
        .query<{ promotion_id: string; detail: Record<string, unknown> }>("SELECT promotion_id, detail FROM audit_events WHERE action = 'unauthorized_alias_move' AND detail->>'model' = $1 AND detail->>'found' = $2", [model, found])
        .then((r) => r.rows);
    let webhookId: string | undefined;

    it('modelgate mlflow connect creates the webhook on the tracking server, never printing the secret', async () => {
      process.env.MODELGATE_TEST_WEBHOOK_SECRET = WEBHOOK_SECRET;
      const printed: string[] = [];
      const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
        printed.push(String(chunk));
        return true;
      });
      let code: number;
      try {
        code = await runMlflowConnect({ trackingUri: mlflowUri(), url: `${apiUrl}/v1/mlflow/webhooks`, secretEnv: 'MODELGATE_TEST_WEBHOOK_SECRET', name: `modelgate-guard-${model}` });
      } finally {
        write.mockRestore();
      }
      expect(code).toBe(0);
      expect(printed.join('')).not.toContain(WEBHOOK_SECRET);
      webhookId = /webhook (\S+) created/.exec(printed.join(''))?.[1];
      const read = (await (await fetch(`${mlflowUri()}/api/2.0/mlflow/webhooks/${webhookId}`)).json()) as { webhook: { url: string; status: string; events: Array<{ entity: string; action: string }> } };
      expect(read.webhook.url).toBe(`${apiUrl}/v1/mlflow/webhooks`);
      expect(read.webhook.status).toBe('ACTIVE');
      expect(read.webhook.events.map((e) => `${e.entity}.${e.action}`.toLowerCase()).sort()).toEqual(['model_version.created', 'model_version_alias.created', 'model_version_tag.set']);
      // A plain-http target is accepted only because the test server allows it (MLFLOW_WEBHOOK_ALLOWED_SCHEMES, scripts/lib.sh).
      expect(await runMlflowConnect({ trackingUri: mlflowUri(), url: 'ftp://example.com/x', secretEnv: 'MODELGATE_TEST_WEBHOOK_SECRET', name: 'bad' })).toBe(2);
      expect(await runMlflowConnect({ trackingUri: mlflowUri(), url: `${apiUrl}/v1/mlflow/webhooks`, secretEnv: 'MODELGATE_TEST_NO_SUCH_SECRET', name: 'bad' })).toBe(2);
    });

    it('moves an alias set by hand back on its webhook, audited and notified', async () => {
      await new Promise((r) => setTimeout(r, 1_500)); // MLflow's webhook cache (MLFLOW_WEBHOOK_CACHE_TTL=1)
      await mlflow().setAlias(model, 'champion', '2'); // the rejected version
      expect(await eventually(() => mlflow().versionOfAlias(model, 'champion'), (v) => v === '1')).toBe('1');
      const rows = await eventually(() => auditRows('2'), (r) => r.length > 0);
      expect(rows[0]!.detail).toMatchObject({ model, environment: 'production', alias: 'champion', found: '2', restoreTo: '1' });
      const notice = await eventually(async () => notifications.find((n) => n.event === 'unauthorized_alias_move' && n.model.version === '2'), (n) => n !== undefined);
      expect(notice).toMatchObject({ model: { name: model, version: '2' }, status: 'restored' });
      expect(notice!.detail).toMatch(/moved back to 1/);
    }, 120_000);

    it('moves an alias set by hand back at the reconciliation, with no webhook', async () => {
      await fetch(`${mlflowUri()}/api/2.0/mlflow/webhooks/${webhookId}`, { method: 'DELETE' });
      await new Promise((r) => setTimeout(r, 1_500));
      // The guard restarted with a short interval (the worker starts it idempotently; this one replaces it).
      await h.client.workflow.getHandle(mlflowAliasGuardId(h.config.temporal.taskQueue)).terminate('restarted by the test with a short interval');
      await mlflow().setAlias(model, 'champion', '3'); // rolled back from: its approval predates the rollback
      await startMlflowAliasGuard(h.client, h.config.temporal.taskQueue, 1_000);
      expect(await eventually(() => mlflow().versionOfAlias(model, 'champion'), (v) => v === '1')).toBe('1');
      const rows = await eventually(() => auditRows('3'), (r) => r.length > 0);
      expect(rows[0]!.detail).toMatchObject({ found: '3', restoreTo: '1' });
      expect(await eventually(async () => notifications.some((n) => n.model.version === '3'), Boolean)).toBe(true);
      // A round that found, audited, restored and notified, replayed by test/replay.test.ts.
      await recordHistory('mlflow-alias-guard-reverted', h.client.workflow.getHandle(mlflowAliasGuardId(h.config.temporal.taskQueue)));
    }, 120_000);

    it('reconciles every model at its interval even while reports of another model never stop', async () => {
      // The guard restarted with a 3 s interval; reports of another model arrive far more often than that.
      const guard = h.client.workflow.getHandle(mlflowAliasGuardId(h.config.temporal.taskQueue));
      await guard.terminate('restarted by the test with a longer interval');
      await startMlflowAliasGuard(h.client, h.config.temporal.taskQueue, 3_000);
      let reporting = true;
      const reports = (async () => {
        while (reporting) {
          await guard.signal(mlflowAliasGuardSignals.aliasSet, { model: `${model}-other`, alias: 'champion', version: '1' }).catch(() => undefined);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      try {
        await new Promise((r) => setTimeout(r, 2_000));
        await mlflow().setAlias(model, 'champion', '2'); // by hand, with no webhook: only a full reconciliation sees it
        expect(await eventually(() => mlflow().versionOfAlias(model, 'champion'), (v) => v === '1', 30_000)).toBe('1');
      } finally {
        reporting = false;
        await reports;
      }
    }, 120_000);
  });
});

/** Polls until the promotion exists and answers its state query. */
async function waitForStartedState(handle: ReturnType<Client['workflow']['getHandle']>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await waitForState(handle, () => true, 5_000);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

describe('MLflow unreachable during the checks', () => {
  let h: Harness | undefined;
  afterAll(() => stopWorker(h), 60_000);

  it('retries, then records error results and keeps the promotion', async () => {
    // A port nothing listens on: every call to MLflow fails to connect.
    const closed = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    h = await startWorker({ trackingUri: `http://127.0.0.1:${closed}` });
    const unreachable = `unreachable-${randomUUID().slice(0, 8)}`;
    const policy = await loadPolicyFile(POLICY_FILE);
    const started = await startPromotion(h.client, { manifest: manifestOf(unreachable, '1'), submitter, policy, taskQueue: h.config.temporal.taskQueue });
    const handle = h.client.workflow.getHandle(started.promotionId);
    const failed = await waitForState(handle, (s) => s.status === 'CHECKS_FAILED', 120_000);
    const pinFailed = failed.timeline.find((e) => e.action === 'source_pin_failed');
    expect(String((pinFailed?.detail as { error: string }).error)).toMatch(/cannot be reached/);
    expect(failed.checks.length).toBeGreaterThan(0);
    expect(failed.checks.every((c) => c.status === 'error')).toBe(true);
    // The pin activity ran three attempts before giving up.
    const history = await handle.fetchHistory();
    const pinAttempts = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt !== undefined);
    expect(Math.max(...pinAttempts.map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 0))).toBe(3);
    // Nothing was lost: the manifest still names the MLflow version, without a digest.
    expect(failed.manifest.artifact.uri).toBe(`models:/${unreachable}/1`);
    expect(failed.manifest.artifact.sha256).toBeUndefined();
  }, 240_000);
});
