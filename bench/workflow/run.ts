// Workflow benchmark (issue: promotion workflow). Run with `./scripts/bench.sh workflow`.
//  1. End-to-end time of a high-tier promotion with no-op checks against a floor workflow with
//     the same activities and updates, interleaved in one run: p50 and p95 of each, and the ratio.
//  2. RSS of a real worker process (dist/worker.js, real checks on a tiny artifact) holding
//     N promotions waiting for review.
// Options: --e2e N (default 40) --concurrency C (default 4) --waiting N (default 1000)
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, Connection, WorkflowIdReusePolicy } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createActivities } from '../../src/activities';
import { loadConfig } from '../../src/config';
import { runMigrations } from '../../src/db/migrate';
import { createPool } from '../../src/db/pool';
import { PromotionManifestSchema } from '../../src/manifest/schema';
import { loadPolicyFile } from '../../src/policy/load';
import { resolvePolicy } from '../../src/policy/resolve';
import { startPromotion } from '../../src/promotions/start';
import { CHECK_NAMES, type CheckResult, checkActivityName } from '../../src/shared/checks';
import { promotionUpdates, stateQuery } from '../../src/shared/messages';
import type { PromotionInput } from '../../src/shared/promotion';
import { checksTaskQueueOf } from '../../src/shared/task-queues';
import { DISCARDED_WORKFLOW_SPANS, WORKFLOW_TRACING_INTERCEPTORS } from '../../src/worker';
import { floorDecide, floorPending } from './workflows';
import { percentile, safetensorsArtifact, sleep } from '../support';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const E2E = option('e2e', 40);
const CONCURRENCY = option('concurrency', 4);
const WAITING = option('waiting', 1000);
const root = path.resolve(__dirname, '..', '..');
const reviewers: Record<string, { id: string; roles: string[] }[]> = {
  technical: [{ id: 'rita', roles: ['ml-reviewer'] }, { id: 'ravi', roles: ['ml-reviewer'] }],
  security: [{ id: 'sec', roles: ['security-reviewer'] }],
  fairness: [{ id: 'fay', roles: ['fairness-reviewer'] }],
  legal: [{ id: 'lee', roles: ['compliance-officer'] }],
  business: [{ id: 'bo', roles: ['business-owner'] }],
};


async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  // The benchmark's artifacts are written to the temporary folder: its file:// sources are allowed there.
  const base = loadConfig({ ...process.env, ARTIFACT_ROOTS: process.env.ARTIFACT_ROOTS || tmpdir() });
  const config = { ...base, temporal: { ...base.temporal, taskQueue: `bench-${randomUUID().slice(0, 8)}` } };
  await runMigrations(config.databaseUrl);
  const pool = createPool(config.databaseUrl);
  const policy = await loadPolicyFile(path.join(root, 'policies', 'default.yaml'));
  const dir = await mkdtemp(path.join(tmpdir(), 'modelgate-bench-'));
  const client = new Client({ connection: await Connection.connect({ address: config.temporal.address }), namespace: config.temporal.namespace });

  const manifestFor = async (name: string, tier: 'medium' | 'high') => {
    const bytes = safetensorsArtifact(name);
    const file = path.join(dir, `${name}.safetensors`);
    await writeFile(file, bytes);
    return PromotionManifestSchema.parse({
      model: { name, version: '1.0.0', owner: 'olivia', riskTier: tier },
      target: 'production',
      artifact: { uri: pathToFileURL(file).href, sha256: createHash('sha256').update(bytes).digest('hex'), format: 'safetensors' },
      lineage: { codeCommit: 'abc123', trainingData: { uri: 's3://d', classification: 'internal', containsPersonalData: false } },
      metrics: { accuracy: 0.95 },
      modelCard: {
        intendedUse: 'Scores card transactions for fraud review in the benchmark.',
        limitations: 'Synthetic benchmark model; not evaluated on real traffic.',
        trainingData: 'Synthetic transactions generated for the benchmark run.',
        evaluationData: 'A held-out synthetic sample of the same generator.',
        contacts: 'ml-platform@example.com (benchmark owners)',
      },
    });
  };

  // ---- 1. end-to-end ratio ------------------------------------------------------------------
  const noOpCheck = (name: CheckResult['name']) => async (): Promise<CheckResult> => ({
    name, status: 'pass', required: true, summary: 'no-op', findings: [], metrics: {}, durationMs: 0,
  });
  const activities = {
    ...createActivities({ pool, publicUrl: config.publicUrl, temporalUiUrl: config.temporal.uiUrl, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue, policyDir: config.policyDir, sources: config.sources, artifactStoreDir: config.artifactStoreDir }),
    ...Object.fromEntries(CHECK_NAMES.map((n) => [checkActivityName(n), noOpCheck(n)])),
  };
  // The workflow code as the worker runs it: with the tracing interceptors, their spans discarded (traces off).
  const bundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./workflows'), workflowInterceptorModules: [WORKFLOW_TRACING_INTERCEPTORS], logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await Worker.create({ connection, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue, workflowBundle: bundle, sinks: { exporter: DISCARDED_WORKFLOW_SPANS }, activities, maxCachedWorkflows: 500 });
  // The check activities run on the checks task queue (the same activities as before: no-op named checks).
  const checksWorker = await Worker.create({ connection, namespace: config.temporal.namespace, taskQueue: checksTaskQueueOf(config.temporal.taskQueue), activities });
  const running = Promise.all([worker.run(), checksWorker.run()]);

  const runPromotion = async (i: number): Promise<number> => {
    const manifest = await manifestFor(`bench-p-${i}-${randomUUID().slice(0, 6)}`, 'high');
    const t0 = performance.now();
    const { promotionId } = await startPromotion(client, { manifest, submitter: { id: 'sam', roles: ['data-scientist'] }, policy, taskQueue: config.temporal.taskQueue });
    const handle = client.workflow.getHandle(promotionId);
    for (;;) {
      const state = await handle.query(stateQuery);
      if (state.status === 'DEPLOYED') break;
      if (state.status !== 'IN_REVIEW' && state.status !== 'VALIDATING' && state.status !== 'APPROVED' && state.status !== 'DEPLOYING') {
        throw new Error(`promotion ended ${state.status}`);
      }
      const sends = state.stages.flatMap((s) => s.gates.filter((g) => g.status === 'open')).flatMap((g) =>
        reviewers[g.name]!.filter((r) => !g.signatures.some((s) => s.actorId === r.id)).slice(0, g.quorum - g.signatures.length).map((r) =>
          handle.executeUpdate(promotionUpdates.decide, { args: [{ actor: r, requestId: randomUUID(), gate: g.name, decision: 'approve' }] }),
        ),
      );
      if (sends.length) await Promise.all(sends);
      else await sleep(10);
    }
    await handle.result();
    return performance.now() - t0;
  };
  const runFloor = async (i: number): Promise<number> => {
    const manifest = await manifestFor(`bench-f-${i}-${randomUUID().slice(0, 6)}`, 'high');
    const t0 = performance.now();
    const resolved = resolvePolicy(policy, manifest);
    const input: PromotionInput = { promotionId: `floor:${manifest.model.name}`, manifest, submitter: { id: 'sam', roles: ['data-scientist'] }, submittedAt: new Date().toISOString(), policy: resolved };
    const handle = await client.workflow.start('FloorWorkflow', { taskQueue: config.temporal.taskQueue, workflowId: input.promotionId, args: [input], workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE });
    let done = false;
    const result = handle.result().then(() => (done = true));
    while (!done) {
      const pending = await handle.query(floorPending);
      const sends = pending.flatMap((p) => Array.from({ length: p.missing }, () => handle.executeUpdate(floorDecide, { args: [{ gate: p.gate }] })));
      if (sends.length) await Promise.all(sends);
      else await sleep(10);
    }
    await result;
    return performance.now() - t0;
  };

  if (E2E > 0) {
    const promotionTimes: number[] = [];
    const floorTimes: number[] = [];
    const cpuStart = process.cpuUsage();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < E2E) {
          const i = next++;
          // interleave: each slot alternates promotion and floor
          promotionTimes.push(await runPromotion(i));
          floorTimes.push(await runFloor(i));
        }
      }),
    );
    const cpu = process.cpuUsage(cpuStart);

    const e2e = {
      promotions: E2E,
      concurrency: CONCURRENCY,
      promotionP50Ms: Math.round(percentile(promotionTimes, 50)),
      promotionP95Ms: Math.round(percentile(promotionTimes, 95)),
      floorP50Ms: Math.round(percentile(floorTimes, 50)),
      floorP95Ms: Math.round(percentile(floorTimes, 95)),
      ratioP50: +(percentile(promotionTimes, 50) / percentile(floorTimes, 50)).toFixed(2),
      benchProcessCpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(1),
    };
    console.log('end-to-end (high tier, no-op checks, 6 updates, 3 stages):', JSON.stringify(e2e));
  }
  worker.shutdown();
  checksWorker.shutdown();
  await running;
  await connection.close();

  // ---- 2. worker RSS with N promotions waiting for review ------------------------------------
  const taskQueue = `bench-rss-${randomUUID().slice(0, 8)}`;
  const child = spawn(process.execPath, [path.join(root, 'dist', 'worker.js')], {
    // MALLOC_ARENA_MAX=2 as scripts/start.sh and the Dockerfile run the worker
    env: { ...process.env, TEMPORAL_TASK_QUEUE: taskQueue, LOG_LEVEL: 'warn', MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const rss = async () => {
    const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) };
  };
  await sleep(3000);
  const idle = await rss();
  const t0 = performance.now();
  let started = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (started < WAITING) {
        const i = started++;
        const manifest = await manifestFor(`bench-w-${i}-${randomUUID().slice(0, 6)}`, 'medium');
        await startPromotion(client, { manifest, submitter: { id: 'sam', roles: ['data-scientist'] }, policy, taskQueue });
      }
    }),
  );
  let waiting = 0;
  while (waiting < WAITING) {
    await sleep(1000);
    waiting = (await client.workflow.count(`TaskQueue = "${taskQueue}" AND PromotionStatus = "IN_REVIEW"`)).count;
    if (performance.now() - t0 > 15 * 60_000) {
      const other = await client.workflow.count(`TaskQueue = "${taskQueue}" AND PromotionStatus != "IN_REVIEW"`);
      throw new Error(`only ${waiting} of ${WAITING} reached review in 15 minutes (${other.count} in other states)`);
    }
  }
  const reachedMs = performance.now() - t0;
  await sleep(2000);
  const loaded = await rss();
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  console.log(
    'worker RSS with promotions waiting for review:',
    JSON.stringify({ waiting: WAITING, maxCachedWorkflows: config.worker.maxCachedWorkflows, idleRssMb: idle.rssMb, rssMb: loaded.rssMb, peakRssMb: loaded.peakMb, secondsToReachReview: +(reachedMs / 1000).toFixed(1) }),
  );

  await client.connection.close();
  await pool.end();
  await rm(dir, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
