// Scale-out benchmark (issue 19). Run with `MODELGATE_TEST_TEMPORAL=postgres ./scripts/bench.sh scale`
// (the Temporal server on PostgreSQL, as CI builds it; the dev server works too and is named in the results).
// For 1, 2 and 4 worker processes (dist/worker.js) and 2 API processes (dist/api/server.js) behind a
// round-robin TCP proxy: promotions driven through the API (submit, wait until the gate is open,
// approve, wait for DEPLOYED): promotions per second, decision → answer p50/p95, CPU seconds per
// promotion of each process (/proc/<pid>/stat) and how many cores were busy. Then a kill phase: one
// of 2 workers SIGKILLed mid-run; every promotion must still complete (lost = 0).
// Sizes (environment): SCALE_WORKERS (default 1,2,4) SCALE_APIS (2) SCALE_PROMOTIONS (100 per phase)
// SCALE_CONCURRENCY (16) SCALE_WARMUP (6) SCALE_KILL_PROMOTIONS (40; 0: no kill phase)
// SCALE_KILL_WORKERS (2) SCALE_KILL_TIMEOUT_SECONDS (300).
// Writes bench/results/scale-<commit>.json (commit, machine, date, figures with their samples).
import { startBenchRecord } from '../results';
import { DEFAULT_SCALE_OPTIONS, runScaleBenchmark, type ScaleOptions } from './benchmark';

/** A positive integer from the environment variable `name`, or `fallback`. */
function sizeFromEnv(name: string, fallback: number, minimum = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < minimum || value > 100_000) throw new Error(`${name} must be an integer from ${minimum} to 100000`);
  return value;
}

function optionsFromEnv(): ScaleOptions {
  const workers = process.env.SCALE_WORKERS;
  const workerCounts = workers ? workers.split(',').map(Number) : DEFAULT_SCALE_OPTIONS.workerCounts;
  if (workerCounts.some((n) => !Number.isInteger(n) || n < 1 || n > 32)) throw new Error('SCALE_WORKERS must be a comma-separated list of integers from 1 to 32');
  return {
    workerCounts,
    apiProcesses: sizeFromEnv('SCALE_APIS', DEFAULT_SCALE_OPTIONS.apiProcesses),
    promotions: sizeFromEnv('SCALE_PROMOTIONS', DEFAULT_SCALE_OPTIONS.promotions),
    concurrency: sizeFromEnv('SCALE_CONCURRENCY', DEFAULT_SCALE_OPTIONS.concurrency),
    warmup: sizeFromEnv('SCALE_WARMUP', DEFAULT_SCALE_OPTIONS.warmup, 0),
    killPromotions: sizeFromEnv('SCALE_KILL_PROMOTIONS', DEFAULT_SCALE_OPTIONS.killPromotions, 0),
    killWorkers: sizeFromEnv('SCALE_KILL_WORKERS', DEFAULT_SCALE_OPTIONS.killWorkers, 2),
    killTimeoutMs: sizeFromEnv('SCALE_KILL_TIMEOUT_SECONDS', DEFAULT_SCALE_OPTIONS.killTimeoutMs / 1000) * 1000,
  };
}

async function main() {
  const options = optionsFromEnv();
  const record = startBenchRecord('scale', { ...options });
  const results = await runScaleBenchmark({
    ...options,
    ...(process.env.MODELGATE_BENCH_RUN_DIR ? { servicesRunDir: process.env.MODELGATE_BENCH_RUN_DIR } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const file = await record.finish({ phases: results.phases, kill: results.kill });
  console.log('workers | promotions/s | decision p50 / p95 ms | CPU s per promotion (workers; APIs; Temporal; PostgreSQL; total) | cores busy');
  for (const p of results.phases) {
    const cpu = p.cpuSecondsPerPromotion;
    console.log(
      `${p.workers} | ${p.promotionsPerSecond} | ${p.decisionLatency.p50Ms} / ${p.decisionLatency.p95Ms} | ${cpu.workers.join('+')}; ${cpu.apis.join('+')}; ${cpu.temporal}; ${cpu.postgres}; ${cpu.total} | ${p.coresBusy}`,
    );
  }
  if (results.kill) console.log(`kill phase: ${results.kill.completed} of ${results.kill.promotions} completed, lost ${results.kill.lost} (${results.kill.seconds} s)`);
  console.log(`results: ${file}`);
  if (results.kill && results.kill.lost > 0) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
