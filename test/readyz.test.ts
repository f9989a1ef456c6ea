import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { type Client, Client as TemporalClient, Connection } from '@temporalio/client';
import type { Pool } from 'pg';
import request from 'supertest';
import { buildApp } from '../src/api/app';
import { createPool } from '../src/db/pool';
import { createLogger } from '../src/logger';
import { pingTemporal } from '../src/temporal-client';
import { freePort } from './support/processes';
import { testConfig, testTemporalClient } from './support/stack';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');
const postgresScript = path.join(root, 'scripts', 'postgres.sh');

describe('/healthz and /readyz', () => {
  // A PostgreSQL cluster of this test's own, so that it can be stopped.
  let dir: string;
  let port: number;
  let pool: Pool;
  let temporal: Client;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(root, '.data', 'readyz-pg-'));
    port = await freePort();
    await run(postgresScript, ['start', path.join(dir, 'pg'), String(port)], { env: { ...process.env, MODELGATE_PG_FSYNC: 'off' } });
    const { stdout } = await run(postgresScript, ['url', String(port)]);
    pool = createPool(stdout.trim());
    temporal = await testTemporalClient();
  }, 120_000);

  afterAll(async () => {
    await pool?.end().catch(() => undefined);
    await temporal?.connection.close();
    await run(postgresScript, ['stop', path.join(dir, 'pg')]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  function appWith(temporalClient: Client) {
    return buildApp({
      log: createLogger('test', 'silent'),
      readinessTimeoutMs: 1_500,
      readinessProbes: [
        { name: 'temporal', check: () => pingTemporal(temporalClient, 1_500) },
        { name: 'postgres', check: async () => void (await pool.query('SELECT 1')) },
      ],
    });
  }

  it('is ready when Temporal and PostgreSQL answer', async () => {
    const res = await request(appWith(temporal)).get('/readyz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ready', checks: { temporal: 'ok', postgres: 'ok' } });
    const health = await request(appWith(temporal)).get('/healthz');
    expect(health.status).toBe(200);
  });

  it('names a stopped PostgreSQL, and is ready again once it is back', async () => {
    await run(postgresScript, ['stop', path.join(dir, 'pg')]);
    const app = appWith(temporal);
    const res = await request(app).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body.error).toEqual({ code: 'not_ready', message: 'not ready: postgres unreachable' });
    expect(res.body.checks.temporal).toBe('ok');
    expect(res.body.checks.postgres).toMatch(/^unreachable: /);
    // liveness is not readiness
    expect((await request(app).get('/healthz')).status).toBe(200);

    await run(postgresScript, ['start', path.join(dir, 'pg'), String(port)]);
    const again = await request(app).get('/readyz');
    expect(again.status).toBe(200);
  }, 120_000);

  it('names an unreachable Temporal', async () => {
    const deadPort = await freePort();
    const unreachable = new TemporalClient({
      // no retry interceptor: nothing may outlive the test once the connection is closed
      connection: Connection.lazy({ address: `127.0.0.1:${deadPort}`, interceptors: [] }),
      namespace: testConfig().temporal.namespace,
    });
    const res = await request(appWith(unreachable)).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body.error.message).toBe('not ready: temporal unreachable');
    expect(res.body.checks.postgres).toBe('ok');
    await unreachable.connection.close();
  });

  it('answers unknown routes and malformed JSON with the JSON error shape, never a stack trace', async () => {
    const app = appWith(temporal);
    const missing = await request(app).get('/v1/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: { code: 'not_found', message: 'no route for GET /v1/nothing-here' } });
    const malformed = await request(app).post('/v1/promotions').set('content-type', 'application/json').send('{"a":');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('invalid_input');
    expect(JSON.stringify(malformed.body)).not.toMatch(/at .*\.js:\d+/);
    const wrongType = await request(app).post('/v1/promotions').set('content-type', 'text/plain').send('hello');
    expect(wrongType.status).toBe(415);
  });
});
