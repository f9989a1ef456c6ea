import { createMlflowClient } from './sources/mlflow';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { NativeConnection, Runtime, Worker, bundleWorkflowCode, type WorkflowBundle, type WorkflowBundleOption } from '@temporalio/worker';
import type { Pool } from 'pg';
import { createActivities } from './activities';
import { type Config, loadConfigOrExit } from './config';
import { type AuditSealer, loadProcessAuditSealer } from './audit/seal';
import { prepareProcessDatabase } from './database-startup';
import { createLogger } from './logger';
import { runProcess, startupStep } from './startup';
import { temporalConnectionCredentials } from './temporal-client';

/** Path of the module that exports every workflow type (the bundle's entry). */
export const WORKFLOWS_PATH = require.resolve('./workflows');

/** Bundles the workflow code once; tests share one bundle across workers. */
export async function bundleWorkflows(): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger });
}

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
  /** Prebuilt bundle; when absent the worker bundles `WORKFLOWS_PATH` itself. */
  workflowBundle?: WorkflowBundleOption;
}

/** Path of the bundle written by the build (`dist/workflow-bundle.js`), when it exists. */
function prebuiltBundle(): WorkflowBundleOption | undefined {
  const codePath = path.resolve(__dirname, 'workflow-bundle.js');
  return __filename.endsWith('.js') && existsSync(codePath) ? { codePath } : undefined;
}

/** Creates (without running) the worker that polls Modelgate's task queue. */
export async function createModelgateWorker(deps: WorkerDeps): Promise<Worker> {
  const { config } = deps;
  const workflowBundle = deps.workflowBundle ?? prebuiltBundle();
  return Worker.create({
    connection: deps.connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    ...(workflowBundle ? { workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities: createActivities({
      pool: deps.pool,
      publicUrl: config.publicUrl,
      temporalUiUrl: config.temporal.uiUrl,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      policyDir: config.policyDir,
      // models:/ artifacts are read from, and decisions written back to, the configured MLflow only.
      sources: config.mlflow ? { ...config.sources, mlflow: createMlflowClient(config.mlflow, config.sources) } : config.sources,
      ...(config.mlflow ? { mlflowAliases: config.mlflow.aliases } : {}),
      artifactStoreDir: config.artifactStoreDir,
      ...(config.artifactStoreUri ? { artifactStoreUri: config.artifactStoreUri } : {}),
      ...(deps.auditSealer ? { auditSealer: deps.auditSealer } : {}),
    }),
    maxCachedWorkflows: config.worker.maxCachedWorkflows,
    maxConcurrentActivityTaskExecutions: config.worker.maxConcurrentActivities,
    shutdownGraceTime: config.shutdownGraceMs,
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
  Runtime.install({ shutdownSignals: ['SIGINT', 'SIGTERM', 'SIGQUIT'] });

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
      () => createModelgateWorker({ config, connection, pool, ...(auditSealer ? { auditSealer } : {}) }),
    );
    log.info(
      { address: config.temporal.address, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue },
      'worker polling',
    );
    await worker.run();
    log.info('worker stopped');
  } finally {
    await connection.close();
    await pool.end();
  }
}

if (require.main === module) runProcess('worker', main);
