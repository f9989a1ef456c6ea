// One results format for every benchmark: bench/results/<benchmark>-<commit>.json holds the commit
// (and whether the working tree had uncommitted changes), the machine, when it ran, the options and
// every figure with its samples. `./scripts/bench.sh all` merges the files of one commit into
// bench/results/all-<commit>.json.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import path from 'node:path';

const REPO_ROOT = path.join(__dirname, '..');

/** The machine a benchmark ran on. */
export interface BenchMachine {
  cores: number;
  cpuModel: string;
  memoryGb: number;
  loadAverageAtStart: number[];
  loadAverageAtEnd: number[];
}

/** What every results file holds besides its figures. */
export interface BenchRecord<F> {
  benchmark: string;
  commit: string;
  uncommittedChanges: boolean;
  startedAt: string;
  finishedAt: string;
  temporalServer: string;
  machine: BenchMachine;
  options: Record<string, unknown>;
  figures: F;
}

/** The commit the working tree is at, and whether tracked files differ from it. */
export function currentCommit(): { commit: string; uncommittedChanges: boolean } {
  const git = (...args: string[]) => execFileSync('git', args, { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  return { commit: git('rev-parse', 'HEAD'), uncommittedChanges: git('status', '--porcelain', '--untracked-files=no') !== '' };
}

const loadAverage = () => loadavg().map((x) => Math.round(x * 100) / 100);

/**
 * Starts the record of one benchmark run: notes the time and the load average now; `finish`
 * writes bench/results/<benchmark>-<short commit>.json and answers its path relative to the repository.
 */
export function startBenchRecord(benchmark: string, options: Record<string, unknown>) {
  const startedAt = new Date().toISOString();
  const loadAverageAtStart = loadAverage();
  const { commit, uncommittedChanges } = currentCommit();
  return {
    commit,
    async finish<F>(figures: F): Promise<string> {
      const record: BenchRecord<F> = {
        benchmark,
        commit,
        uncommittedChanges,
        startedAt,
        finishedAt: new Date().toISOString(),
        temporalServer: process.env.MODELGATE_TEST_TEMPORAL === 'postgres' ? 'temporal-server on PostgreSQL' : 'Temporal dev server',
        machine: {
          cores: cpus().length,
          cpuModel: cpus()[0]?.model ?? 'unknown',
          memoryGb: Math.round((totalmem() / 2 ** 30) * 10) / 10,
          loadAverageAtStart,
          loadAverageAtEnd: loadAverage(),
        },
        options,
        figures,
      };
      const dir = process.env.MODELGATE_BENCH_RESULTS_DIR ?? path.join(REPO_ROOT, 'bench', 'results');
      const file = path.join(dir, `${benchmark}-${commit.slice(0, 7)}.json`);
      await mkdir(dir, { recursive: true });
      await writeFile(file, `${JSON.stringify(record, null, 2)}\n`);
      return path.relative(REPO_ROOT, file);
    },
  };
}

/** `{ p50Ms, p95Ms, samplesMs }` of a list of latencies in milliseconds (nearest rank, rounded to 0.1 ms). */
export function latencyFigures(samplesMs: number[]): { p50Ms: number; p95Ms: number; samplesMs: number[] } {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
  const round = (x: number) => Math.round(x * 10) / 10;
  return { p50Ms: round(at(50)), p95Ms: round(at(95)), samplesMs: samplesMs.map(round) };
}
