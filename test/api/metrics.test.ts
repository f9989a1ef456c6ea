import request from 'supertest';
import { createAuditActivities } from '../../src/activities/audit';
import { DURATION_HISTOGRAMS } from '../../src/metrics/durations';
import { recordDurationObservations } from '../../src/metrics/store';
import type { PromotionState } from '../../src/shared/promotion';
import { dashboardMetrics, exposedMetrics } from '../support/dashboard';
import { people, sendUpdate, waitForState, waitForStatus } from '../support/promotions';
import { type ApiHarness, apiHarnessForSuite, buildTestApp } from './support';

/** The samples of a Prometheus text exposition: `name{labels}` → value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (match) out.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return out;
}

/** The duration histograms' samples only (the request histogram grows with every scrape). */
const durations = (metrics: Map<string, number>) =>
  [...metrics].filter(([name]) => /^modelgate_(gate_decision_latency|approval_velocity|check_duration)_seconds_/.test(name));

const at = (state: PromotionState, action: string, gate?: string) =>
  Date.parse(state.timeline.find((e) => e.action === action && (gate === undefined || e.detail?.gate === gate))!.at);

describe('/metrics: duration histograms from what the workers recorded', () => {
  const harness = apiHarnessForSuite();
  let h: ApiHarness;
  let final: PromotionState;

  beforeAll(async () => {
    h = harness();
    // Submitted and decided through the Temporal client: no API process sees any of it.
    const handle = await h.submit(await h.manifest({ model: { riskTier: 'medium' } }));
    await waitForStatus(handle, 'IN_REVIEW');
    await sendUpdate(handle, 'decide', { actor: people.rita, gate: 'technical', decision: 'approve' });
    await waitForState(handle, (s) => s.stages[1]!.gates[0]!.status === 'open');
    await sendUpdate(handle, 'decide', { actor: people.bo, gate: 'business', decision: 'approve', comment: 'go' });
    final = (await handle.result()) as PromotionState;
  }, 60_000);

  const scrape = async (app = h.app) => {
    const res = await request(app).get('/metrics');
    expect(res.status).toBe(200);
    return samples(res.text);
  };

  it('every modelgate_ metric the Grafana dashboard (deploy/grafana) queries is one the API exposes', async () => {
    await scrape(); // the request histogram has samples from the second scrape on
    const res = await request(h.app).get('/metrics');
    const exposed = exposedMetrics(res.text);
    const queried = dashboardMetrics('modelgate_');
    expect(queried.length).toBeGreaterThan(3);
    expect(queried.filter((name) => !exposed.has(name))).toEqual([]);
  });

  it('a promotion decided through the Temporal client directly shows in every duration histogram', async () => {
    expect(final.status).toBe('DEPLOYED');
    const metrics = await scrape();

    const latency = 'modelgate_gate_decision_latency_seconds';
    for (const gate of ['technical', 'business']) {
      expect(metrics.get(`${latency}_count{gate="${gate}",decision="approve"}`)).toBe(1);
      expect(metrics.get(`${latency}_bucket{le="+Inf",gate="${gate}",decision="approve"}`)).toBe(1);
      const seconds = (at(final, 'decision_approve', gate) - at(final, 'gate_opened', gate)) / 1000;
      expect(metrics.get(`${latency}_sum{gate="${gate}",decision="approve"}`)).toBeCloseTo(seconds, 6);
    }

    const velocity = 'modelgate_approval_velocity_seconds';
    expect(metrics.get(`${velocity}_count{tier="medium",outcome="approved"}`)).toBe(1);
    const velocitySeconds = (at(final, 'approved') - at(final, 'submitted')) / 1000;
    expect(metrics.get(`${velocity}_sum{tier="medium",outcome="approved"}`)).toBeCloseTo(velocitySeconds, 6);
    // cumulative buckets: the one observation is in every bucket from its own upward
    for (const bound of DURATION_HISTOGRAMS.approvalVelocity.buckets) {
      expect([bound, metrics.get(`${velocity}_bucket{le="${bound}",tier="medium",outcome="approved"}`)]).toEqual([bound, velocitySeconds <= bound ? 1 : 0]);
    }

    const checks = 'modelgate_check_duration_seconds';
    expect(final.checks.length).toBe(5);
    for (const check of final.checks) {
      expect(metrics.get(`${checks}_count{check="${check.name}",status="${check.status}"}`)).toBe(1);
    }
  });

  it('every API process serves the same figures (nothing is kept in the process)', async () => {
    const another = buildTestApp({ client: h.client, pool: h.pool, policy: h.policy, taskQueue: h.config.temporal.taskQueue });
    expect(durations(await scrape(another))).toEqual(durations(await scrape()));
  });

  it('archiving the same timeline again (an activity retried) counts nothing twice', async () => {
    const before = durations(await scrape());
    const again = await createAuditActivities({ pool: h.pool }).archiveAudit({
      promotionId: final.promotionId,
      policyVersion: final.policy.version,
      timeline: final.timeline,
    });
    expect(again).toEqual({ archived: final.timeline.length, added: 0, observed: 0 });
    expect(durations(await scrape())).toEqual(before);
  });

  it('observations of one series add up in one row per bucket, so a scrape stays as small as the label set', async () => {
    const many = Array.from({ length: 300 }, (_, i) => ({
      metric: 'checkDuration' as const,
      observation: `synthetic-${i}`,
      labels: { check: 'synthetic', status: 'pass' },
      seconds: i < 100 ? 0.02 : 2,
      promotionId: 'promote:synthetic:1:production',
      observedAt: new Date().toISOString(),
    }));
    expect(await recordDurationObservations(h.pool, many)).toBe(300);
    expect(await recordDurationObservations(h.pool, many.slice(0, 10))).toBe(0);
    const rows = await h.pool.query(`SELECT upper_bound, count::int AS count FROM metric_histogram_buckets WHERE labels = '{"check":"synthetic","status":"pass"}' ORDER BY upper_bound`);
    expect(rows.rows).toEqual([
      { upper_bound: 0.05, count: 100 },
      { upper_bound: 5, count: 200 },
    ]);
    const metrics = await scrape();
    const series = (le: string) => metrics.get(`modelgate_check_duration_seconds_bucket{le="${le}",check="synthetic",status="pass"}`);
    expect([series('0.01'), series('0.05'), series('1'), series('5'), series('+Inf')]).toEqual([0, 100, 100, 300, 300]);
    expect(metrics.get('modelgate_check_duration_seconds_sum{check="synthetic",status="pass"}')).toBeCloseTo(100 * 0.02 + 200 * 2, 6);
  });
});
