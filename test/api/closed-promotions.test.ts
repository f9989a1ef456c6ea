import request from 'supertest';
import { archiveAuditRecords } from '../../src/audit/archive';
import type { PromotionState } from '../../src/shared/promotion';
import { people } from '../support/promotions';
import { type ApiHarness, apiHarnessForSuite, promotionPath } from './support';

/** Fails instead of hanging when a read waits for a worker that is not there. */
const within = <T>(ms: number, what: string, promise: Promise<T>): Promise<T> =>
  Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms).unref())]);

describe('GET /v1/promotions/{id} of closed promotions', () => {
  const harness = apiHarnessForSuite();
  let h: ApiHarness;
  let deployed: PromotionState;

  beforeAll(async () => {
    h = harness();
    const handle = await h.submit(await h.manifest({ model: { riskTier: 'low' } }));
    deployed = (await handle.result()) as PromotionState;
    // No worker from here on: nothing can answer a query.
    h.worker.shutdown();
    await new Promise<void>((resolve) => {
      const poll = setInterval(() => h.worker.getState() === 'STOPPED' && (clearInterval(poll), resolve()), 50);
    });
  }, 60_000);

  it('a completed promotion is read from its history (its result) with no worker running', async () => {
    expect(deployed.status).toBe('DEPLOYED');
    const auth = await h.bearer(people.rita);
    const res = await within(10_000, 'GET of a closed promotion', request(h.app).get(promotionPath(deployed.promotionId)).set('authorization', auth));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ promotionId: deployed.promotionId, source: 'temporal', status: 'DEPLOYED', checks: deployed.checks });
    expect(res.body.timeline).toEqual(deployed.timeline);
    const audit = await within(10_000, 'audit of a closed promotion', request(h.app).get(promotionPath(deployed.promotionId, 'audit')).set('authorization', auth));
    expect(audit.body).toMatchObject({ source: 'temporal' });
    expect(audit.body.events.at(-1).action).toBe('deployed');
  });

  it('once Temporal has forgotten it, the archive answers with what it knows: status, outcome, submitter, policy, tier', async () => {
    const gone = 'promote:retired:0.9.0:production';
    await archiveAuditRecords(h.pool, gone, [
      {
        occurredAt: '2020-01-01T00:00:00.000Z',
        actor: 'sam',
        action: 'submitted',
        detail: { policy: 'default@7', policyDigest: 'd'.repeat(64), declaredTier: 'medium', effectiveTier: 'high', tierReasons: ['personal data'], policyVersion: '7' },
      },
      { occurredAt: '2020-01-02T00:00:00.000Z', actor: 'rita', action: 'decision_reject', detail: { gate: 'technical', comment: 'leaks', policyVersion: '7' } },
      { occurredAt: '2020-01-02T00:00:01.000Z', actor: 'rita', action: 'rejected', detail: { reason: 'gate technical rejected: leaks', policyVersion: '7' } },
    ]);
    const res = await request(h.app).get(promotionPath(gone)).set('authorization', await h.bearer(people.rita));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      promotionId: gone,
      source: 'archive',
      status: 'REJECTED',
      submitter: { id: 'sam' },
      submittedAt: '2020-01-01T00:00:00.000Z',
      policy: { name: 'default', version: '7', digest: 'd'.repeat(64) },
      declaredTier: 'medium',
      effectiveTier: 'high',
      tierReasons: ['personal data'],
      outcome: { status: 'REJECTED', at: '2020-01-02T00:00:01.000Z', by: 'rita', reason: 'gate technical rejected: leaks' },
      archivedEvents: 3,
      links: { self: promotionPath(gone), audit: promotionPath(gone, 'audit') },
    });
  });

  it('a promotion neither Temporal nor the archive knows is 404, saying where it looked', async () => {
    const res = await request(h.app).get(promotionPath('promote:never:1:production')).set('authorization', await h.bearer(people.rita));
    expect(res.status).toBe(404);
    expect(res.body.error).toEqual({ code: 'not_found', message: 'no promotion promote:never:1:production in Temporal or in the audit archive' });
  });
});
