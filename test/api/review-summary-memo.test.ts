// The review summary a promotion keeps in its memo, read back as the review queue reads it: from
// a payload, as untrusted input. Pure: the queue's end-to-end behaviour is in review-queue-memo.test.ts.
import { defaultPayloadConverter } from '@temporalio/common';
import { REVIEW_SUMMARY_LIMITS, REVIEW_SUMMARY_MEMO_MAX_BYTES, reviewSummaryOf, ReviewSummarySchema } from '../../src/policy/review-summary';
import { reviewSummaryOfMemo } from '../../src/api/review-states';
import { queueEntryIn, queueEntryOf } from '../../src/promotions/review-queue';
import { gateState, reviewState } from '../support/states';

const strict = { allowSamePersonOnMultipleGates: false };
const signed = (actorId: string, extra: object = {}) => ({ actorId, roles: ['x'], decision: 'approve' as const, at: '2026-11-01T10:05:00.000Z', requestId: `r-${actorId}`, evidenceDigest: 'e', ...extra });
const state = reviewState([
  [gateState('technical', { quorum: 2, signatures: [signed('ravi'), signed('old', { void: true })], deadlineAt: '2026-11-02T10:00:00.000Z' }), gateState('security', { slaAt: '2026-11-01T12:00:00.000Z' })],
  [gateState('business', { status: 'waiting' })],
]);
const memoOf = (value: unknown) => defaultPayloadConverter.toPayload(value)!;

describe('a review summary', () => {
  it('holds what the queue shows and separation of duties needs, within its bounds', () => {
    const summary = reviewSummaryOf(state);
    expect(ReviewSummarySchema.parse(summary)).toEqual(summary);
    expect(summary.gates.map((g) => [g.name, g.stage, g.open, g.approvals, g.signers])).toEqual([
      ['technical', 'stage-1', true, 1, ['ravi']],
      ['security', 'stage-1', true, 0, []],
      ['business', 'stage-2', false, 0, []],
    ]);
    expect(summary).toMatchObject({ owner: 'olivia', submitter: 'sam', status: 'IN_REVIEW', policy: 'default' });
  });

  it('gives the same queue entry as the state it summarises, for every reviewer', () => {
    const summary = reviewSummaryOf(state);
    for (const actor of [
      { id: 'rita', roles: ['technical-reviewer'] },
      { id: 'ravi', roles: ['technical-reviewer', 'security-reviewer'] },
      { id: 'both', roles: ['technical-reviewer', 'security-reviewer'] },
      { id: 'olivia', roles: ['technical-reviewer'] },
      { id: 'bo', roles: ['business-reviewer'] },
    ]) {
      for (const sod of [strict, { allowSamePersonOnMultipleGates: true }]) {
        expect(queueEntryIn(state.promotionId, summary, actor, sod)).toEqual(queueEntryOf(state, actor, sod));
      }
    }
    // ravi signed technical: strict separation of duties hides security from him too.
    expect(queueEntryIn(state.promotionId, summary, { id: 'ravi', roles: ['technical-reviewer', 'security-reviewer'] }, strict)).toBeUndefined();
  });
});

describe('reading a review summary from a memo', () => {
  const summary = reviewSummaryOf(state);

  it('reads the summary the workflow wrote', () => {
    expect(reviewSummaryOfMemo(memoOf(summary), defaultPayloadConverter)).toEqual({ summary });
  });

  it.each([
    ['not an object', 'IN_REVIEW'],
    ['a field missing', { ...summary, owner: undefined }],
    ['a field it does not know', { ...summary, admin: true }],
    ['a status that is not one', { ...summary, status: 'APPROVED_BY_ME' }],
    ['a gate field of the wrong type', { ...summary, gates: [{ ...summary.gates[0], open: 'yes' }] }],
    ['a date that is not one', { ...summary, submittedAt: 'tomorrow' }],
    ['too many gates', { ...summary, gates: Array.from({ length: REVIEW_SUMMARY_LIMITS.gates + 1 }, () => summary.gates[0]) }],
    ['too many signers', { ...summary, gates: [{ ...summary.gates[0], signers: Array.from({ length: REVIEW_SUMMARY_LIMITS.signersPerGate + 1 }, (_, i) => `p${i}`) }] }],
    ['a name too long', { ...summary, model: 'm'.repeat(REVIEW_SUMMARY_LIMITS.text + 1) }],
    ['every field within bounds but too long in all', { ...summary, gates: Array.from({ length: REVIEW_SUMMARY_LIMITS.gates }, () => ({ ...summary.gates[0], title: 't'.repeat(REVIEW_SUMMARY_LIMITS.title) })) }],
  ])('refuses one with %s, without echoing it', (_, value) => {
    const reading = reviewSummaryOfMemo(memoOf(value), defaultPayloadConverter);
    expect(reading).toEqual({ problem: 'review summary memo malformed' });
  });

  it('refuses a payload it cannot decode, and one too large to read', () => {
    const broken = { metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{"status":') };
    expect(reviewSummaryOfMemo(broken, defaultPayloadConverter)).toEqual({ problem: 'review summary memo not decodable' });
    const unknownEncoding = { metadata: { encoding: Buffer.from('binary/encrypted') }, data: Buffer.from('x') };
    expect(reviewSummaryOfMemo(unknownEncoding, defaultPayloadConverter)).toEqual({ problem: 'review summary memo not decodable' });
    const huge = memoOf({ ...summary, padding: 'x'.repeat(REVIEW_SUMMARY_MEMO_MAX_BYTES) });
    expect(reviewSummaryOfMemo(huge, defaultPayloadConverter)).toEqual({ problem: 'review summary memo too large' });
  });
});
