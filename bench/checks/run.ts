// The checks benchmark: `./scripts/bench.sh checks [--tensors N] [--checkpoint-mib N]
// [--safetensors-mib N] [--sklearn-trees N] [--rounds N]` (defaults: 100000, 1024, 1024, 200, 4).
// Modelgate's integrity + security checks against `openssl dgst -sha256`, picklescan and fickling
// on the same generated files, order alternated every round (bench/checks/benchmark.ts). Writes
// bench/results/checks-<commit>.json and prints a summary; exits 1 when a verdict differs from an
// anchor's and the difference is not listed with its reason in KNOWN_DIFFERENCES.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { numericOption } from '../support';
import { startBenchRecord } from '../results';
import { type ChecksBenchOptions, DEFAULT_CHECKS_OPTIONS, runChecksBenchmark } from './benchmark';

const ROOT = path.resolve(__dirname, '..', '..');

function positive(name: string, fallback: number, minimum = 1): number {
  const value = numericOption(name, fallback);
  if (!Number.isInteger(value) || value < minimum || value > 10_000_000) throw new Error(`--${name} must be an integer from ${minimum} to 10000000`);
  return value;
}

async function main(): Promise<void> {
  const options: ChecksBenchOptions = {
    tensors: positive('tensors', DEFAULT_CHECKS_OPTIONS.tensors),
    checkpointMiB: positive('checkpoint-mib', DEFAULT_CHECKS_OPTIONS.checkpointMiB, 16),
    safetensorsMiB: positive('safetensors-mib', DEFAULT_CHECKS_OPTIONS.safetensorsMiB),
    sklearnTrees: positive('sklearn-trees', DEFAULT_CHECKS_OPTIONS.sklearnTrees),
    rounds: positive('rounds', DEFAULT_CHECKS_OPTIONS.rounds),
  };
  const python = process.env.MODELGATE_PYTHON || execFileSync(path.join(ROOT, 'scripts', 'python-env.sh'), { encoding: 'utf8' }).trim();
  const record = startBenchRecord('checks', { ...options });
  const figures = await runChecksBenchmark(options, python);
  const written = await record.finish(figures);
  const lines = figures.files.map((f) =>
    [
      f.file.padEnd(24),
      `${f.modelgate.verdict.padEnd(9)} picklescan ${f.picklescan.verdict.padEnd(9)} fickling ${f.fickling.verdict.padEnd(9)}`,
      `pass p50 ${f.modelgate.hashScanPass.p50Ms} ms (${f.ratios.passThroughputToOpenssl}× openssl), worker checks ${f.modelgate.workerChecks.p50Ms} ms,`,
      `scan ${f.modelgate.scanOnly.p50Ms} ms vs picklescan ${f.picklescan.p50Ms} ms, fickling ${f.fickling.p50Ms} ms`,
    ].join(' '),
  );
  process.stdout.write(
    [
      `checks benchmark (${options.rounds} rounds, ${options.tensors} tensors, checkpoint ${figures.checkpoint.bytes} bytes):`,
      ...lines,
      ...(['picklescan', 'fickling'] as const).map((anchor) => {
        const t = figures.totals[anchor];
        return `scan over the ${t.files.length} files ${anchor} judged: Modelgate ${t.modelgateScanMs} ms, ${anchor} ${t.anchorMs} ms (${t.speedup}×)`;
      }),
      `known differences: ${figures.differences.known.length}; listed but not seen: ${figures.differences.listedNotSeen.join(', ') || 'none'}`,
      `results: ${written}`,
      '',
    ].join('\n'),
  );
  if (figures.differences.unlisted.length > 0) {
    for (const d of figures.differences.unlisted) process.stderr.write(`verdicts differ on ${d.file}: Modelgate ${d.modelgate}, ${d.anchor} ${d.anchorVerdict} (not a listed difference)\n`);
    process.exitCode = 1;
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`checks benchmark failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
