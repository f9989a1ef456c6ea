// A fault run of any size, outside jest: `./scripts/faults.sh [--promotions 200] [--seed S]`.
// Prints progress on stderr and the report (JSON) on stdout; exits 1 when a promise was broken.
// Options: --promotions N (default 200) --concurrency C (default 20) --seed S (default: the clock)
//          --gap-ms MIN,MAX (default 2000,8000) --down-ms MIN,MAX (default 300,3000)
//          --repeat-share X (default 0.3) --timeout-s S (default 1800) --log-dir DIR (kept)
import { runFaultScenario } from './scenario';

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
  const report = await runFaultScenario({
    promotions: Number(option('promotions') ?? 200),
    concurrency: Number(option('concurrency') ?? 20),
    seed: Number(option('seed') ?? Date.now() % 1_000_000),
    gapMs: pair('gap-ms', [2_000, 8_000]),
    downMs: pair('down-ms', [300, 3_000]),
    repeatShare: Number(option('repeat-share') ?? 0.3),
    timeoutMs: Number(option('timeout-s') ?? 1_800) * 1000,
    ...(option('log-dir') ? { logDir: option('log-dir')! } : {}),
    log: (line) => process.stderr.write(`[faults +${((Date.now() - started) / 1000).toFixed(0)}s] ${line}\n`),
  });
  console.log(JSON.stringify(report, null, 2));
  if (report.violations.length > 0) process.exit(1);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
