import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { connect, createServer as createTcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Pool } from 'pg';
import { createCheckActivities } from '../../src/activities/checks';
import { CheckSettingsSchema } from '../../src/policy/check-settings';
import { runMigrations } from '../../src/db/migrate';
import { isConnectionError } from '../../src/db/pool';
import { PromotionManifestSchema } from '../../src/manifest/schema';
import { createTestDatabase } from '../support/stack';
import { testSourceDeps } from '../support/sources';

// Needs the PostgreSQL of ./scripts/test.sh.
const describeWithDatabase = process.env.DATABASE_URL ? describe : describe.skip;

describeWithDatabase('check activities against the registry', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let server: Server;
  let port = 0;
  const dir = mkdtempSync(path.join(tmpdir(), 'modelgate-activities-'));
  const model = Buffer.from('80049506000000000000007d948c0161944b01732e', 'hex');
  const digest = createHash('sha256').update(model).digest('hex');

  beforeAll(async () => {
    db = await createTestDatabase();
    await runMigrations(db.url);
    pool = new Pool({ connectionString: db.url });
    await pool.query(`INSERT INTO models (name, owner) VALUES ('churn', 'alice')`);
    await pool.query(
      `INSERT INTO model_versions (model_name, version, artifact_sha256, artifact_uri, artifact_format, risk_tier, metrics, first_promotion_id)
       VALUES ('churn', '1.0.0', $1, 'file:///v1', 'pickle', 'low', '{"accuracy": 0.9, "auc": 0.95}', 'p1'),
              ('churn', '2.0.0', $2, 'file:///v2', 'pickle', 'low', '{}', 'p2')`,
      ['1'.repeat(64), '2'.repeat(64)],
    );
    await pool.query(`INSERT INTO environment_deployments (model_name, environment, version, promotion_id) VALUES ('churn', 'production', '1.0.0', 'p1')`);
    writeFileSync(path.join(dir, 'model.pkl'), model);
    server = createServer((_req, res) => {
      res.statusCode = 503;
      res.end('unavailable');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
    await new Promise((resolve) => server?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });

  const input = (overrides: Record<string, unknown> = {}, settings: Record<string, unknown> = {}) => ({
    promotionId: 'promo-1',
    manifest: PromotionManifestSchema.parse({
      model: { name: 'churn', version: '3.0.0', owner: 'alice', riskTier: 'low' },
      target: 'production',
      artifact: { uri: pathToFileURL(path.join(dir, 'model.pkl')).href, sha256: digest, format: 'pickle' },
      lineage: { codeCommit: 'abcdef1', parentVersion: '1.0.0', trainingData: { uri: 's3://d', classification: 'internal', containsPersonalData: false } },
      metrics: { accuracy: 0.86, roc_auc: 0.951 },
      ...overrides,
    }),
    settings: CheckSettingsSchema.parse(settings),
    trustedKeys: [],
  });

  it('lineage passes with a registered parent and fails when the version exists with another digest', async () => {
    const activities = createCheckActivities({ pool, ...testSourceDeps() });
    expect((await activities.runLineageCheck(input())).status).toBe('pass');
    const reused = await activities.runLineageCheck(input({ model: { name: 'churn', version: '2.0.0', owner: 'alice', riskTier: 'low' } }));
    expect(reused.status).toBe('fail');
    expect(reused.findings.map((f) => f.kind)).toContain('version_digest_conflict');
  });

  it('performance compares with the metrics of the version serving the target', async () => {
    const activities = createCheckActivities({ pool, ...testSourceDeps() });
    const r = await activities.runPerformanceCheck(input({}, { performance: { maxRegression: { accuracy: 0.02, auc: 0.01 } } }));
    expect(r.status).toBe('fail');
    expect(r.metrics.baselineVersion).toBe('1.0.0');
    expect(r.findings.filter((f) => f.kind === 'regression').map((f) => f.location)).toEqual(['accuracy']);
  });

  it('throws (so Temporal retries) when an HTTP artifact answers 503, and returns error for a 404-like input problem', async () => {
    const activities = createCheckActivities({ pool, ...testSourceDeps() });
    await expect(activities.runIntegrityCheck(input({ artifact: { uri: `http://127.0.0.1:${port}/model.pkl`, sha256: digest, format: 'pickle' } }))).rejects.toThrow(/HTTP 503/);
    const missing = await activities.runSecurityCheck(input({ artifact: { uri: 'file:///does/not/exist.pkl', sha256: digest, format: 'pickle' } }));
    expect(missing.status).toBe('error');
  });

  it('while PostgreSQL cannot be reached, a registry read waits (heartbeating) instead of becoming a check result', async () => {
    // A port where PostgreSQL "comes back" after a while: first nothing listens, then a proxy to the database.
    const probe = createTcpServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const downPort = (probe.address() as { port: number }).port;
    await new Promise((resolve) => probe.close(resolve));
    const target = new URL(db.url);
    const unreachable = new Pool({ connectionString: Object.assign(new URL(db.url), { port: String(downPort) }).toString() });
    const proxy = createTcpServer((socket) => {
      const upstream = connect(Number(target.port), target.hostname);
      socket.pipe(upstream).pipe(socket);
      upstream.on('error', () => socket.destroy());
      socket.on('error', () => upstream.destroy());
    });
    const env = new MockActivityEnvironment();
    const heartbeats: unknown[] = [];
    env.on('heartbeat', (detail: unknown) => heartbeats.push(detail));
    try {
      const activities = createCheckActivities({ pool: unreachable, ...testSourceDeps() });
      const running = env.run(activities.runLineageCheck, input());
      await new Promise((r) => setTimeout(r, 1_200));
      proxy.listen(downPort, '127.0.0.1');
      expect(await running).toMatchObject({ status: 'pass' });
      expect(heartbeats).toContainEqual(expect.objectContaining({ waitingFor: 'the model registry (PostgreSQL)' }));

      // A promotion withdrawn meanwhile cancels the check: the wait ends (the workflow discards the result).
      proxy.close();
      await unreachable.end();
      const stillDown = new Pool({ connectionString: Object.assign(new URL(db.url), { port: String(downPort) }).toString() });
      const cancelled = new MockActivityEnvironment();
      const waiting = cancelled.run(createCheckActivities({ pool: stillDown, ...testSourceDeps() }).runLineageCheck, input());
      await new Promise((r) => setTimeout(r, 300));
      cancelled.cancel();
      expect(await waiting).toMatchObject({ status: 'error', summary: expect.stringMatching(/internal error while running the check \(CancelledFailure; /) });
      await stillDown.end();
    } finally {
      proxy.close();
    }
  });
});

describe('PostgreSQL connection errors', () => {
  it('are told apart from errors of the statement', () => {
    const sysError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code });
    const sqlError = (code: string) => Object.assign(new Error('server error'), { code });
    expect(isConnectionError(sysError('ECONNREFUSED'))).toBe(true);
    expect(isConnectionError(sysError('ECONNRESET'))).toBe(true);
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError(sqlError('57P03'))).toBe(true); // the database system is starting up
    expect(isConnectionError(sqlError('08006'))).toBe(true);
    expect(isConnectionError(sqlError('42P01'))).toBe(false); // undefined table
    expect(isConnectionError(sqlError('23505'))).toBe(false); // unique violation
    expect(isConnectionError('ECONNREFUSED')).toBe(false);
  });
});

