import { Client } from 'pg';
import { MIGRATIONS_TABLE, runMigrations } from '../src/db/migrate';
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
});
