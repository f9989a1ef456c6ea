import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { Client } from 'pg';
import { runner } from 'node-pg-migrate';

/** Folder of the SQL migrations, resolved from this file so it works from `src/` and `dist/`. */
export const MIGRATIONS_DIR = path.resolve(__dirname, '..', '..', 'migrations');

/** Table in which node-pg-migrate records the migrations that have run. */
export const MIGRATIONS_TABLE = 'modelgate_migrations';

/** Advisory lock key that serializes migrations across processes ('mgmigr' in ASCII). */
export const MIGRATION_LOCK_KEY = 0x6d676d69677200n;

/**
 * A connection of its own for migrating. When PostgreSQL ends it (a restart, an administrator),
 * the statement in flight or the next one fails with the reason; the `error` event the client also
 * emits is handled here, so it cannot end the process as an unhandled error.
 */
async function connectMigrationClient(databaseUrl: string): Promise<Client> {
  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/**
 * Brings the database schema up to date. Safe to run again, and from several
 * processes at once: each waits for the others on a PostgreSQL advisory lock
 * (node-pg-migrate's own lock fails instead of waiting).
 *
 * @returns the names of the migrations applied by this call (empty when up to date).
 */
export async function runMigrations(databaseUrl: string): Promise<string[]> {
  const client = await connectMigrationClient(databaseUrl);
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

/** Names of the migration files (as node-pg-migrate records them: without `.sql`), in order. */
async function migrationNames(): Promise<string[]> {
  const files = await readdir(MIGRATIONS_DIR);
  return files.filter((f) => f.endsWith('.sql')).map((f) => f.slice(0, -'.sql'.length)).sort();
}

/**
 * Brings the schema up to date when it is behind, as {@link runMigrations} does, and otherwise only
 * reads: a service role (SELECT and INSERT on the audit tables, no DDL) starts against an up-to-date
 * database; against an older one, it fails naming the owner's command (`modelgate migrate`).
 *
 * @returns the names of the migrations applied by this call (empty when up to date).
 */
export async function migrateIfBehind(databaseUrl: string): Promise<string[]> {
  const client = await connectMigrationClient(databaseUrl);
  let applied: string[] = [];
  try {
    const exists = await client.query<{ found: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS found`, [MIGRATIONS_TABLE]);
    if (exists.rows[0]?.found) applied = (await client.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`)).rows.map((r) => r.name);
  } finally {
    await client.end();
  }
  const done = new Set(applied);
  if ((await migrationNames()).every((name) => done.has(name))) return [];
  try {
    return await runMigrations(databaseUrl);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === '42501') {
      throw new Error('the database schema is behind and this role may not change it: run the migrations as the owner (DATABASE_OWNER_URL=… modelgate migrate), then start again');
    }
    throw err;
  }
}
