import { bucketOf, checkObservation, timelineObservations } from '../../src/metrics/durations';
import type { TimelineEntry } from '../../src/shared/promotion';

const t = (seconds: number) => new Date(Date.UTC(2030, 0, 1) + seconds * 1000).toISOString();
const entry = (seconds: number, actor: string, action: string, detail?: Record<string, unknown>): TimelineEntry => ({
  at: t(seconds),
  actor,
  action,
  ...(detail ? { detail } : {}),
});

describe('duration observations from a promotion timeline', () => {
  it('a decision counts from its gate latest opening; approval velocity from submission to the approval', () => {
    const timeline = [
      entry(0, 'sam', 'submitted', { effectiveTier: 'high' }),
      entry(5, 'modelgate', 'gate_opened', { gate: 'technical' }),
      entry(65, 'rita', 'decision_request_changes', { gate: 'technical' }),
      entry(100, 'sam', 'revised'),
      entry(120, 'modelgate', 'gate_opened', { gate: 'technical' }),
      entry(130, 'rita', 'decision_approve', { gate: 'technical' }),
      entry(131, 'modelgate', 'approved'),
      entry(132, 'modelgate', 'deployed', { reason: 'serving production' }),
    ];
    const observations = timelineObservations('promote:m:1:production', timeline);
    expect(observations.map((o) => [o.metric, o.labels, o.seconds, o.observation])).toEqual([
      ['gateDecisionLatency', { gate: 'technical', decision: 'request_changes' }, 60, `promote:m:1:production@${t(0)}#2`],
      ['gateDecisionLatency', { gate: 'technical', decision: 'approve' }, 10, `promote:m:1:production@${t(0)}#5`],
      ['approvalVelocity', { tier: 'high', outcome: 'approved' }, 131, `promote:m:1:production@${t(0)}#6`],
    ]);
  });

  it('auto-approval and rejection are outcomes too; a later promotion under the same id is keyed apart', () => {
    const auto = timelineObservations('p', [entry(0, 'sam', 'submitted', { effectiveTier: 'low' }), entry(3, 'policy@1', 'auto_approved')]);
    expect(auto.map((o) => [o.labels, o.seconds])).toEqual([[{ tier: 'low', outcome: 'approved' }, 3]]);
    const rejected = timelineObservations('p', [
      entry(1000, 'sam', 'submitted', { effectiveTier: 'low' }),
      entry(1001, 'modelgate', 'gate_opened', { gate: 'legal' }),
      entry(1009, 'policy@1', 'gate_timed_out', { gate: 'legal' }),
      entry(1009, 'policy@1', 'rejected', { reason: 'deadline' }),
    ]);
    expect(rejected.map((o) => [o.metric, o.labels, o.seconds])).toEqual([['approvalVelocity', { tier: 'low', outcome: 'rejected' }, 9]]);
    expect(rejected[0]!.observation).not.toBe(auto[0]!.observation);
  });

  it('a timeline without a submission, or without decisions, observes nothing', () => {
    expect(timelineObservations('p', [])).toEqual([]);
    expect(timelineObservations('p', [entry(0, 'sam', 'submitted'), entry(1, 'sam', 'withdrawn', { reason: 'oops' })])).toEqual([]);
  });

  it('a check run is one observation of its duration; buckets are the first bound at or above the value', () => {
    const o = checkObservation('p', 'wf/run/3', { name: 'security', status: 'fail', required: true, summary: '', findings: [], metrics: {}, durationMs: 1234 }, t(0));
    expect(o).toMatchObject({ metric: 'checkDuration', observation: 'wf/run/3', labels: { check: 'security', status: 'fail' }, seconds: 1.234 });
    expect(bucketOf('checkDuration', 1.234)).toBe(5);
    expect(bucketOf('checkDuration', 5)).toBe(5);
    expect(bucketOf('checkDuration', 99_999)).toBe(Infinity);
  });
});
