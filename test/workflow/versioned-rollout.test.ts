// Rolling a new release out with promotions in flight, on the real Temporal server, with Worker
// Versioning (worker deployments and build ids). Release A's worker runs promotions to their
// first review gate; release B's worker starts and becomes the deployment's current version; new
// promotions go to B. With `auto-upgrade` the running promotions move to B at their next workflow
// task (B's code replays them), so A can stop at once; with `pinned` they finish on A while B takes
// only the new ones. Every promotion completes, and Temporal's own versioning record says where
// each ran.
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { WorkerDeploymentSettings } from '../../src/config';
import type { PromotionState } from '../../src/shared/promotion';
import { createModelgateWorker, type ModelgateWorker } from '../../src/worker';
import { type PromotionHarness, people, sendUpdate, sharedWorkflowBundle, startPromotionHarness, waitForState, waitForStatus } from '../support/promotions';
import { testStackEnv } from '../support/stack';
import { waitUntil } from '../support/wait';

/** Where Temporal says a workflow runs: its versioning behaviour and deployment version. */
async function versioningOf(handle: WorkflowHandle): Promise<{ behavior: string; buildId: string | undefined }> {
  const info = (await handle.describe()).raw.workflowExecutionInfo?.versioningInfo;
  const behavior = info?.behavior === 1 ? 'PINNED' : info?.behavior === 2 ? 'AUTO_UPGRADE' : 'UNSPECIFIED';
  return { behavior, buildId: info?.deploymentVersion?.buildId ?? undefined };
}

/** Makes `buildId` the deployment's current version, once its worker has registered it. */
async function setCurrentVersion(client: Client, namespace: string, deploymentName: string, buildId: string): Promise<void> {
  await waitUntil(
    async () => {
      try {
        await client.workflowService.setWorkerDeploymentCurrentVersion({ namespace, deploymentName, buildId, identity: 'versioned-rollout test' });
        return true;
      } catch {
        // The version exists only after its worker has polled; until then the server refuses.
        return false;
      }
    },
    (done) => done,
    60_000,
  );
}

/** The technical gate approved: the promotion then waits at its business gate. */
async function approveTechnical(handle: WorkflowHandle): Promise<void> {
  await waitForStatus(handle, 'IN_REVIEW', 60_000);
  await sendUpdate(handle, 'decide', { actor: people.rita, gate: 'technical', decision: 'approve' });
  await waitForState(handle, (s) => s.stages.some((st) => st.gates.some((g) => g.name === 'business' && g.status === 'open')), 60_000);
}

async function approveBusiness(handle: WorkflowHandle): Promise<PromotionState> {
  await waitForState(handle, (s) => s.stages.some((st) => st.gates.some((g) => g.name === 'business' && g.status === 'open')), 60_000);
  await sendUpdate(handle, 'decide', { actor: people.bo, gate: 'business', decision: 'approve' });
  return (await handle.result()) as PromotionState;
}

describe.each(['auto-upgrade', 'pinned'] as const)('a release rolled out with promotions in flight (%s)', (versioningBehavior) => {
  const deploymentName = `modelgate-rollout-${randomUUID().slice(0, 8)}`;
  const releaseA: WorkerDeploymentSettings = { name: deploymentName, buildId: 'release-a', versioningBehavior };
  const releaseB: WorkerDeploymentSettings = { name: deploymentName, buildId: 'release-b', versioningBehavior };
  let h: PromotionHarness;
  let connectionB: NativeConnection | undefined;
  let workerB: ModelgateWorker | undefined;
  let runningB: Promise<void> | undefined;

  beforeAll(async () => {
    h = await startPromotionHarness(undefined, { deployment: releaseA });
  });

  afterAll(async () => {
    if (workerB?.getState() === 'RUNNING') workerB.shutdown();
    await runningB;
    await connectionB?.close();
    await h?.close();
  });

  it('every promotion completes; new ones run on the new release', async () => {
    const { namespace } = h.config.temporal;
    await setCurrentVersion(h.client, namespace, deploymentName, releaseA.buildId);

    // Release A runs two promotions to their second gate.
    const inFlight = await Promise.all([h.submit(await h.manifest()), h.submit(await h.manifest())]);
    await Promise.all(inFlight.map(approveTechnical));
    for (const handle of inFlight) {
      expect(await versioningOf(handle)).toEqual({ behavior: versioningBehavior === 'pinned' ? 'PINNED' : 'AUTO_UPGRADE', buildId: releaseA.buildId });
    }

    // Release B: the same task queues, a new build id, made current.
    connectionB = await NativeConnection.connect({ address: testStackEnv().temporalAddress });
    workerB = await createModelgateWorker({
      config: { ...h.config, worker: { ...h.config.worker, deployment: releaseB } },
      connection: connectionB,
      pool: h.servicePool,
      auditSealer: h.audit.worker,
      workflowBundle: await sharedWorkflowBundle(),
    });
    runningB = workerB.run();
    await setCurrentVersion(h.client, namespace, deploymentName, releaseB.buildId);

    // New promotions start on B.
    const started = await Promise.all([h.submit(await h.manifest()), h.submit(await h.manifest())]);
    await Promise.all(started.map(approveTechnical));
    for (const handle of started) expect((await versioningOf(handle)).buildId).toBe(releaseB.buildId);

    if (versioningBehavior === 'auto-upgrade') {
      // A stops now: B replays the running promotions' histories and carries them on.
      h.worker.shutdown();
      await waitUntil(() => h.worker.getState(), (state) => state === 'STOPPED', 30_000);
    }
    const outcomes = await Promise.all([...inFlight, ...started].map(approveBusiness));
    expect(outcomes.map((s) => s.status)).toEqual(['DEPLOYED', 'DEPLOYED', 'DEPLOYED', 'DEPLOYED']);

    const ranOn = await Promise.all(inFlight.map(async (handle) => (await versioningOf(handle)).buildId));
    // auto-upgrade: moved to B; pinned: finished on A, which started them.
    expect(ranOn).toEqual(versioningBehavior === 'auto-upgrade' ? [releaseB.buildId, releaseB.buildId] : [releaseA.buildId, releaseA.buildId]);
  }, 240_000);
});
