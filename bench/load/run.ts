// Load benchmark (issue: proof under load). Run with `./scripts/bench.sh load [options]`.
// N promotions of mixed tiers (low: auto-approved; medium: two gates; high: five gates in three
// stages, one with quorum 2) are submitted at once through the API process (dist/api/server.js)
// and decided by simulated reviewers who poll `GET /v1/promotions?pendingFor=me` and approve
// through `POST …/decisions`, each with their own token; approved promotions are deployed
// through the webhook provider to a local receiver. The same load then runs, in the same run, on
// the floor workflow (bench/load/workflows.ts) with its own worker and API process.
// Measured per phase: promotions completed per second; p50/p95 from a decision's HTTP answer to
// its state change being visible in Temporal visibility (the search attributes the API lists);
// CPU seconds per promotion of the worker, the API, Temporal, PostgreSQL and this process; the
// worker's RSS (peak and median during the load).
// Options: --promotions N (default 500) --mix LOW,MEDIUM,HIGH (percent, default 40,35,25)
//          --submitters S (default 20) --reviewer-parallelism P (default 4) --phases modelgate,floor
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { parse, stringify } from 'yaml';
import { signDevToken } from '../../src/api/auth';
import { ApiCallError, callApi, promotionApiPath } from '../../src/cli/api-client';
import { loadConfig } from '../../src/config';
import { runMigrations } from '../../src/db/migrate';
import { parsePolicy } from '../../src/policy/load';
import type { MessageResult } from '../../src/shared/promotion';
import { DeployReceiver } from '../../test/support/deploy-receiver';
import { ModelgateProcess, REPO_ROOT, freePort, waitForApiReady } from '../../test/support/processes';
import { writeManifest } from '../../test/faults/drivers';
import { percentile, processUsage, servicesCpuSeconds, sleep } from '../support';
import { workerEnvironment } from '../../src/config';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1]! : (process.env[`LOAD_${name.toUpperCase().replace(/-/g, '_')}`] ?? fallback);
};
const PROMOTIONS = Number(option('promotions', '500'));
const MIX = option('mix', '40,35,25').split(',').map(Number) as [number, number, number];
const SUBMITTERS = Number(option('submitters', '20'));
const REVIEWER_PARALLELISM = Number(option('reviewer-parallelism', '4'));
const PHASES = option('phases', 'modelgate,floor').split(',') as Array<'modelgate' | 'floor'>;
const JWT_SECRET = 'load-benchmark-secret-0123456789-0123456789';
const DEPLOY_SECRET = 'load-benchmark-deploy-secret-0123456789';
const CARD_FIELDS = ['intendedUse', 'outOfScopeUse', 'limitations', 'ethicalConsiderations', 'trainingData', 'evaluationData', 'license', 'contacts', 'humanOversight', 'riskManagement', 'postMarketMonitoring'];

const REVIEWERS = [
  { id: 'rita', roles: ['ml-reviewer'] },
  { id: 'ravi', roles: ['ml-reviewer'] },
  { id: 'sec', roles: ['security-reviewer'] },
  { id: 'fay', roles: ['fairness-reviewer'] },
  { id: 'lee', roles: ['compliance-officer'] },
  { id: 'bo', roles: ['business-owner'] },
];
const SUBMITTER = { id: 'sam', roles: ['data-scientist'] };

type Tier = 'low' | 'medium' | 'high';
const tierOf = (i: number): Tier => {
  const p = ((i * 37) % 100) + 0.5; // spread the tiers evenly over the submission order
  return p < MIX[0] ? 'low' : p < MIX[0] + MIX[1] ? 'medium' : 'high';
};
const ms = (x: number) => Math.round(x);
/** The worker and API processes of the running phase, and the run's folder: on a failure the processes are stopped and their logs shown. */
const running = new Set<ModelgateProcess>();
let runFolder: string | undefined;

interface ListedPromotion {
  promotionId: string;
  model: string;
  status: string;
  pendingGates: string[];
}

/** The figures of one phase. */
interface PhaseResult {
  workflow: 'modelgate' | 'floor';
  promotions: number;
  seconds: number;
  completedPerSecond: number;
  decisions: number;
  gateClosedVisibleP50Ms: number;
  gateClosedVisibleP95Ms: number;
  lastDecisionToDeployedP50Ms: number;
  lastDecisionToDeployedP95Ms: number;
  submitToDeployedLowTierP50Ms: number;
  cpuSecondsPerPromotion: Record<string, number>;
  workerRssMb: { peak: number; median: number; end: number };
}

async function main() {
  const config = loadConfig();
  await runMigrations(config.databaseUrl);
  const runDir = process.env.MODELGATE_BENCH_RUN_DIR;
  const dir = await mkdtemp(path.join(tmpdir(), 'modelgate-bench-load-'));
  runFolder = dir;
  const receiver = await new DeployReceiver(DEPLOY_SECRET).start();

  // The shipped default policy, with production deployed through the webhook provider.
  const policy = parse(await readFile(path.join(REPO_ROOT, 'policies', 'default.yaml'), 'utf8')) as { environments: Record<string, Record<string, unknown>> };
  policy.environments.production!.deployment = { provider: 'webhook', url: receiver.url, secretEnv: 'MODELGATE_DEPLOY_WEBHOOK_SECRET', requestTimeout: '10s' };
  await mkdir(path.join(dir, 'policies'));
  await writeFile(path.join(dir, 'policies', 'default.yaml'), stringify(policy));
  const loaded = parsePolicy(stringify(policy), 'default.yaml');
  const gatesOf = (roles: string[]) =>
    [...new Set(Object.values(loaded.policy.tiers).flatMap((t) => t?.stages.flatMap((s) => s.gates.filter((g) => g.roles.some((r) => roles.includes(r))).map((g) => g.name)) ?? []))];

  const floorBundle = path.join(dir, 'floor-bundle.js');
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./workflows'), logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} } });
  await writeFile(floorBundle, code);

  const client = new Client({ connection: await Connection.connect({ address: config.temporal.address }), namespace: config.temporal.namespace });
  const tokens = new Map<string, string>();
  for (const person of [...REVIEWERS, SUBMITTER]) tokens.set(person.id, await signDevToken({ secret: JWT_SECRET, user: person.id, roles: person.roles, expiresIn: '12h' }));
  const artifacts = path.join(dir, 'artifacts');
  await mkdir(artifacts);
  const manifestFor = async (model: string, tier: Tier) => {
    const manifest = await writeManifest({ model, tier }, artifacts);
    return {
      ...manifest,
      lineage: { codeCommit: '0123456789abcdef0123456789abcdef01234567', trainingData: { uri: 's3://data/train', sha256: 'a'.repeat(64), classification: 'internal', containsPersonalData: false } },
      metrics: { accuracy: 0.95 },
      modelCard: Object.fromEntries(CARD_FIELDS.map((f) => [f, `The ${f} of a load-benchmark model, described at length.`])),
    };
  };

  const runPhase = async (workflow: 'modelgate' | 'floor'): Promise<PhaseResult> => {
    const taskQueue = `load-${workflow}-${randomUUID().slice(0, 8)}`;
    const port = await freePort();
    const server = `http://127.0.0.1:${port}`;
    const env = {
      ...process.env,
      TEMPORAL_TASK_QUEUE: taskQueue,
      POLICY_DIR: path.join(dir, 'policies'),
      AUTH_JWT_SECRET: JWT_SECRET,
      MODELGATE_DEPLOY_WEBHOOK_SECRET: DEPLOY_SECRET,
      MODELGATE_FLOOR_BUNDLE: floorBundle,
      ARTIFACT_ROOTS: tmpdir(),
      ARTIFACT_STORE_DIR: path.join(dir, 'artifact-store'),
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
    };
    const worker = new ModelgateProcess(`${workflow}-worker`, {
      entry: workflow === 'modelgate' ? 'worker' : { script: path.join(__dirname, 'floor-worker.ts'), nodeArgs: ['--import', 'tsx'] },
      env: workerEnvironment(env),
      logFile: path.join(dir, `${workflow}-worker.log`),
    }).start();
    const api = new ModelgateProcess(`${workflow}-api`, { entry: 'api', env, logFile: path.join(dir, `${workflow}-api.log`) }).start();
    running.add(worker).add(api);
    await waitForApiReady(server);
    const call = <T>(actor: string, method: 'GET' | 'POST', route: string, body?: unknown) =>
      callApi<T>({ server, token: tokens.get(actor)! }, method, route, body, { timeoutMs: 120_000 });
    const closed = async () =>
      (await client.workflow.count(`TaskQueue = '${taskQueue}' AND WorkflowType = 'PromotionWorkflow' AND ExecutionStatus = 'Completed'`)).count;

    const gateLatencies: number[] = [];
    const deployLatencies: number[] = [];
    const lowTierLatencies: number[] = [];
    let decisions = 0;
    let done = false;
    const watchers = new Set<Promise<void>>();

    /** After a decision that closed its gate: when visibility shows the gate closed, and (for the last) DEPLOYED. */
    const watch = (model: string, gate: string, answeredAt: number) => {
      const watcher = (async () => {
        let gateSeen = false;
        for (let polls = 0; polls < 4000; polls++) {
          const page = await call<{ promotions: ListedPromotion[] }>('sam', 'GET', `/v1/promotions?model=${encodeURIComponent(model)}&pageSize=1`);
          const listed = page.promotions[0];
          const now = performance.now();
          if (listed && !gateSeen && (listed.status !== 'IN_REVIEW' || !listed.pendingGates.includes(gate))) {
            gateSeen = true;
            gateLatencies.push(now - answeredAt);
            if (listed.status === 'IN_REVIEW') return;
          }
          if (listed?.status === 'DEPLOYED') {
            deployLatencies.push(now - answeredAt);
            return;
          }
          await sleep(gateSeen ? 100 : 25);
        }
      })().finally(() => watchers.delete(watcher));
      watchers.add(watcher);
    };

    /** A reviewer: polls their queue and approves what waits on their gates, a few at a time. */
    const review = async (person: (typeof REVIEWERS)[number]) => {
      const mine = gatesOf(person.roles);
      const decided = new Set<string>();
      while (!done) {
        const page = await call<{ promotions: ListedPromotion[] }>(person.id, 'GET', '/v1/promotions?pendingFor=me&pageSize=500');
        const todo = page.promotions.flatMap((p) => p.pendingGates.filter((g) => mine.includes(g) && !decided.has(`${p.promotionId}|${g}`)).map((gate) => ({ ...p, gate })));
        if (todo.length === 0) {
          await sleep(100);
          continue;
        }
        let next = 0;
        await Promise.all(
          Array.from({ length: REVIEWER_PARALLELISM }, async () => {
            while (next < todo.length) {
              const item = todo[next++]!;
              decided.add(`${item.promotionId}|${item.gate}`);
              try {
                const answer = await call<MessageResult>(person.id, 'POST', promotionApiPath(item.promotionId, 'decisions'), {
                  gate: item.gate,
                  decision: 'approve',
                  requestId: `${item.promotionId}:${item.gate}:${person.id}`,
                });
                const answeredAt = performance.now();
                decisions += 1;
                if (answer.summary.includes('gate passed')) watch(item.model, item.gate, answeredAt);
              } catch (err) {
                // A gate listed before visibility caught up with an earlier decision: refused, harmless.
                if (!(err instanceof ApiCallError) || err.status !== 409) throw err;
              }
            }
          }),
        );
      }
    };

    const submitAll = async (count: number, prefix: string) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: SUBMITTERS }, async () => {
          while (next < count) {
            const i = next++;
            const tier = tierOf(i);
            const model = `${prefix}-${i}-${tier}`;
            const manifest = await manifestFor(model, tier);
            const submittedAt = performance.now();
            await call('sam', 'POST', '/v1/promotions', manifest);
            if (tier === 'low') {
              const watcher = (async () => {
                for (;;) {
                  const page = await call<{ promotions: ListedPromotion[] }>('sam', 'GET', `/v1/promotions?model=${encodeURIComponent(model)}&pageSize=1`);
                  if (page.promotions[0]?.status === 'DEPLOYED') return void lowTierLatencies.push(performance.now() - submittedAt);
                  await sleep(50);
                }
              })().finally(() => watchers.delete(watcher));
              watchers.add(watcher);
            }
          }
        }),
      );
    };
    const reviewers = REVIEWERS.map(review);

    // Warm-up (JIT, connections, caches): a few promotions of each tier, not measured.
    const warmup = 6;
    await submitAll(warmup, `warm-${workflow}-${taskQueue.slice(-4)}`);
    while ((await closed()) < warmup) await sleep(250);
    await Promise.all([...watchers]);
    gateLatencies.length = 0;
    deployLatencies.length = 0;
    lowTierLatencies.length = 0;
    decisions = 0;

    const before = {
      worker: (await processUsage(worker.pid!)).cpuSeconds,
      api: (await processUsage(api.pid!)).cpuSeconds,
      services: await servicesCpuSeconds(runDir),
      bench: process.cpuUsage(),
    };
    const rss: number[] = [];
    const sampler = setInterval(() => {
      processUsage(worker.pid!).then((u) => rss.push(u.rssMb), () => undefined);
    }, 500);
    const t0 = performance.now();
    await submitAll(PROMOTIONS, `load-${workflow}-${taskQueue.slice(-4)}`);
    for (let reported = 0; ; ) {
      const done = (await closed()) - warmup;
      if (done >= PROMOTIONS) break;
      if (done >= reported + PROMOTIONS / 10) {
        reported = done;
        process.stderr.write(`${workflow}: ${done} of ${PROMOTIONS} closed after ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
      }
      await sleep(250);
    }
    const seconds = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const benchCpu = process.cpuUsage(before.bench);
    const after = {
      worker: await processUsage(worker.pid!),
      api: (await processUsage(api.pid!)).cpuSeconds,
      services: await servicesCpuSeconds(runDir),
    };
    done = true;
    await Promise.all([...watchers]);
    await Promise.all(reviewers);
    await Promise.all([worker.stop(), api.stop()]);
    running.clear();

    const deployed = [...receiver.deployed.values()].filter((b) => String(b.promotionId).includes(`load-${workflow}-${taskQueue.slice(-4)}`)).length;
    if (deployed !== PROMOTIONS) throw new Error(`${workflow}: the receiver deployed ${deployed} of ${PROMOTIONS} promotions`);
    const perPromotion = (cpu: number) => +(cpu / PROMOTIONS).toFixed(4);
    const sortedRss = [...rss].sort((a, b) => a - b);
    return {
      workflow,
      promotions: PROMOTIONS,
      seconds: +seconds.toFixed(1),
      completedPerSecond: +(PROMOTIONS / seconds).toFixed(2),
      decisions,
      gateClosedVisibleP50Ms: ms(percentile(gateLatencies, 50)),
      gateClosedVisibleP95Ms: ms(percentile(gateLatencies, 95)),
      lastDecisionToDeployedP50Ms: ms(percentile(deployLatencies, 50)),
      lastDecisionToDeployedP95Ms: ms(percentile(deployLatencies, 95)),
      submitToDeployedLowTierP50Ms: ms(percentile(lowTierLatencies, 50)),
      cpuSecondsPerPromotion: {
        worker: perPromotion(after.worker.cpuSeconds - before.worker),
        api: perPromotion(after.api - before.api),
        temporal: perPromotion((after.services.temporal ?? 0) - (before.services.temporal ?? 0)),
        postgres: perPromotion((after.services.postgres ?? 0) - (before.services.postgres ?? 0)),
        benchmarkClients: perPromotion((benchCpu.user + benchCpu.system) / 1e6),
      },
      workerRssMb: { peak: ms(after.worker.peakRssMb), median: ms(sortedRss[Math.floor(sortedRss.length / 2)] ?? 0), end: ms(after.worker.rssMb) },
    };
  };

  const machine = { cores: cpus().length, loadAverageAtStart: loadavg().map((x) => +x.toFixed(2)) };
  const results: PhaseResult[] = [];
  for (const phase of PHASES) {
    const result = await runPhase(phase);
    console.log(`${phase}:`, JSON.stringify(result));
    results.push(result);
  }
  const modelgate = results.find((r) => r.workflow === 'modelgate');
  const floor = results.find((r) => r.workflow === 'floor');
  if (modelgate && floor) {
    const ratio = (a: number, b: number) => +(a / b).toFixed(2);
    console.log(
      'modelgate / floor:',
      JSON.stringify({
        completedPerSecond: ratio(modelgate.completedPerSecond, floor.completedPerSecond),
        gateClosedVisibleP50: ratio(modelgate.gateClosedVisibleP50Ms, floor.gateClosedVisibleP50Ms),
        lastDecisionToDeployedP50: ratio(modelgate.lastDecisionToDeployedP50Ms, floor.lastDecisionToDeployedP50Ms),
        workerCpuPerPromotion: ratio(modelgate.cpuSecondsPerPromotion.worker!, floor.cpuSecondsPerPromotion.worker!),
      }),
    );
  }
  console.log('machine:', JSON.stringify({ ...machine, loadAverageAtEnd: loadavg().map((x) => +x.toFixed(2)) }));
  await receiver.close();
  await client.connection.close();
  await rm(dir, { recursive: true, force: true });
}

main().catch(async (err: unknown) => {
  console.error(err);
  // Stop the processes (their logs are flushed on exit), then show the end of each log.
  await Promise.all([...running].map((p) => p.stop(2_000)));
  for (const name of runFolder ? (await readdir(runFolder)).filter((f) => f.endsWith('.log')) : []) {
    const text = await readFile(path.join(runFolder!, name), 'utf8');
    console.error(`--- ${path.join(runFolder!, name)} (end)\n${text.slice(-4_000)}`);
  }
  process.exit(1);
});
