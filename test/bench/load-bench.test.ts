// The load benchmark (bench/load) runs one ABBA round end to end with tiny sizes — each phase on
// its own fresh PostgreSQL cluster and Temporal server, the real API and worker processes, the floor
// worker compiled to JavaScript — and reports every field. The figures themselves are never
// asserted (speed is for the benchmark to measure). Needs `npm run build` (scripts/test.sh builds).
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type LoadPhase, type LoadSideFigures, runLoadBenchmark } from '../../bench/load/benchmark';
import { startBenchRecord } from '../../bench/results';

jest.setTimeout(300_000);

const latency = { p50Ms: expect.any(Number), p95Ms: expect.any(Number), samplesMs: expect.any(Array) };

describe('the load benchmark', () => {
  let resultsDir: string;
  const previousResultsDir = process.env.MODELGATE_BENCH_RESULTS_DIR;

  beforeAll(async () => {
    resultsDir = await mkdtemp(path.join(tmpdir(), 'modelgate-load-results-'));
    process.env.MODELGATE_BENCH_RESULTS_DIR = resultsDir;
  });

  afterAll(async () => {
    if (previousResultsDir === undefined) delete process.env.MODELGATE_BENCH_RESULTS_DIR;
    else process.env.MODELGATE_BENCH_RESULTS_DIR = previousResultsDir;
    await rm(resultsDir, { recursive: true, force: true });
  });

  it('runs Modelgate and the floor in ABBA order and reports every figure', async () => {
    // Per phase one low tier promotion (auto-approved) and one high (five gates in three stages, every reviewer), no warm-up.
    const options = { rounds: 1, promotions: 2, mix: [34, 0, 66] as [number, number, number], submitters: 2, reviewerParallelism: 2, warmup: 0, services: 'fresh' as const };
    const record = startBenchRecord('load', options);
    const figures = await runLoadBenchmark(options);

    expect(figures.order).toEqual(['modelgate', 'floor', 'floor', 'modelgate']);
    expect(figures.phases.map((p) => [p.side, p.round, p.order])).toEqual([
      ['modelgate', 1, 1],
      ['floor', 1, 2],
      ['floor', 1, 3],
      ['modelgate', 1, 4],
    ]);
    for (const phase of figures.phases) {
      const expected: LoadPhase = {
        side: phase.side,
        round: 1,
        order: phase.order,
        promotions: 2,
        seconds: expect.any(Number),
        promotionsPerSecond: expect.any(Number),
        decisions: expect.any(Number),
        retriedAfterNotReady: expect.any(Number),
        decisionToGateClosed: latency,
        lastDecisionToDeployed: latency,
        submitToDeployedLowTier: latency,
        cpuSecondsPerPromotion: { worker: expect.any(Number), api: expect.any(Number), temporal: expect.any(Number), postgres: expect.any(Number), benchmark: expect.any(Number) },
        workerRssMb: { peak: expect.any(Number), median: expect.any(Number), end: expect.any(Number) },
      };
      expect(phase).toEqual(expected);
      // The low tier's submission → DEPLOYED; the high tier's five gates closed (each decision that closed one) and its deployment.
      expect(phase.submitToDeployedLowTier.samplesMs).toHaveLength(1);
      expect(phase.decisionToGateClosed.samplesMs).toHaveLength(5);
      expect(phase.lastDecisionToDeployed.samplesMs).toHaveLength(1);
    }
    for (const side of ['modelgate', 'floor'] as const) {
      const expected: LoadSideFigures = {
        phases: 2,
        promotions: 4,
        seconds: expect.any(Number),
        promotionsPerSecond: expect.any(Number),
        retriedAfterNotReady: expect.any(Number),
        promotionsPerSecondByPhase: expect.any(Array),
        decisionToGateClosed: latency,
        lastDecisionToDeployed: latency,
        submitToDeployedLowTier: latency,
        cpuSecondsPerPromotion: { worker: expect.any(Number), api: expect.any(Number), temporal: expect.any(Number), postgres: expect.any(Number), benchmark: expect.any(Number) },
        workerRssMb: { peak: expect.any(Number), median: expect.any(Number) },
      };
      expect(figures.sides[side]).toEqual(expected);
      expect(figures.sides[side].promotionsPerSecondByPhase).toHaveLength(2);
      expect(figures.sides[side].decisionToGateClosed.samplesMs).toHaveLength(10);
    }
    expect(figures.modelgateOverFloor).toEqual({
      promotionsPerSecond: expect.any(Number),
      decisionToGateClosedP50: expect.any(Number),
      decisionToGateClosedP95: expect.any(Number),
      workerCpuPerPromotion: expect.any(Number),
      workerRssPeak: expect.any(Number),
    });

    // The results file, written where the test says (never into bench/results/).
    const file = await record.finish(figures);
    expect(path.resolve(file).startsWith(resultsDir)).toBe(true);
    const [name] = await readdir(resultsDir);
    const written = JSON.parse(await readFile(path.join(resultsDir, name!), 'utf8')) as { benchmark: string; options: unknown; figures: unknown };
    expect(written).toMatchObject({ benchmark: 'load', options, figures: JSON.parse(JSON.stringify(figures)) as unknown });
  });
});
