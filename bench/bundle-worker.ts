// The worker process of the benchmarks' comparisons: the real worker's start (src/worker.ts main:
// database preparation, audit sealer, Temporal connection, createModelgateWorker with the same
// activities, task queues, options and cache) running the workflow bundle named by
// MODELGATE_BENCH_WORKFLOW_BUNDLE — a floor's (bench/workflow/workflows.ts, bench/load/workflows.ts)
// or Modelgate's own. `compileBundleWorker` (bench/support.ts) compiles this file alone to
// dist-bench/bundle-worker.js, run with `node` like dist/worker.js; it loads the build's own modules
// from dist/, so every side of a comparison runs the same compiled code and differs only in its
// workflow bundle.
import path from 'node:path';

/** What the process prints once its workers poll. */
export const READY_LINE = 'benchmark worker polling';

/** The build's folder: dist/ beside dist-bench/, where this file runs compiled. */
const DIST = path.join(__dirname, '..', 'dist');

async function main(): Promise<void> {
  const bundle = process.env.MODELGATE_BENCH_WORKFLOW_BUNDLE;
  if (!bundle) throw new Error('MODELGATE_BENCH_WORKFLOW_BUNDLE must name a workflow bundle');
  const { Runtime } = await import('@temporalio/worker');
  const { loadConfigOrExit } = (await import(path.join(DIST, 'config.js'))) as typeof import('../src/config');
  const { createLogger } = (await import(path.join(DIST, 'logger.js'))) as typeof import('../src/logger');
  const { prepareProcessDatabase } = (await import(path.join(DIST, 'database-startup.js'))) as typeof import('../src/database-startup');
  const { loadProcessAuditSealer } = (await import(path.join(DIST, 'audit', 'seal.js'))) as typeof import('../src/audit/seal');
  const { connectWorkerToTemporal, createModelgateWorker } = (await import(path.join(DIST, 'worker.js'))) as typeof import('../src/worker');

  const config = loadConfigOrExit('worker');
  const log = createLogger('bench-worker', config.logLevel);
  Runtime.install({ shutdownSignals: ['SIGINT', 'SIGTERM', 'SIGQUIT'] });
  const pool = await prepareProcessDatabase(config, log);
  const auditSealer = await loadProcessAuditSealer(config.audit, (message) => log.warn(message));
  const connection = await connectWorkerToTemporal(config, (message) => log.warn(message));
  try {
    const worker = await createModelgateWorker({ config, connection, pool, ...(auditSealer ? { auditSealer } : {}), workflowBundle: { codePath: bundle } });
    process.stdout.write(`${READY_LINE}\n`);
    await worker.run();
  } finally {
    await connection.close();
    await pool.end();
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`benchmark worker: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
