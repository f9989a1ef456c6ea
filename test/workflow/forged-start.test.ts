// A workflow started directly on Temporal, around the API, with a forged policy or forged
// carried state never approves or deploys: it ends REJECTED naming the reason.
import { randomUUID } from 'node:crypto';
import { resolvePolicy } from '../../src/policy/resolve';
import type { ResolvedPolicy } from '../../src/policy/resolved';
import type { PromotionInput, PromotionState } from '../../src/shared/promotion';
import { recordHistory } from '../support/histories';
import { type PromotionHarness, people, startPromotionHarness } from '../support/promotions';

jest.setTimeout(120_000);

describe('a promotion started around the API', () => {
  let h: PromotionHarness;
  beforeAll(async () => {
    h = await startPromotionHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  /** Starts PromotionWorkflow directly, as anyone who reaches Temporal could, and waits for its end. */
  async function startDirectly(change: (input: PromotionInput) => PromotionInput, recordAs?: string): Promise<PromotionState> {
    const manifest = await h.manifest({ model: { riskTier: 'low' }, metrics: { accuracy: 0.85 } });
    const policy: ResolvedPolicy = resolvePolicy(h.policy, manifest);
    const input: PromotionInput = { promotionId: `forged-${randomUUID()}`, manifest, submitter: people.sam, submittedAt: new Date().toISOString(), policy };
    const handle = await h.client.workflow.start('PromotionWorkflow', {
      workflowId: input.promotionId,
      taskQueue: h.config.temporal.taskQueue,
      args: [change({ ...input })],
    });
    const state = (await handle.result()) as PromotionState;
    if (recordAs) await recordHistory(recordAs, handle);
    return state;
  }

  it('a policy with its gates removed is refused before any check runs', async () => {
    const state = await startDirectly((input) => ({ ...input, policy: { ...input.policy, stages: [], autoApprove: undefined } }), 'promotion-forged-policy-rejected');
    expect(state.status).toBe('REJECTED');
    expect(state.outcome?.reason).toMatch(/^refused before any decision: the policy it was started with differs from the store's workflow-test@test-1/);
    expect(state.checkRuns).toBe(0);
    expect(state.approval).toBeUndefined();
  });

  it('a policy claiming another digest, or one the store does not have, is refused', async () => {
    const otherDigest = await startDirectly((input) => ({ ...input, policy: { ...input.policy, digest: 'f'.repeat(64) } }));
    expect(otherDigest.outcome?.reason).toMatch(/\(digest f{64}\) is not the store's \(digest [0-9a-f]{64}\)/);
    const unknown = await startDirectly((input) => ({ ...input, policy: { ...input.policy, name: 'lenient' } }));
    expect(unknown.outcome?.reason).toMatch(/the policy lenient@test-1 it was started with is not in the policy store/);
  });

  it('carried state handed to a fresh start (an approved promotion) is refused', async () => {
    const state = await startDirectly((input) => ({ ...input, carried: { state: { status: 'APPROVED' } as PromotionState, processed: {} } }));
    expect(state.status).toBe('REJECTED');
    expect(state.outcome?.reason).toBe('refused before any decision: it was started with carried state but was not continued from an earlier run (forged)');
    expect(state.timeline.map((e) => e.action)).toEqual(['submitted', 'rejected']);
  });

  it('the policy the API would start with is accepted (the promotion goes on to review)', async () => {
    const manifest = await h.manifest({ model: { riskTier: 'medium' } });
    const handle = await h.submit(manifest);
    await expect(
      (async () => {
        for (let i = 0; i < 100; i++) {
          const s = await handle.query<PromotionState>('state');
          if (s.status !== 'VALIDATING') return s.status;
          await new Promise((r) => setTimeout(r, 100));
        }
        return 'VALIDATING';
      })(),
    ).resolves.toBe('IN_REVIEW');
    await handle.terminate('test done');
  });
});
