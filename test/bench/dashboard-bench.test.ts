// The dashboard benchmark (bench/dashboard) runs end to end with tiny sizes — the worker and the
// API as their own dist/ processes — and reports every figure. The figures are never asserted.
// Needs `npm run build` (scripts/test.sh builds).
import { runDashboardBenchmark, type DashboardBenchFigures } from '../../bench/dashboard/run';
import { createTestDatabase } from '../support/stack';

jest.setTimeout(300_000);

describe('the dashboard benchmark', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('times the review queue with promotions waiting and the governance page over an archive', async () => {
    const figures = await runDashboardBenchmark({ waiting: 3, archived: 20, reads: 2, env: { ...process.env, DATABASE_URL: db.url } });
    const latency = (n: number) => ({ p50Ms: expect.any(Number), p95Ms: expect.any(Number), samplesMs: Array.from({ length: n }, () => expect.any(Number)) });
    const expected: DashboardBenchFigures = {
      reviewQueue: { waiting: 3, workerCache: expect.any(Number), coldMs: expect.any(Number), warm: latency(2) },
      governance: { archivedPromotions: 20, auditRows: expect.any(Number), cold: latency(10), warm: latency(2) },
    };
    expect(figures).toEqual(expected);
    expect(figures.governance.auditRows).toBeGreaterThanOrEqual(20 * 8);
  });
});
