// Load benchmark (issue 18). Run with `./scripts/bench.sh load [options]`.
// Modelgate (dist/worker.js) and the floor (bench/bundle-worker.ts compiled to JavaScript,
// the floor workflows of bench/load/workflows.ts) in ABBA order, each phase on a fresh PostgreSQL
// cluster and Temporal server: see bench/load/benchmark.ts for what a phase does and measures.
// Options: --rounds R (ABBA rounds, default 3) --promotions N (per phase, default 250)
//          --mix LOW,MEDIUM,HIGH (percent, default 40,35,25) --submitters S (default 20)
//          --reviewer-parallelism P (default 4) --warmup W (default 6)
//          --services fresh|shared (default fresh; shared: every phase on scripts/bench.sh's services)
//          --cpu-prof DIR (each phase's worker writes V8 CPU profiles into DIR/<phase>-<side>/; slows both sides)
// Writes bench/results/load-<commit>.json (commit, machine, dates, options, figures with their samples).
import { startBenchRecord } from '../results';
import { DEFAULT_LOAD_OPTIONS, type LoadOptions, type LoadSide, runLoadBenchmark } from './benchmark';

const args = process.argv.slice(2);

/** The value of `--name`, or undefined; an option without a value is refused. */
function optionValue(name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const value = args[i + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`--${name} needs a value`);
  return value;
}

/** An integer option from `minimum` to `maximum`. */
function integerOption(name: string, fallback: number, minimum: number, maximum: number): number {
  const raw = optionValue(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < minimum || value > maximum) throw new Error(`--${name} must be an integer from ${minimum} to ${maximum}`);
  return value;
}

function optionsFromArgs(): LoadOptions {
  const known = new Set(['rounds', 'promotions', 'mix', 'submitters', 'reviewer-parallelism', 'warmup', 'services', 'cpu-prof']);
  const unknown = args.filter((a) => a.startsWith('--') && !known.has(a.slice(2)));
  if (unknown.length > 0) throw new Error(`unknown option ${unknown[0]!.slice(0, 40)}; options: ${[...known].map((k) => `--${k}`).join(' ')}`);
  const mixRaw = optionValue('mix');
  const mix = mixRaw === undefined ? DEFAULT_LOAD_OPTIONS.mix : (mixRaw.split(',').map(Number) as LoadOptions['mix']);
  if (mix.length !== 3 || mix.some((p) => !Number.isInteger(p) || p < 0) || mix[0] + mix[1] + mix[2] !== 100) throw new Error('--mix must be three whole percentages adding up to 100, e.g. 40,35,25');
  const services = optionValue('services') ?? DEFAULT_LOAD_OPTIONS.services;
  if (services !== 'fresh' && services !== 'shared') throw new Error('--services must be fresh or shared');
  return {
    rounds: integerOption('rounds', DEFAULT_LOAD_OPTIONS.rounds, 1, 20),
    promotions: integerOption('promotions', DEFAULT_LOAD_OPTIONS.promotions, 1, 10_000),
    mix,
    submitters: integerOption('submitters', DEFAULT_LOAD_OPTIONS.submitters, 1, 200),
    reviewerParallelism: integerOption('reviewer-parallelism', DEFAULT_LOAD_OPTIONS.reviewerParallelism, 1, 64),
    warmup: integerOption('warmup', DEFAULT_LOAD_OPTIONS.warmup, 0, 1_000),
    services,
    ...(optionValue('cpu-prof') ? { cpuProfileDir: optionValue('cpu-prof') } : {}),
  };
}

async function main() {
  const options = optionsFromArgs();
  // Ctrl-C or a TERM ends the run through process.exit, so that the phase's fresh services are stopped too.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  const record = startBenchRecord('load', { ...options });
  const figures = await runLoadBenchmark({
    ...options,
    ...(options.services === 'shared' && process.env.MODELGATE_BENCH_RUN_DIR ? { servicesRunDir: process.env.MODELGATE_BENCH_RUN_DIR } : {}),
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const cpu = (side: LoadSide) => {
    const c = figures.sides[side].cpuSecondsPerPromotion;
    return [c.worker, c.api, c.temporal ?? '-', c.postgres ?? '-', c.benchmark].join(' / ');
  };
  console.log('side | promotions/s (by phase) | calls retried after 503 | decision → gate closed p50 / p95 ms | CPU s per promotion: worker / API / Temporal / PostgreSQL / benchmark | worker RSS peak / median MB');
  for (const side of ['modelgate', 'floor'] as const) {
    const s = figures.sides[side];
    console.log(
      `${side} | ${s.promotionsPerSecond} (${s.promotionsPerSecondByPhase.join(', ')}) | ${s.retriedAfterNotReady} | ${s.decisionToGateClosed.p50Ms} / ${s.decisionToGateClosed.p95Ms} | ${cpu(side)} | ${s.workerRssMb.peak} / ${s.workerRssMb.median}`,
    );
  }
  console.log('modelgate / floor:', JSON.stringify(figures.modelgateOverFloor));
  console.log(`results: ${await record.finish(figures)}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
