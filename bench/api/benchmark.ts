// The API benchmark (issue 18 item 5; run by bench/api/run.ts, tested with tiny sizes by
// test/bench/api-bench.test.ts). The worker (dist/worker.js) and the API (dist/api/server.js) run
// as their own processes, as in production; this process only measures, holding a Temporal client,
// a PostgreSQL pool and an HTTP client (node:http, keep-alive).
//  1. Submissions: `POST /v1/promotions` against a direct submission doing the same work with a
//     client of Temporal (validate the manifest, resolve the policy, look the version up in the
//     registry, start the workflow: `startPromotion()` with the registry), and the bare start
//     (policy resolved and workflow started, no validation, no look-up) as the floor. The three
//     alternate A B C, C B A (ABBA), so none always follows another's start.
//  2. Where a submission's time goes: each step of the API's path measured on its own.
//  3. Decisions: `POST …/decisions` against `sendPromotionMessage` (what every client sends) and
//     the bare `executeUpdate` (floor), ABBA.
//  4. `GET /v1/promotions?pendingFor=me` with N promotions waiting in review.
import type { ChildProcess } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { signDevToken } from '../../src/api/auth';
import { createPool } from '../../src/db/pool';
import { type PromotionManifest, PromotionManifestSchema } from '../../src/manifest/schema';
import { sendPromotionMessage } from '../../src/promotions/messages';
import { startPromotion } from '../../src/promotions/start';
import { createSubmissionRegistration } from '../../src/registry';
import { promotionUpdates } from '../../src/shared/messages';
import { latencyFigures } from '../results';
import { benchProcessEnv, endBenchRun, freePort, oneGatePolicyYaml, prepareBenchRun, processUsage, safetensorsArtifact, servicesCpuSeconds, sleep, startDistProcess, waitReady } from '../support';
import { WORKER_NODE_FLAGS } from '../../src/worker-node-flags';

/** The sizes and settings of a run. */
export interface ApiBenchOptions {
  /** Measured submissions and decisions of each side. */
  calls: number;
  /** Submissions of each side before the measurement (connections, JIT, caches), not measured. */
  warmup: number;
  /** Promotions waiting in review for the `pendingFor=me` reads (those submitted before count). */
  open: number;
  /** `pendingFor=me` reads measured. */
  reads: number;
  /** Whether the worker runs during the submissions (false: it starts after them, so its work on each new promotion does not compete for the CPU). */
  workerDuringSubmit: boolean;
  /** A folder where the API process writes a V8 CPU profile (`node --cpu-prof`) when it stops; unset: none. */
  cpuProfileDir?: string;
  /** The services' addresses (TEMPORAL_ADDRESS, DATABASE_URL…); default this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** The run folder of scripts/bench.sh (Temporal's and PostgreSQL's pids, for their CPU). */
  servicesRunDir?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** Defaults of `./scripts/bench.sh api`. */
export const DEFAULT_API_BENCH_OPTIONS: ApiBenchOptions = { calls: 100, warmup: 5, open: 2000, reads: 200, workerDuringSubmit: true };

/** p50 and p95 of a list of milliseconds, with the samples. */
export type Latency = ReturnType<typeof latencyFigures>;

/** CPU seconds per submission of each process during the submissions (all three sides together). */
export interface SubmissionCpu {
  /** The API process, per submission through the API (it serves nothing else). */
  apiPerApiSubmission: number;
  /** This process (HTTP client, direct and bare submissions), per submission of any side. */
  benchmarkPerSubmission: number;
  /** `null` when the worker did not run during the submissions. */
  workerPerSubmission: number | null;
  /** `null` without the run folder of scripts/bench.sh. */
  temporalPerSubmission: number | null;
  postgresPerSubmission: number | null;
}

/** Everything a run reports. */
export interface ApiBenchFigures {
  submissions: {
    api: Latency;
    direct: Latency;
    bareStart: Latency;
    /** API p50 / direct p50: the target is ≤ 1.2. */
    ratioP50: number;
    ratioP95: number;
    ratioToBareStartP50: number;
    cpuSeconds: SubmissionCpu;
  };
  /** Each step of the API's submission path on its own (after the submissions, no promotion starting). */
  steps: {
    /** HTTP, token check and routing: `GET /v1/no-such-route` (404). */
    httpTokenAndRouting: Latency;
    /** Plus body parsing, manifest validation, policy resolution and the registry look-up: a registered version with another digest refused with 409, nothing started. */
    refusedByRegistryLookUp: Latency;
    /** Manifest validation (zod) alone, in this process. */
    manifestValidation: Latency;
    /** The registry look-up (digest and owner, one statement, asked every time) of a version not registered, in this process. */
    registryLookUpUnregistered: Latency;
    /** The workflow start alone (`client.workflow.start` of a validated manifest, policy resolved), in this process. */
    workflowStart: Latency;
  };
  decisions: {
    api: Latency;
    direct: Latency;
    bareUpdate: Latency;
    ratioP50: number;
    ratioToBareUpdateP50: number;
  };
  pendingForMe: {
    openPromotions: number;
    fillSeconds: number;
    pageSize: number;
    listed: number;
    latency: Latency;
  };
  /** The CPU profile the API process wrote (`cpuProfileDir`), else null. */
  cpuProfile: string | null;
}

const SECRET = 'benchmark-secret-0123456789-0123456789-abcdef';
/** One review gate of quorum 2, so promotions wait in IN_REVIEW and a decision (the first of two) leaves them open. */
const POLICY = oneGatePolicyYaml({ quorum: 2 });
const PAGE_SIZE = 50;
const SAM = { id: 'sam', roles: ['data-scientist'] };
const RITA = { id: 'rita', roles: ['ml-reviewer'] };

const ratio = (a: Latency, b: Latency, at: 'p50Ms' | 'p95Ms') => Math.round((a[at] / b[at]) * 100) / 100;
const perCall = (seconds: number, calls: number) => Math.round((seconds / Math.max(1, calls)) * 10_000) / 10_000;

/** Times one call. */
async function timed<T>(samples: number[], run: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const result = await run();
  samples.push(performance.now() - t0);
  return result;
}

/** Runs `sides` in the order A B C… on even rounds and …C B A on odd ones (ABBA). */
async function alternate(round: number, sides: Array<() => Promise<unknown>>): Promise<void> {
  const order = round % 2 === 0 ? sides : [...sides].reverse();
  for (const side of order) await side();
}

/** Runs the API benchmark with `options` and answers its figures. */
export async function runApiBenchmark(options: ApiBenchOptions): Promise<ApiBenchFigures> {
  const log = options.log ?? (() => undefined);
  const { base, taskQueue, policy, dir, client } = await prepareBenchRun('api', POLICY, options.env);
  // The direct side needs the registry too (what a correct start does); its own pool, like the API's.
  const pool = createPool(base.databaseUrl);
  const registry = createSubmissionRegistration(pool);
  const port = await freePort();
  const env = benchProcessEnv({ taskQueue, policyDir: path.join(dir, 'policies'), secret: SECRET, port, ...(options.env ? { base: options.env } : {}) });
  const children: ChildProcess[] = [];
  const profileArgs = options.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`, '--cpu-prof-name=api-server.cpuprofile'] : [];
  const apiProcess = startDistProcess(path.join('api', 'server.js'), env, profileArgs);
  children.push(apiProcess);
  let worker: ChildProcess | undefined;
  const startWorker = () => {
    worker = startDistProcess('worker.js', env, WORKER_NODE_FLAGS);
    children.push(worker);
  };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    if (options.workerDuringSubmit) startWorker();
    const url = `http://127.0.0.1:${port}`;
    await waitReady(url);
    const bearer = async (actor: { id: string; roles: string[] }) => `Bearer ${await signDevToken({ secret: SECRET, user: actor.id, roles: actor.roles })}`;
    const samToken = await bearer(SAM);
    const ritaToken = await bearer(RITA);

    /** A manifest as a client holds it before validation (plain JSON, as sent over HTTP). */
    const manifestFor = async (name: string) => {
      const bytes = safetensorsArtifact(name);
      const file = path.join(dir, `${name}.safetensors`);
      await writeFile(file, bytes);
      return {
        model: { name, version: '1.0.0', owner: 'olivia', riskTier: 'medium' },
        target: 'production',
        artifact: { uri: pathToFileURL(file).href, sha256: createHash('sha256').update(bytes).digest('hex'), format: 'safetensors' },
        metrics: { accuracy: 0.95 },
      };
    };
    const submitDirectly = (raw: unknown) => startPromotion(client, { manifest: PromotionManifestSchema.parse(raw), submitter: SAM, policy, taskQueue, registry });
    const startBare = (manifest: PromotionManifest) => startPromotion(client, { manifest, submitter: SAM, policy, taskQueue });
    const call = (method: 'GET' | 'POST', route: string, token: string, body?: unknown) =>
      new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
        const payload = body === undefined ? undefined : JSON.stringify(body);
        const req = http.request(
          `${url}${route}`,
          { method, agent, headers: { authorization: token, ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    const api = async (method: 'GET' | 'POST', route: string, token: string, body?: unknown) => {
      const { status, json } = await call(method, route, token, body);
      if (status >= 300) throw new Error(`${method} ${route}: ${status} ${JSON.stringify(json).slice(0, 300)}`);
      return json;
    };
    const waitInReview = async (count: number) => {
      for (;;) {
        const n = Number((await client.workflow.count(`PromotionStatus = 'IN_REVIEW' AND ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue}'`)).count);
        if (n >= count) return;
        await sleep(500);
      }
    };
    const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

    // ---- warm-up: connections, JIT, the worker's cache -----------------------------------------
    for (let i = 0; i < options.warmup; i++) {
      await api('POST', '/v1/promotions', samToken, await manifestFor(unique(`warm-api-${i}`)));
      await submitDirectly(await manifestFor(unique(`warm-direct-${i}`)));
      await startBare(PromotionManifestSchema.parse(await manifestFor(unique(`warm-bare-${i}`))));
    }

    // ---- 1. submissions --------------------------------------------------------------------------
    log(`submissions: ${options.calls} of each side`);
    const samples = { api: [] as number[], direct: [] as number[], bare: [] as number[] };
    const ids = { api: [] as string[], direct: [] as string[], bare: [] as string[] };
    const cpuBefore = await cpuNow(apiProcess, worker, options.servicesRunDir);
    for (let i = 0; i < options.calls; i++) {
      const a = await manifestFor(unique(`api-${i}`));
      const d = await manifestFor(unique(`direct-${i}`));
      const b = PromotionManifestSchema.parse(await manifestFor(unique(`bare-${i}`)));
      await alternate(i, [
        async () => ids.api.push((await timed(samples.api, () => api('POST', '/v1/promotions', samToken, a))).promotionId as string),
        async () => ids.direct.push((await timed(samples.direct, () => submitDirectly(d))).promotionId),
        async () => ids.bare.push((await timed(samples.bare, () => startBare(b))).promotionId),
      ]);
    }
    const cpuAfter = await cpuNow(apiProcess, worker, options.servicesRunDir);
    const submittedMeasured = 3 * options.calls;
    const cpuDelta = (key: keyof CpuReading) => {
      const before = cpuBefore[key];
      const after = cpuAfter[key];
      return before === null || after === null ? null : perCall(after - before, submittedMeasured);
    };
    const cpuSeconds: SubmissionCpu = {
      apiPerApiSubmission: perCall(cpuAfter.api! - cpuBefore.api!, options.calls),
      benchmarkPerSubmission: cpuDelta('benchmark')!,
      workerPerSubmission: cpuDelta('worker'),
      temporalPerSubmission: cpuDelta('temporal'),
      postgresPerSubmission: cpuDelta('postgres'),
    };
    const submitted = 3 * (options.calls + options.warmup);
    if (!options.workerDuringSubmit) startWorker();
    await waitInReview(submitted);

    // ---- 2. where a submission's time goes ----------------------------------------------------------
    log('steps of the submission path');
    const steps = { routing: [] as number[], refused: [] as number[], validation: [] as number[], lookUp: [] as number[], start: [] as number[] };
    const probe = await manifestFor(unique('probe'));
    // A version the worker registered (its integrity passed), submitted again with another digest.
    const conflicting = { ...probe, model: { ...probe.model, name: ids.api[0]!.split(':')[1]! }, artifact: { ...probe.artifact, sha256: 'f'.repeat(64) } };
    for (let i = 0; i < options.calls; i++) {
      const routed = await timed(steps.routing, () => call('GET', '/v1/no-such-route', samToken));
      if (routed.status !== 404) throw new Error(`expected 404 from an unknown route, got ${routed.status}`);
      const refused = await timed(steps.refused, () => call('POST', '/v1/promotions', samToken, conflicting));
      if (refused.status !== 409) throw new Error(`expected 409 from the registry look-up, got ${refused.status}`);
      const raw = await manifestFor(unique(`step-${i}`));
      const manifest = await timed(steps.validation, async () => PromotionManifestSchema.parse(raw));
      await timed(steps.lookUp, () => registry.registrationOf(manifest.model.name, manifest.model.version));
      await timed(steps.start, () => startBare(manifest));
    }

    // ---- 3. decisions (the first approval of a quorum of 2: the promotion stays open) ----------------
    log(`decisions: ${options.calls} of each side`);
    const decisions = { api: [] as number[], direct: [] as number[], bare: [] as number[] };
    const decision = () => ({ actor: RITA, requestId: randomUUID(), gate: 'technical', decision: 'approve' as const });
    for (let i = 0; i < options.calls; i++) {
      await alternate(i, [
        () => timed(decisions.api, () => api('POST', `/v1/promotions/${encodeURIComponent(ids.api[i]!)}/decisions`, ritaToken, { gate: 'technical', decision: 'approve' })),
        () => timed(decisions.direct, () => sendPromotionMessage(client.workflow.getHandle(ids.direct[i]!), 'decide', decision())),
        () => timed(decisions.bare, () => client.workflow.getHandle(ids.bare[i]!).executeUpdate(promotionUpdates.decide, { args: [decision()] })),
      ]);
    }

    // ---- 4. pendingFor=me with `open` promotions waiting -----------------------------------------------
    const alreadyOpen = submitted + options.calls;
    log(`pendingFor=me: filling to ${Math.max(options.open, alreadyOpen)} open promotions`);
    let next = alreadyOpen;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < options.open) {
          const i = next++;
          await submitDirectly(await manifestFor(unique(`open-${i}`)));
        }
      }),
    );
    const openPromotions = Math.max(options.open, alreadyOpen);
    await waitInReview(openPromotions);
    const fillSeconds = Math.round((performance.now() - t0) / 100) / 10;
    const reads: number[] = [];
    let listed = 0;
    for (let i = 0; i < options.reads; i++) {
      const page = await timed(reads, () => api('GET', `/v1/promotions?pendingFor=me&pageSize=${PAGE_SIZE}`, ritaToken));
      listed = (page.promotions as unknown[]).length;
    }

    const api50 = latencyFigures(samples.api);
    const direct50 = latencyFigures(samples.direct);
    const bare50 = latencyFigures(samples.bare);
    const decideApi = latencyFigures(decisions.api);
    const decideDirect = latencyFigures(decisions.direct);
    const decideBare = latencyFigures(decisions.bare);
    agent.destroy();
    await endBenchRun({ children, client, pool, dir });
    return {
      submissions: {
        api: api50,
        direct: direct50,
        bareStart: bare50,
        ratioP50: ratio(api50, direct50, 'p50Ms'),
        ratioP95: ratio(api50, direct50, 'p95Ms'),
        ratioToBareStartP50: ratio(api50, bare50, 'p50Ms'),
        cpuSeconds,
      },
      steps: {
        httpTokenAndRouting: latencyFigures(steps.routing),
        refusedByRegistryLookUp: latencyFigures(steps.refused),
        manifestValidation: latencyFigures(steps.validation),
        registryLookUpUnregistered: latencyFigures(steps.lookUp),
        workflowStart: latencyFigures(steps.start),
      },
      decisions: {
        api: decideApi,
        direct: decideDirect,
        bareUpdate: decideBare,
        ratioP50: ratio(decideApi, decideDirect, 'p50Ms'),
        ratioToBareUpdateP50: ratio(decideApi, decideBare, 'p50Ms'),
      },
      pendingForMe: { openPromotions, fillSeconds, pageSize: PAGE_SIZE, listed, latency: latencyFigures(reads) },
      cpuProfile: options.cpuProfileDir ? path.join(options.cpuProfileDir, 'api-server.cpuprofile') : null,
    };
  } catch (err) {
    // A failed run stops the API and worker it started too.
    agent.destroy();
    for (const child of children) child.kill('SIGTERM');
    await Promise.allSettled([client.connection.close(), pool.end()]);
    throw err;
  }
}

interface CpuReading {
  api: number | null;
  benchmark: number | null;
  worker: number | null;
  temporal: number | null;
  postgres: number | null;
}

/** CPU seconds so far of the API, this process, the worker and the services. */
async function cpuNow(apiProcess: ChildProcess, worker: ChildProcess | undefined, runDir: string | undefined): Promise<CpuReading> {
  const own = process.cpuUsage();
  const services = await servicesCpuSeconds(runDir);
  return {
    api: (await processUsage(apiProcess.pid!)).cpuSeconds,
    benchmark: (own.user + own.system) / 1e6,
    worker: worker?.pid ? (await processUsage(worker.pid)).cpuSeconds : null,
    temporal: services.temporal ?? null,
    postgres: services.postgres ?? null,
  };
}
