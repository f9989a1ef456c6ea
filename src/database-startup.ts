// What the worker and the API do with PostgreSQL before they serve: bring the schema up to date (or
// check it is), open the pool, and make sure the role cannot rewrite the audit tables
// (docs/security.md#database-roles). Their audit seal: loadProcessAuditSealer (src/audit/seal.ts).
import type { Pool } from 'pg';
import type { Config } from './config';
import { migrateIfBehind } from './db/migrate';
import { createPool } from './db/pool';
import { excessAuditPrivileges } from './db/roles';
import type { Logger } from './logger';
import { redactUrl, startupStep } from './startup';


/**
 * Prepares a process's database access and returns its pool. In production a role that may UPDATE, DELETE or TRUNCATE
 * the audit tables (or owns them) is refused; elsewhere it is a warning (a `DATABASE_URL`-only
 * development setup connects as the owner).
 */
export async function prepareProcessDatabase(config: Config, log: Logger): Promise<Pool> {
  const applied = await startupStep(
    `migrating PostgreSQL at ${redactUrl(config.databaseUrl)}`,
    'check DATABASE_URL and that PostgreSQL is running (a service role needs the migrations run by the owner: modelgate migrate)',
    () => migrateIfBehind(config.databaseUrl),
  );
  if (applied.length > 0) log.info({ applied }, 'database migrations applied');
  const pool = createPool(config.databaseUrl, (err) => log.warn({ err: err.message }, 'PostgreSQL connection lost'));
  try {
    const excess = await startupStep('checking the database role', 'check DATABASE_URL', () => excessAuditPrivileges(pool));
    if (excess.length > 0) {
      const message = `the database role may rewrite the audit record (${excess.join(', ')}): connect as the service role (member of modelgate_service), and migrate as the owner (DATABASE_OWNER_URL)`;
      if (config.production) throw new Error(message);
      log.warn(message);
    }
    return pool;
  } catch (err) {
    await pool.end();
    throw err;
  }
}
