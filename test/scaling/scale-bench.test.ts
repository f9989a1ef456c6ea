// The scale-out benchmark (bench/scale) runs end to end with tiny sizes — real worker and API
// processes behind its round-robin proxy, one worker SIGKILLed in the kill phase — and reports
// every field. The figures themselves are never asserted (speed is for the benchmark to measure).
// Needs `npm run build` (scripts/test.sh builds).
import { runScaleBenchmark, type ScalePhase } from '../../bench/scale/benchmark';
import { createTestDatabase } from '../support/stack';

jest.setTimeout(300_000);

describe('the scale-out benchmark', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.drop();
  });

  it('runs 1 and 2 workers behind 2 API processes and a kill phase, and reports every figure', async () => {
    const results = await runScaleBenchmark({
      workerCounts: [1, 2],
      apiProcesses: 2,
      promotions: 3,
      concurrency: 2,
      warmup: 1,
      killPromotions: 4,
      killWorkers: 2,
      killTimeoutMs: 240_000,
      env: { ...process.env, DATABASE_URL: db.url },
    });

    expect(results.machine).toEqual({
      cores: expect.any(Number),
      cpuModel: expect.any(String),
      memoryGb: expect.any(Number),
      loadAverageAtStart: expect.any(Array),
      loadAverageAtEnd: expect.any(Array),
    });
    expect(results.phases.map((p) => p.workers)).toEqual([1, 2]);
    for (const phase of results.phases) {
      const figures: ScalePhase = {
        workers: phase.workers,
        apiProcesses: 2,
        promotions: 3,
        seconds: expect.any(Number),
        promotionsPerSecond: expect.any(Number),
        decisionLatency: { p50Ms: expect.any(Number), p95Ms: expect.any(Number), samplesMs: expect.any(Array) },
        submitToDeployedLatency: { p50Ms: expect.any(Number), p95Ms: expect.any(Number), samplesMs: expect.any(Array) },
        cpuSecondsPerPromotion: {
          workers: expect.any(Array),
          apis: expect.any(Array),
          // Without the run folder of scripts/bench.sh the services' CPU is not read.
          temporal: null,
          postgres: null,
          benchmark: expect.any(Number),
          total: expect.any(Number),
        },
        coresBusy: expect.any(Number),
        proxyConnections: expect.any(Array),
      };
      expect(phase).toEqual(figures);
      // One sample per promotion; one CPU figure per process; both API processes given connections.
      expect(phase.decisionLatency.samplesMs).toHaveLength(3);
      expect(phase.submitToDeployedLatency.samplesMs).toHaveLength(3);
      expect(phase.cpuSecondsPerPromotion.workers).toHaveLength(phase.workers);
      expect(phase.cpuSecondsPerPromotion.apis).toHaveLength(2);
      expect(phase.proxyConnections).toHaveLength(2);
      expect(phase.proxyConnections.every((n) => n > 0)).toBe(true);
    }
    expect(results.kill).toEqual({
      workers: 2,
      promotions: 4,
      killedAfterSubmitted: 2,
      completed: 4,
      lost: 0,
      seconds: expect.any(Number),
      submitToDeployedLatency: { p50Ms: expect.any(Number), p95Ms: expect.any(Number), samplesMs: expect.any(Array) },
    });
  });
});
