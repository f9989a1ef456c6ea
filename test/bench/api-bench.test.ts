// The API benchmark (bench/api) runs end to end with tiny sizes — real API and worker processes,
// the direct and bare sides, the steps, decisions, pendingFor=me, a CPU profile of the API — and
// reports every field. The figures themselves are never asserted (speed is for the benchmark to
// measure). Needs `npm run build` (scripts/test.sh builds).
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ApiBenchFigures, runApiBenchmark } from '../../bench/api/benchmark';
import { startBenchRecord } from '../../bench/results';
import { createTestDatabase } from '../support/stack';

jest.setTimeout(180_000);

/** A latency figure's shape; its samples are counted by {@link sampleCounts}. */
const latency = () => ({ p50Ms: expect.any(Number), p95Ms: expect.any(Number), samplesMs: expect.any(Array) });

/** How many samples each latency figure holds, by its path. */
function sampleCounts(value: unknown, at = ''): Record<string, number> {
  if (typeof value !== 'object' || value === null) return {};
  if ('samplesMs' in value) return { [at]: (value as { samplesMs: unknown[] }).samplesMs.length };
  return Object.assign({}, ...Object.entries(value).map(([key, inner]) => sampleCounts(inner, at ? `${at}.${key}` : key)));
}

describe('the API benchmark', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let dir: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(path.join(tmpdir(), 'modelgate-api-bench-test-'));
  });

  afterAll(async () => {
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('measures submissions, their steps, decisions and pendingFor=me, and reports every figure with its samples', async () => {
    const calls = 2;
    const options = { calls, warmup: 1, open: 0, reads: 2, workerDuringSubmit: true, cpuProfileDir: path.join(dir, 'profile') };
    const record = startBenchRecord('api', options);
    const figures = await runApiBenchmark({ ...options, env: { ...process.env, DATABASE_URL: db.url } });

    const expected: ApiBenchFigures = {
      submissions: {
        api: latency(),
        direct: latency(),
        bareStart: latency(),
        ratioP50: expect.any(Number),
        ratioP95: expect.any(Number),
        ratioToBareStartP50: expect.any(Number),
        cpuSeconds: {
          apiPerApiSubmission: expect.any(Number),
          benchmarkPerSubmission: expect.any(Number),
          workerPerSubmission: expect.any(Number),
          // Without the run folder of scripts/bench.sh the services' CPU is not read.
          temporalPerSubmission: null,
          postgresPerSubmission: null,
        },
      },
      steps: {
        httpTokenAndRouting: latency(),
        refusedByRegistryLookUp: latency(),
        manifestValidation: latency(),
        registryLookUpUnregistered: latency(),
        workflowStart: latency(),
      },
      decisions: {
        api: latency(),
        direct: latency(),
        bareUpdate: latency(),
        ratioP50: expect.any(Number),
        ratioToBareUpdateP50: expect.any(Number),
      },
      // Every promotion the run started waits in review: 3 sides × (warm-up + calls), plus the steps' starts.
      pendingForMe: { openPromotions: 3 * (calls + 1) + calls, fillSeconds: expect.any(Number), pageSize: 50, listed: expect.any(Number), latency: latency() },
      cpuProfile: path.join(dir, 'profile', 'api-server.cpuprofile'),
    };
    expect(figures).toEqual(expected);
    // One sample per call of each side and step, per read.
    const counts = sampleCounts(figures);
    expect(Object.keys(counts)).toHaveLength(12);
    expect(counts).toEqual({ ...Object.fromEntries(Object.keys(counts).map((key) => [key, calls])), 'pendingForMe.latency': 2 });
    // The reviewer sees promotions waiting for her; the API process wrote a V8 CPU profile when it stopped.
    expect(figures.pendingForMe.listed).toBeGreaterThan(0);
    const profile = JSON.parse(await readFile(figures.cpuProfile!, 'utf8')) as { nodes: unknown[] };
    expect(profile.nodes.length).toBeGreaterThan(0);

    // The results file holds the options and the figures.
    process.env.MODELGATE_BENCH_RESULTS_DIR = path.join(dir, 'results');
    try {
      const file = await record.finish(figures);
      const written = JSON.parse(await readFile(path.join(__dirname, '..', '..', file), 'utf8')) as Record<string, unknown>;
      expect(written).toMatchObject({ benchmark: 'api', options, figures: JSON.parse(JSON.stringify(figures)) as unknown });
    } finally {
      delete process.env.MODELGATE_BENCH_RESULTS_DIR;
    }
  });
});
