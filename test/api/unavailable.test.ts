// When PostgreSQL or Temporal cannot be reached, the API answers 503 naming the service, with
// Retry-After, instead of a 500: a client (a CI pipeline, the CLI) learns to retry, not that
// the API is broken. Real unreachable services: ports nothing listens on.
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import request from 'supertest';
import { signDevToken } from '../../src/api/auth';
import { ApiError, isNoWorkerAnswer, unavailableService } from '../../src/api/errors';
import { NamespaceNotFoundError } from '@temporalio/client';
import { askWorker } from '../../src/api/worker-answer';
import { createPool } from '../../src/db/pool';
import { loadPolicyFile } from '../../src/policy/load';
import { freePort } from '../support/processes';
import { createTestDatabase, testConfig, testStackEnv, testTemporalClient } from '../support/stack';
import { NativeConnection } from '@temporalio/worker';
import { bundleWorkflows, createModelgateWorker } from '../../src/worker';
import { people, waitForState, waitForStatus } from '../support/promotions';
import { waitUntil } from '../support/wait';
import { type ApiHarness, buildTestApp, promotionPath, startApiHarness, TEST_SECRET } from './support';
import { TEST_ARTIFACT_ROOTS } from '../support/sources';

const POLICY = path.join(__dirname, '..', 'fixtures', 'policies', 'workflow-test.yaml');

async function appWith(client: Client, pool: Pool) {
  const policy = await loadPolicyFile(POLICY);
  return buildTestApp({ client, pool, policy, taskQueue: 'unavailable-test' });
}

const manifest = {
  model: { name: 'unavailable-model', version: '1.0.0', owner: 'olivia', riskTier: 'medium', description: 'test' },
  target: 'production',
  artifact: { uri: `file://${TEST_ARTIFACT_ROOTS}/nonexistent/model.safetensors`, sha256: 'a'.repeat(64), format: 'safetensors' },
  lineage: { codeCommit: '0123abcd', runId: 'run-1' },
  metrics: { accuracy: 0.93 },
  modelCard: { intendedUse: 'Tests', limitations: 'None' },
};

describe('the API while a service it needs is unreachable', () => {
  let bearer: string;
  beforeAll(async () => {
    bearer = `Bearer ${await signDevToken({ secret: TEST_SECRET, user: 'sam', roles: ['data-scientist'] })}`;
  });

  it('answers 503 naming PostgreSQL, with Retry-After, for reads and submissions that need it', async () => {
    const temporal = await testTemporalClient();
    const deadPool = createPool(`postgres://modelgate@127.0.0.1:${await freePort()}/modelgate`);
    try {
      const app = await appWith(temporal, deadPool);
      for (const res of [
        await request(app).get('/v1/models').set('authorization', bearer),
        await request(app).post('/v1/promotions').set('authorization', bearer).send(manifest),
      ]) {
        expect(res.status).toBe(503);
        expect(res.headers['retry-after']).toBe('2');
        expect(res.body.error.code).toBe('not_ready');
        expect(res.body.error.message).toMatch(/^PostgreSQL is unavailable or overloaded/);
      }
    } finally {
      await deadPool.end();
      await temporal.connection.close();
    }
  }, 60_000);

  it('answers 503 naming Temporal when its frontend does not answer', async () => {
    const db = await createTestDatabase();
    const pool = createPool(db.url);
    const deadTemporal = new Client({
      // no retry interceptor: the call fails at once, and nothing outlives the test
      connection: Connection.lazy({ address: `127.0.0.1:${await freePort()}`, interceptors: [] }),
      namespace: testConfig().temporal.namespace,
    });
    try {
      const app = await appWith(deadTemporal, pool);
      const res = await request(app).get('/v1/promotions').set('authorization', bearer);
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBe('2');
      expect(res.body.error.message).toMatch(/^Temporal is unavailable or overloaded/);
    } finally {
      await deadTemporal.connection.close();
      await pool.end();
      await db.drop();
    }
  }, 60_000);

  it('tells unavailability from other failures, through causes', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(unavailableService(refused)).toBe('PostgreSQL');
    expect(unavailableService(new Error('wrapped', { cause: refused }))).toBe('PostgreSQL');
    // a wrong statement is not unavailability
    expect(unavailableService(Object.assign(new Error('syntax error'), { code: '42601' }))).toBeUndefined();
    const grpc = (code: number) => Object.assign(new Error('grpc'), { code, details: 'x', metadata: {} });
    expect(unavailableService(new Error('Failed to start', { cause: grpc(14) }))).toBe('Temporal');
    expect(unavailableService(grpc(4))).toBe('Temporal');
    // NOT_FOUND, INVALID_ARGUMENT: Temporal answered
    expect(unavailableService(grpc(5))).toBeUndefined();
    // ...except its namespace not found, as a Temporal server answers just after a restart
    expect(unavailableService(new Error('Failed to query', { cause: new NamespaceNotFoundError('modelgate') }))).toBe('Temporal');
    expect(unavailableService(Object.assign(new Error('x'), { code: 5, details: "Namespace name 'modelgate' is not found.", metadata: {} }))).toBe('Temporal');
    expect(unavailableService(Object.assign(new Error('x'), { code: 5, details: 'workflow execution not found', metadata: {} }))).toBeUndefined();
    expect(unavailableService(grpc(3))).toBeUndefined();
  });

  it('tells a promotion no worker answered for from other failures of its query', () => {
    const grpc = (code: number, details: string) => Object.assign(new Error(details), { code, details, metadata: {} });
    const noPoller = grpc(9, 'no poller seen for task queue recently, worker may be down');
    expect(isNoWorkerAnswer(new Error('Failed to query Workflow', { cause: noPoller }))).toBe(true);
    expect(isNoWorkerAnswer(new Error('Failed to query Workflow', { cause: grpc(4, 'Deadline exceeded') }))).toBe(true);
    // seen when the query reached Temporal as the worker stopped
    expect(isNoWorkerAnswer(new Error('Failed to query Workflow', { cause: grpc(1, 'Call cancelled') }))).toBe(true);
    // another failed precondition, or a query the workflow failed: not a missing worker
    expect(isNoWorkerAnswer(grpc(9, 'Workflow Task in failed state'))).toBe(false);
    expect(isNoWorkerAnswer(grpc(3, 'query handler not found'))).toBe(false);
    expect(isNoWorkerAnswer(new Error('no poller seen'))).toBe(false);
  });

  it('answers 503 while the workflow task of a promotion is being retried, and nothing else as unavailable', async () => {
    const grpc = (code: number, details: string) => Object.assign(new Error(details), { code, details, metadata: {} });
    const client = { withDeadline: (_deadline: number, call: () => Promise<unknown>) => call() } as unknown as Client;
    const retrying = new Error('Failed to query Workflow', { cause: grpc(9, 'Workflow Task in failed state.') });
    const answer = await askWorker(client, 'promotion promote:x', 1_000, () => Promise.reject(retrying)).catch((err: unknown) => err);
    expect(answer).toBeInstanceOf(ApiError);
    expect((answer as ApiError).code).toBe('not_ready');
    expect((answer as ApiError).message).toMatch(/^promotion promote:x cannot answer yet: its last workflow task failed/);
    // any other failed precondition is not unavailability
    const other = grpc(9, 'something else');
    await expect(askWorker(client, 'promotion promote:x', 1_000, () => Promise.reject(other))).rejects.toBe(other);
  });
});

/** Temporal's `matching.queryPollerUnavailableWindow` (its default; the dev server keeps it). */
const TEMPORAL_NO_POLLER_WINDOW_MS = 20_000;

describe('the API while no worker serves the promotions', () => {
  let h: ApiHarness;
  beforeAll(async () => {
    h = await startApiHarness({ workerAnswerTimeoutMs: 2_000 });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('answers 503 instead of waiting without limit, and a retried decision is applied once a worker is back', async () => {
    const handle = await h.submit(await h.manifest());
    await waitForStatus(handle, 'IN_REVIEW');
    h.worker.shutdown();
    await waitUntil(() => h.worker.getState(), (s) => s === 'STOPPED');
    const stoppedAt = Date.now();
    const path = promotionPath(handle.workflowId);
    const rita = await h.bearer(people.rita);

    const read = await request(h.app).get(path).set('authorization', rita);
    expect(read.status).toBe(503);
    expect(read.headers['retry-after']).toBe('2');
    expect(read.body.error.message).toMatch(/did not answer within 2 s: no worker is serving it/);
    // Once the queue has had no poller for Temporal's window (20 s), Temporal itself refuses the
    // query a second early ("no poller seen for task queue recently"): still the same 503.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, stoppedAt + TEMPORAL_NO_POLLER_WINDOW_MS + 1_000 - Date.now())));
    const later = await request(h.app).get(path).set('authorization', rita);
    expect(later.status).toBe(503);
    expect(later.body.error.message).toMatch(/did not answer within 2 s: no worker is serving it/);
    const decision = { gate: 'technical', decision: 'approve', requestId: 'worker-gone-1' };
    const first = await request(h.app).post(promotionPath(handle.workflowId, 'decisions')).set('authorization', rita).send(decision);
    expect(first.status).toBe(503);

    // A worker comes back; the reviewer retries with the same requestId.
    const connection = await NativeConnection.connect({ address: testStackEnv().temporalAddress });
    const worker = await createModelgateWorker({ config: h.config, connection, pool: h.pool, workflowBundle: await bundleWorkflows() });
    try {
      await worker.runUntil(async () => {
        // The first workflow task after the restart may wait out the stopped worker's sticky queue
        // (Temporal moves it after its sticky timeout), longer than the API's 2 s: the reviewer
        // follows Retry-After, as a client should, with the same requestId each time.
        let retried = await request(h.app).post(promotionPath(handle.workflowId, 'decisions')).set('authorization', rita).send(decision);
        for (let attempt = 0; retried.status === 503 && attempt < 10; attempt++) {
          expect(retried.headers['retry-after']).toBe('2');
          await new Promise((resolve) => setTimeout(resolve, 2_000));
          retried = await request(h.app).post(promotionPath(handle.workflowId, 'decisions')).set('authorization', rita).send(decision);
        }
        expect(retried.status).toBe(200);
        const state = await waitForState(handle, (s) => s.stages[0]!.gates[0]!.signatures.length > 0);
        expect(state.stages.flatMap((s) => s.gates.flatMap((g) => g.signatures)).filter((x) => x.requestId === 'worker-gone-1')).toHaveLength(1);
        expect(state.timeline.filter((e) => e.action.startsWith('decision_'))).toHaveLength(1);
      });
    } finally {
      await connection.close();
    }
  }, 120_000);
});
