import { WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type { WorkflowBundle } from '@temporalio/worker';
import { NativeConnection } from '@temporalio/worker';
import type { Pool } from 'pg';
import { runMigrations } from '../src/db/migrate';
import { createPool } from '../src/db/pool';
import { bundleWorkflows, createModelgateWorker } from '../src/worker';
import { recordHistory } from './support/histories';
import { createTestDatabase, testConfig, testStackEnv, testTemporalClient } from './support/stack';

describe('the stack: client → Temporal → worker → PostgreSQL', () => {
  let bundle: WorkflowBundle;
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let client: Client;
  let connection: NativeConnection;
  let migrations: string[];

  beforeAll(async () => {
    bundle = await bundleWorkflows();
    db = await createTestDatabase();
    migrations = await runMigrations(db.url);
    pool = createPool(db.url);
    client = await testTemporalClient();
    connection = await NativeConnection.connect({ address: testStackEnv().temporalAddress });
  });

  afterAll(async () => {
    await connection?.close();
    await client?.connection.close();
    await pool?.end();
    await db?.drop();
  });

  it('a workflow started through the client runs an activity on the worker against the real server', async () => {
    const config = testConfig({ databaseUrl: db.url });
    const worker = await createModelgateWorker({ config, connection, pool, workflowBundle: bundle });
    const result = await worker.runUntil(
      client.workflow.execute('StackSelfTestWorkflow', {
        taskQueue: config.temporal.taskQueue,
        workflowId: `stack-self-test:${config.temporal.taskQueue}`,
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
        args: [],
      }),
    );
    expect(result).toEqual({
      postgresVersion: expect.stringMatching(/^\d+\.\d+/),
      migrationsApplied: migrations.length,
      workerPid: process.pid,
    });

    // The history on the server shows the activity ran.
    const handle = client.workflow.getHandle(`stack-self-test:${config.temporal.taskQueue}`);
    const history = await handle.fetchHistory();
    await recordHistory('stack-self-test', handle);
    const activityTypes = (history.events ?? [])
      .map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)
      .filter(Boolean);
    expect(activityTypes).toEqual(['describeStack']);
  });

  it('the server knows every search attribute of docs/lifecycle.md with its type', async () => {
    const { customAttributes } = await client.connection.operatorService.listSearchAttributes({
      namespace: testStackEnv().namespace,
    });
    const { SearchAttributes } = await import('../src/shared/search-attributes');
    const typeNames: Record<string, number> = { KEYWORD: 2, KEYWORD_LIST: 7 };
    for (const key of Object.values(SearchAttributes)) {
      expect(customAttributes?.[key.name]).toBe(typeNames[key.type]);
    }
  });
});
