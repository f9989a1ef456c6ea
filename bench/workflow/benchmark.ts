// The workflow benchmark (issue 18, items 2 and 6). `bench/workflow/run.ts` runs it and writes the
// results file; test/bench/workflow-bench.test.ts runs it with tiny sizes.
//  1. Comparison: Modelgate's PromotionWorkflow against the floor (./workflows.ts: the same
//     activities, search-attribute upserts, Update, timers and archive payload, no lifecycle
//     code), each on its own worker process with the production settings, both driven through
//     the path the API uses (startPromotion; a decision through askWorker + sendPromotionMessage),
//     in blocks ordered A B B A so that drift in the machine's load falls on both sides alike.
//  2. Parked: N promotions waiting in IN_REVIEW on a production worker (dist/worker.js, cache
//     WORKER_MAX_CACHED_WORKFLOWS) — by default the promotions worker with the checks on a worker of
//     their own, as deploy/kubernetes runs them — its RSS, a decision on promotions still in its
//     cache and on promotions long evicted from it, and the review queue (GET /v1/review-queue of a
//     real API process) with N open.
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { parse, stringify } from 'yaml';
import { signDevToken } from '../../src/api/auth';
import { askWorker, WORKER_ANSWER_TIMEOUT_MS } from '../../src/api/worker-answer';
import { callApi } from '../../src/cli/api-client';
import { workerEnvironment } from '../../src/config';
import { createPool } from '../../src/db/pool';
import { createSubmissionRegistration } from '../../src/registry';
import { PromotionManifestSchema, type PromotionManifest } from '../../src/manifest/schema';
import { sendPromotionMessage } from '../../src/promotions/messages';
import { startPromotion } from '../../src/promotions/start';
import { stateQuery } from '../../src/shared/messages';
import type { Actor, PromotionState } from '../../src/shared/promotion';
import { bundleWorkflows } from '../../src/worker';
import { latencyFigures } from '../results';
import { benchProcessEnv, compileBundleWorker, endBenchRun, freePort, prepareBenchRun, processUsage, safetensorsArtifact, servicesCpuSeconds, sleep } from '../support';
import { ModelgateProcess, waitForApiReady } from '../../test/support/processes';
import { READY_LINE } from '../bundle-worker';
import { WORKER_NODE_FLAGS } from '../../src/worker-node-flags';

/** The sizes of a run. */
export interface WorkflowBenchOptions {
  /** Measured promotions per side of the comparison (0: no comparison). */
  promotionsPerSide: number;
  /** Promotions per block; blocks run A B B A (Modelgate, floor, floor, Modelgate), repeated. */
  blockSize: number;
  /** Promotions driven at once within a block. */
  concurrency: number;
  /** Promotions per side before the measurement (JIT, connections, caches), not measured. */
  warmup: number;
  /** Promotions parked in IN_REVIEW for the parked phase (0: no parked phase). */
  parked: number;
  /** Promotions started at once while parking. */
  parkConcurrency: number;
  /** Decisions sent to parked promotions that the worker's cache no longer holds. */
  parkedDecisions: number;
  /** Reads of the review queue with every parked promotion open. */
  queueReads: number;
  /**
   * The parked phase's workers: `split`, the promotions worker (WORKER_ROLE=promotions) and a checks
   * worker (WORKER_ROLE=checks), as deploy/kubernetes runs them; `one`, a single worker with both
   * (WORKER_ROLE=all). Default `split`.
   */
  parkedWorkers?: 'split' | 'one';
  /** The services' addresses (TEMPORAL_ADDRESS, DATABASE_URL…); default this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** The run folder of scripts/bench.sh (Temporal's and PostgreSQL's pids, for their CPU). */
  servicesRunDir?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** Defaults of `./scripts/bench.sh workflow`. */
export const DEFAULT_WORKFLOW_BENCH_OPTIONS: WorkflowBenchOptions = {
  promotionsPerSide: 200,
  blockSize: 25,
  concurrency: 4,
  warmup: 4,
  parked: 10_000,
  parkConcurrency: 16,
  parkedDecisions: 50,
  queueReads: 20,
};

/** p50, p95 and the samples, in milliseconds. */
export type Latency = ReturnType<typeof latencyFigures>;

/** What one promotion's history holds, read from Temporal (the same work on both sides, checked). */
export interface HistoryShape {
  events: number;
  activities: number;
  searchAttributeUpserts: number;
  /** Memo upserts (the review summary). */
  memoUpserts: number;
  updates: number;
  timers: number;
  /** Bytes of the audit archive activity's input (the timeline). */
  archivePayloadBytes: number;
}

/** One side of the comparison. */
export interface ComparisonSide {
  /** Submission (startPromotion) → the workflow's result, DEPLOYED. */
  latency: Latency;
  /** CPU seconds per promotion during this side's blocks; `null` without the run folder of scripts/bench.sh. */
  cpuSecondsPerPromotion: { worker: number; temporal: number | null; postgres: number | null; benchmark: number };
  history: HistoryShape;
}

/** The comparison's figures. */
export interface Comparison {
  promotionsPerSide: number;
  /** The order the blocks ran in: M (Modelgate) and F (floor). */
  blockOrder: string;
  maxCachedWorkflows: number;
  modelgate: ComparisonSide;
  floor: ComparisonSide;
  /** Modelgate's latency over the floor's. */
  ratio: { p50: number; p95: number };
}

/** The parked phase's figures. */
export interface Parked {
  promotions: number;
  maxCachedWorkflows: number;
  /** WORKER_ROLE of the worker that holds the promotions: `promotions` (checks on their own worker) or `all`. */
  workerRole: 'promotions' | 'all';
  secondsToPark: number;
  /** RSS of the worker that holds the promotions: started and idle, with every promotion parked, and its peak (VmHWM). */
  workerRssMb: { idle: number; parked: number; peak: number };
  /** RSS of the checks worker with every promotion parked, and its peak; `null` when one worker ran both. */
  checksWorkerRssMb: { parked: number; peak: number } | null;
  /** A decision on one of the promotions parked last, still in the worker's cache (for comparison with the evicted ones). */
  decisionOnCached: Latency;
  /** The worker's sticky-cache misses during those decisions (0 when every one was cached). */
  stickyCacheMissesOnCached: number;
  /** A decision (askWorker + sendPromotionMessage) on a promotion parked long before the last `maxCachedWorkflows`. */
  decisionOnEvicted: Latency;
  /** The worker's sticky-cache misses during those decisions (its Prometheus counter): each was replayed from history. */
  stickyCacheMisses: number;
  /**
   * `GET /v1/review-queue` of a reviewer with every promotion open (the API lists at most 200 and
   * builds their entries from the listing's review summaries); `entries`, `truncated` and
   * `unreadable` (a summary or state that could not be read) of the last read.
   */
  reviewQueue: Latency & { entries: number; truncated: boolean; unreadable: number };
}

/** Everything a run reports. */
export interface WorkflowBenchResults {
  comparison: Comparison | null;
  parked: Parked | null;
}

const SUBMITTER: Actor = { id: 'sam', roles: ['data-scientist'] };
/** The high tier's reviewers: two for the technical gate (quorum 2), one per other gate (separation of duties). */
const REVIEWERS: Record<string, Actor[]> = {
  technical: [{ id: 'rita', roles: ['ml-reviewer'] }, { id: 'ravi', roles: ['ml-reviewer'] }],
  security: [{ id: 'sec', roles: ['security-reviewer'] }],
  fairness: [{ id: 'fay', roles: ['fairness-reviewer'] }],
  legal: [{ id: 'lee', roles: ['compliance-officer'] }],
  business: [{ id: 'bo', roles: ['business-owner'] }],
};
const SECRET = 'workflow-benchmark-secret-0123456789-0123456789';
const MODEL_CARD_FIELDS = [
  'intendedUse', 'outOfScopeUse', 'limitations', 'ethicalConsiderations', 'trainingData', 'evaluationData',
  'license', 'contacts', 'humanOversight', 'riskManagement', 'postMarketMonitoring',
];
/** What marks an error in a worker's or the API's log (as scripts/bench.sh reads the benchmark's own output). */
const ERROR_LINE = /\[ERROR\]|"level":(50|60)[,}]|UnhandledPromiseRejection|Uncaught /;
/** How often a driven promotion's state is read while no gate waits on the benchmark (as a dashboard polls, only faster). */
const STATE_POLL_MS = 20;

/**
 * The shipped default policy with the fairness check off (it needs evaluation data the benchmark's
 * models do not have); the high tier keeps its three stages and six decisions.
 */
async function benchPolicyYaml(): Promise<string> {
  const policy = parse(await readFile(path.join(__dirname, '..', '..', 'policies', 'default.yaml'), 'utf8'));
  policy.checks.fairness = { enforcement: 'off' };
  delete policy.tiers.high.checks.fairness;
  return stringify(policy);
}

const round = (x: number, digits = 4) => +x.toFixed(digits);

/** Counts what a promotion's history holds. */
async function historyShape(client: Client, promotionId: string): Promise<HistoryShape> {
  const events = (await client.workflow.getHandle(promotionId).fetchHistory()).events ?? [];
  const T = temporal.api.enums.v1.EventType;
  const count = (type: number) => events.filter((e) => e.eventType === type).length;
  const archive = events.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'archiveAudit');
  return {
    events: events.length,
    activities: count(T.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED),
    searchAttributeUpserts: count(T.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES),
    memoUpserts: count(T.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED),
    updates: count(T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED),
    timers: count(T.EVENT_TYPE_TIMER_STARTED),
    archivePayloadBytes: (archive?.activityTaskScheduledEventAttributes?.input?.payloads ?? []).reduce((n, p) => n + (p.data?.length ?? 0), 0),
  };
}

/** Fails when a process's log holds an error line: a run that logs errors does not count. */
async function refuseErrorsIn(logFile: string, name: string): Promise<void> {
  const lines = (await readFile(logFile, 'utf8').catch(() => '')).split('\n').filter((l) => ERROR_LINE.test(l));
  if (lines.length > 0) throw new Error(`the ${name} logged ${lines.length} error line(s), the first: ${lines[0]!.slice(0, 300)}`);
}

/** Waits until `line` appears in a process's log (3 minutes at most); fails when the process exits first. */
async function untilLogged(child: ModelgateProcess, logFile: string, line: string): Promise<void> {
  for (const deadline = Date.now() + 180_000; Date.now() < deadline; await sleep(200)) {
    if ((await readFile(logFile, 'utf8').catch(() => '')).includes(line)) return;
    if (child.unexpectedExits.length > 0) throw new Error(`${child.name} exited before it was ready`);
  }
  throw new Error(`${child.name} was not ready within 3 minutes`);
}

/** The sum of a Prometheus counter's samples (every label set) at `url`. */
async function prometheusCounter(url: string, name: string): Promise<number> {
  const text = await (await fetch(url, { signal: AbortSignal.timeout(5_000) })).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(name) && /^[a-z_]+(\{[^}]*\})? /.test(l) && l.split(/[{ ]/)[0]!.replace(/_total$/, '') === name)
    .reduce((n, l) => n + Number(l.trim().split(/\s+/).pop()), 0);
}

/** Runs the benchmark against the services in `options.env` and returns its figures. */
export async function runWorkflowBenchmark(options: WorkflowBenchOptions): Promise<WorkflowBenchResults> {
  const log = options.log ?? (() => undefined);
  const baseEnv = options.env ?? process.env;
  const run = await prepareBenchRun('workflow', await benchPolicyYaml(), baseEnv);
  const { client, dir, policy, base } = run;
  const pool = createPool(base.databaseUrl);
  // The registry look-up the API's submission makes before it starts a promotion.
  const registry = createSubmissionRegistration(pool);
  const processes = new Set<ModelgateProcess>();
  const policyDir = path.join(dir, 'policies');
  const env = (taskQueue: string, extra: NodeJS.ProcessEnv = {}) => ({ ...benchProcessEnv({ taskQueue, policyDir, secret: SECRET, port: Number(extra.PORT ?? 8080), base: baseEnv }), ...extra });
  /** A worker's environment: the API's secrets left out, as production starts it. */
  const workerEnv = (taskQueue: string, extra: NodeJS.ProcessEnv) => workerEnvironment(env(taskQueue, extra));
  const started = (child: ModelgateProcess) => {
    processes.add(child.start());
    return child;
  };

  const manifestFor = async (model: string): Promise<PromotionManifest> => {
    const bytes = safetensorsArtifact(model);
    const file = path.join(dir, `${model}.safetensors`);
    await writeFile(file, bytes);
    return PromotionManifestSchema.parse({
      model: { name: model, version: '1.0.0', owner: 'olivia', riskTier: 'high' },
      target: 'production',
      artifact: { uri: pathToFileURL(file).href, sha256: createHash('sha256').update(bytes).digest('hex'), format: 'safetensors' },
      lineage: { codeCommit: '0123456789abcdef0123456789abcdef01234567', trainingData: { uri: 's3://data/train', classification: 'internal', containsPersonalData: false } },
      metrics: { accuracy: 0.95 },
      modelCard: Object.fromEntries(MODEL_CARD_FIELDS.map((f) => [f, `The ${f} of a workflow-benchmark model, in a sentence or two.`])),
    });
  };
  const submit = async (taskQueue: string, model: string) =>
    (await startPromotion(client, { manifest: await manifestFor(model), submitter: SUBMITTER, policy, taskQueue, registry })).promotionId;
  /** One decision as the API's route sends it. */
  const decide = (promotionId: string, actor: Actor, gate: string) =>
    askWorker(client, `promotion ${promotionId}`, WORKER_ANSWER_TIMEOUT_MS, () =>
      sendPromotionMessage(client.workflow.getHandle(promotionId), 'decide', { actor, requestId: `${promotionId}:${gate}:${actor.id}`, gate, decision: 'approve' }),
    );

  /** Submits a promotion and signs every gate as it opens; answers submission → DEPLOYED in ms. */
  const drive = async (taskQueue: string, model: string): Promise<{ promotionId: string; ms: number }> => {
    const t0 = performance.now();
    const promotionId = await submit(taskQueue, model);
    const handle = client.workflow.getHandle<() => Promise<PromotionState>>(promotionId);
    const sent = new Set<string>();
    for (;;) {
      const state = await askWorker(client, `promotion ${promotionId}`, WORKER_ANSWER_TIMEOUT_MS, () => handle.query(stateQuery));
      if (state.status === 'APPROVED' || state.status === 'DEPLOYING' || state.status === 'DEPLOYED') break;
      if (state.status !== 'VALIDATING' && state.status !== 'IN_REVIEW') throw new Error(`promotion ${promotionId} is ${state.status}`);
      const open = state.stages.flatMap((s) => s.gates).filter((g) => g.status === 'open');
      const todo = open.flatMap((g) => REVIEWERS[g.name]!.filter((r) => !sent.has(`${g.name}:${r.id}`)).slice(0, g.quorum).map((r) => ({ gate: g.name, r })));
      if (todo.length === 0) {
        await sleep(STATE_POLL_MS);
        continue;
      }
      todo.forEach(({ gate, r }) => sent.add(`${gate}:${r.id}`));
      await Promise.all(todo.map(({ gate, r }) => decide(promotionId, r, gate)));
    }
    const outcome = await handle.result();
    if (outcome.status !== 'DEPLOYED') throw new Error(`promotion ${promotionId} ended ${outcome.status}, not DEPLOYED`);
    return { promotionId, ms: performance.now() - t0 };
  };
  const driveMany = async (taskQueue: string, prefix: string, count: number) => {
    let next = 0;
    const results: Array<{ promotionId: string; ms: number }> = [];
    await Promise.all(
      Array.from({ length: Math.min(options.concurrency, count) }, async () => {
        while (next < count) results.push(await drive(taskQueue, `${prefix}-${next++}`));
      }),
    );
    return results;
  };

  const compare = async (): Promise<Comparison> => {
    // Both sides: the same worker entry and settings; only the workflow bundle differs.
    const bundles = {
      modelgate: (await bundleWorkflows()).code,
      floor: (await bundleWorkflows(require.resolve('./workflows'))).code,
    };
    const benchWorker = await compileBundleWorker();
    const sides = {} as Record<'modelgate' | 'floor', { taskQueue: string; worker: ModelgateProcess; logFile: string }>;
    for (const side of ['modelgate', 'floor'] as const) {
      const bundle = path.join(dir, `${side}-bundle.js`);
      await writeFile(bundle, bundles[side]);
      const taskQueue = `${run.taskQueue}-${side}`;
      const logFile = path.join(dir, `${side}-worker.log`);
      const worker = started(new ModelgateProcess(`${side}-worker`, {
        entry: { script: benchWorker, nodeArgs: [...WORKER_NODE_FLAGS] },
        env: workerEnv(taskQueue, { MODELGATE_BENCH_WORKFLOW_BUNDLE: bundle }),
        logFile,
      }));
      sides[side] = { taskQueue, worker, logFile };
    }
    await Promise.all(Object.values(sides).map(({ worker, logFile }) => untilLogged(worker, logFile, READY_LINE)));
    const tag = randomUUID().slice(0, 6);
    const warm = await Promise.all((['modelgate', 'floor'] as const).map((side) => driveMany(sides[side].taskQueue, `wf-warm-${side}-${tag}`, Math.max(1, options.warmup))));
    const history = { modelgate: await historyShape(client, warm[0]![0]!.promotionId), floor: await historyShape(client, warm[1]![0]!.promotionId) };
    log(`history of one promotion: ${JSON.stringify(history)}`);

    const blocksPerSide = Math.ceil(options.promotionsPerSide / options.blockSize);
    const order = Array.from({ length: blocksPerSide * 2 }, (_, i) => (i % 4 === 0 || i % 4 === 3 ? 'modelgate' : 'floor') as 'modelgate' | 'floor');
    const samples = { modelgate: [] as number[], floor: [] as number[] };
    const cpu = { modelgate: { worker: 0, temporal: 0, postgres: 0, benchmark: 0 }, floor: { worker: 0, temporal: 0, postgres: 0, benchmark: 0 } };
    const done = { modelgate: 0, floor: 0 };
    for (const [i, side] of order.entries()) {
      const count = Math.min(options.blockSize, options.promotionsPerSide - done[side]);
      const before = { worker: (await processUsage(sides[side].worker.pid!)).cpuSeconds, services: await servicesCpuSeconds(options.servicesRunDir), benchmark: process.cpuUsage() };
      const results = await driveMany(sides[side].taskQueue, `wf-${side}-${tag}-b${i}`, count);
      const benchmark = process.cpuUsage(before.benchmark);
      const after = { worker: (await processUsage(sides[side].worker.pid!)).cpuSeconds, services: await servicesCpuSeconds(options.servicesRunDir) };
      samples[side].push(...results.map((r) => r.ms));
      done[side] += count;
      cpu[side].worker += after.worker - before.worker;
      cpu[side].temporal += (after.services.temporal ?? 0) - (before.services.temporal ?? 0);
      cpu[side].postgres += (after.services.postgres ?? 0) - (before.services.postgres ?? 0);
      cpu[side].benchmark += (benchmark.user + benchmark.system) / 1e6;
      log(`block ${i + 1}/${order.length} (${side}): ${count} promotions`);
    }
    await Promise.all(Object.values(sides).map(async ({ worker }) => (await worker.stop(), processes.delete(worker))));
    for (const side of ['modelgate', 'floor'] as const) await refuseErrorsIn(sides[side].logFile, `${side} worker`);
    const withServices = options.servicesRunDir !== undefined;
    const sideFigures = (side: 'modelgate' | 'floor'): ComparisonSide => {
      const n = samples[side].length;
      return {
        latency: latencyFigures(samples[side]),
        cpuSecondsPerPromotion: {
          worker: round(cpu[side].worker / n),
          temporal: withServices ? round(cpu[side].temporal / n) : null,
          postgres: withServices ? round(cpu[side].postgres / n) : null,
          benchmark: round(cpu[side].benchmark / n),
        },
        history: history[side],
      };
    };
    const modelgate = sideFigures('modelgate');
    const floor = sideFigures('floor');
    return {
      promotionsPerSide: options.promotionsPerSide,
      blockOrder: order.map((s) => (s === 'modelgate' ? 'M' : 'F')).join(''),
      maxCachedWorkflows: base.worker.maxCachedWorkflows,
      modelgate,
      floor,
      ratio: { p50: round(modelgate.latency.p50Ms / floor.latency.p50Ms, 3), p95: round(modelgate.latency.p95Ms / floor.latency.p95Ms, 3) },
    };
  };

  const park = async (): Promise<Parked> => {
    const taskQueue = `${run.taskQueue}-parked`;
    const split = (options.parkedWorkers ?? 'split') === 'split';
    const metricsPort = await freePort();
    const healthPort = await freePort();
    const workerLog = path.join(dir, 'parked-worker.log');
    // The production worker process, as it ships (dist/worker.js, its prebuilt bundle, loadConfig's defaults).
    const worker = started(new ModelgateProcess('parked-worker', {
      entry: 'worker',
      env: workerEnv(taskQueue, { WORKER_ROLE: split ? 'promotions' : 'all', WORKER_METRICS_ADDRESS: `127.0.0.1:${metricsPort}`, WORKER_HEALTH_PORT: String(healthPort) }),
      logFile: workerLog,
    }));
    const checksHealthPort = await freePort();
    const checksLog = path.join(dir, 'parked-checks-worker.log');
    const checksWorker = split
      ? started(new ModelgateProcess('parked-checks-worker', { entry: 'worker', env: workerEnv(taskQueue, { WORKER_ROLE: 'checks', WORKER_HEALTH_PORT: String(checksHealthPort) }), logFile: checksLog }))
      : undefined;
    const apiPort = await freePort();
    const apiLog = path.join(dir, 'parked-api.log');
    const api = started(new ModelgateProcess('parked-api', { entry: 'api', env: env(taskQueue, { PORT: String(apiPort) }), logFile: apiLog }));
    await Promise.all([
      waitForApiReady(`http://127.0.0.1:${healthPort}`, undefined, worker),
      waitForApiReady(`http://127.0.0.1:${apiPort}`, undefined, api),
      ...(checksWorker ? [waitForApiReady(`http://127.0.0.1:${checksHealthPort}`, undefined, checksWorker)] : []),
    ]);
    await sleep(2_000);
    const idle = await processUsage(worker.pid!);

    const t0 = performance.now();
    const tag = randomUUID().slice(0, 6);
    const parked: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(options.parkConcurrency, options.parked) }, async () => {
        while (next < options.parked) {
          const i = next++;
          parked[i] = await submit(taskQueue, `wf-parked-${tag}-${i}`);
          if ((i + 1) % 1000 === 0) log(`parked: ${i + 1} of ${options.parked} submitted`);
        }
      }),
    );
    const inReview = () => client.workflow.count(`TaskQueue = '${taskQueue}' AND PromotionStatus = 'IN_REVIEW'`).then((c) => c.count);
    for (let waiting = 0; waiting < options.parked; waiting = await inReview()) {
      // Bounded: ten minutes and a second per promotion.
      if (performance.now() - t0 > 600_000 + options.parked * 1_000) throw new Error(`only ${waiting} of ${options.parked} promotions reached IN_REVIEW in ${((performance.now() - t0) / 60_000).toFixed(0)} minutes`);
      await sleep(1_000);
    }
    const secondsToPark = (performance.now() - t0) / 1000;
    await sleep(2_000);
    const loaded = await processUsage(worker.pid!);
    const checksLoaded = checksWorker ? await processUsage(checksWorker.pid!) : undefined;
    log(`parked: ${options.parked} in IN_REVIEW after ${secondsToPark.toFixed(0)} s`);

    const cache = base.worker.maxCachedWorkflows;
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    // First, decisions on the promotions parked last (half the cache's size at most), which the cache still holds.
    const cachedMs: number[] = [];
    const missesBeforeCached = await prometheusCounter(metricsUrl, 'temporal_sticky_cache_miss');
    for (const promotionId of parked.slice(-Math.min(options.parkedDecisions, Math.floor(cache / 2)))) {
      const t = performance.now();
      await decide(promotionId, REVIEWERS.technical![0]!, 'technical');
      cachedMs.push(performance.now() - t);
    }
    const stickyCacheMissesOnCached = (await prometheusCounter(metricsUrl, 'temporal_sticky_cache_miss')) - missesBeforeCached;

    // Then decisions on the earliest parked promotions: at least the cache's size of others parked after each.
    const evictable = parked.slice(0, Math.max(0, parked.length - cache - 1));
    if (evictable.length < options.parkedDecisions) throw new Error(`${options.parked} parked leave ${evictable.length} promotions outside a cache of ${cache}; need ${options.parkedDecisions}`);
    const step = Math.floor(evictable.length / options.parkedDecisions);
    const missesBefore = await prometheusCounter(metricsUrl, 'temporal_sticky_cache_miss');
    const decisionMs: number[] = [];
    for (let i = 0; i < options.parkedDecisions; i++) {
      const t = performance.now();
      await decide(evictable[i * step]!, REVIEWERS.technical![0]!, 'technical');
      decisionMs.push(performance.now() - t);
    }
    const stickyCacheMisses = (await prometheusCounter(metricsUrl, 'temporal_sticky_cache_miss')) - missesBefore;

    // The review queue of a security reviewer: every parked promotion waits on the security gate.
    const token = await signDevToken({ secret: SECRET, user: 'sec', roles: ['security-reviewer'], expiresIn: '2h' });
    const queueMs: number[] = [];
    let queue = { entries: [] as unknown[], truncated: false, unreadable: [] as string[] };
    for (let i = 0; i < options.queueReads; i++) {
      const t = performance.now();
      queue = await callApi<typeof queue>({ server: `http://127.0.0.1:${apiPort}`, token }, 'GET', '/v1/review-queue', undefined, { timeoutMs: 120_000 });
      queueMs.push(performance.now() - t);
    }
    const peak = await processUsage(worker.pid!);
    const checksPeak = checksWorker ? await processUsage(checksWorker.pid!) : undefined;
    await Promise.all([worker, api, ...(checksWorker ? [checksWorker] : [])].map(async (p) => (await p.stop(), processes.delete(p))));
    await refuseErrorsIn(workerLog, 'parked worker');
    if (checksWorker) await refuseErrorsIn(checksLog, 'checks worker');
    await refuseErrorsIn(apiLog, 'API');
    return {
      promotions: options.parked,
      maxCachedWorkflows: cache,
      workerRole: split ? 'promotions' : 'all',
      secondsToPark: round(secondsToPark, 1),
      workerRssMb: { idle: round(idle.rssMb, 1), parked: round(loaded.rssMb, 1), peak: round(peak.peakRssMb, 1) },
      checksWorkerRssMb: checksLoaded && checksPeak ? { parked: round(checksLoaded.rssMb, 1), peak: round(checksPeak.peakRssMb, 1) } : null,
      decisionOnCached: latencyFigures(cachedMs),
      stickyCacheMissesOnCached,
      decisionOnEvicted: latencyFigures(decisionMs),
      stickyCacheMisses,
      reviewQueue: { ...latencyFigures(queueMs), entries: queue.entries.length, truncated: queue.truncated, unreadable: queue.unreadable.length },
    };
  };

  try {
    const comparison = options.promotionsPerSide > 0 ? await compare() : null;
    if (comparison) log(`comparison: ratio p50 ${comparison.ratio.p50}, p95 ${comparison.ratio.p95}`);
    const parked = options.parked > 0 ? await park() : null;
    return { comparison, parked };
  } catch (err) {
    // What the processes said is the clue to a failed run: their logs' last lines, before the folder goes.
    for (const file of (await readdir(dir)).filter((f) => f.endsWith('.log'))) {
      log(`${file}, last lines:\n${(await readFile(path.join(dir, file), 'utf8')).split('\n').slice(-15).join('\n')}`);
    }
    throw err;
  } finally {
    await Promise.all([...processes].map((p) => p.stop(2_000)));
    await endBenchRun({ children: [], client, pool, dir });
  }
}
