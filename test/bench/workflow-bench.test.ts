// The workflow benchmark (bench/workflow) runs end to end with tiny sizes — Modelgate's and the
// floor's worker processes in A B B A blocks, then promotions parked on the promotions worker (a checks worker beside it)
// with its review queue served by a real API process — and reports every field. The figures
// themselves are never asserted (speed is for the benchmark to measure); what is asserted is that
// the floor does the same work as a promotion. Needs `npm run build` (scripts/test.sh builds).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ComparisonSide, type Parked, runWorkflowBenchmark } from '../../bench/workflow/benchmark';
import { startBenchRecord } from '../../bench/results';
import { createTestDatabase } from '../support/stack';

jest.setTimeout(300_000);

const latency = { p50Ms: expect.any(Number), p95Ms: expect.any(Number), samplesMs: expect.any(Array) };
const history = {
  events: expect.any(Number),
  activities: expect.any(Number),
  searchAttributeUpserts: expect.any(Number),
  memoUpserts: expect.any(Number),
  updates: expect.any(Number),
  timers: expect.any(Number),
  archivePayloadBytes: expect.any(Number),
};
const side: ComparisonSide = {
  latency,
  // Without the run folder of scripts/bench.sh the services' CPU is not read.
  cpuSecondsPerPromotion: { worker: expect.any(Number), temporal: null, postgres: null, benchmark: expect.any(Number) },
  history,
};

describe('the workflow benchmark', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let resultsDir: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    resultsDir = await mkdtemp(path.join(tmpdir(), 'modelgate-bench-results-'));
  });

  afterAll(async () => {
    await db?.drop();
    if (resultsDir) await rm(resultsDir, { recursive: true, force: true });
  });

  it('compares Modelgate with the floor in ABBA blocks, parks promotions, and reports every figure', async () => {
    // The benchmark's progress and, when it fails, its processes' last log lines: shown only on a failure.
    const lines: string[] = [];
    const results = await runWorkflowBenchmark({
      log: (line) => lines.push(line),
      promotionsPerSide: 2,
      blockSize: 1,
      concurrency: 1,
      warmup: 1,
      parked: 25,
      parkConcurrency: 8,
      parkedDecisions: 3,
      queueReads: 2,
      env: { ...process.env, DATABASE_URL: db.url },
    }).catch((err: unknown) => {
      console.error(`the workflow benchmark failed; its output:\n${lines.join('\n')}`);
      throw err;
    });

    expect(results.comparison).toEqual({
      promotionsPerSide: 2,
      blockOrder: 'MFFM',
      maxCachedWorkflows: 20,
      modelgate: side,
      floor: side,
      ratio: { p50: expect.any(Number), p95: expect.any(Number) },
    });
    const { modelgate, floor } = results.comparison!;
    expect(modelgate.latency.samplesMs).toHaveLength(2);
    expect(floor.latency.samplesMs).toHaveLength(2);
    // The floor does a promotion's work: the same activities and Updates, as many upserts and timers
    // (give or take the ones a real promotion adds when two decisions land in separate tasks), and an
    // archive of about the same size.
    expect(floor.history.activities).toBe(modelgate.history.activities);
    expect(floor.history.updates).toBe(modelgate.history.updates);
    expect(Math.abs(floor.history.searchAttributeUpserts - modelgate.history.searchAttributeUpserts)).toBeLessThanOrEqual(3);
    expect(modelgate.history.memoUpserts).toBeGreaterThan(0);
    expect(Math.abs(floor.history.memoUpserts - modelgate.history.memoUpserts)).toBeLessThanOrEqual(3);
    expect(Math.abs(floor.history.timers - modelgate.history.timers)).toBeLessThanOrEqual(3);
    expect(Math.abs(floor.history.archivePayloadBytes / modelgate.history.archivePayloadBytes - 1)).toBeLessThan(0.1);

    const parked: Parked = {
      promotions: 25,
      maxCachedWorkflows: 20,
      workerRole: 'promotions',
      secondsToPark: expect.any(Number),
      workerRssMb: { idle: expect.any(Number), parked: expect.any(Number), peak: expect.any(Number) },
      checksWorkerRssMb: { parked: expect.any(Number), peak: expect.any(Number) },
      decisionOnCached: latency,
      stickyCacheMissesOnCached: expect.any(Number),
      decisionOnEvicted: latency,
      stickyCacheMisses: expect.any(Number),
      reviewQueue: { ...latency, entries: expect.any(Number), truncated: false, unreadable: expect.any(Number) },
    };
    expect(results.parked).toEqual(parked);
    expect(results.parked!.decisionOnEvicted.samplesMs).toHaveLength(3);
    expect(results.parked!.decisionOnCached.samplesMs).toHaveLength(3);
    expect(results.parked!.reviewQueue.samplesMs).toHaveLength(2);
    // Every parked promotion waits on the security gate; each was either listed or named unreadable.
    expect(results.parked!.reviewQueue.entries + results.parked!.reviewQueue.unreadable).toBe(25);

    // The results file holds them as they were returned.
    process.env.MODELGATE_BENCH_RESULTS_DIR = resultsDir;
    try {
      const file = await startBenchRecord('workflow', {}).finish(results);
      expect(JSON.parse(await readFile(path.resolve(__dirname, '..', '..', file), 'utf8')).figures).toEqual(JSON.parse(JSON.stringify(results)));
    } finally {
      delete process.env.MODELGATE_BENCH_RESULTS_DIR;
    }
  });
});
