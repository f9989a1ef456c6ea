// The load benchmark (issue 18): Modelgate (A) against the floor (B) in ABBA order, each phase on
// fresh services. In a phase, N promotions of mixed tiers (low: auto-approved; medium: two gates;
// high: five gates in three stages, one with quorum 2) are submitted at once through the API
// process (dist/api/server.js) and decided by simulated reviewers who poll
// `GET /v1/promotions?pendingFor=me` and approve through `POST …/decisions`, each with their own
// token; approved promotions are deployed through the webhook provider to a local receiver.
// Modelgate's phases run dist/worker.js; the floor's run bench/bundle-worker.ts compiled to
// JavaScript with the floor workflows (bench/load/workflows.ts). `bench/load/run.ts` runs it and
// writes the results file; test/bench/load-bench.test.ts runs it with tiny sizes.
import { randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { parse, stringify } from 'yaml';
import { signDevToken } from '../../src/api/auth';
import { ApiCallError, callApi, promotionApiPath } from '../../src/cli/api-client';
import { workerEnvironment } from '../../src/config';
import { runMigrations } from '../../src/db/migrate';
import { parsePolicy } from '../../src/policy/load';
import type { MessageResult } from '../../src/shared/promotion';
import { bundleWorkflows } from '../../src/worker';
import { writeManifest } from '../../test/faults/drivers';
import { DeployReceiver } from '../../test/support/deploy-receiver';
import { ModelgateProcess, PROCESS_ENTRIES, REPO_ROOT, freePort, waitForApiReady } from '../../test/support/processes';
import { serviceRoleUrl } from '../../test/support/stack';
import { latencyFigures } from '../results';
import { type FreshServices, phaseServicesDir, startFreshServices } from '../services';
import { compileBundleWorker, processUsage, servicesCpuSeconds, sleep } from '../support';
import { WORKER_NODE_FLAGS } from '../../src/worker-node-flags';

/** The two sides: Modelgate's worker and workflows, and the floor's. */
export type LoadSide = 'modelgate' | 'floor';

/** The sizes and settings of a run. */
export interface LoadOptions {
  /** ABBA rounds: each runs Modelgate, the floor, the floor, Modelgate (default 3). */
  rounds: number;
  /** Measured promotions per phase, submitted at once. */
  promotions: number;
  /** Percent of low, medium and high tier promotions. */
  mix: [number, number, number];
  /** Concurrent submitters. */
  submitters: number;
  /** Decisions each simulated reviewer sends at once. */
  reviewerParallelism: number;
  /** Promotions per phase before the measurement (JIT, connections, caches), not measured. */
  warmup: number;
  /**
   * `fresh` (the default): each phase starts its own PostgreSQL cluster and Temporal server
   * (scripts/lib.sh start_temporal_and_postgres). `shared`: every phase uses the services of
   * `env` (a test's), each with a task queue of its own.
   */
  services: 'fresh' | 'shared';
  /** With shared services: their addresses (TEMPORAL_ADDRESS, DATABASE_URL…); default this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** With shared services: the run folder of scripts/bench.sh (Temporal's and PostgreSQL's pids, for their CPU). */
  servicesRunDir?: string;
  /** Progress lines. */
  log?: (line: string) => void;
  /**
   * A folder where each phase's worker writes V8 CPU profiles (`node --cpu-prof`, one per thread:
   * the main thread's activities and the workflow thread's workflow code) when it stops, in
   * `<phase>-<side>/`; unset: none. Profiling slows both sides: its figures are not results.
   */
  cpuProfileDir?: string;
}

/** Defaults: 3 ABBA rounds of 250 promotions per phase (1,500 per side). */
export const DEFAULT_LOAD_OPTIONS: LoadOptions = {
  rounds: 3,
  promotions: 250,
  mix: [40, 35, 25],
  submitters: 20,
  reviewerParallelism: 4,
  warmup: 6,
  services: 'fresh',
};

/** p50 and p95 of a list of milliseconds, with the samples. */
export type Latency = ReturnType<typeof latencyFigures>;

/** CPU seconds per measured promotion of each process; `null` for the services when their processes are not known (shared services outside scripts/bench.sh). */
export interface CpuPerPromotion {
  worker: number;
  api: number;
  temporal: number | null;
  postgres: number | null;
  /** This process: the simulated submitters and reviewers and the watchers of visibility. */
  benchmark: number;
}

/** The figures of one phase. */
export interface LoadPhase {
  side: LoadSide;
  /** 1-based round, and the phase's place in the run (1-based). */
  round: number;
  order: number;
  promotions: number;
  /** First submission → the last promotion closed. */
  seconds: number;
  promotionsPerSecond: number;
  decisions: number;
  /**
   * Calls answered 503 `not_ready` (a promotion that did not answer within 20 s: the worker is
   * saturated) and sent again after 2 s with the same request id, as the API asks a client to do.
   */
  retriedAfterNotReady: number;
  /** A decision that closed its gate answered → the gate shown closed in visibility (what the lists read). */
  decisionToGateClosed: Latency;
  /** The last decision answered → `DEPLOYED` in visibility (approval, webhook, registry). */
  lastDecisionToDeployed: Latency;
  /** Submission → `DEPLOYED`, low tier (auto-approved). */
  submitToDeployedLowTier: Latency;
  cpuSecondsPerPromotion: CpuPerPromotion;
  /** The worker's resident set: peak (VmHWM), median of samples every 500 ms, at the end. */
  workerRssMb: { peak: number; median: number; end: number };
}

/** One side's phases taken together. */
export interface LoadSideFigures {
  phases: number;
  promotions: number;
  seconds: number;
  /** All its promotions over all its phases' seconds. */
  promotionsPerSecond: number;
  /** Calls answered 503 and sent again, over all its phases. */
  retriedAfterNotReady: number;
  /** Each phase's promotions per second, in run order. */
  promotionsPerSecondByPhase: number[];
  decisionToGateClosed: Latency;
  lastDecisionToDeployed: Latency;
  submitToDeployedLowTier: Latency;
  /** CPU of all its phases over all its promotions. */
  cpuSecondsPerPromotion: CpuPerPromotion;
  /** The highest peak, the median of the phases' medians. */
  workerRssMb: { peak: number; median: number };
}

/** Modelgate's figure over the floor's. */
export interface LoadRatios {
  /** Throughput (target ≥ 0.9). */
  promotionsPerSecond: number;
  decisionToGateClosedP50: number;
  decisionToGateClosedP95: number;
  workerCpuPerPromotion: number;
  workerRssPeak: number;
}

/** Everything a run reports. */
export interface LoadFigures {
  /** The sides in run order, e.g. modelgate, floor, floor, modelgate for one round. */
  order: LoadSide[];
  phases: LoadPhase[];
  sides: Record<LoadSide, LoadSideFigures>;
  modelgateOverFloor: LoadRatios;
}

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

/** States in which a promotion of the load would wait for ever or end undeployed: the run is wrong. */
const STOPPED_SHORT = ['CHECKS_FAILED', 'CHANGES_REQUESTED', 'REJECTED', 'EXPIRED', 'DEPLOY_FAILED', 'WITHDRAWN'];

interface ListedPromotion {
  promotionId: string;
  model: string;
  status: string;
  pendingGates: string[];
}

/** The sides of `rounds` ABBA rounds, in run order. */
export function abbaOrder(rounds: number): LoadSide[] {
  return Array.from({ length: rounds }, (): LoadSide[] => ['modelgate', 'floor', 'floor', 'modelgate']).flat();
}

const round1 = (x: number) => Math.round(x * 10) / 10;
const perPromotion = (cpuSeconds: number, promotions: number) => Math.round((cpuSeconds / promotions) * 10_000) / 10_000;
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

/** Runs the load benchmark; every phase's processes (and fresh services) are stopped before it returns or throws. */
export async function runLoadBenchmark(options: LoadOptions): Promise<LoadFigures> {
  const log = options.log ?? (() => undefined);
  const env = options.env ?? process.env;
  const [low, medium] = options.mix;
  const tierOf = (i: number): Tier => {
    const p = ((i * 37) % 100) + 0.5; // spread the tiers evenly over the submission order
    return p < low ? 'low' : p < low + medium ? 'medium' : 'high';
  };
  const dir = await mkdtemp(path.join(tmpdir(), 'modelgate-bench-load-'));
  const receiver = await new DeployReceiver(DEPLOY_SECRET).start();
  const running = new Set<ModelgateProcess>();
  let services: FreshServices | undefined;
  let keepRunDir = false;
  // Ctrl-C or a TERM ends the run through process.exit (bench/load/run.ts): the phase's worker and API go with it.
  const killRunningOnExit = () => {
    for (const child of running) child.child?.kill('SIGKILL');
  };
  process.once('exit', killRunningOnExit);
  try {
    // The shipped default policy, with production deployed through the webhook provider.
    const policy = parse(await readFile(path.join(REPO_ROOT, 'policies', 'default.yaml'), 'utf8')) as { environments: Record<string, Record<string, unknown>> };
    policy.environments.production!.deployment = { provider: 'webhook', url: receiver.url, secretEnv: 'MODELGATE_DEPLOY_WEBHOOK_SECRET', requestTimeout: '10s' };
    await mkdir(path.join(dir, 'policies'));
    await writeFile(path.join(dir, 'policies', 'default.yaml'), stringify(policy));
    const loaded = parsePolicy(stringify(policy), 'default.yaml');
    const gatesOf = (roles: string[]) =>
      [...new Set(Object.values(loaded.policy.tiers).flatMap((t) => t?.stages.flatMap((s) => s.gates.filter((g) => g.roles.some((r) => roles.includes(r))).map((g) => g.name)) ?? []))];

    // The floor: its workflows bundled like dist/workflow-bundle.js (the tracing interceptors, zod preloaded), its worker compiled.
    const floorBundle = path.join(dir, 'floor-bundle.js');
    const { code } = await bundleWorkflows(require.resolve('./workflows'));
    await writeFile(floorBundle, code);
    const benchWorker = await compileBundleWorker();
    const profileArgs = (phase: string) =>
      options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.join(path.resolve(options.cpuProfileDir), phase)}`] : [];

    const tokens = new Map<string, string>();
    for (const person of [...REVIEWERS, SUBMITTER]) tokens.set(person.id, await signDevToken({ secret: JWT_SECRET, user: person.id, roles: person.roles, expiresIn: '12h' }));
    const artifacts = path.join(dir, 'artifacts');
    await mkdir(artifacts);
    // The example evaluation set, for the fairness check that the default policy requires of the high tier (every tier gives it).
    const evaluationFile = path.join(artifacts, 'evaluation.csv');
    await copyFile(path.join(REPO_ROOT, 'examples', 'evaluation.csv'), evaluationFile);
    const evaluation = { uri: pathToFileURL(evaluationFile).href, labelColumn: 'label', predictionColumn: 'prediction', scoreColumn: 'score', sensitiveColumns: ['group'], positiveLabel: 1 };
    const manifestFor = async (model: string, tier: Tier) => ({
      ...(await writeManifest({ model, tier }, artifacts)),
      evaluation,
      lineage: { codeCommit: '0123456789abcdef0123456789abcdef01234567', trainingData: { uri: 's3://data/train', sha256: 'a'.repeat(64), classification: 'internal', containsPersonalData: false } },
      metrics: { accuracy: 0.9433, f1: 0.9593, rocAuc: 0.9877 }, // the example's, recomputed from the evaluation set
      modelCard: Object.fromEntries(CARD_FIELDS.map((f) => [f, `The ${f} of a load-benchmark model, described at length.`])),
    });

    const runPhase = async (side: LoadSide, round: number, order: number): Promise<LoadPhase> => {
      // The services: fresh ones (migrated by the owner; the processes connect as the service role), or the shared ones.
      let servicesEnv: NodeJS.ProcessEnv;
      let cpuDir: string | undefined;
      if (options.services === 'fresh') {
        log(`phase ${order} (${side}): starting fresh PostgreSQL and Temporal`);
        services = await startFreshServices(phaseServicesDir(dir, order));
        await runMigrations(services.env.DATABASE_URL);
        servicesEnv = { ...env, ...services.env, DATABASE_URL: services.env.MODELGATE_TEST_SERVICE_DATABASE_URL };
        cpuDir = services.dir;
      } else {
        await runMigrations(env.DATABASE_URL!);
        servicesEnv = { ...env, DATABASE_URL: serviceRoleUrl(env.DATABASE_URL!) };
        cpuDir = options.servicesRunDir;
      }
      const client = new Client({ connection: await Connection.connect({ address: servicesEnv.TEMPORAL_ADDRESS! }), namespace: servicesEnv.TEMPORAL_NAMESPACE ?? 'modelgate' });
      const taskQueue = `load-${side}-${randomUUID().slice(0, 8)}`;
      const port = await freePort();
      const server = `http://127.0.0.1:${port}`;
      const processEnv: NodeJS.ProcessEnv = {
        ...servicesEnv,
        TEMPORAL_TASK_QUEUE: taskQueue,
        POLICY_DIR: path.join(dir, 'policies'),
        AUTH_JWT_SECRET: JWT_SECRET,
        MODELGATE_DEPLOY_WEBHOOK_SECRET: DEPLOY_SECRET,
        ARTIFACT_ROOTS: tmpdir(),
        ARTIFACT_STORE_DIR: path.join(dir, `artifact-store-${order}`),
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        MALLOC_ARENA_MAX: env.MALLOC_ARENA_MAX ?? '2',
      };
      const worker = new ModelgateProcess(`${side}-worker`, {
        entry: { script: side === 'modelgate' ? PROCESS_ENTRIES.worker : benchWorker, nodeArgs: [...WORKER_NODE_FLAGS, ...profileArgs(`${order}-${side}`)] },
        env: workerEnvironment(side === 'modelgate' ? processEnv : { ...processEnv, MODELGATE_BENCH_WORKFLOW_BUNDLE: floorBundle }),
        logFile: path.join(dir, `${order}-${side}-worker.log`),
      }).start();
      const api = new ModelgateProcess(`${side}-api`, { entry: 'api', env: processEnv, logFile: path.join(dir, `${order}-${side}-api.log`) }).start();
      running.add(worker).add(api);
      const gateLatencies: number[] = [];
      const deployLatencies: number[] = [];
      const lowTierLatencies: number[] = [];
      let decisions = 0;
      let retriedAfterNotReady = 0;
      let done = false;
      const watchers = new Set<Promise<void>>();
      const reviewers: Array<Promise<void>> = [];
      /** Rejects when the worker or the API exits (before they are stopped). */
      const stopped = new Promise<never>((_, reject) => {
        for (const [name, child] of [['worker', worker], ['api', api]] as const) {
          const exited = () => reject(new Error(`the ${name} process exited in phase ${order} (${side}); the end of its log follows`));
          if (!child.pid) exited();
          else child.child?.once('exit', exited);
        }
      });
      stopped.catch(() => undefined);
      try {
        await Promise.race([waitForApiReady(server), stopped]);
        log(`phase ${order} (${side}): worker and API started; warming up`);
        /** A simulated person's call; a 503 (not_ready) is sent again after 2 s, 10 times at most, and counted. */
        const call = async <T>(actor: string, method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> => {
          for (let attempt = 1; ; attempt++) {
            try {
              return await callApi<T>({ server, token: tokens.get(actor)! }, method, route, body, { timeoutMs: 120_000 });
            } catch (err) {
              if (!(err instanceof ApiCallError) || err.status !== 503 || attempt >= 10) throw err;
              retriedAfterNotReady += 1;
              await sleep(2_000);
            }
          }
        };
        const count = async (condition: string) => (await client.workflow.count(`TaskQueue = '${taskQueue}' AND WorkflowType = 'PromotionWorkflow' AND ${condition}`)).count;
        let polls = 0;
        /** Promotions closed so far; throws when one stopped short of deployment (every promotion of the load is to be deployed). */
        const closed = async () => {
          if (watcherFailure) throw watcherFailure;
          if (++polls % 8 === 0) {
            const stuck = await count(`PromotionStatus IN (${STOPPED_SHORT.map((s) => `'${s}'`).join(', ')})`);
            if (stuck > 0) throw new Error(`phase ${order} (${side}): ${stuck} promotion(s) stopped short of deployment (${STOPPED_SHORT.join(', ')}); see the promotions of task queue ${taskQueue}`);
          }
          return count(`ExecutionStatus = 'Completed'`);
        };
        /** The first watcher that failed (an API call refused): the phase fails at its next step. */
        let watcherFailure: Error | undefined;
        const track = (watcher: Promise<void>) => {
          const tracked: Promise<void> = watcher
            .catch((err: unknown) => void (watcherFailure ??= err instanceof Error ? err : new Error(String(err))))
            .finally(() => watchers.delete(tracked));
          watchers.add(tracked);
        };

        /** Per model: when the last decision that closed one of its gates was answered. */
        const lastGateClosedAt = new Map<string, number>();
        /**
         * After a decision that closed its gate: when visibility shows the gate closed, and, for the
         * last such decision of the promotion, DEPLOYED. Visibility can lag so that an earlier gate is
         * first seen closed with the promotion already DEPLOYED (every decision answered by then):
         * only the last decision's watcher times the deployment.
         */
        const watch = (model: string, gate: string, answeredAt: number) =>
          track(
            (async () => {
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
                  if (lastGateClosedAt.get(model) === answeredAt) deployLatencies.push(now - answeredAt);
                  return;
                }
                await sleep(gateSeen ? 100 : 25);
              }
            })(),
          );

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
              Array.from({ length: options.reviewerParallelism }, async () => {
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
                    if (answer.summary.includes('gate passed')) {
                      lastGateClosedAt.set(item.model, Math.max(answeredAt, lastGateClosedAt.get(item.model) ?? 0));
                      watch(item.model, item.gate, answeredAt);
                    }
                  } catch (err) {
                    // A gate listed before visibility caught up with an earlier decision: refused, harmless.
                    if (!(err instanceof ApiCallError) || err.status !== 409) throw err;
                  }
                }
              }),
            );
          }
        };

        const submitAll = async (total: number, prefix: string) => {
          let next = 0;
          await Promise.all(
            Array.from({ length: options.submitters }, async () => {
              while (next < total) {
                const i = next++;
                const tier = tierOf(i);
                const model = `${prefix}-${i}-${tier}`;
                const manifest = await manifestFor(model, tier);
                const submittedAt = performance.now();
                await call('sam', 'POST', '/v1/promotions', manifest);
                if (tier !== 'low') continue;
                track(
                  (async () => {
                    for (;;) {
                      const page = await call<{ promotions: ListedPromotion[] }>('sam', 'GET', `/v1/promotions?model=${encodeURIComponent(model)}&pageSize=1`);
                      if (page.promotions[0]?.status === 'DEPLOYED') return void lowTierLatencies.push(performance.now() - submittedAt);
                      await sleep(50);
                    }
                  })(),
                );
              }
            }),
          );
        };
        reviewers.push(...REVIEWERS.map(review));
        // A reviewer's failure or a process's exit ends the phase at the next step it waits for.
        const failed = Promise.race([...reviewers, stopped]).then(() => undefined);
        failed.catch(() => undefined);
        const orFail = <T>(step: Promise<T>) => Promise.race([step, failed.then(() => new Promise<never>(() => undefined))]);

        // Warm-up: a few promotions, not measured.
        const tag = `${order}${side === 'modelgate' ? 'm' : 'f'}-${taskQueue.slice(-4)}`;
        await orFail(submitAll(options.warmup, `warm-${tag}`));
        while ((await orFail(closed())) < options.warmup) await sleep(250);
        await orFail(Promise.all([...watchers]));
        if (watcherFailure) throw watcherFailure;
        gateLatencies.length = 0;
        deployLatencies.length = 0;
        lowTierLatencies.length = 0;
        decisions = 0;
        retriedAfterNotReady = 0;

        const before = {
          worker: (await processUsage(worker.pid!)).cpuSeconds,
          api: (await processUsage(api.pid!)).cpuSeconds,
          services: await servicesCpuSeconds(cpuDir),
          bench: process.cpuUsage(),
        };
        log(`phase ${order} (${side}): warmed up; submitting ${options.promotions}`);
        const rss: number[] = [];
        const sampler = setInterval(() => {
          if (worker.pid) processUsage(worker.pid).then((u) => rss.push(u.rssMb), () => undefined);
        }, 500);
        const t0 = performance.now();
        try {
          const prefix = `load-${tag}`;
          await orFail(submitAll(options.promotions, prefix));
          for (let reported = 0; ; ) {
            const closedCount = (await orFail(closed())) - options.warmup;
            if (closedCount >= options.promotions) break;
            if (closedCount >= reported + options.promotions / 10) {
              reported = closedCount;
              log(`phase ${order} (${side}): ${closedCount} of ${options.promotions} closed after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
            }
            await sleep(250);
          }
          const seconds = (performance.now() - t0) / 1000;
          clearInterval(sampler);
          const benchCpu = process.cpuUsage(before.bench);
          const after = { worker: await processUsage(worker.pid!), api: (await processUsage(api.pid!)).cpuSeconds, services: await servicesCpuSeconds(cpuDir) };
          done = true;
          await orFail(Promise.all([...watchers]));
          if (watcherFailure) throw watcherFailure;
          await Promise.all(reviewers);
          const deployed = [...receiver.deployed.values()].filter((b) => String(b.promotionId).includes(prefix)).length;
          if (deployed !== options.promotions) throw new Error(`phase ${order} (${side}): the receiver deployed ${deployed} of ${options.promotions} promotions`);
          const serviceCpu = (key: 'temporal' | 'postgres') =>
            before.services[key] === undefined || after.services[key] === undefined ? null : perPromotion(after.services[key] - before.services[key], options.promotions);
          return {
            side,
            round,
            order,
            promotions: options.promotions,
            seconds: round1(seconds),
            promotionsPerSecond: Math.round((options.promotions / seconds) * 100) / 100,
            decisions,
            retriedAfterNotReady,
            decisionToGateClosed: latencyFigures(gateLatencies),
            lastDecisionToDeployed: latencyFigures(deployLatencies),
            submitToDeployedLowTier: latencyFigures(lowTierLatencies),
            cpuSecondsPerPromotion: {
              worker: perPromotion(after.worker.cpuSeconds - before.worker, options.promotions),
              api: perPromotion(after.api - before.api, options.promotions),
              temporal: serviceCpu('temporal'),
              postgres: serviceCpu('postgres'),
              benchmark: perPromotion((benchCpu.user + benchCpu.system) / 1e6, options.promotions),
            },
            workerRssMb: { peak: Math.round(after.worker.peakRssMb), median: Math.round(median(rss)), end: Math.round(after.worker.rssMb) },
          };
        } finally {
          clearInterval(sampler);
        }
      } finally {
        done = true;
        await Promise.all([worker.stop(), api.stop()]);
        running.delete(worker);
        running.delete(api);
        await Promise.allSettled([...reviewers, ...watchers]);
        await client.connection.close();
        if (services) {
          await services.stop();
          services = undefined;
        }
      }
    };

    const order = abbaOrder(options.rounds);
    const phases: LoadPhase[] = [];
    for (const [i, side] of order.entries()) {
      const phase = await runPhase(side, Math.floor(i / 4) + 1, i + 1);
      log(`phase ${phase.order} (${side}): ${phase.promotions} in ${phase.seconds} s, ${phase.promotionsPerSecond} promotions/s, ${phase.retriedAfterNotReady} calls retried after 503`);
      phases.push(phase);
    }
    const sides = { modelgate: sideFigures(phases.filter((p) => p.side === 'modelgate')), floor: sideFigures(phases.filter((p) => p.side === 'floor')) };
    const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
    return {
      order,
      phases,
      sides,
      modelgateOverFloor: {
        promotionsPerSecond: ratio(sides.modelgate.promotionsPerSecond, sides.floor.promotionsPerSecond),
        decisionToGateClosedP50: ratio(sides.modelgate.decisionToGateClosed.p50Ms, sides.floor.decisionToGateClosed.p50Ms),
        decisionToGateClosedP95: ratio(sides.modelgate.decisionToGateClosed.p95Ms, sides.floor.decisionToGateClosed.p95Ms),
        workerCpuPerPromotion: ratio(sides.modelgate.cpuSecondsPerPromotion.worker, sides.floor.cpuSecondsPerPromotion.worker),
        workerRssPeak: ratio(sides.modelgate.workerRssMb.peak, sides.floor.workerRssMb.peak),
      },
    };
  } catch (err) {
    // Show the end of each process's log: the processes are stopped (their logs flushed) by now.
    const logs = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.log'));
    for (const name of logs) log(`--- ${name} (end)\n${(await readFile(path.join(dir, name), 'utf8')).slice(-4_000)}`);
    log(`the run's folder is kept for a look: ${dir}`);
    keepRunDir = true;
    throw err;
  } finally {
    process.removeListener('exit', killRunningOnExit);
    await Promise.all([...running].map((p) => p.stop(2_000)));
    await services?.stop();
    await receiver.close();
    if (!keepRunDir) await rm(dir, { recursive: true, force: true });
  }
}

/** One side's phases taken together: throughput over all of them, latencies of all their samples, CPU over all their promotions. */
function sideFigures(phases: LoadPhase[]): LoadSideFigures {
  const promotions = phases.reduce((sum, p) => sum + p.promotions, 0);
  const seconds = phases.reduce((sum, p) => sum + p.seconds, 0);
  const pooled = (pick: (p: LoadPhase) => Latency) => latencyFigures(phases.flatMap((p) => pick(p).samplesMs));
  const cpu = (pick: (c: CpuPerPromotion) => number | null) =>
    phases.some((p) => pick(p.cpuSecondsPerPromotion) === null)
      ? null
      : perPromotion(phases.reduce((sum, p) => sum + pick(p.cpuSecondsPerPromotion)! * p.promotions, 0), promotions);
  return {
    phases: phases.length,
    promotions,
    seconds: round1(seconds),
    promotionsPerSecond: Math.round((promotions / seconds) * 100) / 100,
    retriedAfterNotReady: phases.reduce((sum, p) => sum + p.retriedAfterNotReady, 0),
    promotionsPerSecondByPhase: phases.map((p) => p.promotionsPerSecond),
    decisionToGateClosed: pooled((p) => p.decisionToGateClosed),
    lastDecisionToDeployed: pooled((p) => p.lastDecisionToDeployed),
    submitToDeployedLowTier: pooled((p) => p.submitToDeployedLowTier),
    cpuSecondsPerPromotion: {
      worker: cpu((c) => c.worker)!,
      api: cpu((c) => c.api)!,
      temporal: cpu((c) => c.temporal),
      postgres: cpu((c) => c.postgres),
      benchmark: cpu((c) => c.benchmark)!,
    },
    workerRssMb: { peak: Math.max(...phases.map((p) => p.workerRssMb.peak)), median: median(phases.map((p) => p.workerRssMb.median)) },
  };
}
