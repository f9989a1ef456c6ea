import { Client } from 'pg';
import { createPool } from '../src/db/pool';
import { createTestDatabase } from './support/stack';
import { waitUntil } from './support/wait';

// Needs the PostgreSQL of ./scripts/test.sh.
const describeWithDatabase = process.env.DATABASE_URL ? describe : describe.skip;

describeWithDatabase('the PostgreSQL pool of the worker and the API', () => {
  it('when the server drops a connection checked out for a transaction, the error is reported, not thrown at the process', async () => {
    const db = await createTestDatabase();
    const errors: Error[] = [];
    const pool = createPool(db.url, (err) => errors.push(err));
    const admin = new Client({ connectionString: db.url });
    await admin.connect();
    try {
      const client = await pool.connect();
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await client.query('BEGIN');
      // as when PostgreSQL restarts between two statements of a transaction
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      // The server's notice reaches the idle client on its own; a listener-less `error` event there
      // would crash the process. Wait for it before the next statement, or that statement could
      // receive the error instead of the event.
      await waitUntil(() => errors.length, (n) => n > 0, 10_000);
      await expect(client.query('SELECT 1')).rejects.toThrow();
      client.release(true);
      // the pool serves the next query on a new connection
      expect((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
    } finally {
      await admin.end();
      await pool.end();
      await db.drop();
    }
  });
});
