// GET /v1/review-queue answered from one visibility listing: each promotion keeps its review
// summary in its memo (patched review-queue-memo), and the API builds the queue from the listing's
// memos, reading no promotion's state. Real Temporal, worker, PostgreSQL and API.
import path from 'node:path';
import request from 'supertest';
import { REVIEW_SUMMARY_MEMO_KEY, type ReviewSummary } from '../../src/policy/review-summary';
import { SearchAttributes } from '../../src/shared/search-attributes';
import { recordHistory } from '../support/histories';
import { people, sendUpdate, waitForStatus } from '../support/promotions';
import { waitUntil } from '../support/wait';
import { type ApiHarness, startApiHarness } from './support';

const DASHBOARD_POLICY = path.join(__dirname, '..', 'fixtures', 'policies', 'dashboard-test.yaml');

interface Queue {
  entries: Array<{ promotionId: string; gates: Array<{ gate: string; approvals: number; quorum: number }> }>;
  truncated: boolean;
  unreadable: string[];
}

describe('the review queue from the listing', () => {
  let h: ApiHarness;

  beforeAll(async () => {
    h = await startApiHarness({ policyFile: DASHBOARD_POLICY });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  }, 60_000);

  const queueOf = async (actor: (typeof people)[keyof typeof people]): Promise<Queue> => {
    const res = await request(h.app).get('/v1/review-queue').set('authorization', await h.bearer(actor));
    expect(res.status).toBe(200);
    return res.body as Queue;
  };
  const entryOf = (queue: Queue, id: string) => queue.entries.find((e) => e.promotionId === id);
  const summaryOf = async (id: string) => (await h.client.workflow.getHandle(id).describe()).memo?.[REVIEW_SUMMARY_MEMO_KEY] as ReviewSummary | undefined;

  it('follows the decisions in the memo; separation of duties hides a gate from whoever signed another', async () => {
    const high = await h.submit(await h.manifest({ model: { riskTier: 'high' } }));
    await waitForStatus(high, 'IN_REVIEW');
    const both = await waitUntil(() => queueOf(people.multi), (q) => entryOf(q, high.workflowId)?.gates.length === 2);
    expect(entryOf(both, high.workflowId)!.gates.map((g) => g.gate)).toEqual(['technical', 'security']);
    expect((await summaryOf(high.workflowId))?.gates.map((g) => [g.name, g.open, g.signers])).toEqual([
      ['technical', true, []],
      ['security', true, []],
      ['business', false, []],
    ]);

    // multi signs technical: their queue drops the promotion (one person once), sec still sees security.
    await sendUpdate(high, 'decide', { actor: people.multi, gate: 'technical', decision: 'approve' });
    await waitUntil(() => queueOf(people.multi), (q) => !entryOf(q, high.workflowId));
    expect((await queueOf(people.rita)).entries.map((e) => e.promotionId)).not.toContain(high.workflowId);
    const security = entryOf(await queueOf(people.sec), high.workflowId);
    expect(security?.gates.map((g) => g.gate)).toEqual(['security']);
    expect((await summaryOf(high.workflowId))?.gates.find((g) => g.name === 'technical')).toMatchObject({ open: false, approvals: 1, signers: ['multi'] });

    // The next stage opens for the business owner once security is signed.
    await sendUpdate(high, 'decide', { actor: people.sec, gate: 'security', decision: 'approve' });
    const business = await waitUntil(() => queueOf(people.bo), (q) => !!entryOf(q, high.workflowId));
    expect(entryOf(business, high.workflowId)!.gates.map((g) => g.gate)).toEqual(['business']);
    await sendUpdate(high, 'decide', { actor: people.bo, gate: 'business', decision: 'approve' });
    await high.result();
    expect((await summaryOf(high.workflowId))?.status).toBe('DEPLOYED');
    await recordHistory('promotion-review-queue-memo', high);
  });

  it('with the worker stopped, shows promotions from their memos; a forged or malformed memo is unreadable, never an entry nor a 500', async () => {
    const medium = await h.submit(await h.manifest({ model: { riskTier: 'medium' } }));
    await waitForStatus(medium, 'IN_REVIEW');
    // Listed as in review (the queue is not read before: no state of it is remembered anywhere).
    const listedInReview = async () => {
      for await (const e of h.client.workflow.list({ query: `WorkflowId = '${medium.workflowId}' AND PromotionStatus = 'IN_REVIEW'` })) return e.memo?.[REVIEW_SUMMARY_MEMO_KEY];
      return undefined;
    };
    await waitUntil(listedInReview, (memo) => (memo as ReviewSummary | undefined)?.status === 'IN_REVIEW');
    h.worker.shutdown();
    await waitUntil(() => h.worker.getState(), (state) => state === 'STOPPED');

    // Workflows listed as promotions pending for ml-reviewer, with what no workflow of ours writes in their memo.
    const summary = (await summaryOf(medium.workflowId))!;
    const forgedMemos: Array<[string, unknown]> = [
      ['not-a-summary', 'IN_REVIEW'],
      ['unknown-field', { ...summary, promotionId: 'promote:other' }],
      ['too-many-gates', { ...summary, gates: Array.from({ length: 100 }, () => summary.gates[0]) }],
      ['too-large', { ...summary, model: 'm'.repeat(100_000) }],
    ];
    const forged = await Promise.all(
      forgedMemos.map(([name, memo]) =>
        h.client.workflow.start('PromotionWorkflow', {
          taskQueue: h.config.temporal.taskQueue,
          workflowId: `forged-memo-${name}-${Date.now()}`,
          args: [{}],
          memo: { [REVIEW_SUMMARY_MEMO_KEY]: memo },
          typedSearchAttributes: [
            { key: SearchAttributes.PromotionStatus, value: 'IN_REVIEW' },
            { key: SearchAttributes.PendingRoles, value: ['ml-reviewer'] },
            { key: SearchAttributes.Submitter, value: 'mallory' },
          ],
        }),
      ),
    );
    try {
      const ids = forged.map((f) => f.workflowId).sort();
      const queue = await waitUntil(() => queueOf(people.rita), (q) => ids.every((id) => q.unreadable.includes(id)));
      // The real promotion is shown from its memo although no worker could answer a query.
      expect(entryOf(queue, medium.workflowId)?.gates.map((g) => g.gate)).toEqual(['technical']);
      expect(queue.unreadable).not.toContain(medium.workflowId);
      expect(queue.entries.map((e) => e.promotionId).filter((id) => ids.includes(id))).toEqual([]);
      expect(JSON.stringify(queue)).not.toContain('mmmm');
    } finally {
      await Promise.all(forged.map((f) => f.terminate('test over')));
    }
  });
});
