import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Client, type ClientInterceptors, Connection } from '@temporalio/client';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { msToTs } from '@temporalio/common/lib/time';
import { Client as PgClient } from 'pg';
import { type Config, loadConfig } from '../../src/config';
import { TEST_ARTIFACT_HOSTS, TEST_ARTIFACT_ROOTS, testArtifactStore } from './sources';

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

/**
 * The URL of database `databaseUrl` for the service role the API and worker connect as
 * (`modelgate_app`, a member of `modelgate_service`, made by scripts/postgres.sh): the user of
 * MODELGATE_TEST_SERVICE_DATABASE_URL. Without that variable, the URL as given (the owner).
 */
export function serviceRoleUrl(databaseUrl: string): string {
  const service = process.env.MODELGATE_TEST_SERVICE_DATABASE_URL;
  if (!service) return databaseUrl;
  const url = new URL(databaseUrl);
  const serviceUrl = new URL(service);
  url.username = serviceUrl.username;
  url.password = serviceUrl.password;
  return url.toString();
}

/** A config for tests: the test stack's addresses, a task queue of its own. */
export function testConfig(overrides: { databaseUrl?: string; taskQueue?: string; namespace?: string; policyDir?: string } = {}): Config {
  const env = testStackEnv();
  return loadConfig({
    TEMPORAL_ADDRESS: env.temporalAddress,
    TEMPORAL_NAMESPACE: overrides.namespace ?? env.namespace,
    TEMPORAL_TASK_QUEUE: overrides.taskQueue ?? `test-${randomUUID()}`,
    DATABASE_URL: overrides.databaseUrl ?? env.databaseUrl,
    SHUTDOWN_GRACE_SECONDS: '1',
    ARTIFACT_ROOTS: TEST_ARTIFACT_ROOTS,
    ARTIFACT_HOSTS: TEST_ARTIFACT_HOSTS,
    ARTIFACT_STORE_DIR: testArtifactStore(),
    ...(overrides.policyDir ? { POLICY_DIR: overrides.policyDir } : {}),
  });
}

/** A Temporal client on the test server (in the test namespace, or `namespace`), with `interceptors` when given. */
export async function testTemporalClient(namespace?: string, interceptors?: ClientInterceptors): Promise<Client> {
  const env = testStackEnv();
  const connection = await Connection.connect({ address: env.temporalAddress });
  return new Client({ connection, namespace: namespace ?? env.namespace, ...(interceptors ? { interceptors } : {}) });
}

/**
 * Registers a namespace of its own on the test server, with Modelgate's search attributes
 * (temporal/search-attributes.txt), and returns its name once it is usable. For a test that
 * lists promotions and must see no other test's.
 */
export async function createTestNamespace(): Promise<string> {
  const env = testStackEnv();
  const namespace = `test-${randomUUID().slice(0, 8)}`;
  const file = await readFile(path.join(__dirname, '..', '..', 'temporal', 'search-attributes.txt'), 'utf8');
  const searchAttributes = Object.fromEntries(
    file
      .split('\n')
      .filter((line) => line.trim() && !line.startsWith('#'))
      .map((line) => {
        const [name, type] = line.trim().split(/\s+/) as [string, string];
        const key = type.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase() as Parameters<typeof encodeSearchAttributeIndexedValueType>[0];
        return [name, encodeSearchAttributeIndexedValueType(key)!];
      }),
  );
  const connection = await Connection.connect({ address: env.temporalAddress });
  try {
    await connection.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    // A real server's frontend knows a new namespace after its next cache refresh (up to 10 s).
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await connection.close();
  }
  return namespace;
}
