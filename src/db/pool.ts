import { Pool } from 'pg';

/**
 * Creates the PostgreSQL connection pool of a process. Errors of idle clients
 * (for example the server restarting) are reported to `onError` instead of
 * crashing the process; the pool reconnects on the next query.
 */
export function createPool(
  databaseUrl: string,
  onError: (err: Error) => void = () => undefined,
  max = 10,
): Pool {
  const pool = new Pool({
    connectionString: databaseUrl,
    max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', onError);
  return pool;
}
