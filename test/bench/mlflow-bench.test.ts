// The MLflow benchmark (bench/mlflow) runs end to end with tiny sizes against the test MLflow
// tracking server and reports every figure. The figures themselves are never asserted.
import { runMlflowBenchmark, type MlflowBenchFigures } from '../../bench/mlflow/run';
import { createTestDatabase } from '../support/stack';

jest.setTimeout(300_000);

describe('the MLflow benchmark', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('times webhook → promotion started and alias move → reverted, and the memory of pinning two sizes', async () => {
    const figures = await runMlflowBenchmark({ samples: 2, downloadMib: [1, 2], env: { ...process.env, DATABASE_URL: db.url } });
    const latency = { p50Ms: expect.any(Number), p95Ms: expect.any(Number), samplesMs: [expect.any(Number), expect.any(Number)] };
    const pinned = { seconds: expect.any(Number), bytes: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/), maxRssMiB: expect.any(Number) };
    const expected: MlflowBenchFigures = { webhookToPromotionStarted: latency, unauthorizedAliasMoveToReverted: latency, download: { '1MiB': pinned, '2MiB': pinned } };
    expect(figures).toEqual(expected);
    expect(figures.download['2MiB']!.bytes).toBe(2 * 1024 * 1024);
  });
});
