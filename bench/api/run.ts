// API benchmark (issue 18 item 5). Run with `./scripts/bench.sh api [options]`; what it measures
// is bench/api/benchmark.ts.
// Options: --calls N (default 100 of each side) --warmup N (5) --open N (2000) --reads N (200)
//          --worker-during-submit 0 (start the worker after the submissions; default 1)
//          --cpu-prof DIR (the API process writes a V8 CPU profile into DIR when it stops)
// Writes bench/results/api-<commit>.json (commit, machine, dates, options, figures with samples).
import path from 'node:path';
import { startBenchRecord } from '../results';
import { numericOption } from '../support';
import { DEFAULT_API_BENCH_OPTIONS, runApiBenchmark, type ApiBenchOptions } from './benchmark';

/** `--name N`: an integer from `minimum` to 100000, or the default. */
function sizeOption(name: string, fallback: number, minimum: number): number {
  const value = numericOption(name, fallback);
  if (!Number.isInteger(value) || value < minimum || value > 100_000) throw new Error(`--${name} must be an integer from ${minimum} to 100000`);
  return value;
}

function optionsFromArgs(): Omit<ApiBenchOptions, 'env' | 'log' | 'servicesRunDir'> {
  const args = process.argv.slice(2);
  const profileAt = args.indexOf('--cpu-prof');
  const cpuProfileDir = profileAt >= 0 ? args[profileAt + 1] : undefined;
  if (profileAt >= 0 && !cpuProfileDir) throw new Error('--cpu-prof needs a folder');
  return {
    calls: sizeOption('calls', DEFAULT_API_BENCH_OPTIONS.calls, 1),
    warmup: sizeOption('warmup', DEFAULT_API_BENCH_OPTIONS.warmup, 0),
    open: sizeOption('open', DEFAULT_API_BENCH_OPTIONS.open, 0),
    reads: sizeOption('reads', DEFAULT_API_BENCH_OPTIONS.reads, 1),
    workerDuringSubmit: sizeOption('worker-during-submit', 1, 0) !== 0,
    ...(cpuProfileDir ? { cpuProfileDir: path.resolve(cpuProfileDir) } : {}),
  };
}

async function main() {
  const options = optionsFromArgs();
  const record = startBenchRecord('api', options);
  const figures = await runApiBenchmark({
    ...options,
    ...(process.env.MODELGATE_BENCH_RUN_DIR ? { servicesRunDir: process.env.MODELGATE_BENCH_RUN_DIR } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const file = await record.finish(figures);
  const { submissions: s, steps, decisions: d, pendingForMe: p } = figures;
  const pair = (l: { p50Ms: number; p95Ms: number }) => `${l.p50Ms} / ${l.p95Ms} ms`;
  console.log('what | p50 / p95 | ratio at p50');
  console.log(`POST /v1/promotions | ${pair(s.api)} | ${s.ratioP50} to direct (${pair(s.direct)}), ${s.ratioToBareStartP50} to the bare start (${pair(s.bareStart)})`);
  console.log(`POST …/decisions | ${pair(d.api)} | ${d.ratioP50} to sendPromotionMessage (${pair(d.direct)}), ${d.ratioToBareUpdateP50} to the bare Update`);
  console.log(`GET ?pendingFor=me, ${p.openPromotions} open | ${pair(p.latency)} |`);
  console.log(
    `steps (p50): HTTP+token+routing ${steps.httpTokenAndRouting.p50Ms} ms; + body, validation, policy and registry look-up (409, nothing started) ${steps.refusedByRegistryLookUp.p50Ms} ms; ` +
      `validation ${steps.manifestValidation.p50Ms} ms; look-up of an unregistered version ${steps.registryLookUpUnregistered.p50Ms} ms; workflow start ${steps.workflowStart.p50Ms} ms`,
  );
  console.log(`CPU s per submission: API ${s.cpuSeconds.apiPerApiSubmission}, worker ${s.cpuSeconds.workerPerSubmission}, Temporal ${s.cpuSeconds.temporalPerSubmission}, PostgreSQL ${s.cpuSeconds.postgresPerSubmission}`);
  if (figures.cpuProfile) console.log(`CPU profile of the API: ${figures.cpuProfile}`);
  console.log(`results: ${file}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
