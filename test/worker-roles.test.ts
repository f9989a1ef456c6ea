// Checks on their own task queue: a promotions worker and a checks worker, each a process of its
// own (dist/worker.js with WORKER_ROLE), against the real Temporal server and PostgreSQL. The
// promotion completes, and its history shows every check activity scheduled on the checks queue
// and every other activity on the promotions queue. Needs `npm run build` (scripts/test.sh builds).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { loadPolicyFile } from '../src/policy/load';
import { startPromotion } from '../src/promotions/start';
import { CHECK_NAMES, checkActivityName } from '../src/shared/checks';
import { checksTaskQueueOf } from '../src/shared/task-queues';
import { dashboardMetrics, exposedMetrics } from './support/dashboard';
import { recordHistory } from './support/histories';
import { freePort } from './support/processes';
import { writeTestManifest, waitForStatus } from './support/promotions';
import { createTestDatabase, testTemporalClient, testWorkerProcessEnv } from './support/stack';

const root = path.resolve(__dirname, '..');
const policyFile = path.join(__dirname, 'fixtures', 'policies', 'workflow-test.yaml');


/** GETs a URL on loopback; status and body, or undefined while nothing listens. */
async function get(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not happen within ${timeoutMs} ms`);
}

describe('WORKER_ROLE: the checks run on a task queue of their own', () => {
  const taskQueue = `roles-${randomUUID()}`;
  const children: Array<{ child: ChildProcess; output: () => string; exited: Promise<number | null> }> = [];
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let client: Client;
  let artifactDir: string;
  let store: string;

  function startWorker(role: string, healthPort: number, metricsPort?: number) {
    const child = spawn(process.execPath, [path.join(root, 'dist', 'worker.js')], {
      env: {
        ...testWorkerProcessEnv({ taskQueue, databaseUrl: db.url, policyDir: path.dirname(policyFile), artifactStoreDir: store, healthPort }),
        WORKER_ROLE: role,
        ...(metricsPort ? { WORKER_METRICS_ADDRESS: `127.0.0.1:${metricsPort}` } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    children.push({ child, output: () => output, exited });
  }

  beforeAll(async () => {
    db = await createTestDatabase();
    client = await testTemporalClient();
    artifactDir = await mkdtemp(path.join(tmpdir(), 'modelgate-roles-artifacts-'));
    store = await mkdtemp(path.join(tmpdir(), 'modelgate-roles-store-'));
  });

  afterAll(async () => {
    for (const { child, exited } of children) {
      child.kill('SIGTERM');
      await exited;
    }
    await client?.connection.close();
    await db?.drop();
    await rm(artifactDir, { recursive: true, force: true });
    await rm(store, { recursive: true, force: true });
  });

  it('a promotion completes with a promotions worker and a checks worker in two processes, its checks scheduled on the checks queue', async () => {
    const [promotionsHealth, checksHealth, metricsPort, checksMetricsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    startWorker('promotions', promotionsHealth, metricsPort);
    // The promotions worker migrates the database first; the checks worker then finds it migrated.
    const ready = (port: number) => waitFor(`the worker on health port ${port} to be ready`, async () => {
      const res = await get(`http://127.0.0.1:${port}/readyz`);
      return res?.status === 200 ? (JSON.parse(res.body) as { role: string; workers: Array<{ taskQueue: string; state: string }> }) : undefined;
    });
    const promotionsReady = await ready(promotionsHealth).catch((err) => {
      throw new Error(`${(err as Error).message}; worker output:\n${children[0]!.output()}`);
    });
    expect(promotionsReady).toEqual({ status: 'ready', role: 'promotions', workers: [{ taskQueue, state: 'RUNNING' }] });

    const checkTypes = new Set<string>([...CHECK_NAMES.map(checkActivityName), 'runArtifactChecks']);
    const policy = await loadPolicyFile(policyFile);
    // Low tier, every check passing: auto-approved, then deployed.
    const manifest = await writeTestManifest(artifactDir, { model: { riskTier: 'low' } });
    const { promotionId } = await startPromotion(client, { manifest, submitter: { id: 'sam', roles: ['data-scientist'] }, policy, taskQueue });
    const handle = client.workflow.getHandle(promotionId);

    // No checks worker yet: the promotion waits in VALIDATING, its checks unstarted on the checks queue.
    await waitForStatus(handle, 'VALIDATING');
    const pending = await waitFor('the check activities to be scheduled', async () => {
      const description = await handle.describe();
      const checks = (description.raw.pendingActivities ?? []).filter((a) => checkTypes.has(a.activityType?.name ?? ''));
      return checks.length > 0 ? checks : undefined;
    });
    // Scheduled, never started: nothing polls the checks queue yet.
    expect(pending.map((a) => a.attempt)).toEqual(pending.map(() => 1));
    expect(pending.every((a) => !a.lastStartedTime)).toBe(true);

    startWorker('checks', checksHealth, checksMetricsPort);
    expect(await ready(checksHealth)).toEqual({ status: 'ready', role: 'checks', workers: [{ taskQueue: checksTaskQueueOf(taskQueue), state: 'RUNNING' }] });
    await waitForStatus(handle, 'DEPLOYED', 60_000);
    await handle.result();
    await recordHistory('promotion-checks-task-queue', handle);

    const scheduled: Array<{ type: string; queue: string }> = [];
    for (const event of (await handle.fetchHistory()).events ?? []) {
      const attributes = event.activityTaskScheduledEventAttributes;
      if (attributes) scheduled.push({ type: attributes.activityType!.name!, queue: attributes.taskQueue!.name! });
    }
    const checks = scheduled.filter((s) => checkTypes.has(s.type));
    const others = scheduled.filter((s) => !checkTypes.has(s.type));
    // integrity + security in one pass, then performance, modelCard, lineage (fairness and privacy are off)
    expect(checks.map((c) => c.type).sort()).toEqual(['runArtifactChecks', 'runLineageCheck', 'runModelCardCheck', 'runPerformanceCheck']);
    expect(checks.every((c) => c.queue === checksTaskQueueOf(taskQueue))).toBe(true);
    expect(others.length).toBeGreaterThan(0);
    expect(others.every((o) => o.queue === taskQueue)).toBe(true);

    // The endpoints answer nothing else and echo nothing of the request.
    const other = await get(`http://127.0.0.1:${checksHealth}/healthz/<script>`);
    expect(other?.status).toBe(404);
    expect(other?.body).not.toContain('script');
    expect((await get(`http://127.0.0.1:${checksHealth}/healthz`))?.status).toBe(200);

    // The promotions worker's Temporal metrics, from the SDK's Prometheus endpoint.
    const metrics = await get(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(metrics?.status).toBe(200);
    expect(metrics?.body).toMatch(/^temporal_workflow_task_schedule_to_start_latency/m);
    // Every worker metric the Grafana dashboard queries is one the two workers expose.
    const checksMetrics = await get(`http://127.0.0.1:${checksMetricsPort}/metrics`);
    expect(checksMetrics?.status).toBe(200);
    expect(checksMetrics?.body).toMatch(/^temporal_activity_schedule_to_start_latency_bucket\{.*task_queue="[^"]*-checks"/m);
    const exposed = new Set([...exposedMetrics(metrics!.body), ...exposedMetrics(checksMetrics!.body)]);
    const queried = dashboardMetrics('temporal_');
    expect(queried.length).toBeGreaterThan(4);
    expect(queried.filter((name) => !exposed.has(name))).toEqual([]);
  }, 180_000);

  it('refuses an unknown role by name', async () => {
    const child = spawn(process.execPath, [path.join(root, 'dist', 'worker.js')], {
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', WORKER_ROLE: 'everything' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(78);
    expect(stderr).toContain('WORKER_ROLE: must be one of all, promotions, checks');
  });
});
