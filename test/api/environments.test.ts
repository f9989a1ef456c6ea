import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { parsePolicy } from '../../src/policy/load';
import type { PromotionState } from '../../src/shared/promotion';
import { recordHistory } from '../support/histories';
import { DeployReceiver } from '../support/deploy-receiver';
import { writeTestPolicy } from '../support/deploy-policy';
import { people, waitForState } from '../support/promotions';
import { runCli } from '../support/cli';
import { waitUntil } from '../support/wait';
import { type ApiHarness, buildTestApp, promotionPath, startApiHarness } from './support';

jest.setTimeout(120_000);

const SECRET = 'deploy-secret-of-the-api-tests-0123456789';

describe('HTTP API after approval: rollback, drift, policy re-certification, deployer reports', () => {
  let h: ApiHarness;
  let receiver: DeployReceiver;

  beforeAll(async () => {
    process.env.MODELGATE_TEST_API_DEPLOY_SECRET = SECRET;
    receiver = await new DeployReceiver(SECRET).start();
    const policyFile = await writeTestPolicy((p) => {
      p.environments.production = { deployment: { provider: 'webhook', url: receiver.url, secretEnv: 'MODELGATE_TEST_API_DEPLOY_SECRET' } };
      p.environments.canary = {
        deployment: { provider: 'webhook', url: receiver.url, secretEnv: 'MODELGATE_TEST_API_DEPLOY_SECRET', completion: 'callback', callbackTimeout: '60s' },
      };
      p.overrides.rollback = ['risk-manager'];
      p.recertification = { notifyBefore: '1d', requestRoles: ['ml-manager'] };
    });
    // The API knows a newer version of the policy than the one versions are approved under
    // (submissions use `default`, the older one).
    const newer = parsePolicy((await readFile(policyFile, 'utf8')).replace(/version: test-1/, 'version: test-2'), policyFile);
    expect(newer.policy.version).toBe('test-2');
    h = await startApiHarness({ policyFile, extraPolicies: [newer] });
  });
  afterAll(async () => {
    await h?.close();
    await receiver?.close();
  });

  const as = async (actor: { id: string; roles: string[] }) => ({ Authorization: await h.bearer(actor) });
  const deploy = async (name: string, version: string, target = 'production') => {
    const manifest = await h.manifest({ model: { name, version, riskTier: 'low' }, target });
    const res = await request(h.app).post('/v1/promotions').set(await as(people.sam)).send(manifest);
    expect(res.status).toBe(201);
    return h.client.workflow.getHandle(res.body.promotionId as string);
  };
  const lifecyclePath = (name: string, sub = '') => `/v1/models/${name}/environments/production${sub ? `/${sub}` : ''}`;

  it('rollback: 400 without justification, 403 without the role (logged), 200 moves the environment back, with its audit trail', async () => {
    const name = `api-rb-${randomUUID().slice(0, 6)}`;
    expect(((await (await deploy(name, '1.0.0')).result()) as PromotionState).status).toBe('DEPLOYED');
    expect(((await (await deploy(name, '2.0.0')).result()) as PromotionState).status).toBe('DEPLOYED');
    await waitUntil(async () => (await request(h.app).get(lifecyclePath(name)).set(await as(people.rick))).body, (s) => s.serving?.version === '2.0.0');

    const missing = await request(h.app).post(lifecyclePath(name, 'rollback')).set(await as(people.rick)).send({});
    expect(missing.status).toBe(400);
    expect(missing.body.error.details.problems[0].path).toBe('justification');

    const forbidden = await request(h.app).post(lifecyclePath(name, 'rollback')).set(await as(people.rita)).send({ justification: 'latency' });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.message).toMatch(/a rollback needs one of the roles: risk-manager/);
    // the refusal is logged after the answer is sent
    const logged = await waitUntil(
      async () => (await h.pool.query(`SELECT actor, action, status_code FROM refused_attempts WHERE reason LIKE 'a rollback needs%' AND actor = 'rita'`)).rows,
      (rows) => rows.length > 0,
    );
    expect(logged).toEqual([expect.objectContaining({ actor: 'rita', status_code: 403 })]);

    const done = await request(h.app).post(lifecyclePath(name, 'rollback')).set(await as(people.rick)).send({ justification: 'p99 latency doubled' });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ status: 'rolled_back', fromVersion: '2.0.0', toVersion: '1.0.0' });
    const model = await request(h.app).get(`/v1/models/${name}`).set(await as(people.rick));
    expect(model.body.serving).toEqual({ production: '1.0.0' });
    const audit = await request(h.app).get(done.body.audit as string).set(await as(people.rick));
    expect(audit.status).toBe(200);
    expect(audit.body.source).toBe('archive');
    expect(audit.body.events.map((e: { action: string }) => e.action)).toEqual(['rollback_requested', 'rollback_provisioned', 'rolled_back']);

    const again = await request(h.app).post(lifecyclePath(name, 'rollback')).set(await as(people.rick)).send({ justification: 'once more' });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toMatch(/no earlier version with a valid approval that was not rolled back from \(earlier: 2.0.0 \(rolled back from\)\)/);
  });

  it('the CLI: `modelgate drift` and `modelgate rollback` with exit codes scripts rely on', async () => {
    const name = `api-cli-${randomUUID().slice(0, 6)}`;
    await (await deploy(name, '1.0.0')).result();
    await (await deploy(name, '1.1.0')).result();
    await waitUntil(async () => (await request(h.app).get(lifecyclePath(name)).set(await as(people.max))).body, (s) => s.serving?.version === '1.1.0');
    const server = await new Promise<Server>((resolve) => {
      const s = h.app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const env = async (actor: { id: string; roles: string[] }) => ({ MODELGATE_URL: url, MODELGATE_TOKEN: (await h.bearer(actor)).slice('Bearer '.length) });
      const refused = await runCli(['rollback', name, 'production', '--justification', 'slow'], await env(people.rita));
      expect(refused.code).toBe(3);
      expect(refused.stderr).toMatch(/needs one of the roles: risk-manager/);
      const rolled = await runCli(['rollback', name, 'production', '--justification', 'slow', '--json'], await env(people.rick));
      expect(rolled.code).toBe(0);
      expect(JSON.parse(rolled.stdout)).toMatchObject({ status: 'rolled_back', toVersion: '1.0.0' });
      const drift = await runCli(['drift', name, 'production', '--reason', 'PSI 0.5'], await env(people.max));
      expect(drift.code).toBe(0);
      expect(drift.stdout).toBe(`re-certification started: recertify:${name}:1.0.0:production:1\n`);
      const missing = await runCli(['drift', 'no-such-model', 'production', '--reason', 'x'], await env(people.max));
      expect(missing.code).toBe(4);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('404 for an environment nothing was deployed to', async () => {
    const res = await request(h.app).post('/v1/models/never-deployed/environments/production/rollback').set(await as(people.rick)).send({ justification: 'x' });
    expect(res.status).toBe(404);
    expect(res.body.error.message).toMatch(/has no lifecycle yet/);
  });

  it('drift: 403 without a re-certification role, 202 starts one at once, 409 while it runs', async () => {
    const name = `api-drift-${randomUUID().slice(0, 6)}`;
    await (await deploy(name, '1.0.0')).result();
    await waitUntil(async () => (await request(h.app).get(lifecyclePath(name)).set(await as(people.max))).status, (s) => s === 200);
    const forbidden = await request(h.app).post(lifecyclePath(name, 'drift')).set(await as(people.rita)).send({ reason: 'PSI 0.3' });
    expect(forbidden.status).toBe(403);
    const started = await request(h.app).post(lifecyclePath(name, 'drift')).set(await as(people.max)).send({ reason: 'PSI 0.3 on amount' });
    expect(started.status).toBe(202);
    expect(started.body.promotionId).toBe(`recertify:${name}:1.0.0:production:1`);
    const recert = await request(h.app).get(promotionPath(started.body.promotionId as string)).set(await as(people.max));
    expect(recert.status).toBe(200);
    const conflict = await request(h.app).post(lifecyclePath(name, 'drift')).set(await as(people.max)).send({ reason: 'still drifting' });
    expect(conflict.status).toBe(409);
  });

  it('policy change: every serving version approved under an older version of the policy is re-certified', async () => {
    const name = `api-pol-${randomUUID().slice(0, 6)}`;
    await (await deploy(name, '1.0.0')).result();
    await waitUntil(async () => (await request(h.app).get(lifecyclePath(name)).set(await as(people.max))).status, (s) => s === 200);
    const forbidden = await request(h.app).post('/v1/policies/workflow-test/recertify').set(await as(people.rita)).send({ reason: 'x' });
    expect(forbidden.status).toBe(403);
    const res = await request(h.app).post('/v1/policies/workflow-test/recertify').set(await as(people.max)).send({ reason: 'new fairness thresholds' });
    expect(res.status).toBe(202);
    expect(res.body.started).toEqual(expect.arrayContaining([{ model: name, environment: 'production', promotionId: `recertify:${name}:1.0.0:production:1` }]));
  });

  it('an asynchronous deployer reports through the API: 401 unsigned, wrongly signed, stale or body-only signed; 409 for another deployment; 200 signed, then DEPLOYED', async () => {
    receiver.setBehaviour({ accept: true });
    const handle = await deploy(`api-async-${randomUUID().slice(0, 6)}`, '1.0.0', 'canary');
    const waiting = await waitForState(handle, (s) => s.deployment?.status === 'awaiting_completion');
    const deploymentId = waiting.deployment!.deploymentId!;
    // unique per run: a version promoted again awaits another id
    expect(deploymentId).toMatch(new RegExp(`^${waiting.promotionId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}#deploy:[0-9a-f-]{36}$`));
    const report = JSON.stringify({ deploymentId, status: 'succeeded', reference: 'rollout-1' });
    const path = promotionPath(waiting.promotionId, 'deployment');
    const unsigned = await request(h.app).post(path).set('content-type', 'application/json').send(report);
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.error.message).toMatch(/X-Modelgate-Timestamp/);
    const forged = await request(h.app).post(path).set(new DeployReceiver('another-key').reportHeaders(report, deploymentId)).send(report);
    expect(forged.status).toBe(401);
    expect(forged.body.error.message).toMatch(/X-Modelgate-Signature/);
    const bodyOnly = await request(h.app)
      .post(path)
      .set({ 'content-type': 'application/json', 'X-Modelgate-Timestamp': String(Math.floor(Date.now() / 1000)), 'X-Modelgate-Signature': receiver.sign(report) })
      .send(report);
    expect(bodyOnly.status).toBe(401);
    const stale = await request(h.app).post(path).set(receiver.reportHeaders(report, deploymentId, Math.floor(Date.now() / 1000) - 301)).send(report);
    expect(stale.status).toBe(401);
    expect(stale.body.error.message).toMatch(/outside the replay window of 300s/);
    const earlierRun = JSON.stringify({ deploymentId: `${waiting.promotionId}#deploy`, status: 'succeeded' });
    const replayed = await request(h.app).post(path).set(receiver.reportHeaders(earlierRun, `${waiting.promotionId}#deploy`)).send(earlierRun);
    expect(replayed.status).toBe(401);
    const otherId = await request(h.app).post(path).set(receiver.reportHeaders(earlierRun, deploymentId)).send(earlierRun);
    expect(otherId.status).toBe(409);
    expect(otherId.body.error.message).toMatch(/awaits /);
    const signed = await request(h.app).post(path).set(receiver.reportHeaders(report, deploymentId)).send(report);
    expect(signed.status).toBe(200);
    const final = (await handle.result()) as PromotionState;
    expect(final.status).toBe('DEPLOYED');
    expect(final.deployment?.reference).toBe('rollout-1');
    const late = await request(h.app).post(path).set(receiver.reportHeaders(report, deploymentId)).send(report);
    expect([404, 409]).toContain(late.status);
    await recordHistory('promotion-deploy-async-report-per-run', handle);
  });

  // Last: it stops the worker of this file's harness.
  it('while no worker serves the lifecycle: reading it, drift and rollback answer 503 naming it, not 500', async () => {
    const name = `api-noworker-${randomUUID().slice(0, 6)}`;
    await (await deploy(name, '1.0.0')).result();
    await waitUntil(async () => (await request(h.app).get(lifecyclePath(name)).set(await as(people.max))).status, (s) => s === 200);
    const impatient = buildTestApp({ client: h.client, pool: h.pool, policy: h.policy, taskQueue: h.config.temporal.taskQueue, workerAnswerTimeoutMs: 2_000 });
    h.worker.shutdown();
    await waitUntil(() => h.worker.getState(), (state) => state === 'STOPPED');
    for (const res of [
      await request(impatient).get(lifecyclePath(name)).set(await as(people.max)),
      await request(impatient).post(lifecyclePath(name, 'drift')).set(await as(people.max)).send({ reason: 'PSI 0.3 on amount' }),
      await request(impatient).post(lifecyclePath(name, 'rollback')).set(await as(people.rick)).send({ justification: 'Incident 12: latency doubled' }),
    ]) {
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(res.body.error.message).toMatch(new RegExp(`^the lifecycle of ${name} in production did not answer within 2 s`));
    }
  });
});
