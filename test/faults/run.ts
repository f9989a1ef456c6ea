// A fault run of any size, outside jest: `./scripts/faults.sh [--promotions 200] [--seed S]`.
// Prints progress on stderr and the report (JSON) on stdout, writes bench/results/faults-<commit>.json;
// exits 1 when a promise was broken.
// Options: --promotions N (default 200) --concurrency C (default 20) --seed S (default: the clock)
//          --gap-ms MIN,MAX (default 2000,8000) --down-ms MIN,MAX (default 300,3000)
//          --repeat-share X (default 0.3) --overlap-share X (default 0.3)
//          --kill-after-provisioning-share X (default 0.3)
//          --deployer-fail-share X (default 0.1) --deployer-timeout-share X (default 0.05)
//          --deployer-slow-share X (default 0.1) --deployer-slow-ms MIN,MAX (default 500,3000)
//          --timeout-s S (default 1800) --log-dir DIR (kept, with the deployer's deliveries.jsonl)
// The Temporal server is the dev server, or with MODELGATE_TEST_TEMPORAL=postgres the Temporal server on PostgreSQL.
import { runFaultBenchmark } from './benchmark';

const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const pair = (name: string, fallback: [number, number]): [number, number] => {
  const value = option(name);
  if (!value) return fallback;
  const [min, max] = value.split(',').map(Number);
  return [min!, max ?? min!];
};

// Interrupted: exit, so that the run's 'exit' handler stops the services it started.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

async function main(): Promise<void> {
  const started = Date.now();
  const share = (name: string, fallback: number) => Number(option(name) ?? fallback);
  const { report, file } = await runFaultBenchmark({
    promotions: Number(option('promotions') ?? 200),
    concurrency: Number(option('concurrency') ?? 20),
    seed: Number(option('seed') ?? Date.now() % 1_000_000),
    gapMs: pair('gap-ms', [2_000, 8_000]),
    downMs: pair('down-ms', [300, 3_000]),
    repeatShare: share('repeat-share', 0.3),
    overlapShare: share('overlap-share', 0.3),
    killAfterProvisioningShare: share('kill-after-provisioning-share', 0.3),
    deployerFaults: {
      failShare: share('deployer-fail-share', 0.1),
      timeoutShare: share('deployer-timeout-share', 0.05),
      slowShare: share('deployer-slow-share', 0.1),
      slowMs: pair('deployer-slow-ms', [500, 3_000]),
    },
    timeoutMs: Number(option('timeout-s') ?? 1_800) * 1000,
    ...(option('log-dir') ? { logDir: option('log-dir')! } : {}),
    log: (line) => process.stderr.write(`[faults +${((Date.now() - started) / 1000).toFixed(0)}s] ${line}\n`),
  });
  console.log(JSON.stringify(report, null, 2));
  const { kills, deliveries } = report;
  process.stderr.write(
    `[faults] ${report.promotions} promotions (Temporal ${report.temporalServer}); kills worker/API/Temporal/PostgreSQL ${kills.worker}/${kills.api}/${kills.temporal}/${kills.postgres}, ` +
      `${report.overlappingKills} overlapping, ${report.killsAfterProvisioning.injected} after provisioning; ${deliveries.total} deliveries (${deliveries.repeats} repeats); ` +
      `broken promises ${report.brokenPromises}; figures in ${file}\n`,
  );
  if (report.violations.length > 0) process.exit(1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
