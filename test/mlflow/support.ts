// What the MLflow tests share: the test tracking server, models logged with the MLflow client,
// a worker with MLflow configured, and the manifest of a models:/ promotion.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { NativeConnection } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { Config } from '../../src/config';
import { runMigrations } from '../../src/db/migrate';
import { createPool } from '../../src/db/pool';
import { PromotionManifestSchema, type PromotionManifest } from '../../src/manifest/schema';
import { bundleWorkflows, createModelgateWorker, type ModelgateWorker } from '../../src/worker';
import { createTestDatabase, testConfig, testStackEnv, testTemporalClient } from '../support/stack';

const run = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');
/** The policy of the MLflow tests (production's record: the built-in registry). */
export const MLFLOW_TEST_POLICY = path.join(ROOT, 'test', 'fixtures', 'policies', 'mlflow-test.yaml');

/** The test MLflow tracking server's URL (started by scripts/lib.sh start_test_mlflow). */
export function mlflowUri(): string {
  const uri = process.env.MODELGATE_TEST_MLFLOW_URI;
  if (!uri) throw new Error('MODELGATE_TEST_MLFLOW_URI is not set: run the tests with ./scripts/test.sh, which starts an MLflow tracking server (scripts/mlflow-env.sh installs it)');
  return uri;
}

/** Logs `count` versions of a scikit-learn model with the MLflow client; returns their lines. */
export async function logModel(name: string, count: number): Promise<Array<{ model: string; version: string; runId: string; commit: string; dataset: string }>> {
  const python = path.join(ROOT, '.tools', 'mlflow-venv', 'bin', 'python');
  const { stdout } = await run(python, [path.join(__dirname, 'log-model.py'), name, String(count)], {
    env: { ...process.env, MLFLOW_TRACKING_URI: mlflowUri(), GIT_PYTHON_REFRESH: 'quiet' },
    cwd: ROOT,
    timeout: 600_000,
    maxBuffer: 10 * 1024 * 1024,
  });
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { model: string; version: string; runId: string; commit: string; dataset: string });
}

/** A worker of the MLflow tests with its database, Temporal client and connection. */
export interface Harness {
  client: Client;
  pool: Pool;
  config: Config;
  worker: ModelgateWorker;
  running: Promise<void>;
  connection: NativeConnection;
  drop: () => Promise<void>;
}

/** Starts a worker over a fresh database whose MLflow is `mlflow` (alias champion governs production) and whose policies are `policyDir`'s. */
export async function startWorker(mlflow: { trackingUri: string }, policyDir = path.dirname(MLFLOW_TEST_POLICY)): Promise<Harness> {
  const db = await createTestDatabase();
  await runMigrations(db.url);
  const pool = createPool(db.url);
  const base = testConfig({ databaseUrl: db.url, policyDir });
  // The alias guard reconciles rarely here: the tests that need it say when (webhook, or a restart with a short interval).
  const config: Config = { ...base, mlflow: { trackingUri: mlflow.trackingUri, aliases: { production: 'champion' }, reconcileIntervalMs: 3_600_000 } };
  const connection = await NativeConnection.connect({ address: testStackEnv().temporalAddress });
  const worker = await createModelgateWorker({ config, connection, pool, workflowBundle: await bundleWorkflows() });
  const running = worker.run();
  const client = await testTemporalClient(config.temporal.namespace);
  return { client, pool, config, worker, running, connection, drop: db.drop };
}

/** Stops what {@link startWorker} started and drops its database. */
export async function stopWorker(h: Harness | undefined): Promise<void> {
  if (!h) return;
  if (h.worker.getState() === 'RUNNING') h.worker.shutdown();
  await h.running;
  await h.connection.close();
  await h.client.connection.close();
  await h.pool.end();
  await h.drop();
}

/** A low-risk promotion of `models:/<model>/<version>` to production. */
export function manifestOf(model: string, version: string, overrides: Partial<PromotionManifest> = {}): PromotionManifest {
  return PromotionManifestSchema.parse({
    model: { name: model, version, owner: 'olivia', riskTier: 'low' },
    target: 'production',
    artifact: { uri: `models:/${model}/${version}`, format: 'other' },
    ...overrides,
  });
}
