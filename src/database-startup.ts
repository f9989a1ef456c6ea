// What the worker and the API do with PostgreSQL and the audit seal before they serve: bring the
// schema up to date (or check it is), open the pool, make sure the role cannot rewrite the audit
// tables, and load the process's own audit signing key (docs/security.md#database-roles).
import type { Pool } from 'pg';
import { type AuditSealer, loadAuditSealer } from './audit/seal';
import type { Config } from './config';
import { migrateIfBehind } from './db/migrate';
import { createPool } from './db/pool';
import { excessAuditPrivileges } from './db/roles';
import type { Logger } from './logger';
import { redactUrl, startupStep } from './startup';

/** The pool and the audit sealer of a process. */
export interface ProcessDatabase {
  pool: Pool;
  /** Absent only outside production without AUDIT_SIGNING_KEY_FILE (chains are then not sealed). */
  auditSealer?: AuditSealer;
}

/**
 * Prepares a process's database access. In production a role that may UPDATE, DELETE or TRUNCATE
 * the audit tables (or owns them) is refused; elsewhere it is a warning (a `DATABASE_URL`-only
 * development setup connects as the owner).
 */
export async function prepareProcessDatabase(config: Config, log: Logger): Promise<ProcessDatabase> {
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
    if (!config.audit) {
      log.warn('AUDIT_SIGNING_KEY_FILE is not set: the audit chains this process appends to are not signed or checkpointed (refused when NODE_ENV is production)');
      return { pool };
    }
    const settings = config.audit;
    const auditSealer = await startupStep('loading the audit signing key', 'check AUDIT_SIGNING_KEY_FILE and AUDIT_CHECKPOINT_FILE', () => loadAuditSealer(settings));
    log.info({ keyId: auditSealer.keyId, checkpointFile: settings.checkpointFile }, 'audit chains are signed');
    return { pool, auditSealer };
  } catch (err) {
    await pool.end();
    throw err;
  }
}
