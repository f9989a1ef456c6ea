// A worker SIGKILLed loses nothing: two worker processes (dist/worker.js) on one task queue, the
// promotions in flight held by the first (its sticky cache); the first is killed with SIGKILL and
// every promotion completes on the second. The histories show it: each promotion's workflow tasks
// before the kill were the killed worker's, every one after it the survivor's. Needs `npm run build`.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { loadPolicyFile } from '../../src/policy/load';
import { startPromotion } from '../../src/promotions/start';
import type { PromotionState } from '../../src/shared/promotion';
import { ModelgateProcess, freePort, waitForApiReady } from '../support/processes';
import { people, sendUpdate, waitForStatus, writeTestManifest } from '../support/promotions';
import { createTestDatabase, testTemporalClient, testWorkerProcessEnv } from '../support/stack';

const policyFile = path.join(__dirname, '..', 'fixtures', 'policies', 'workflow-test.yaml');
const PROMOTIONS = 4;

jest.setTimeout(120_000);

describe('scaling out: a worker SIGKILLed mid-run', () => {
  const taskQueue = `kill-${randomUUID()}`;
  const workers: ModelgateProcess[] = [];
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let client: Client;
  let artifactDir: string;
  let store: string;
  let logDir: string;

  /** A worker process (role all: promotions and checks) on the test's task queue, ready. */
  async function startWorker(name: string): Promise<ModelgateProcess> {
    const healthPort = await freePort();
    const worker = new ModelgateProcess(name, {
      entry: 'worker',
      env: testWorkerProcessEnv({ taskQueue, databaseUrl: db.url, policyDir: path.dirname(policyFile), artifactStoreDir: store, healthPort }),
      logFile: path.join(logDir, `${name}.log`),
    }).start();
    workers.push(worker);
    await waitForApiReady(`http://127.0.0.1:${healthPort}`);
    return worker;
  }

  /** Who started each workflow task of a promotion (the SDK's identity, `<pid>@<host>`), and when. */
  async function workflowTaskStarts(handle: WorkflowHandle): Promise<Array<{ identity: string; at: number }>> {
    const history = await handle.fetchHistory();
    return (history.events ?? [])
      .filter((e) => e.workflowTaskStartedEventAttributes)
      .map((e) => ({ identity: e.workflowTaskStartedEventAttributes!.identity ?? '', at: Number(e.eventTime?.seconds ?? 0) * 1000 + Math.floor((e.eventTime?.nanos ?? 0) / 1e6) }));
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    client = await testTemporalClient();
    artifactDir = await mkdtemp(path.join(tmpdir(), 'modelgate-kill-artifacts-'));
    store = await mkdtemp(path.join(tmpdir(), 'modelgate-kill-store-'));
    logDir = await mkdtemp(path.join(tmpdir(), 'modelgate-kill-logs-'));
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop(5_000)));
    await client?.connection.close();
    await db?.drop();
    for (const dir of [artifactDir, store, logDir]) if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('every promotion the killed worker held completes on the other worker, none lost', async () => {
    const first = await startWorker('first');
    const policy = await loadPolicyFile(policyFile);
    // Medium tier: two stages (technical, then business); all in review on the first worker.
    const handles: WorkflowHandle[] = [];
    for (let i = 0; i < PROMOTIONS; i++) {
      const manifest = await writeTestManifest(artifactDir, { model: { name: `kill-${i}-${randomUUID().slice(0, 6)}`, riskTier: 'medium' } });
      const { promotionId } = await startPromotion(client, { manifest, submitter: people.sam, policy, taskQueue });
      handles.push(client.workflow.getHandle(promotionId));
    }
    for (const handle of handles) await waitForStatus(handle, 'IN_REVIEW', 60_000);
    // Half of them a stage further, so the promotions are at different points when the worker dies.
    for (const handle of handles.slice(0, PROMOTIONS / 2)) {
      await sendUpdate(handle, 'decide', { actor: people.rita, gate: 'technical', decision: 'approve' });
    }

    const second = await startWorker('second');
    const firstIdentity = `${first.pid}@${hostname()}`;
    const secondIdentity = `${second.pid}@${hostname()}`;
    await first.kill('SIGKILL');
    const killedAt = Date.now();
    expect(first.pid).toBeUndefined();

    // Every remaining decision goes to the promotions the killed worker held.
    for (const [i, handle] of handles.entries()) {
      if (i >= PROMOTIONS / 2) await sendUpdate(handle, 'decide', { actor: people.rita, gate: 'technical', decision: 'approve' });
      await sendUpdate(handle, 'decide', { actor: people.bo, gate: 'business', decision: 'approve' });
    }
    const outcomes = await Promise.all(handles.map((h) => (h as WorkflowHandle<() => Promise<PromotionState>>).result()));
    expect(outcomes.map((o) => o.status)).toEqual(handles.map(() => 'DEPLOYED'));

    for (const handle of handles) {
      const starts = await workflowTaskStarts(handle);
      const before = starts.filter((s) => s.at < killedAt);
      const after = starts.filter((s) => s.at >= killedAt);
      expect(before.length).toBeGreaterThan(0);
      expect(before.every((s) => s.identity === firstIdentity)).toBe(true);
      expect(after.length).toBeGreaterThan(0);
      expect(after.every((s) => s.identity === secondIdentity)).toBe(true);
    }
    expect(second.unexpectedExits).toEqual([]);
  });
});
