import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { isNoWorkerAnswer } from '../../src/api/errors';
import { sendPromotionMessage } from '../../src/promotions/messages';
import { startPromotion } from '../../src/promotions/start';
import { stateQuery } from '../../src/shared/messages';
import type { PromotionState } from '../../src/shared/promotion';
import { bundleWorkflows, createModelgateWorker } from '../../src/worker';
import { people, type PromotionHarness, startPromotionHarness } from '../support/promotions';
import { testStackEnv } from '../support/stack';

jest.setTimeout(300_000);

describe('a decision sent the moment a query shows its gate open', () => {
  let h: PromotionHarness;
  beforeAll(async () => {
    h = await startPromotionHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('is accepted (never validated against state the server has not recorded yet), and every history replays', async () => {
    // A small workflow cache, many promotions at once: workflows are evicted and replayed all the
    // time, so a query often answers from a workflow task that the server has not recorded yet.
    const taskQueue = `query-then-decide-${randomUUID()}`;
    const connection = await NativeConnection.connect({ address: testStackEnv().temporalAddress });
    const bundle = await bundleWorkflows();
    const config = { ...h.config, temporal: { ...h.config.temporal, taskQueue }, worker: { ...h.config.worker, maxCachedWorkflows: 2 } };
    const worker = await createModelgateWorker({ config, connection, pool: h.pool, workflowBundle: bundle });
    const refusals: string[] = [];
    const ids: string[] = [];
    /** The state, asked again while Temporal has not yet seen the new worker poll (as API clients retry a 503). */
    const stateOf = async (handle: WorkflowHandle): Promise<PromotionState> => {
      for (;;) {
        try {
          return await handle.query(stateQuery);
        } catch (err) {
          if (!isNoWorkerAnswer(err)) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
    };

    let outcomes: PromiseSettledResult<void>[] = [];
    try {
      outcomes = await worker.runUntil(
        Promise.allSettled(
          Array.from({ length: 16 }, async () => {
            const manifest = await h.manifest();
            const { promotionId } = await startPromotion(h.client, { manifest, submitter: people.sam, policy: h.policy, taskQueue });
            ids.push(promotionId);
            const handle = h.client.workflow.getHandle(promotionId);
            for (let gate = 'technical'; ; ) {
              const state = await stateOf(handle);
              if (state.status !== 'IN_REVIEW' && state.status !== 'VALIDATING') break;
              const open = state.stages.flatMap((s) => s.gates).find((g) => g.status === 'open');
              if (open?.name !== gate) {
                // Not open yet: ask again shortly (every query of an evicted promotion is a replay: a tight loop of them starves the worker it runs beside).
                await new Promise((r) => setTimeout(r, 100));
                continue;
              }
              const actor = gate === 'technical' ? people.rita : people.bo;
              await sendPromotionMessage(handle, 'decide', { actor, requestId: `${gate}-1`, gate, decision: 'approve' }).catch((err: Error) =>
                refusals.push(`${promotionId} ${gate}: ${(err.cause as Error | undefined)?.message ?? err.message}`),
              );
              if (gate === 'business') break;
              gate = 'business';
            }
            expect(((await handle.result()) as PromotionState).status).toBe('DEPLOYED');
          }),
        ),
      );
    } finally {
      await connection.close();
    }
    // Every promotion's own run ended before the worker stopped (no call left running on a closed client).
    expect(outcomes.filter((o) => o.status === 'rejected').map((o) => String((o as PromiseRejectedResult).reason))).toEqual([]);
    expect(refusals).toEqual([]);
    // One replay worker for all the histories (a worker per history loads the bundle sixteen times).
    const histories = await Promise.all(ids.map(async (workflowId) => ({ workflowId, history: await h.client.workflow.getHandle(workflowId).fetchHistory() })));
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: bundle }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  });
});
