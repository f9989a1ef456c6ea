import type { Pool, PoolClient } from 'pg';

/**
 * Runs `body` in one transaction on a client of `pool`: `BEGIN`, then `COMMIT` once `body`
 * resolves, or `ROLLBACK` (whose own failure is ignored) when it throws, and the error is
 * rethrown. The client goes back to the pool either way.
 */
export async function inTransaction<T>(pool: Pool, body: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await body(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
