// The floor worker of the load benchmark: the real worker (createModelgateWorker: same
// activities, options and cache) running the floor workflows of ./workflows.ts, prebundled by
// the benchmark into the file named by MODELGATE_FLOOR_BUNDLE. Run with `node --import tsx`.
import { NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfigOrExit } from '../../src/config';
import { createPool } from '../../src/db/pool';
import { createModelgateWorker } from '../../src/worker';

async function main(): Promise<void> {
  const config = loadConfigOrExit('worker');
  Runtime.install({ shutdownSignals: ['SIGINT', 'SIGTERM'] });
  const pool = createPool(config.databaseUrl);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await createModelgateWorker({ config, connection, pool, workflowBundle: { codePath: process.env.MODELGATE_FLOOR_BUNDLE! } });
  await worker.run();
  await connection.close();
  await pool.end();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
