import type { Pool } from 'pg';

/** Tables whose rows the services may only read and append (docs/security.md#database-roles). */
export const APPEND_ONLY_TABLES = ['audit_events', 'refused_attempts'] as const;

/**
 * What the connected role may do to the append-only tables beyond SELECT and INSERT: UPDATE,
 * DELETE, TRUNCATE, or own them (an owner may drop their triggers or alter them). Empty for the
 * service role; a superuser or the owner holds everything.
 */
export async function excessAuditPrivileges(pool: Pool): Promise<string[]> {
  const held: string[] = [];
  for (const table of APPEND_ONLY_TABLES) {
    const result = await pool.query<{ upd: boolean; del: boolean; trunc: boolean; owns: boolean }>(
      `SELECT has_table_privilege($1, 'UPDATE') AS upd, has_table_privilege($1, 'DELETE') AS del,
              has_table_privilege($1, 'TRUNCATE') AS trunc,
              pg_has_role(current_user, (SELECT tableowner FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1), 'USAGE') AS owns`,
      [table],
    );
    const r = result.rows[0]!;
    for (const [name, has] of [['owner', r.owns], ['UPDATE', r.upd], ['DELETE', r.del], ['TRUNCATE', r.trunc]] as const) if (has) held.push(`${name} of ${table}`);
  }
  return held;
}
