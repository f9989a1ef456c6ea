import { type ArchivedAuditEvent, computeArchiveStats, quantile, reasonKey } from '../../src/governance/stats';

/** Builds one promotion's archived timeline; `at` is minutes after 10:00. */
function timeline(promotionId: string, events: Array<[minutes: number, action: string, detail?: Record<string, unknown>]>): ArchivedAuditEvent[] {
  return events.map(([minutes, action, detail], i) => ({
    promotionId,
    seq: i + 1,
    occurredAt: new Date(Date.UTC(2026, 10, 1, 10, minutes)).toISOString(),
    actor: 'someone',
    action,
    detail: detail ?? {},
  }));
}

const submitted = (tier: string) => ({ effectiveTier: tier, declaredTier: tier });

describe('quantile', () => {
  it('interpolates between neighbours and is NaN for nothing', () => {
    expect(quantile([1, 2], 0.5)).toBe(1.5);
    expect(quantile([5], 0.9)).toBe(5);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9)).toBeCloseTo(9.1);
    expect(quantile([], 0.5)).toBeNaN();
  });
});

describe('reasonKey', () => {
  it('ignores case, runs of spaces and a final full stop', () => {
    expect(reasonKey('  Calibration  drifts.')).toBe(reasonKey('calibration drifts'));
    expect(reasonKey('a b')).not.toBe(reasonKey('ab'));
  });
});

describe('computeArchiveStats', () => {
  const approvedMedium = timeline('p-approved', [
    [0, 'submitted', submitted('medium')],
    [1, 'checks_completed', { results: { integrity: 'pass', performance: 'pass' } }],
    [2, 'gate_opened', { gate: 'technical' }],
    [12, 'decision_approve', { gate: 'technical' }],
    [12, 'gate_opened', { gate: 'business' }],
    [42, 'decision_approve', { gate: 'business' }],
    [42, 'approved', {}],
    [43, 'deployed', { reason: 'serving production' }],
  ]);
  const rejectedMedium = timeline('p-rejected', [
    [0, 'submitted', submitted('medium')],
    [1, 'checks_completed', { results: { integrity: 'pass', performance: 'pass' } }],
    [2, 'gate_opened', { gate: 'technical' }],
    [32, 'decision_reject', { gate: 'technical', comment: 'Calibration drifts on the holdout set.' }],
    [32, 'rejected', { reason: 'gate technical rejected: Calibration drifts on the holdout set.' }],
  ]);
  const rejectedAgain = timeline('p-rejected-2', [
    [0, 'submitted', submitted('high')],
    [1, 'checks_completed', { results: { integrity: 'pass' } }],
    [2, 'gate_opened', { gate: 'security' }],
    [8, 'decision_reject', { gate: 'security', comment: 'calibration   drifts on the holdout set' }],
    [8, 'rejected', { reason: 'gate security rejected: calibration drifts on the holdout set' }],
  ]);
  const timedOut = timeline('p-timeout', [
    [0, 'submitted', submitted('high')],
    [1, 'checks_completed', { results: { integrity: 'pass' } }],
    [2, 'gate_opened', { gate: 'legal' }],
    [60, 'gate_timed_out', { gate: 'legal', onTimeout: 'reject' }],
    [60, 'rejected', { reason: 'gate legal passed its deadline 2026-11-01T11:02:00.000Z without a decision' }],
  ]);
  const failedThenWithdrawn = timeline('p-failed', [
    [0, 'submitted', submitted('low')],
    [1, 'checks_completed', { results: { integrity: 'pass', performance: 'fail', security: 'error' } }],
    [5, 'checks_completed', { results: { integrity: 'pass', performance: 'fail', security: 'pass' } }],
    [9, 'withdrawn', { reason: 'abandoned' }],
  ]);
  const autoApproved = timeline('p-auto', [
    [0, 'submitted', submitted('low')],
    [1, 'checks_completed', { results: { integrity: 'pass', performance: 'pass' } }],
    [2, 'auto_approved', {}],
    [2, 'deployed', {}],
  ]);

  // Shuffled on purpose: the input order of promotions and events does not matter.
  const events = [...rejectedAgain, ...approvedMedium.slice().reverse(), ...timedOut, ...failedThenWithdrawn, ...rejectedMedium, ...autoApproved];
  const stats = computeArchiveStats(events);

  it('counts the promotions and how they ended', () => {
    expect(stats.promotions).toBe(6);
    expect(stats.outcomes).toEqual([
      { status: 'REJECTED', count: 3 },
      { status: 'DEPLOYED', count: 2 },
      { status: 'WITHDRAWN', count: 1 },
    ]);
  });

  it('measures submission to decision per effective tier, auto-approval included, expiry and withdrawal not', () => {
    expect(stats.timeToDecisionByTier).toEqual([
      { tier: 'low', count: 1, medianSeconds: 120, p90Seconds: 120, approved: 1, rejected: 0 },
      { tier: 'medium', count: 2, medianSeconds: (42 * 60 + 32 * 60) / 2, p90Seconds: 42 * 60 - 0.1 * 10 * 60, approved: 1, rejected: 1 },
      { tier: 'high', count: 2, medianSeconds: (8 * 60 + 60 * 60) / 2, p90Seconds: 60 * 60 - 0.1 * 52 * 60, approved: 0, rejected: 2 },
    ]);
  });

  it('measures gate opened to each reviewer decision, per gate', () => {
    expect(stats.timeToDecisionByGate).toEqual([
      { gate: 'business', count: 1, medianSeconds: 1800, p90Seconds: 1800, approvals: 1, rejections: 0, changeRequests: 0 },
      { gate: 'security', count: 1, medianSeconds: 360, p90Seconds: 360, approvals: 0, rejections: 1, changeRequests: 0 },
      { gate: 'technical', count: 2, medianSeconds: 1200, p90Seconds: 600 + 0.9 * 1200, approvals: 1, rejections: 1, changeRequests: 0 },
    ]);
  });

  it('counts failing and erroring check runs, most frequent first, with the promotions they hit', () => {
    expect(stats.failingChecks).toEqual([
      { check: 'performance', failed: 2, errored: 0, promotions: 1 },
      { check: 'security', failed: 0, errored: 1, promotions: 1 },
    ]);
  });

  it("groups rejection reasons: reviewers' comments regardless of case and spacing, and passed deadlines by gate", () => {
    expect(stats.rejectionReasons).toEqual([
      { kind: 'reviewer', reason: 'calibration   drifts on the holdout set', count: 2, gates: ['security', 'technical'], lastAt: '2026-11-01T10:32:00.000Z' },
      { kind: 'deadline', reason: 'hard deadline passed without a decision', count: 1, gates: ['legal'], lastAt: '2026-11-01T11:00:00.000Z' },
    ]);
  });

  it('a rejection with neither a reviewer nor a deadline keeps its own reason; the list is capped', () => {
    const registrationRefused = (id: string, reason: string) =>
      timeline(id, [
        [0, 'submitted', submitted('low')],
        [1, 'rejected', { reason }],
      ]);
    const many = Array.from({ length: 12 }, (_, i) => registrationRefused(`r-${i}`, `reason ${i}`)).flat();
    const capped = computeArchiveStats([...many, ...registrationRefused('r-x', 'reason 3')], { maxReasons: 5 });
    expect(capped.rejectionReasons).toHaveLength(5);
    expect(capped.rejectionReasons[0]).toMatchObject({ kind: 'other', reason: 'reason 3', count: 2, gates: [] });
  });

  it('a decision without its gate_opened, or before it, is not measured; nothing at all gives empty figures', () => {
    const odd = timeline('p-odd', [
      [0, 'submitted', submitted('medium')],
      [5, 'decision_approve', { gate: 'technical' }],
    ]);
    expect(computeArchiveStats(odd).timeToDecisionByGate).toEqual([]);
    expect(computeArchiveStats([])).toEqual({
      promotions: 0,
      outcomes: [],
      timeToDecisionByTier: [],
      timeToDecisionByGate: [],
      failingChecks: [],
      rejectionReasons: [],
    });
  });

  it('reads a promotion id promoted again as one execution per submission, and leaves out executions submitted before `since`', () => {
    const twice = timeline('p-again', [
      [0, 'submitted', submitted('medium')],
      [1, 'gate_opened', { gate: 'technical' }],
      [5, 'decision_reject', { gate: 'technical', comment: 'Not yet' }],
      [5, 'rejected', {}],
      [20, 'submitted', submitted('low')],
      [21, 'checks_completed', { results: { integrity: 'pass' } }],
      [22, 'auto_approved', {}],
      [23, 'deployed', {}],
    ]);
    const both = computeArchiveStats(twice);
    expect(both.promotions).toBe(2);
    expect(both.timeToDecisionByTier.map((t) => [t.tier, t.medianSeconds])).toEqual([
      ['low', 120],
      ['medium', 300],
    ]);
    const later = computeArchiveStats(twice, { since: new Date(Date.UTC(2026, 10, 1, 10, 10)) });
    expect(later.promotions).toBe(1);
    expect(later.outcomes).toEqual([{ status: 'DEPLOYED', count: 1 }]);
    expect(later.rejectionReasons).toEqual([]);
  });
});
