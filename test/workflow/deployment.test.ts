import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { readAuditArchive } from '../../src/audit/archive';
import { startPromotion } from '../../src/promotions/start';
import { type EnvironmentAnnouncement, environmentQuery, environmentSignals, environmentUpdates, environmentWorkflowId } from '../../src/shared/environment';
import { completeDeploymentUpdate } from '../../src/shared/messages';
import type { PromotionState } from '../../src/shared/promotion';
import { DeployReceiver } from '../support/deploy-receiver';
import { writeTestPolicy } from '../support/deploy-policy';
import { recordHistory } from '../support/histories';
import { people, type PromotionHarness, sendUpdate, startPromotionHarness, waitForState } from '../support/promotions';
import { testStackEnv } from '../support/stack';
import { waitUntil } from '../support/wait';
import { TEST_ARTIFACT_HOSTS, TEST_ARTIFACT_ROOTS } from '../support/sources';

jest.setTimeout(120_000);

const SECRET = 'deploy-secret-of-the-tests-0123456789';
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, encoding: 'utf8' }).trim();

describe('deployment after approval: webhook and GitOps providers, compensation, rollback', () => {
  let h: PromotionHarness;
  let receiver: DeployReceiver;
  let gitRoot: string;
  let bare: string;
  let workingCopy: string;

  beforeAll(async () => {
    process.env.MODELGATE_TEST_DEPLOY_SECRET = SECRET;
    receiver = await new DeployReceiver(SECRET).start();
    gitRoot = await mkdtemp(path.join(tmpdir(), 'modelgate-gitops-'));
    bare = path.join(gitRoot, 'deployments.git');
    workingCopy = path.join(gitRoot, 'work');
    git(gitRoot, 'init', '--quiet', '--bare', '--initial-branch=main', bare);
    git(gitRoot, 'clone', '--quiet', bare, workingCopy);
    git(workingCopy, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '--quiet', '--allow-empty', '-m', 'start');
    git(workingCopy, 'push', '--quiet', 'origin', 'HEAD:main');
    const policyFile = await writeTestPolicy((p) => {
      p.environments.production = {
        deployment: {
          provider: 'webhook',
          url: receiver.url,
          secretEnv: 'MODELGATE_TEST_DEPLOY_SECRET',
          requestTimeout: '2s',
          retry: { maximumAttempts: 3, initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '1s' },
        },
      };
      p.environments.staging = {
        deployment: { provider: 'gitops', repository: workingCopy, namespace: 'fraud', retry: { maximumAttempts: 2, initialInterval: '200ms' } },
      };
      p.environments.canary = {
        deployment: { provider: 'webhook', url: receiver.url, secretEnv: 'MODELGATE_TEST_DEPLOY_SECRET', completion: 'callback', callbackTimeout: '3s' },
      };
      p.overrides.rollback = ['risk-manager'];
    });
    h = await startPromotionHarness(policyFile);
  });
  afterAll(async () => {
    await h?.close();
    await receiver?.close();
    await rm(gitRoot, { recursive: true, force: true });
  });
  beforeEach(() => receiver.setBehaviour({}));

  /** Submits a low-tier (auto-approved) version and returns its final state. */
  const promote = async (name: string, version: string, target = 'production') => {
    const manifest = await h.manifest({ model: { name, version, riskTier: 'low' }, target });
    const handle = await h.submit(manifest);
    return { handle, manifest, final: (await handle.result()) as PromotionState };
  };
  const serving = async (name: string, environment: string) =>
    (
      await h.pool.query<{ version: string }>(
        `SELECT version FROM environment_deployments WHERE model_name = $1 AND environment = $2 AND superseded_at IS NULL`,
        [name, environment],
      )
    ).rows.map((r) => r.version);

  it('deploys through the webhook with a signed, idempotent request, then moves the registry', async () => {
    const name = `web-${randomUUID().slice(0, 6)}`;
    const { handle, manifest, final } = await promote(name, '1.0.0');
    expect(final.status).toBe('DEPLOYED');
    const mine = receiver.requests.filter((r) => r.body.model === name);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.signatureValid).toBe(true);
    expect(mine[0]!.idempotencyKey).toBe(final.deployment!.deploymentId);
    expect(final.deployment!.deploymentId).toMatch(/#deploy:[0-9a-f-]{36}$/); // unique per promotion run
    expect(mine[0]!.body).toMatchObject({
      action: 'deploy',
      model: name,
      version: '1.0.0',
      digest: manifest.artifact.sha256,
      artifactUri: manifest.artifact.uri,
      promotionId: final.promotionId,
      environment: 'production',
    });
    expect(final.deployment).toMatchObject({ provider: 'webhook', status: 'deployed', reference: expect.stringMatching(/^dep-/) });
    expect(final.timeline.map((e) => e.action)).toEqual(expect.arrayContaining(['deployment_requested', 'deployment_provisioned', 'deployed']));
    expect(await serving(name, 'production')).toEqual(['1.0.0']);
    await recordHistory('promotion-deploy-webhook', handle);
  });

  it('a receiver failing twice then succeeding deploys once', async () => {
    receiver.setBehaviour({ failFirst: 2 });
    const name = `flaky-${randomUUID().slice(0, 6)}`;
    const { final } = await promote(name, '1.0.0');
    expect(final.status).toBe('DEPLOYED');
    const mine = receiver.requests.filter((r) => r.body.model === name);
    expect(mine.map((r) => r.answered)).toEqual([503, 503, 200]);
    expect(new Set(mine.map((r) => r.idempotencyKey)).size).toBe(1);
    expect([...receiver.deployed.values()].filter((b) => b.model === name)).toHaveLength(1);
  });

  it('a receiver that always fails: compensated, DEPLOY_FAILED, the previous version still serves', async () => {
    const name = `down-${randomUUID().slice(0, 6)}`;
    expect((await promote(name, '1.0.0')).final.status).toBe('DEPLOYED');
    receiver.setBehaviour({ alwaysStatus: 500 });
    const { final, handle } = await promote(name, '2.0.0');
    expect(final.status).toBe('DEPLOY_FAILED');
    await recordHistory('promotion-deploy-failed-compensated', handle);
    expect(final.outcome?.reason).toMatch(/registry unchanged, the previous version still serves: .*answered 500/);
    const attempts = receiver.requests.filter((r) => r.body.model === name && r.body.version === '2.0.0');
    expect(attempts.filter((r) => r.body.action === 'deploy')).toHaveLength(3); // the policy's maximumAttempts
    // The compensating cancel is retried like the deployment, then left to people, on the record.
    expect(attempts.filter((r) => r.body.action === 'cancel' && r.idempotencyKey === `${final.deployment!.deploymentId}:cancel`)).toHaveLength(3);
    expect(final.timeline.map((e) => e.action)).toEqual(expect.arrayContaining(['deployment_failed', 'compensation_failed', 'deploy_failed']));
    expect(await serving(name, 'production')).toEqual(['1.0.0']);
  });

  it('deploys only the bytes the checks verified: a stored copy altered after the checks fails the deployment before any deployer is called', async () => {
    const name = `altered-${randomUUID().slice(0, 6)}`;
    const manifest = await h.manifest({ model: { name, riskTier: 'medium' } });
    const handle = await h.submit(manifest);
    const review = await waitForState(handle, (s) => s.status === 'IN_REVIEW');
    const integrity = review.checks.find((c) => c.name === 'integrity')!;
    expect(integrity.metrics.verifiedCopy).toMatch(new RegExp(`^sha256/${manifest.artifact.sha256}/file-`));
    const copy = path.join(h.config.artifactStoreDir, integrity.metrics.verifiedCopy as string);
    const [file] = await readdir(copy);
    await chmod(copy, 0o755);
    await chmod(path.join(copy, file!), 0o644);
    await writeFile(path.join(copy, file!), 'swapped after the scan');
    await sendUpdate(handle, 'decide', { actor: people.rita, gate: 'technical', decision: 'approve', comment: 'ok' });
    await waitForState(handle, (s) => s.currentStage === 1);
    await sendUpdate(handle, 'decide', { actor: people.bo, gate: 'business', decision: 'approve', comment: 'ok' });
    const final = (await handle.result()) as PromotionState;
    expect(final.status).toBe('DEPLOY_FAILED');
    expect(final.outcome?.reason).toMatch(/verified copy of sha256 [0-9a-f]{64} is altered in the artifact store/);
    expect(receiver.requests.filter((r) => r.body.model === name && r.body.action === 'deploy')).toHaveLength(0);
    expect(await serving(name, 'production')).toEqual([]);
  });

  it('a 4xx from the deployer is final: no retries', async () => {
    receiver.setBehaviour({ alwaysStatus: 422 });
    const name = `refused-${randomUUID().slice(0, 6)}`;
    const { final } = await promote(name, '1.0.0');
    expect(final.status).toBe('DEPLOY_FAILED');
    expect(receiver.requests.filter((r) => r.body.model === name && r.body.action === 'deploy')).toHaveLength(1);
    expect(await serving(name, 'production')).toEqual([]);
  });

  it('an asynchronous deployer: waits for the completion report; without one it rolls back', async () => {
    receiver.setBehaviour({ accept: true });
    const name = `async-${randomUUID().slice(0, 6)}`;
    const manifest = await h.manifest({ model: { name, riskTier: 'low' }, target: 'canary' });
    const handle = await h.submit(manifest);
    const waiting = await waitForState(handle, (s) => s.deployment?.status === 'awaiting_completion');
    expect(waiting.deployment?.secretEnv).toBe('MODELGATE_TEST_DEPLOY_SECRET');
    const sent = receiver.requests.find((r) => r.body.model === name)!;
    expect(sent.body.callbackUrl).toBe(`http://localhost:8080/v1/promotions/${encodeURIComponent(waiting.promotionId)}/deployment`);
    await expect(
      handle.executeUpdate(completeDeploymentUpdate, { args: [{ deploymentId: 'someone-else', status: 'succeeded' }] }),
    ).rejects.toThrow(WorkflowUpdateFailedError);
    await handle.executeUpdate(completeDeploymentUpdate, { args: [{ deploymentId: waiting.deployment!.deploymentId!, status: 'succeeded', reference: 'rollout-7' }] });
    const done = (await handle.result()) as PromotionState;
    expect(done.status).toBe('DEPLOYED');
    expect(done.deployment?.reference).toBe('rollout-7');

    const silent = `silent-${randomUUID().slice(0, 6)}`;
    const late = (await h.submit(await h.manifest({ model: { name: silent, riskTier: 'low' }, target: 'canary' }))).result() as Promise<PromotionState>;
    const timedOut = await late;
    expect(timedOut.status).toBe('DEPLOY_FAILED');
    expect(timedOut.outcome?.reason).toMatch(/no completion report by/);
    expect(receiver.requests.some((r) => r.body.model === silent && r.body.action === 'cancel')).toBe(true);
  });

  it('GitOps: commits an InferenceService naming the promotion and pushes it; a second promotion supersedes it', async () => {
    const name = `git-${randomUUID().slice(0, 6)}`;
    const { final } = await promote(name, '1.0.0', 'staging');
    expect(final.status).toBe('DEPLOYED');
    const log = git(bare, 'log', '--format=%s%n%b', 'main');
    expect(log).toContain(`Deploy ${name}@1.0.0 to staging`);
    expect(log).toContain(`Promotion: ${final.promotionId}`);
    const file = git(bare, 'show', `main:models/${name}/staging.yaml`);
    expect(file).toContain('kind: InferenceService');
    expect(file).toContain(`storageUri: ${final.manifest.artifact.uri}`);
    expect(file).toContain('namespace: fraud');
    expect(final.deployment?.reference).toBe(git(bare, 'rev-parse', 'main'));
    const second = await promote(name, '1.1.0', 'staging');
    expect(second.final.status).toBe('DEPLOYED');
    expect(git(bare, 'show', `main:models/${name}/staging.yaml`)).toContain(`modelgate.io/version: 1.1.0`);
    expect(await serving(name, 'staging')).toEqual(['1.1.0']);
  });

  it('GitOps: a push the remote refuses is undone — nothing half-written stays, DEPLOY_FAILED', async () => {
    const name = `gitfail-${randomUUID().slice(0, 6)}`;
    const hook = path.join(bare, 'hooks', 'pre-receive');
    execFileSync('sh', ['-c', `printf '#!/bin/sh\\necho refused by test >&2\\nexit 1\\n' > '${hook}' && chmod +x '${hook}'`]);
    const before = git(workingCopy, 'rev-parse', 'HEAD');
    try {
      const { final } = await promote(name, '1.0.0', 'staging');
      expect(final.status).toBe('DEPLOY_FAILED');
      expect(final.timeline.find((e) => e.action === 'deployment_compensated')?.detail?.detail).toMatch(/unpublished commit .* dropped/);
    } finally {
      await rm(hook);
    }
    expect(git(workingCopy, 'rev-parse', 'HEAD')).toBe(before);
    expect(git(workingCopy, 'status', '--porcelain')).toBe('');
    expect(await serving(name, 'staging')).toEqual([]);
  });

  it('manual rollback: only rollback roles, then the previous version serves again through the provider, audited', async () => {
    const name = `rb-${randomUUID().slice(0, 6)}`;
    await promote(name, '1.0.0');
    await promote(name, '2.0.0');
    expect(await serving(name, 'production')).toEqual(['2.0.0']);
    const lifecycle = h.client.workflow.getHandle(environmentWorkflowId(name, 'production'));
    await waitUntil(() => lifecycle.query(environmentQuery), (s) => s.serving?.version === '2.0.0');

    const refused = await lifecycle
      .executeUpdate(environmentUpdates.rollback, { args: [{ actor: people.rita, justification: 'bad' }] })
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause?.message).toMatch(/a rollback needs one of the roles: risk-manager/);

    const result = await lifecycle.executeUpdate(environmentUpdates.rollback, {
      args: [{ actor: people.rick, justification: 'error rate doubled after 2.0.0', requestId: 'rb-1' }],
    });
    expect(result).toMatchObject({ status: 'rolled_back', fromVersion: '2.0.0', toVersion: '1.0.0' });
    expect(await serving(name, 'production')).toEqual(['1.0.0']);
    const rollbackRequest = receiver.requests.find((r) => r.body.model === name && r.body.action === 'rollback');
    expect(rollbackRequest?.body).toMatchObject({ version: '1.0.0', previousVersion: '2.0.0' });
    expect(rollbackRequest?.idempotencyKey).toBe(result.rollbackId);
    const again = await lifecycle.executeUpdate(environmentUpdates.rollback, {
      args: [{ actor: people.rick, justification: 'error rate doubled after 2.0.0', requestId: 'rb-1' }],
    });
    expect(again).toEqual(result);
    const trail = await readAuditArchive(h.pool, result.rollbackId);
    expect(trail.map((r) => r.action)).toEqual(['rollback_requested', 'rollback_provisioned', 'rolled_back']);
    expect(trail[0]).toMatchObject({ actor: 'rick', detail: expect.objectContaining({ justification: 'error rate doubled after 2.0.0' }) });
    const state = await lifecycle.query(environmentQuery);
    expect(state.serving?.version).toBe('1.0.0');
    expect(state.previous.map((v) => v.version)).toEqual(['2.0.0']);
    await recordHistory('environment-lifecycle-rollback-confirmed', lifecycle);
  });

  it('a rollback target forged into the lifecycle by Temporal Signals is refused by the registry before anything is provisioned', async () => {
    const name = `forged-${randomUUID().slice(0, 6)}`;
    await promote(name, '1.0.0');
    const lifecycle = h.client.workflow.getHandle(environmentWorkflowId(name, 'production'));
    const real = await waitUntil(() => lifecycle.query(environmentQuery), (s) => s.serving?.version === '1.0.0');
    // Someone who reaches Temporal announces two versions that no promotion approved.
    const forged = (version: string): EnvironmentAnnouncement => ({
      kind: 'deployed',
      model: name,
      environment: 'production',
      purpose: 'promotion',
      serving: {
        ...real.serving!,
        version,
        promotionId: `promote:${name}:${version}:production`,
        manifest: { ...real.serving!.manifest, model: { ...real.serving!.manifest.model, version }, artifact: { ...real.serving!.manifest.artifact, sha256: 'e'.repeat(64) } },
        validUntil: new Date(Date.now() + 86_400_000).toISOString(),
      },
      policy: real.policy!,
    });
    await lifecycle.signal(environmentSignals.announce, forged('6.6.6'));
    await lifecycle.signal(environmentSignals.announce, forged('7.7.7'));
    await waitUntil(() => lifecycle.query(environmentQuery), (s) => s.serving?.version === '7.7.7' && s.previous.some((v) => v.version === '6.6.6'));

    const result = await lifecycle.executeUpdate(environmentUpdates.rollback, {
      args: [{ actor: people.rick, toVersion: '6.6.6', justification: 'a version that no promotion approved' }],
    });
    expect(result).toMatchObject({ status: 'failed', toVersion: '6.6.6' });
    expect(result.detail).toMatch(/refused before provisioning: the registry holds no approval of forged-\w+@6\.6\.6 for production/);
    // nothing reached the deployer for the forged version, and the registry still serves 1.0.0
    expect(receiver.arrived.filter((b) => b.model === name && b.version === '6.6.6')).toEqual([]);
    expect(await serving(name, 'production')).toEqual(['1.0.0']);
  });

  it('the worker killed mid-deploy: the deployment still happens exactly once', async () => {
    const taskQueue = `kill-${randomUUID()}`;
    receiver.setBehaviour({ holdFirstMs: 4_000 });
    const worker = () => startWorkerProcess(h, taskQueue);
    let first: ChildProcess | undefined = worker();
    let second: ChildProcess | undefined;
    try {
      const name = `kill-${randomUUID().slice(0, 6)}`;
      const manifest = await h.manifest({ model: { name, riskTier: 'low' } });
      const started = await startPromotion(h.client, { manifest, submitter: people.sam, policy: h.policy, taskQueue });
      await waitUntil(() => receiver.arrived, (arrived) => arrived.some((b) => b.model === name), 60_000);
      first.kill('SIGKILL');
      first = undefined;
      second = worker();
      const final = (await h.client.workflow.getHandle(started.promotionId).result()) as PromotionState;
      expect(final.status).toBe('DEPLOYED');
      expect([...receiver.deployed.values()].filter((b) => b.model === name)).toHaveLength(1);
      expect(await serving(name, 'production')).toEqual(['1.0.0']);
      const rows = await h.pool.query('SELECT count(*)::int AS n FROM environment_deployments WHERE model_name = $1', [name]);
      expect(rows.rows[0].n).toBe(1);
    } finally {
      first?.kill('SIGKILL');
      second?.kill('SIGTERM');
    }
  });

  it('GitOps provider is idempotent: the same deployment twice makes one commit', async () => {
    const { deployWithGitOps } = await import('../../src/deployment/gitops');
    const config = {
      provider: 'gitops' as const,
      repository: workingCopy,
      path: 'models/{model}/{environment}.yaml',
      remote: 'origin',
      branch: 'main',
      namespace: 'models',
      requestTimeoutMs: 10_000,
      retry: { maximumAttempts: 1, initialIntervalMs: 1, backoffCoefficient: 1, maximumIntervalMs: 1 },
    };
    const request = {
      deploymentId: `twice-${randomUUID()}`,
      action: 'deploy' as const,
      promotionId: 'promote:twice:1:staging',
      model: 'twice',
      version: '1',
      environment: 'staging',
      artifact: { uri: 's3://models/twice/1', sha256: 'a'.repeat(64), format: 'onnx' },
    };
    const count = () => Number(git(bare, 'rev-list', '--count', 'main'));
    const before = count();
    const [a, b] = await Promise.all([deployWithGitOps(config, request), deployWithGitOps(config, request)]);
    expect(a.reference).toBe(b.reference);
    expect(count()).toBe(before + 1);
    expect(await readFile(path.join(workingCopy, 'models/twice/staging.yaml'), 'utf8')).toContain('name: onnx');
  });
});

/** A real worker process (the built `dist/worker.js`) on a task queue of its own. */
function startWorkerProcess(h: PromotionHarness, taskQueue: string): ChildProcess {
  const env = testStackEnv();
  const child = spawn(process.execPath, [path.join(__dirname, '..', '..', 'dist', 'worker.js')], {
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: env.temporalAddress,
      TEMPORAL_NAMESPACE: env.namespace,
      TEMPORAL_TASK_QUEUE: taskQueue,
      DATABASE_URL: h.config.databaseUrl,
      POLICY_DIR: h.config.policyDir,
      ARTIFACT_ROOTS: TEST_ARTIFACT_ROOTS,
      ARTIFACT_HOSTS: TEST_ARTIFACT_HOSTS,
      ARTIFACT_STORE_DIR: h.config.artifactStoreDir,
      LOG_LEVEL: 'warn',
      SHUTDOWN_GRACE_SECONDS: '1',
    },
    stdio: 'ignore',
  });
  return child;
}
