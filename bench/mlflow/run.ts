// Benchmark of the MLflow flow. Usage: ./scripts/bench.sh mlflow [--samples 20] [--small-mib 64] [--large-mib 256]
// 1. webhook received → promotion started: a signed `model_version_tag.set` delivery (modelgate.target)
//    posted to the API's receiver, timed until its answer (the promotion's workflow started);
// 2. unauthorized alias move → reverted: the governed alias set by hand through MLflow's REST API,
//    timed until the alias guard has moved it back (MLflow's own `model_version_alias.created`
//    delivery → the receiver → the guard's Signal → audit record → restore);
// 3. download: peak RSS of pinning (download through the artifact proxy + hash) a version of two sizes.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { NativeConnection } from '@temporalio/worker';
import type { Config } from '../../src/config';
import { createPool } from '../../src/db/pool';
import { PromotionManifestSchema } from '../../src/manifest/schema';
import { createPgRegistry } from '../../src/registry';
import { MLFLOW_DELIVERY_ID_HEADER, MLFLOW_SIGNATURE_HEADER, MLFLOW_TIMESTAMP_HEADER, signMlflowDelivery } from '../../src/registry/mlflow-webhooks';
import { createMlflowClient } from '../../src/sources/mlflow';
import { sourceRules } from '../../src/sources/rules';
import { bundleWorkflows, createModelgateWorker } from '../../src/worker';
import { buildTestApp } from '../../test/api/support';
import { latencyFigures, startBenchRecord } from '../results';
import { numericOption, prepareBenchRun, sleep } from '../support';

const ROOT = path.resolve(__dirname, '..', '..');
const SECRET = 'mlflow-bench-webhook-secret-0123456789';
const POLICY = readFileSync(path.join(ROOT, 'test', 'fixtures', 'policies', 'mlflow-test.yaml'), 'utf8');

const trackingUri = process.env.MODELGATE_TEST_MLFLOW_URI ?? '';

async function rest(method: 'GET' | 'POST', apiPath: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(`${trackingUri}${apiPath}`, { method, headers: { 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  if (!res.ok) throw new Error(`MLflow answered ${method} ${apiPath} with HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return (await res.json()) as Record<string, unknown>;
}

/** Uploads `mib` MiB to the artifact proxy under a new run's artifacts (streamed) and registers a version of `model` with those files. */
async function versionOfSize(model: string, mib: number): Promise<string> {
  const created = await rest('POST', '/api/2.0/mlflow/runs/create', { experiment_id: '0' });
  const info = (created.run as { info: { run_id: string; artifact_uri: string } }).info;
  const folder = `${info.artifact_uri.replace(/^mlflow-artifacts:\/*/, '')}/model`;
  const chunk = Buffer.alloc(1024 * 1024, 7);
  let sent = 0;
  const body = Readable.from((async function* () {
    while (sent < mib) {
      sent++;
      yield chunk;
    }
  })());
  const put = await fetch(`${trackingUri}/api/2.0/mlflow-artifacts/artifacts/${folder}/model.bin`, { method: 'PUT', body, duplex: 'half' } as RequestInit);
  if (!put.ok) throw new Error(`upload refused: HTTP ${put.status}`);
  const registered = await rest('POST', '/api/2.0/mlflow/model-versions/create', { name: model, source: `${info.artifact_uri}/model`, run_id: info.run_id });
  return (registered.model_version as { version: string }).version;
}

/** The sizes of one run of the MLflow benchmark. */
export interface MlflowBenchOptions {
  /** Webhook deliveries and alias moves timed. */
  samples: number;
  /** The sizes (MiB) of the versions whose pinning is measured. */
  downloadMib: number[];
  /** The services' settings (default: this process's environment). */
  env?: NodeJS.ProcessEnv;
}

/** The figures of the MLflow benchmark. */
export interface MlflowBenchFigures {
  webhookToPromotionStarted: ReturnType<typeof latencyFigures>;
  unauthorizedAliasMoveToReverted: ReturnType<typeof latencyFigures>;
  /** Per size (`<n>MiB`): what pinning a version of that size cost in its own process. */
  download: Record<string, { seconds: number; bytes: number; sha256: string; maxRssMiB: number }>;
}

/** Runs the MLflow benchmark against the tracking server at MODELGATE_TEST_MLFLOW_URI and the services of `env`. */
export async function runMlflowBenchmark(options: MlflowBenchOptions): Promise<MlflowBenchFigures> {
  if (!trackingUri) throw new Error('no MLflow tracking server (run through ./scripts/bench.sh, after scripts/mlflow-env.sh)');
  const samples = options.samples;
  const run = await prepareBenchRun('mlflow', POLICY, options.env);
  const pool = createPool(run.base.databaseUrl);
  const config: Config = {
    ...run.base,
    temporal: { ...run.base.temporal, taskQueue: run.taskQueue },
    policyDir: path.join(run.dir, 'policies'),
    mlflow: { trackingUri, aliases: { production: 'champion' }, reconcileIntervalMs: 3_600_000 },
  };
  const connection = await NativeConnection.connect({ address: run.base.temporal.address });
  const worker = await createModelgateWorker({ config, connection, pool, workflowBundle: await bundleWorkflows() });
  const running = worker.run();
  const app = buildTestApp({
    client: run.client,
    pool,
    policy: { policy: run.policy.policy, digest: run.policy.digest, file: path.join(config.policyDir, 'default.yaml') },
    taskQueue: run.taskQueue,
    mlflowIntake: { secret: SECRET, promoteTag: 'modelgate.target', riskTier: 'low', format: 'other', roles: ['ml-engineer'] },
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const mlflow = createMlflowClient({ trackingUri }, sourceRules([], ''));
  try {
    // A model with version 1 approved and serving production, and `samples` more versions.
    const model = `bench-${randomUUID().slice(0, 8)}`;
    await rest('POST', '/api/2.0/mlflow/registered-models/create', { name: model });
    const versions: string[] = [];
    for (let i = 0; i <= samples; i++) versions.push(await versionOfSize(model, 0));
    const registry = createPgRegistry(pool);
    const manifest = PromotionManifestSchema.parse({
      model: { name: model, version: '1', owner: 'bench', riskTier: 'low' },
      target: 'production',
      artifact: { uri: `models:/${model}/1`, format: 'other', sha256: '0'.repeat(64) },
    });
    await registry.claimVersion({ promotionId: `bench:${model}:1`, manifest, effectiveTier: 'low' });
    await registry.recordApproval({ promotionId: `bench:${model}:1`, model, version: '1', environment: 'production', decidedBy: 'bench', policyVersion: 'bench', evidenceDigest: '', validForMs: 86_400_000 });
    await registry.activateVersion({ promotionId: `bench:${model}:1`, model, version: '1', environment: 'production' });
    await mlflow.setAlias(model, 'champion', '1');

    // 1. webhook received → promotion started.
    const started: number[] = [];
    for (const version of versions.slice(1)) {
      const body = JSON.stringify({ entity: 'model_version_tag', action: 'set', timestamp: new Date().toISOString(), data: { name: model, version, key: 'modelgate.target', value: 'production' } });
      const id = randomUUID();
      const ts = String(Math.floor(Date.now() / 1000));
      const t = performance.now();
      const res = await fetch(`${apiUrl}/v1/mlflow/webhooks`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [MLFLOW_DELIVERY_ID_HEADER]: id, [MLFLOW_TIMESTAMP_HEADER]: ts, [MLFLOW_SIGNATURE_HEADER]: signMlflowDelivery(SECRET, id, ts, body) },
        body,
      });
      started.push(performance.now() - t);
      if (res.status !== 201) throw new Error(`the webhook did not start a promotion: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
      // The promotion is not the subject here: stop it so it does not load the worker.
      await run.client.workflow.getHandle(`promote:${model}:${version}:production`).terminate('benchmark').catch(() => undefined);
    }

    // 2. unauthorized alias move → reverted, through MLflow's own delivery.
    await mlflow.createWebhook({ name: `bench-${model}`, url: `${apiUrl}/v1/mlflow/webhooks`, events: [{ entity: 'model_version_alias', action: 'created' }], secret: SECRET });
    await sleep(1_500); // MLflow's webhook cache (MLFLOW_WEBHOOK_CACHE_TTL=1 in the throwaway server)
    const reverted: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t = performance.now();
      await mlflow.setAlias(model, 'champion', versions[1 + (i % (versions.length - 1))]!);
      while ((await mlflow.versionOfAlias(model, 'champion')) !== '1') {
        if (performance.now() - t > 60_000) throw new Error('the alias was not moved back within 60 s');
        await sleep(20);
      }
      reverted.push(performance.now() - t);
    }

    // 3. download peak RSS at two sizes.
    const download: MlflowBenchFigures['download'] = {};
    for (const mib of options.downloadMib) {
      const version = await versionOfSize(model, mib);
      const out = execFileSync('npx', ['tsx', path.join(__dirname, 'download-once.ts'), trackingUri, model, version], { encoding: 'utf8', cwd: ROOT });
      download[`${mib}MiB`] = JSON.parse(out.trim().split('\n').pop()!) as MlflowBenchFigures['download'][string];
    }
    return { webhookToPromotionStarted: latencyFigures(started), unauthorizedAliasMoveToReverted: latencyFigures(reverted), download };
  } finally {
    await new Promise((r) => server.close(r));
    worker.shutdown();
    await running;
    await connection.close();
    await run.client.connection.close();
    await pool.end();
  }
}

async function main(): Promise<void> {
  const options: MlflowBenchOptions = { samples: numericOption('samples', 20), downloadMib: [numericOption('small-mib', 64), numericOption('large-mib', 256)] };
  const record = startBenchRecord('mlflow', { samples: options.samples, downloadMib: options.downloadMib });
  const figures = await runMlflowBenchmark(options);
  const file = await record.finish(figures);
  const line = (what: string, f: { p50Ms: number; p95Ms: number }) => `${what}: p50 ${f.p50Ms} ms, p95 ${f.p95Ms} ms`;
  console.log(line('webhook received → promotion started', figures.webhookToPromotionStarted));
  console.log(line('unauthorized alias move → reverted', figures.unauthorizedAliasMoveToReverted));
  for (const [size, d] of Object.entries(figures.download)) console.log(`pinning ${size}: peak RSS ${Math.round(d.maxRssMiB)} MiB in ${d.seconds.toFixed(2)} s`);
  console.log(`results: ${file}`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
