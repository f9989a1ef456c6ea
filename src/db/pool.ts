import { Pool } from 'pg';

/**
 * Creates the PostgreSQL connection pool of a process. Errors of idle clients and of clients
 * checked out for a transaction (for example the server restarting) are reported to `onError`
 * instead of crashing the process (an `error` event without a listener is thrown); the query
 * in flight fails, and the pool reconnects on the next one.
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
  pool.on('connect', (client) => client.on('error', onError));
  return pool;
}

/** SQLSTATEs that mean "the server cannot serve right now", not "the statement is wrong". */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);

/**
 * True when `err` says PostgreSQL could not be reached or dropped the connection (refused,
 * reset, timed out, shutting down, starting up or in recovery, too many connections) — a
 * condition that passes by itself — rather than that a statement was wrong.
 */
export function isConnectionError(err: unknown): boolean {
  // Duck-typed: errors of Node's sockets may come from another realm (e.g. a test sandbox).
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (/^[0-9A-Z]{5}$/.test(code)) return code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code);
    return /^E[A-Z]+$/.test(code); // a Node system error: ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, …
  }
  return typeof message === 'string' && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message);
}
