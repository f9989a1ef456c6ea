import { Client } from 'pg';
import { MIGRATION_LOCK_KEY, MIGRATIONS_TABLE, runMigrations } from '../src/db/migrate';
import { waitUntil } from './support/wait';
import { createTestDatabase } from './support/stack';

describe('database migrations against the real PostgreSQL', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pg: Client;

  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await pg?.end();
    await db?.drop();
  });

  it('apply on an empty database, and a second run (also concurrent) changes nothing', async () => {
    const first = await runMigrations(db.url);
    expect(first.length).toBeGreaterThanOrEqual(1);
    const [second, third] = await Promise.all([runMigrations(db.url), runMigrations(db.url)]);
    expect(second).toEqual([]);
    expect(third).toEqual([]);

    pg = new Client({ connectionString: db.url });
    await pg.connect();
    const recorded = await pg.query(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`);
    expect(recorded.rows.map((r) => r.name)).toEqual(first);
    const tables = await pg.query(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`,
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([
        'audit_events',
        'environment_deployments',
        'model_versions',
        'models',
        'refused_attempts',
        'version_approvals',
      ]),
    );
  });

  it('the audit archive refuses UPDATE, DELETE and TRUNCATE', async () => {
    await pg.query(
      `INSERT INTO audit_events (promotion_id, seq, occurred_at, actor, action, prev_hash, hash)
       VALUES ('p1', 1, now(), 'alice', 'submitted', '', 'h1')`,
    );
    await expect(pg.query(`UPDATE audit_events SET actor = 'mallory'`)).rejects.toThrow(/append-only/);
    await expect(pg.query(`DELETE FROM audit_events`)).rejects.toThrow(/append-only/);
    await expect(pg.query(`TRUNCATE audit_events`)).rejects.toThrow(/append-only/);
    const rows = await pg.query(`SELECT actor FROM audit_events`);
    expect(rows.rows).toEqual([{ actor: 'alice' }]);
  });

  it('a model version digest must be a sha256', async () => {
    await pg.query(`INSERT INTO models (name, owner) VALUES ('m', 'bob')`);
    await expect(
      pg.query(
        `INSERT INTO model_versions (model_name, version, artifact_sha256, artifact_uri, artifact_format, risk_tier, first_promotion_id)
         VALUES ('m', '1', 'abc', 'file:///x', 'onnx', 'low', 'p')`,
      ),
    ).rejects.toThrow(/check constraint/);
  });

  it('a migration whose connection PostgreSQL ends fails with the reason, and the process carries on', async () => {
    // Another session holds the migration lock, so the migration waits on it; then its backend is ended.
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
      const migrating = runMigrations(db.url).then(
        () => 'finished',
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      );
      const waiting = await waitUntil(
        async () => (await holder.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%pg_advisory_lock%' AND pid <> pg_backend_pid()`)).rows,
        (rows) => rows.length === 1,
      );
      await holder.query('SELECT pg_terminate_backend($1)', [waiting[0]!.pid]);
      expect(await migrating).toMatch(/terminat/i);
      // The client's own 'error' event, emitted as the connection closes, must not end the process.
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      await holder.end();
    }
  });
});
