import path from 'node:path';
import { Client } from 'pg';
import { runner } from 'node-pg-migrate';

/** Folder of the SQL migrations, resolved from this file so it works from `src/` and `dist/`. */
export const MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'migrations');

/** Table in which node-pg-migrate records the migrations that have run. */
export const MIGRATIONS_TABLE = 'modelgate_migrations';

/** Advisory lock key that serializes migrations across processes ('mgmigr' in ASCII). */
const MIGRATION_LOCK_KEY = 0x6d676d69677200n;

/**
 * Brings the database schema up to date. Safe to run again, and from several
 * processes at once: each waits for the others on a PostgreSQL advisory lock
 * (node-pg-migrate's own lock fails instead of waiting).
 *
 * @returns the names of the migrations applied by this call (empty when up to date).
 */
export async function runMigrations(databaseUrl: string): Promise<string[]> {
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    const applied = await runner({
      dbClient: client,
      dir: MIGRATIONS_DIR,
      migrationsTable: MIGRATIONS_TABLE,
      direction: 'up',
      checkOrder: true,
      singleTransaction: true,
      noLock: true,
      log: () => undefined,
    });
    return applied.map((m) => m.name);
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]).catch(() => undefined);
    await client.end();
  }
}
