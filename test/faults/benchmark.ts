// The fault run as a benchmark record: runs runFaultScenario and writes its figures with
// startBenchRecord('faults') (bench/results/faults-<commit>.json, or MODELGATE_BENCH_RESULTS_DIR).
// Used by test/faults/run.ts (./scripts/faults.sh) and test/faults/faults.test.ts (small).
import { startBenchRecord } from '../../bench/results';
import { type FaultRunOptions, type FaultRunReport, runFaultScenario } from './scenario';

/** The figures of a fault run, as written to its results file. */
export type FaultRunFigures = Omit<FaultRunReport, 'seed'>;

/** Runs a fault run and writes its record; answers the report and the results file (relative to the repository). */
export async function runFaultBenchmark(options: FaultRunOptions): Promise<{ report: FaultRunReport; file: string }> {
  const { log: _log, logDir: _logDir, ...recorded } = options;
  const record = startBenchRecord('faults', { ...recorded, temporalServer: options.temporalServer ?? (process.env.MODELGATE_TEST_TEMPORAL === 'postgres' ? 'postgres' : 'dev') });
  const report = await runFaultScenario(options);
  const { seed: _seed, ...figures } = report;
  const file = await record.finish<FaultRunFigures>(figures);
  return { report, file };
}
