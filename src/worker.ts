import { createMlflowClient } from './sources/mlflow';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import type { Context } from '@temporalio/activity';
import { type InjectedSink, NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkerOptions, type WorkflowBundle, type WorkflowBundleOption } from '@temporalio/worker';
import { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { OpenTelemetryActivityInboundInterceptor, makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry/lib/worker';
import type { OpenTelemetryWorkflowExporter } from '@temporalio/interceptors-opentelemetry/lib/workflow/definitions';
import { type ActivityDeps, createActivities } from './activities';
import { createCheckActivities } from './activities/checks';
import { type Config, type WorkerDeploymentSettings, loadConfigOrExit } from './config';
import { type AuditSealer, loadProcessAuditSealer } from './audit/seal';
import { prepareProcessDatabase } from './database-startup';
import { auditedRegistryOfRecord, policyDirRecords } from './promotions/registry-of-record';
import { createLogger } from './logger';
import { MLFLOW_ALIAS_GUARD_WORKFLOW, type MlflowAliasGuardInput, mlflowAliasGuardId } from './shared/mlflow-alias-guard';
import { checksTaskQueueOf } from './shared/task-queues';
import { runProcess, startupStep } from './startup';
import { temporalConnectionCredentials } from './temporal-client';
import { startWorkerHealthServer } from './worker-health';
import { type Tracing, startTracing } from './tracing';

/** Path of the module that exports every workflow type (the bundle's entry). */
export const WORKFLOWS_PATH = require.resolve('./workflows');

/**
 * The workflow interceptors for OpenTelemetry (`src/workflows/tracing-interceptors.ts`: a span for
 * the workflow run, each Signal and activity it schedules; the trace context goes to activities in
 * their headers; Updates untraced, see there). Always in the workflow code, traces on or off: a
 * setting must not change what a running promotion replays to. With traces off their spans go to
 * a sink that discards them ({@link DISCARDED_WORKFLOW_SPANS}).
 */
export const WORKFLOW_TRACING_INTERCEPTORS = require.resolve('./workflows/tracing-interceptors');

/**
 * The modules the workflow bundle evaluates once, shared by every workflow of a worker, instead of
 * once per workflow (`src/shared/preloaded-zod.ts`: zod). Evaluated per workflow, zod's module
 * bodies ran so often that V8 optimized them, and compiling them took the optimizing compiler about
 * 400 MB and 20 s in a worker with a few hundred promotions (README: "Where the parked worker's
 * memory goes").
 */
export const PRELOADED_WORKFLOW_MODULES = [require.resolve('./shared/preloaded-zod')];

/**
 * Bundles the workflow code (with {@link WORKFLOW_TRACING_INTERCEPTORS} and
 * {@link PRELOADED_WORKFLOW_MODULES}) once; tests share one bundle across workers. `workflowsPath`
 * other than Modelgate's: the benchmarks' floors, bundled alike.
 */
export async function bundleWorkflows(workflowsPath: string = WORKFLOWS_PATH): Promise<WorkflowBundle> {
  return bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules: [WORKFLOW_TRACING_INTERCEPTORS],
    preloadModules: PRELOADED_WORKFLOW_MODULES,
    logger: quietBundlerLogger,
    webpackConfigHook: (config) => ({ ...config, devtool: WORKFLOW_BUNDLE_SOURCE_MAP }),
  });
}

/**
 * The workflow bundle's source map: inline (the SDK reads it from the bundle to map workflow stack
 * traces to the TypeScript sources), by line, without the sources' text. The SDK's default
 * (`inline-source-map`, with every column and the sources' text, which only its
 * `showStackTraceSources` option reads) made the bundle 6.4 MB instead of 2.7 MB, held parsed in each
 * worker's main thread and workflow thread.
 */
export const WORKFLOW_BUNDLE_SOURCE_MAP = 'inline-nosources-cheap-module-source-map';

/** The workflow-span sink of a worker with traces off: the spans are dropped in the worker, never exported. */
export const DISCARDED_WORKFLOW_SPANS: InjectedSink<OpenTelemetryWorkflowExporter> = { export: { fn: () => undefined } };

const quietBundlerLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (message: string) => process.stderr.write(`workflow bundle: ${message}\n`),
  error: (message: string) => process.stderr.write(`workflow bundle: ${message}\n`),
};

/** Everything a Modelgate worker is built from. */
export interface WorkerDeps {
  config: Config;
  connection: NativeConnection;
  pool: Pool;
  /** Signs and checkpoints the heads of the audit chains the worker archives (absent: not sealed). */
  auditSealer?: AuditSealer;
  /** Prebuilt bundle (from {@link bundleWorkflows}); when absent the worker bundles `WORKFLOWS_PATH` itself. */
  workflowBundle?: WorkflowBundleOption;
  /** Traces (src/tracing.ts): the activity and workflow interceptors, the workflow spans' sink. Absent: none. */
  tracing?: Tracing;
}

/** Path of the bundle written by the build (`dist/workflow-bundle.js`), when it exists. */
function prebuiltBundle(): WorkflowBundleOption | undefined {
  const codePath = path.resolve(__dirname, 'workflow-bundle.js');
  return __filename.endsWith('.js') && existsSync(codePath) ? { codePath } : undefined;
}

/** The part of a Temporal worker's life the Modelgate worker reports (Worker's states). */
export type WorkerState = ReturnType<Worker['getState']>;

/**
 * The Temporal workers of one Modelgate worker process, run and stopped together: the promotions
 * worker (TEMPORAL_TASK_QUEUE: workflows and every activity, including the check activities of
 * promotions started before checks had a queue of their own) and the checks worker
 * (`<TEMPORAL_TASK_QUEUE>-checks`: the check activities only), as WORKER_ROLE selects.
 */
export class ModelgateWorker {
  constructor(
    /** The Temporal workers, each on its task queue. */
    readonly workers: ReadonlyArray<{ taskQueue: string; worker: Worker }>,
  ) {}

  /** Runs every worker until all have stopped; rejects with the first failure (after stopping the others). */
  async run(): Promise<void> {
    const runs = this.workers.map(({ worker }) =>
      worker.run().catch((err: unknown) => {
        this.shutdown();
        throw err;
      }),
    );
    const results = await Promise.allSettled(runs);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Runs the workers while `fnOrPromise` runs, then stops them; returns its result. */
  async runUntil<R>(fnOrPromise: Promise<R> | (() => Promise<R>)): Promise<R> {
    const running = this.run();
    try {
      return await (typeof fnOrPromise === 'function' ? fnOrPromise() : fnOrPromise);
    } finally {
      this.shutdown();
      await running;
    }
  }

  /** Starts stopping every worker that still runs. */
  shutdown(): void {
    for (const { worker } of this.workers) {
      if (worker.getState() === 'RUNNING') worker.shutdown();
    }
  }

  /** STOPPED once every worker stopped, FAILED when one failed, else the first other state (RUNNING while all run). */
  getState(): WorkerState {
    const states = this.workers.map(({ worker }) => worker.getState());
    if (states.every((s) => s === 'STOPPED')) return 'STOPPED';
    if (states.includes('FAILED')) return 'FAILED';
    return states.find((s) => s !== 'RUNNING') ?? 'RUNNING';
  }
}

/**
 * Temporal's Worker Versioning options for a worker of `deployment` (every task queue of one
 * release polls as the same version); none for an unversioned worker. The versioning behaviour is
 * the workers' default for every workflow type, so unversioned workers (development, tests) run
 * the same workflow code unchanged.
 */
export function workerDeploymentOptionsOf(deployment: WorkerDeploymentSettings | undefined): Pick<WorkerOptions, 'workerDeploymentOptions'> {
  if (!deployment) return {};
  return {
    workerDeploymentOptions: {
      version: { deploymentName: deployment.name, buildId: deployment.buildId },
      useWorkerVersioning: true,
      defaultVersioningBehavior: deployment.versioningBehavior === 'pinned' ? 'PINNED' : 'AUTO_UPGRADE',
    },
  };
}

/**
 * Bounds the old-generation heap of the V8 isolates this process creates from now on — the SDK's
 * workflow thread, created with the first workflow worker, and the artifact hashing threads of
 * `src/checks/digest.ts`, which stream and need little — to `megabytes` (V8's
 * `--max-old-space-size`; the main thread's heap, created before, keeps its bound). Unbounded,
 * V8 sizes that heap for the machine's memory and collects it lazily: with 300 promotions parked
 * and a cache of 20 the workflow thread held about 250 MB of garbage (RSS 539 MB instead of 311 MB).
 * A bound too small for the cache makes V8 abort the process (`heap out of memory`), as the memory
 * limit of its container would: the promotions are replayed on the next worker.
 */
export function limitWorkflowThreadHeap(megabytes: number): void {
  setFlagsFromString(`--max-old-space-size=${Math.floor(megabytes)}`);
}

/** Creates (without running) the Temporal workers of `deps.config.worker.role` (WORKER_ROLE). */
export async function createModelgateWorker(deps: WorkerDeps): Promise<ModelgateWorker> {
  const { config } = deps;
  const { role } = config.worker;
  const mlflow = config.mlflow ? createMlflowClient(config.mlflow, config.sources) : undefined;
  const activityDeps: ActivityDeps = {
    pool: deps.pool,
    publicUrl: config.publicUrl,
    temporalUiUrl: config.temporal.uiUrl,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    policyDir: config.policyDir,
    // models:/ artifacts are read from, and decisions written back to, the configured MLflow only.
    sources: mlflow ? { ...config.sources, mlflow } : config.sources,
    ...(config.mlflow ? { mlflowAliases: config.mlflow.aliases } : {}),
    artifactStoreDir: config.artifactStoreDir,
    ...(config.artifactStoreUri ? { artifactStoreUri: config.artifactStoreUri } : {}),
    ...(deps.auditSealer ? { auditSealer: deps.auditSealer } : {}),
    registryOfRecord: auditedRegistryOfRecord({
      pool: deps.pool,
      ...(mlflow && config.mlflow ? { mlflow: { client: mlflow, aliases: config.mlflow.aliases } } : {}),
      records: policyDirRecords(config.policyDir, config.mlflow),
      ...(deps.auditSealer ? { sealer: deps.auditSealer } : {}),
    }),
  };
  const { tracing } = deps;
  const common = {
    connection: deps.connection,
    ...workerDeploymentOptionsOf(config.worker.deployment),
    namespace: config.temporal.namespace,
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    shutdownGraceTime: config.shutdownGraceMs,
    // Each activity runs in a span, child of the workflow's span that scheduled it (from its headers).
    ...(tracing ? { interceptors: { activity: [(ctx: Context) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx) })] } } : {}),
  };
  const workers: Array<{ taskQueue: string; worker: Worker }> = [];
  if (role === 'all' || role === 'promotions') {
    limitWorkflowThreadHeap(config.worker.workflowHeapMb);
    const workflowBundle = deps.workflowBundle ?? prebuiltBundle();
    const taskQueue = config.temporal.taskQueue;
    const workflowCode = workflowBundle
      ? { workflowBundle }
      : {
          workflowsPath: WORKFLOWS_PATH,
          bundlerOptions: { preloadModules: PRELOADED_WORKFLOW_MODULES },
          interceptors: { ...common.interceptors, workflowModules: [WORKFLOW_TRACING_INTERCEPTORS] },
        };
    workers.push({
      taskQueue,
      worker: await Worker.create({
        ...common,
        taskQueue,
        ...workflowCode,
        // The workflows' spans leave the sandbox through this sink, into the process's span processor.
        sinks: { exporter: tracing ? makeWorkflowExporter(tracing.spanProcessor, tracing.resource) : DISCARDED_WORKFLOW_SPANS },
        activities: createActivities(activityDeps),
        maxCachedWorkflows: config.worker.maxCachedWorkflows,
      }),
    });
  }
  if ((role === 'all' || role === 'promotions') && config.mlflow && Object.keys(config.mlflow.aliases).length > 0) {
    await startMlflowAliasGuard(new Client({ connection: deps.connection, namespace: config.temporal.namespace }), config.temporal.taskQueue, config.mlflow.reconcileIntervalMs ?? DEFAULT_RECONCILE_INTERVAL_MS);
  }
  if (role === 'all' || role === 'checks') {
    const taskQueue = checksTaskQueueOf(config.temporal.taskQueue);
    workers.push({ taskQueue, worker: await Worker.create({ ...common, taskQueue, activities: createCheckActivities(activityDeps) }) });
  }
  return new ModelgateWorker(workers);
}

/** MLFLOW_ALIAS_RECONCILE_INTERVAL's default. */
const DEFAULT_RECONCILE_INTERVAL_MS = 5 * 60_000;

/**
 * Starts the guard of the governed MLflow aliases of the promotions on `taskQueue`, unless it runs
 * already (one per task queue: every worker of the queue asks, the first one starts it).
 */
export async function startMlflowAliasGuard(client: Client, taskQueue: string, reconcileIntervalMs: number): Promise<void> {
  const input: MlflowAliasGuardInput = { reconcileIntervalMs };
  await client.workflow.start(MLFLOW_ALIAS_GUARD_WORKFLOW, {
    workflowId: mlflowAliasGuardId(taskQueue),
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'USE_EXISTING',
    staticSummary: 'moves governed MLflow aliases back when they leave the approved version',
  });
}

/**
 * Connects the worker's native connection, over mTLS and with a bearer token when configured. The
 * worker runs for weeks: each renewed token replaces the connection's `Authorization` header.
 */
export async function connectWorkerToTemporal(config: Config, onError?: (message: string) => void): Promise<NativeConnection> {
  const { tls, tokens } = await temporalConnectionCredentials(config, onError);
  const connection = await NativeConnection.connect({
    address: config.temporal.address,
    ...(tls ? { tls } : {}),
    ...(tokens ? { apiKey: tokens.current() } : {}),
  });
  if (tokens) {
    tokens.onToken((token) => connection.setApiKey(token));
    const close = connection.close.bind(connection);
    connection.close = async () => {
      tokens.stop();
      await close();
    };
  }
  return connection;
}

async function main(): Promise<void> {
  const config = loadConfigOrExit('worker');
  const log = createLogger('worker', config.logLevel);
  const tracing = await startTracing(config.tracing, 'modelgate-worker');
  if (tracing) log.info({ exporter: config.tracing.exporter }, 'traces on');
  Runtime.install({
    shutdownSignals: ['SIGINT', 'SIGTERM', 'SIGQUIT'],
    // The SDK's own metrics (task slots, schedule-to-start latency, sticky cache) for Prometheus.
    ...(config.worker.metricsAddress
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: config.worker.metricsAddress } } } }
      : {}),
  });

  await startupStep(
    "checking each environment's registry of record in the policies",
    'a policy naming registry: mlflow needs MLFLOW_TRACKING_URI and an MLFLOW_ALIASES entry for the environment; policies must agree on an environment\'s record',
    () => policyDirRecords(config.policyDir, config.mlflow)(),
  );
  const pool = await prepareProcessDatabase(config, log);
  const auditSealer = await loadProcessAuditSealer(config.audit, (message) => log.warn(message));
  const connection = await startupStep(
    `connecting to Temporal at ${config.temporal.address}`,
    'check TEMPORAL_ADDRESS, the TEMPORAL_TLS_* files and the TEMPORAL_TOKEN_* client, and that the Temporal server is running',
    () => connectWorkerToTemporal(config, (message) => log.warn(message)),
  );
  try {
    const worker = await startupStep(
      'creating the worker',
      `check that namespace ${config.temporal.namespace} exists (TEMPORAL_NAMESPACE)`,
      () => createModelgateWorker({ config, connection, pool, ...(auditSealer ? { auditSealer } : {}), ...(tracing ? { tracing } : {}) }),
    );
    log.info(
      { address: config.temporal.address, namespace: config.temporal.namespace, role: config.worker.role, taskQueues: worker.workers.map((w) => w.taskQueue), ...(config.worker.deployment ? { deployment: config.worker.deployment } : {}) },
      'worker polling',
    );
    const health =
      config.worker.healthPort === undefined
        ? undefined
        : await startupStep(`listening for health checks on ${config.http.host}:${config.worker.healthPort}`, 'check WORKER_HEALTH_PORT and HOST', () =>
            startWorkerHealthServer(config.http.host, config.worker.healthPort!, {
              role: config.worker.role,
              states: () => worker.workers.map((w) => ({ taskQueue: w.taskQueue, state: w.worker.getState() })),
            }),
          );
    try {
      await worker.run();
    } finally {
      health?.close();
    }
    log.info('worker stopped');
  } finally {
    await connection.close();
    await pool.end();
    await tracing?.shutdown();
  }
}

if (require.main === module) runProcess('worker', main);
