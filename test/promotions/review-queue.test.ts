import { gatesAwaiting, queueEntryOf, sortQueue } from '../../src/promotions/review-queue';
import { gateState, reviewState } from '../support/states';

const strict = { allowSamePersonOnMultipleGates: false };
const rita = { id: 'rita', roles: ['technical-reviewer'] };

describe('a reviewer queue', () => {
  it('lists the open gates the reviewer holds a role for, not the others', () => {
    const state = reviewState([[gateState('technical', { deadlineAt: '2026-11-02T10:00:00.000Z' }), gateState('security')], [gateState('business', { status: 'waiting' })]]);
    expect(gatesAwaiting(state, rita, strict).map((g) => g.gate)).toEqual(['technical']);
    expect(gatesAwaiting(state, { id: 'bo', roles: ['business-reviewer'] }, strict)).toEqual([]);
  });

  it('counts escalation roles once the gate has escalated', () => {
    const gate = gateState('technical', { escalateTo: ['ml-manager'] });
    const max = { id: 'max', roles: ['ml-manager'] };
    expect(gatesAwaiting(reviewState([[gate]]), max, strict)).toEqual([]);
    expect(gatesAwaiting(reviewState([[{ ...gate, escalated: true }]]), max, strict).map((g) => g.escalated)).toEqual([true]);
  });

  it('leaves out what separation of duties refuses: the owner, the submitter, a second signature, a second gate', () => {
    const gate = gateState('technical');
    expect(gatesAwaiting(reviewState([[gate]]), { id: 'olivia', roles: ['technical-reviewer'] }, strict)).toEqual([]);
    expect(gatesAwaiting(reviewState([[gate]]), { id: 'sam', roles: ['technical-reviewer'] }, strict)).toEqual([]);
    const signed = { actorId: 'rita', roles: ['technical-reviewer'], decision: 'approve' as const, at: '2026-11-01T10:05:00.000Z', requestId: 'r1', evidenceDigest: 'e' };
    const quorumTwo = gateState('technical', { quorum: 2, signatures: [signed] });
    expect(gatesAwaiting(reviewState([[quorumTwo]]), rita, strict)).toEqual([]);
    const both = { id: 'rita', roles: ['technical-reviewer', 'security-reviewer'] };
    const twoGates = reviewState([[gateState('technical', { status: 'approved', signatures: [signed] }), gateState('security')]]);
    expect(gatesAwaiting(twoGates, both, strict)).toEqual([]);
    expect(gatesAwaiting(twoGates, both, { allowSamePersonOnMultipleGates: true }).map((g) => g.gate)).toEqual(['security']);
  });

  it('is empty unless the promotion is in review', () => {
    expect(queueEntryOf(reviewState([[gateState('technical')]], { status: 'CHANGES_REQUESTED' }), rita, strict)).toBeUndefined();
  });

  it('dates an entry by the earliest hard deadline of its gates, else the earliest SLA', () => {
    const both = { id: 'x', roles: ['technical-reviewer', 'security-reviewer'] };
    const loose = { allowSamePersonOnMultipleGates: true };
    const withDeadlines = reviewState([
      [
        gateState('technical', { deadlineAt: '2026-11-03T00:00:00.000Z', slaAt: '2026-11-01T11:00:00.000Z' }),
        gateState('security', { deadlineAt: '2026-11-02T00:00:00.000Z' }),
      ],
    ]);
    expect(queueEntryOf(withDeadlines, both, loose)?.dueAt).toBe('2026-11-02T00:00:00.000Z');
    const slaOnly = reviewState([[gateState('technical', { slaAt: '2026-11-01T11:00:00.000Z' })]]);
    expect(queueEntryOf(slaOnly, rita, strict)).toMatchObject({ dueAt: '2026-11-01T11:00:00.000Z', model: 'fraud', submitter: 'sam', riskTier: 'medium' });
    expect(queueEntryOf(reviewState([[gateState('technical')]]), rita, strict)?.dueAt).toBeUndefined();
  });

  it('orders nearest deadline first, undated entries last, then the oldest submission', () => {
    const entry = (promotionId: string, dueAt: string | undefined, submittedAt: string) => ({
      promotionId,
      model: 'm',
      version: '1',
      target: 't',
      riskTier: 'low',
      submitter: 's',
      submittedAt,
      expedited: false,
      gates: [],
      ...(dueAt ? { dueAt } : {}),
    });
    const sorted = sortQueue([
      entry('undated-new', undefined, '2026-11-01T12:00:00Z'),
      entry('late', '2026-11-05T00:00:00Z', '2026-11-01T10:00:00Z'),
      entry('undated-old', undefined, '2026-11-01T09:00:00Z'),
      entry('soon', '2026-11-02T00:00:00Z', '2026-11-01T11:00:00Z'),
    ]);
    expect(sorted.map((e) => e.promotionId)).toEqual(['soon', 'late', 'undated-old', 'undated-new']);
  });
});
