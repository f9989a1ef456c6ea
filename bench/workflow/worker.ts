// The worker process of the workflow benchmark's comparison: the production worker
// (createModelgateWorker with loadConfig's settings: the same activities, task queues, cache and
// slots) running the workflow bundle named by MODELGATE_BENCH_WORKFLOW_BUNDLE — Modelgate's own or
// the floor's (./workflows.ts). Both sides run this same entry, so they differ only in the
// workflow code. Run with `node --import tsx`.
import { NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfigOrExit } from '../../src/config';
import { createPool } from '../../src/db/pool';
import { createModelgateWorker } from '../../src/worker';

/** What the process prints once its workers poll. */
export const READY_LINE = 'benchmark worker polling';

async function main(): Promise<void> {
  const codePath = process.env.MODELGATE_BENCH_WORKFLOW_BUNDLE;
  if (!codePath) throw new Error('MODELGATE_BENCH_WORKFLOW_BUNDLE must name a workflow bundle');
  const config = loadConfigOrExit('worker');
  Runtime.install({ shutdownSignals: ['SIGINT', 'SIGTERM'] });
  const pool = createPool(config.databaseUrl);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  try {
    const worker = await createModelgateWorker({ config, connection, pool, workflowBundle: { codePath } });
    process.stdout.write(`${READY_LINE}\n`);
    await worker.run();
  } finally {
    await connection.close();
    await pool.end();
  }
}

if (require.main === module) main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`benchmark worker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
