import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { type Config, loadConfig } from '../../src/config';

/**
 * Addresses of the throwaway Temporal server and PostgreSQL cluster that
 * `scripts/test.sh` starts for the test run.
 */
export function testStackEnv(): { temporalAddress: string; namespace: string; databaseUrl: string } {
  const temporalAddress = process.env.TEMPORAL_ADDRESS;
  const databaseUrl = process.env.DATABASE_URL;
  if (!temporalAddress || !databaseUrl) {
    throw new Error(
      'TEMPORAL_ADDRESS and DATABASE_URL are not set: run the tests with ./scripts/test.sh, ' +
        'which starts a throwaway Temporal server and PostgreSQL cluster for them',
    );
  }
  return { temporalAddress, namespace: process.env.TEMPORAL_NAMESPACE ?? 'modelgate', databaseUrl };
}

/** Creates an empty database on the test cluster and returns its URL; `drop` removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const { databaseUrl } = testStackEnv();
  const name = `t_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const admin = new PgClient({ connectionString: databaseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new PgClient({ connectionString: databaseUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** A config for tests: the test stack's addresses, a task queue of its own. */
export function testConfig(overrides: { databaseUrl?: string; taskQueue?: string; policyDir?: string } = {}): Config {
  const env = testStackEnv();
  return loadConfig({
    TEMPORAL_ADDRESS: env.temporalAddress,
    TEMPORAL_NAMESPACE: env.namespace,
    TEMPORAL_TASK_QUEUE: overrides.taskQueue ?? `test-${randomUUID()}`,
    DATABASE_URL: overrides.databaseUrl ?? env.databaseUrl,
    SHUTDOWN_GRACE_SECONDS: '1',
    ...(overrides.policyDir ? { POLICY_DIR: overrides.policyDir } : {}),
  });
}

/** A Temporal client on the test server. */
export async function testTemporalClient(): Promise<Client> {
  const env = testStackEnv();
  const connection = await Connection.connect({ address: env.temporalAddress });
  return new Client({ connection, namespace: env.namespace });
}
