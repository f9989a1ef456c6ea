// The floor worker of the load benchmark: the real worker's start (src/worker.ts main: database
// preparation, audit sealer, Temporal connection, createModelgateWorker with the same activities,
// options and cache) running the floor workflows of ./workflows.ts, which the benchmark bundles
// into the file named by MODELGATE_FLOOR_BUNDLE. The benchmark compiles this file alone to
// dist-bench/floor-worker.js (`compileFloorWorker` in bench/load/benchmark.ts) and runs it with
// `node`, like dist/worker.js; it loads the build's own modules from dist/, so both workers run the
// same compiled code.
import path from 'node:path';

/** The build's folder: dist/ beside dist-bench/, where this file runs compiled. */
const DIST = path.join(__dirname, '..', 'dist');

async function main(): Promise<void> {
  const bundle = process.env.MODELGATE_FLOOR_BUNDLE;
  if (!bundle) throw new Error('MODELGATE_FLOOR_BUNDLE must name the floor workflows bundle');
  const { Runtime } = await import('@temporalio/worker');
  const { loadConfigOrExit } = (await import(path.join(DIST, 'config.js'))) as typeof import('../../src/config');
  const { createLogger } = (await import(path.join(DIST, 'logger.js'))) as typeof import('../../src/logger');
  const { prepareProcessDatabase } = (await import(path.join(DIST, 'database-startup.js'))) as typeof import('../../src/database-startup');
  const { loadProcessAuditSealer } = (await import(path.join(DIST, 'audit', 'seal.js'))) as typeof import('../../src/audit/seal');
  const { connectWorkerToTemporal, createModelgateWorker } = (await import(path.join(DIST, 'worker.js'))) as typeof import('../../src/worker');

  const config = loadConfigOrExit('worker');
  const log = createLogger('floor-worker', config.logLevel);
  Runtime.install({ shutdownSignals: ['SIGINT', 'SIGTERM', 'SIGQUIT'] });
  const pool = await prepareProcessDatabase(config, log);
  const auditSealer = await loadProcessAuditSealer(config.audit, (message) => log.warn(message));
  const connection = await connectWorkerToTemporal(config, (message) => log.warn(message));
  try {
    const worker = await createModelgateWorker({ config, connection, pool, ...(auditSealer ? { auditSealer } : {}), workflowBundle: { codePath: bundle } });
    await worker.run();
  } finally {
    await connection.close();
    await pool.end();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`floor worker: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
