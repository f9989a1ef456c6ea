import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { NativeConnection, type WorkflowBundle } from '@temporalio/worker';
import type { Pool } from 'pg';
import type { Config, WorkerDeploymentSettings } from '../../src/config';
import { runMigrations } from '../../src/db/migrate';
import { createPool } from '../../src/db/pool';
import { type PromotionManifestInput, PromotionManifestSchema } from '../../src/manifest/schema';
import { type LoadedPolicy, loadPolicyFile } from '../../src/policy/load';
import { sendPromotionMessage } from '../../src/promotions/messages';
import { startPromotion } from '../../src/promotions/start';
import { stateQuery } from '../../src/shared/messages';
import type { Actor, MessageKind, MessagePayloads, PromotionState, PromotionStatus } from '../../src/shared/promotion';
import { bundleWorkflows, createModelgateWorker, type ModelgateWorker } from '../../src/worker';
import { createTestDatabase, serviceRoleUrl, testConfig, testStackEnv, testTemporalClient } from './stack';
import { tracingClientInterceptors } from '../../src/temporal-client';
import type { Tracing } from '../../src/tracing';
import { createAuditSealer, generateAuditKeyPair, type AuditSealer } from '../../src/audit/seal';
import { createPrivateKey } from 'node:crypto';

/** The worker's and the API's audit seals in a test: each its own key and checkpoint file. */
export interface TestAuditSeals {
  dir: string;
  worker: AuditSealer;
  api: AuditSealer;
  checkpointFiles: string[];
  publicKeyFiles: string[];
}

/** Makes a key pair and a checkpoint file for the worker and for the API, in a folder of their own. */
export async function createTestAuditSeals(): Promise<TestAuditSeals> {
  const dir = await mkdtemp(path.join(tmpdir(), 'modelgate-audit-'));
  const seal = async (name: string) => {
    const pair = generateAuditKeyPair();
    await writeFile(path.join(dir, `${name}.pub`), pair.publicKeyPem);
    await writeFile(path.join(dir, `${name}.checkpoints.jsonl`), '', { mode: 0o600 });
    return createAuditSealer(createPrivateKey(pair.privateKeyPem), path.join(dir, `${name}.checkpoints.jsonl`));
  };
  return {
    dir,
    worker: await seal('worker'),
    api: await seal('api'),
    checkpointFiles: ['worker', 'api'].map((n) => path.join(dir, `${n}.checkpoints.jsonl`)),
    publicKeyFiles: ['worker', 'api'].map((n) => path.join(dir, `${n}.pub`)),
  };
}

/** Everything a workflow test needs: a real server, a real database, a real worker. */
export interface PromotionHarness {
  client: Client;
  config: Config;
  /** The database as its owner (migrations, and tests acting as someone with owner access). */
  pool: Pool;
  /** The database as the service role, which the worker and the API use (SELECT and INSERT only on the audit tables). */
  servicePool: Pool;
  /** The audit seals of the worker and the API: their signers, checkpoint files and public keys. */
  audit: TestAuditSeals;
  worker: ModelgateWorker;
  policy: LoadedPolicy;
  artifactDir: string;
  /** Writes a small artifact and returns a manifest for it (overrides merged in). */
  manifest(overrides?: DeepPartial<PromotionManifestInput>): Promise<ReturnType<typeof PromotionManifestSchema.parse>>;
  submit(manifestInput: ReturnType<typeof PromotionManifestSchema.parse>, submitter?: Actor, historyEventLimit?: number): Promise<WorkflowHandle>;
  close(): Promise<void>;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

let sharedBundle: WorkflowBundle | undefined;

/** The workflow bundle every harness of this test file shares (bundled once). */
export async function sharedWorkflowBundle(): Promise<WorkflowBundle> {
  sharedBundle ??= await bundleWorkflows();
  return sharedBundle;
}

/**
 * Starts a worker (all real activities) on a task queue of its own, with a fresh database, in the
 * test namespace or `options.namespace`; traced (worker and client) when `options.tracing` is given.
 */
export async function startPromotionHarness(
  policyFile = path.join(__dirname, '..', 'fixtures', 'policies', 'workflow-test.yaml'),
  options: { namespace?: string; deployment?: WorkerDeploymentSettings; tracing?: Tracing } = {},
): Promise<PromotionHarness> {
  const { tracing } = options;
  const workflowBundle = await sharedWorkflowBundle();
  const db = await createTestDatabase();
  await runMigrations(db.url);
  const pool = createPool(db.url);
  const serviceUrl = serviceRoleUrl(db.url);
  const servicePool = createPool(serviceUrl);
  const audit = await createTestAuditSeals();
  // Re-certifications load the current policy by name from the policy file's folder.
  const config = testConfig({ databaseUrl: serviceUrl, policyDir: path.dirname(policyFile), ...(options.namespace ? { namespace: options.namespace } : {}) });
  if (options.deployment) config.worker.deployment = options.deployment;
  const connection = await NativeConnection.connect({ address: testStackEnv().temporalAddress });
  const worker = await createModelgateWorker({ config, connection, pool: servicePool, auditSealer: audit.worker, workflowBundle, ...(tracing ? { tracing } : {}) });
  const running = worker.run();
  const client = await testTemporalClient(config.temporal.namespace, tracingClientInterceptors(tracing));
  const policy = await loadPolicyFile(policyFile);
  const artifactDir = await mkdtemp(path.join(tmpdir(), 'modelgate-artifacts-'));

  return {
    client,
    config,
    pool,
    servicePool,
    audit,
    worker,
    policy,
    artifactDir,
    manifest: (overrides = {}) => writeTestManifest(artifactDir, overrides),
    async submit(manifest, submitter = { id: 'sam', roles: ['data-scientist'] }, historyEventLimit) {
      const started = await startPromotion(client, {
        manifest,
        submitter,
        policy,
        taskQueue: config.temporal.taskQueue,
        ...(historyEventLimit ? { historyEventLimit } : {}),
      });
      return client.workflow.getHandle(started.promotionId);
    },
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
      await client.connection.close();
      await pool.end();
      await servicePool.end();
      await db.drop();
      await rm(audit.dir, { recursive: true, force: true });
      await rm(artifactDir, { recursive: true, force: true });
    },
  };
}

/**
 * Writes a small artifact into `artifactDir` and returns a valid manifest for it (medium tier,
 * production, accuracy 0.93), with `overrides` merged in.
 */
export async function writeTestManifest(
  artifactDir: string,
  overrides: DeepPartial<PromotionManifestInput> = {},
): Promise<ReturnType<typeof PromotionManifestSchema.parse>> {
  const name = overrides.model?.name ?? `model-${randomUUID().slice(0, 8)}`;
  const bytes = safetensorsBytes(name);
  const file = path.join(artifactDir, `${name}.safetensors`);
  await writeFile(file, bytes);
  const base: PromotionManifestInput = {
    model: { name, version: '1.0.0', owner: 'olivia', riskTier: 'medium', description: 'test model' },
    target: 'production',
    artifact: { uri: pathToFileURL(file).href, sha256: createHash('sha256').update(bytes).digest('hex'), format: 'safetensors' },
    lineage: { codeCommit: '0123abcd', runId: 'run-1' },
    metrics: { accuracy: 0.93 },
    modelCard: { intendedUse: 'Scoring card fraud in tests', limitations: 'Synthetic test data only' },
  };
  return PromotionManifestSchema.parse(merge(base, overrides));
}

/** A small valid safetensors file whose one tensor differs per model (so digests differ). */
function safetensorsBytes(seed: string): Buffer {
  const data = Buffer.alloc(16);
  createHash('sha256').update(seed + randomUUID()).digest().copy(data, 0, 0, 16);
  const header = Buffer.from(JSON.stringify({ weight: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } }));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, data]);
}

function merge<T>(base: T, overrides: unknown): T {
  if (!overrides || typeof overrides !== 'object' || Array.isArray(overrides)) return (overrides ?? base) as T;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(overrides)) {
    out[k] = v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' ? merge(out[k], v) : v;
  }
  return out as T;
}

/** Polls the `state` query until `predicate` holds (or fails after `timeoutMs`). */
export async function waitForState(
  handle: WorkflowHandle,
  predicate: (s: PromotionState) => boolean,
  timeoutMs = 30_000,
): Promise<PromotionState> {
  const deadline = Date.now() + timeoutMs;
  let last: PromotionState | undefined;
  while (Date.now() < deadline) {
    last = await handle.query(stateQuery);
    if (predicate(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`state never matched; last status ${last?.status}, timeline: ${JSON.stringify(last?.timeline.slice(-5))}`);
}

/** Waits for a status. */
export const waitForStatus = (handle: WorkflowHandle, status: PromotionStatus, timeoutMs?: number) =>
  waitForState(handle, (s) => s.status === status, timeoutMs);

/** Sends a message as an Update (the API's way: a repeated requestId resolves to the first result). */
export function sendUpdate<K extends MessageKind>(handle: WorkflowHandle, kind: K, payload: Omit<MessagePayloads[K], 'requestId'> & { requestId?: string }) {
  return sendPromotionMessage(handle, kind, { requestId: randomUUID(), ...payload } as MessagePayloads[K]);
}

/** Test identities. */
export const people = {
  sam: { id: 'sam', roles: ['data-scientist'] },
  olivia: { id: 'olivia', roles: ['ml-reviewer'] },
  rita: { id: 'rita', roles: ['ml-reviewer'] },
  ravi: { id: 'ravi', roles: ['ml-reviewer'] },
  sec: { id: 'sec', roles: ['security-reviewer'] },
  fay: { id: 'fay', roles: ['fairness-reviewer'] },
  lee: { id: 'lee', roles: ['compliance-officer'] },
  bo: { id: 'bo', roles: ['business-owner'] },
  max: { id: 'max', roles: ['ml-manager'] },
  rick: { id: 'rick', roles: ['risk-manager'] },
  multi: { id: 'multi', roles: ['ml-reviewer', 'security-reviewer'] },
} satisfies Record<string, Actor>;
