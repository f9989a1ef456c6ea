// The scale-out benchmark (issue 19): N worker processes (dist/worker.js) and M API processes
// (dist/api/server.js) behind a round-robin proxy, driven through the API; then a phase in which
// one worker is SIGKILLed mid-run. `bench/scale/run.ts` runs it and writes the results file;
// test/scaling/scale-bench.test.ts runs it with tiny sizes.
import { createHash, randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { signDevToken } from '../../src/api/auth';
import { ApiCallError, callApi, promotionApiPath } from '../../src/cli/api-client';
import { workerEnvironment } from '../../src/config';
import type { MessageResult, PromotionState } from '../../src/shared/promotion';
import { ModelgateProcess, freePort, waitForApiReady } from '../../test/support/processes';
import { benchProcessEnv, oneGatePolicyYaml, percentile, prepareBenchRun, processUsage, safetensorsArtifact, servicesCpuSeconds, sleep } from '../support';
import { startRoundRobinProxy } from './round-robin';

/** The sizes of a run. */
export interface ScaleOptions {
  /** Worker processes of each measured phase, in order (default 1, 2, 4). */
  workerCounts: number[];
  /** API processes behind the round-robin proxy (default 2). */
  apiProcesses: number;
  /** Measured promotions per phase. */
  promotions: number;
  /** Promotions driven at once (each: submit, wait for its gate, decide, wait for the outcome). */
  concurrency: number;
  /** Promotions per phase before the measurement (connections, JIT, caches), not measured. */
  warmup: number;
  /** Promotions of the kill phase (0: no kill phase). */
  killPromotions: number;
  /** Worker processes of the kill phase (one is SIGKILLed once half its promotions are submitted). */
  killWorkers: number;
  /** How long the kill phase may take before its unfinished promotions count as lost. */
  killTimeoutMs: number;
  /** The services' addresses (TEMPORAL_ADDRESS, DATABASE_URL…); default this process's environment. */
  env?: NodeJS.ProcessEnv;
  /** The run folder of scripts/bench.sh (Temporal's and PostgreSQL's pids, for their CPU). */
  servicesRunDir?: string;
  /** Progress lines. */
  log?: (line: string) => void;
}

/** p50 and p95 of a list of milliseconds, with the samples. */
export interface Latency {
  p50Ms: number;
  p95Ms: number;
  samplesMs: number[];
}

/** The figures of one measured phase. */
export interface ScalePhase {
  workers: number;
  apiProcesses: number;
  promotions: number;
  seconds: number;
  promotionsPerSecond: number;
  /** A decision's `POST …/decisions` → its answer (the Update accepted by the workflow). */
  decisionLatency: Latency;
  /** Submission → outcome DEPLOYED, read back from Temporal. */
  submitToDeployedLatency: Latency;
  /** CPU seconds per promotion of each worker and each API process (from /proc/<pid>/stat). */
  cpuSecondsPerPromotion: {
    workers: number[];
    apis: number[];
    /** `null` without the run folder of scripts/bench.sh. */
    temporal: number | null;
    postgres: number | null;
    benchmark: number;
    total: number;
  };
  /** CPU seconds of every process measured, per second of the phase: how many cores were busy. */
  coresBusy: number;
  /** Connections the proxy gave each API process since they started (HTTP keep-alive: few, long-lived). */
  proxyConnections: number[];
}

/** The kill phase: one worker SIGKILLed mid-run. */
export interface KillPhase {
  workers: number;
  promotions: number;
  /** Promotions submitted when the worker was killed. */
  killedAfterSubmitted: number;
  /** Read back from the API (status DEPLOYED) and Temporal (execution COMPLETED). */
  completed: number;
  lost: number;
  seconds: number;
  /** Submission → DEPLOYED, for the promotions in flight at the kill and the rest. */
  submitToDeployedLatency: Latency;
}

/** Everything a run reports. */
export interface ScaleResults {
  machine: { cores: number; cpuModel: string; memoryGb: number; loadAverageAtStart: number[]; loadAverageAtEnd: number[] };
  options: Omit<ScaleOptions, 'env' | 'log' | 'servicesRunDir'>;
  phases: ScalePhase[];
  kill: KillPhase | null;
}

/** Defaults that finish in about ten minutes on two shared cores. */
export const DEFAULT_SCALE_OPTIONS: ScaleOptions = {
  workerCounts: [1, 2, 4],
  apiProcesses: 2,
  promotions: 100,
  concurrency: 16,
  warmup: 6,
  killPromotions: 40,
  killWorkers: 2,
  killTimeoutMs: 300_000,
};

const SECRET = 'scale-benchmark-secret-0123456789-0123456789';
const SUBMITTER = { id: 'sam', roles: ['data-scientist'] };
const REVIEWER = { id: 'rita', roles: ['ml-reviewer'] };
/** One `technical` gate of quorum 1: a promotion waits in IN_REVIEW for one decision, then deploys. */
const POLICY = oneGatePolicyYaml({ quorum: 1 });
const POLL_MS = 200;

const latency = (samples: number[]): Latency => {
  const rounded = samples.map((x) => Math.round(x));
  return { p50Ms: samples.length ? percentile(rounded, 50) : 0, p95Ms: samples.length ? percentile(rounded, 95) : 0, samplesMs: rounded };
};
const round = (x: number, digits = 4) => +x.toFixed(digits);
/** An error worth retrying: the API unreachable or failing (a worker killed under it), not a refusal. */
const transient = (err: unknown) => err instanceof ApiCallError && (err.status === 0 || err.status >= 500);

/** Runs the benchmark against the services in `options.env` and returns its figures. */
export async function runScaleBenchmark(options: ScaleOptions): Promise<ScaleResults> {
  const log = options.log ?? (() => undefined);
  const baseEnv = options.env ?? process.env;
  const run = await prepareBenchRun('scale', POLICY, baseEnv);
  const { client, dir } = run;
  const loadAverageAtStart = loadavg().map((x) => round(x, 2));
  const processes = new Set<ModelgateProcess>();
  const tokens = {
    submitter: await signDevToken({ secret: SECRET, user: SUBMITTER.id, roles: SUBMITTER.roles, expiresIn: '12h' }),
    reviewer: await signDevToken({ secret: SECRET, user: REVIEWER.id, roles: REVIEWER.roles, expiresIn: '12h' }),
  };

  /** Starts `workers` worker processes and the API processes behind a proxy, on a task queue of their own, all ready. */
  const startStack = async (name: string, workers: number) => {
    const taskQueue = `${run.taskQueue}-${name}`;
    const policyDir = path.join(dir, 'policies');
    const workerProcesses: ModelgateProcess[] = [];
    const healthPorts: number[] = [];
    for (let i = 0; i < workers; i++) {
      const healthPort = await freePort();
      healthPorts.push(healthPort);
      const env = { ...benchProcessEnv({ taskQueue, policyDir, secret: SECRET, port: await freePort(), base: baseEnv }), WORKER_HEALTH_PORT: String(healthPort) };
      workerProcesses.push(new ModelgateProcess(`${name}-worker-${i}`, { entry: 'worker', env: workerEnvironment(env), logFile: path.join(dir, `${name}-worker-${i}.log`) }).start());
    }
    const apiPorts: number[] = [];
    const apiProcesses: ModelgateProcess[] = [];
    for (let i = 0; i < options.apiProcesses; i++) {
      const port = await freePort();
      apiPorts.push(port);
      const env = benchProcessEnv({ taskQueue, policyDir, secret: SECRET, port, base: baseEnv });
      apiProcesses.push(new ModelgateProcess(`${name}-api-${i}`, { entry: 'api', env, logFile: path.join(dir, `${name}-api-${i}.log`) }).start());
    }
    for (const p of [...workerProcesses, ...apiProcesses]) processes.add(p);
    await Promise.all([...healthPorts.map((port) => waitForApiReady(`http://127.0.0.1:${port}`)), ...apiPorts.map((port) => waitForApiReady(`http://127.0.0.1:${port}`))]);
    const proxy = await startRoundRobinProxy(apiPorts);
    const server = `http://127.0.0.1:${proxy.port}`;
    const stop = async () => {
      await proxy.close();
      await Promise.all([...workerProcesses, ...apiProcesses].map((p) => p.stop()));
      for (const p of [...workerProcesses, ...apiProcesses]) processes.delete(p);
    };
    return { taskQueue, workerProcesses, apiProcesses, proxy, server, stop };
  };

  /** Drives one promotion through `server`: submit, wait until its gate is open, approve, wait for the outcome. */
  const drive = async (server: string, model: string, deadline = Number.POSITIVE_INFINITY) => {
    const call = async <T>(token: string, method: 'GET' | 'POST', route: string, body?: unknown, headers?: Record<string, string>): Promise<T> => {
      for (;;) {
        try {
          return await callApi<T>({ server, token }, method, route, body, { timeoutMs: 60_000, ...(headers ? { headers } : {}) });
        } catch (err) {
          if (!transient(err) || Date.now() > deadline) throw err;
          await sleep(POLL_MS);
        }
      }
    };
    const bytes = safetensorsArtifact(model);
    const file = path.join(dir, `${model}.safetensors`);
    await writeFile(file, bytes);
    const manifest = {
      model: { name: model, version: '1.0.0', owner: 'olivia', riskTier: 'medium' },
      target: 'production',
      artifact: { uri: pathToFileURL(file).href, sha256: createHash('sha256').update(bytes).digest('hex'), format: 'safetensors' },
      metrics: { accuracy: 0.95 },
    };
    const submittedAt = performance.now();
    // The model's name as the idempotency key: a submission retried after a lost answer starts nothing twice.
    const { promotionId } = await call<{ promotionId: string }>(tokens.submitter, 'POST', '/v1/promotions', manifest, { 'idempotency-key': model });
    for (;;) {
      const state = await call<{ status: string }>(tokens.reviewer, 'GET', promotionApiPath(promotionId));
      if (state.status === 'IN_REVIEW') break;
      if (state.status !== 'VALIDATING') throw new Error(`promotion ${promotionId} is ${state.status}, not IN_REVIEW`);
      if (Date.now() > deadline) throw new Error(`promotion ${promotionId} did not reach IN_REVIEW in time`);
      await sleep(POLL_MS);
    }
    const decidedAt = performance.now();
    const answer = await call<MessageResult>(tokens.reviewer, 'POST', promotionApiPath(promotionId, 'decisions'), {
      gate: 'technical',
      decision: 'approve',
      requestId: `${promotionId}:technical`,
    });
    const decisionMs = performance.now() - decidedAt;
    if (!answer.summary.includes('gate passed')) throw new Error(`promotion ${promotionId}: the decision did not pass the gate (${answer.summary})`);
    const outcome = await client.workflow.getHandle<() => Promise<PromotionState>>(promotionId).result();
    if (outcome.status !== 'DEPLOYED') throw new Error(`promotion ${promotionId} ended ${outcome.status}, not DEPLOYED`);
    return { promotionId, decisionMs, totalMs: performance.now() - submittedAt };
  };

  /** Drives `count` promotions, `concurrency` at a time; `onSubmitted` hears how many have started. */
  const driveMany = async (server: string, prefix: string, count: number, onStarted?: (started: number) => void, deadline?: number) => {
    let next = 0;
    const results: Array<Awaited<ReturnType<typeof drive>>> = [];
    const failures: Array<{ model: string; error: string }> = [];
    await Promise.all(
      Array.from({ length: Math.min(options.concurrency, count) }, async () => {
        while (next < count) {
          const model = `${prefix}-${next++}`;
          onStarted?.(next);
          try {
            results.push(await drive(server, model, deadline));
          } catch (err) {
            if (deadline === undefined) throw err;
            failures.push({ model, error: (err as Error).message });
          }
        }
      }),
    );
    return { results, failures };
  };

  const cpuOf = async (list: ModelgateProcess[]) => Promise.all(list.map(async (p) => (await processUsage(p.pid!)).cpuSeconds));

  const measurePhase = async (workers: number): Promise<ScalePhase> => {
    const stack = await startStack(`w${workers}`, workers);
    try {
      await driveMany(stack.server, `warm-w${workers}-${randomUUID().slice(0, 6)}`, options.warmup);
      const before = {
        workers: await cpuOf(stack.workerProcesses),
        apis: await cpuOf(stack.apiProcesses),
        services: await servicesCpuSeconds(options.servicesRunDir),
        benchmark: process.cpuUsage(),
      };
      const t0 = performance.now();
      const { results } = await driveMany(stack.server, `scale-w${workers}-${randomUUID().slice(0, 6)}`, options.promotions, (started) => {
        if (started % Math.max(1, Math.round(options.promotions / 4)) === 0) log(`${workers} worker(s): ${started} of ${options.promotions} started after ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      });
      const seconds = (performance.now() - t0) / 1000;
      const benchmarkCpu = process.cpuUsage(before.benchmark);
      const after = { workers: await cpuOf(stack.workerProcesses), apis: await cpuOf(stack.apiProcesses), services: await servicesCpuSeconds(options.servicesRunDir) };
      const per = (cpu: number) => round(cpu / options.promotions);
      const serviceCpu = (key: 'temporal' | 'postgres') =>
        after.services[key] === undefined || before.services[key] === undefined ? null : after.services[key]! - before.services[key]!;
      const workerCpu = after.workers.map((cpu, i) => cpu - before.workers[i]!);
      const apiCpu = after.apis.map((cpu, i) => cpu - before.apis[i]!);
      const totalCpu =
        [...workerCpu, ...apiCpu].reduce((a, b) => a + b, 0) + (serviceCpu('temporal') ?? 0) + (serviceCpu('postgres') ?? 0) + (benchmarkCpu.user + benchmarkCpu.system) / 1e6;
      const temporal = serviceCpu('temporal');
      const postgres = serviceCpu('postgres');
      return {
        workers,
        apiProcesses: options.apiProcesses,
        promotions: options.promotions,
        seconds: round(seconds, 1),
        promotionsPerSecond: round(options.promotions / seconds, 3),
        decisionLatency: latency(results.map((r) => r.decisionMs)),
        submitToDeployedLatency: latency(results.map((r) => r.totalMs)),
        cpuSecondsPerPromotion: {
          workers: workerCpu.map(per),
          apis: apiCpu.map(per),
          temporal: temporal === null ? null : per(temporal),
          postgres: postgres === null ? null : per(postgres),
          benchmark: per((benchmarkCpu.user + benchmarkCpu.system) / 1e6),
          total: per(totalCpu),
        },
        coresBusy: round(totalCpu / seconds, 2),
        proxyConnections: [...stack.proxy.connections],
      };
    } finally {
      await stack.stop();
    }
  };

  const killPhase = async (): Promise<KillPhase> => {
    const stack = await startStack('kill', options.killWorkers);
    try {
      await driveMany(stack.server, `warm-kill-${randomUUID().slice(0, 6)}`, options.warmup);
      const count = options.killPromotions;
      let killedAfterSubmitted = 0;
      let killing: Promise<boolean> | undefined;
      const t0 = performance.now();
      const { results, failures } = await driveMany(
        stack.server,
        `kill-${randomUUID().slice(0, 6)}`,
        count,
        (started) => {
          if (!killing && started >= Math.ceil(count / 2)) {
            killedAfterSubmitted = started;
            log(`kill phase: SIGKILL to ${stack.workerProcesses[0]!.name} (pid ${stack.workerProcesses[0]!.pid}) after ${started} of ${count} promotions started`);
            killing = stack.workerProcesses[0]!.kill('SIGKILL');
          }
        },
        Date.now() + options.killTimeoutMs,
      );
      // A kill counts only when the worker was running and is seen gone.
      if ((await killing) !== true) throw new Error('kill phase: the worker was not running when it was to be killed');
      const seconds = (performance.now() - t0) / 1000;
      for (const failure of failures) log(`kill phase: ${failure.model} did not complete: ${failure.error}`);
      // Read every outcome back: from the API (the promotion's state) and from Temporal (the execution).
      let completed = 0;
      for (const { promotionId } of results) {
        const state = await callApi<{ status: string }>({ server: stack.server, token: tokens.reviewer }, 'GET', promotionApiPath(promotionId));
        const description = await client.workflow.getHandle(promotionId).describe();
        if (state.status === 'DEPLOYED' && description.status.name === 'COMPLETED') completed += 1;
      }
      return {
        workers: options.killWorkers,
        promotions: count,
        killedAfterSubmitted,
        completed,
        lost: count - completed,
        seconds: round(seconds, 1),
        submitToDeployedLatency: latency(results.map((r) => r.totalMs)),
      };
    } finally {
      await stack.stop();
    }
  };

  try {
    const phases: ScalePhase[] = [];
    for (const workers of options.workerCounts) {
      log(`phase: ${workers} worker(s), ${options.apiProcesses} API processes, ${options.promotions} promotions`);
      const phase = await measurePhase(workers);
      log(`${workers} worker(s): ${JSON.stringify({ ...phase, decisionLatency: { p50Ms: phase.decisionLatency.p50Ms, p95Ms: phase.decisionLatency.p95Ms }, submitToDeployedLatency: undefined })}`);
      phases.push(phase);
    }
    const kill = options.killPromotions > 0 ? await killPhase() : null;
    if (kill) log(`kill phase: ${kill.completed} of ${kill.promotions} completed, lost ${kill.lost}, ${kill.seconds} s`);
    const { env: _env, log: _log, servicesRunDir: _dir, ...shown } = options;
    return {
      machine: { cores: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memoryGb: round(totalmem() / 2 ** 30, 1), loadAverageAtStart, loadAverageAtEnd: loadavg().map((x) => round(x, 2)) },
      options: shown,
      phases,
      kill,
    };
  } finally {
    await Promise.all([...processes].map((p) => p.stop(2_000)));
    await client.connection.close();
    await rm(dir, { recursive: true, force: true });
  }
}
