import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { auditRecordOf, renderAuditEvent } from '../../src/audit/timeline';
import { promotionSignals } from '../../src/shared/messages';
import type { Actor, PromotionState } from '../../src/shared/promotion';
import { recordHistory } from '../support/histories';
import { testStackEnv } from '../support/stack';
import { people, type PromotionHarness, sendUpdate, startPromotionHarness, waitForState, waitForStatus } from '../support/promotions';

jest.setTimeout(90_000);
const run = promisify(execFile);

async function refusal(update: Promise<unknown>): Promise<string> {
  const error = await update.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  return (error as WorkflowUpdateFailedError).cause!.message;
}

const decide = (handle: WorkflowHandle, actor: Actor, gate: string) =>
  sendUpdate(handle, 'decide', { actor, gate, decision: 'approve', comment: 'ok' });

describe('separation of duties and refused messages', () => {
  let h: PromotionHarness;
  let handle: WorkflowHandle;
  const submitter: Actor = { id: 'sam', roles: ['ml-reviewer', 'data-scientist'] };

  beforeAll(async () => {
    h = await startPromotionHarness();
    // high tier: technical (quorum 2) ∥ security in the first stage
    handle = await h.submit(await h.manifest({ model: { riskTier: 'high' } }), submitter);
    await waitForStatus(handle, 'IN_REVIEW');
  });
  afterAll(async () => {
    await h?.close();
  });

  describe('through the Update, the reason comes back and nothing changes', () => {
    it('when the submitter approves their own promotion', async () => {
      expect(await refusal(decide(handle, submitter, 'technical'))).toBe(
        'separation of duties: sam submitted this promotion and cannot decide on it',
      );
    });
    it('when the model owner approves their own model', async () => {
      expect(await refusal(decide(handle, people.olivia, 'technical'))).toBe(
        'separation of duties: olivia owns model ' + (await handle.query<PromotionState>('state')).manifest.model.name + ' and cannot decide on it',
      );
    });
    it('when the request id is a name Object.prototype has (constructor, __proto__), it counts as new, not as processed', async () => {
      for (const requestId of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
        expect(await refusal(sendUpdate(handle, 'decide', { actor: people.bo, gate: 'technical', decision: 'approve', comment: 'ok', requestId }))).toBe(
          'bo lacks a role of gate "technical" (needs one of: ml-reviewer)',
        );
      }
    });
    it('when the actor lacks a role of the gate', async () => {
      expect(await refusal(decide(handle, people.bo, 'technical'))).toBe(
        'bo lacks a role of gate "technical" (needs one of: ml-reviewer)',
      );
    });
    it('when one person would count twice on one gate, or sign a second gate', async () => {
      await decide(handle, people.multi, 'technical');
      expect(await refusal(decide(handle, people.multi, 'technical'))).toBe('multi has already decided on gate "technical"; one person counts once');
      expect(await refusal(decide(handle, people.multi, 'security'))).toBe(
        'separation of duties: multi already signed gate "technical"; one person counts once per promotion',
      );
    });
    it('when the payload is malformed or names an unknown gate', async () => {
      expect(await refusal(sendUpdate(handle, 'decide', { actor: people.rita, gate: 'technical', decision: 'maybe' as never }))).toBe(
        'decision: must be one of approve, reject, request_changes',
      );
      expect(await refusal(sendUpdate(handle, 'decide', { actor: { id: '', roles: [] }, gate: 'technical', decision: 'approve' }))).toBe(
        'actor.id: must be a non-empty string',
      );
      expect(await refusal(decide(handle, people.rita, 'nope'))).toMatch(/^unknown gate "nope" \(gates: technical, security, /);
    });
    it('when the message does not fit the state', async () => {
      expect(await refusal(sendUpdate(handle, 'revise', { actor: submitter, changes: { metrics: { accuracy: 0.99 } } }))).toBe(
        'promotion is IN_REVIEW; revisions are accepted only when CHECKS_FAILED or CHANGES_REQUESTED',
      );
      const state = await handle.query<PromotionState>('state');
      expect(state.stages[0]!.gates[0]!.signatures.map((s) => s.actorId)).toEqual(['multi']);
      expect(state.refused).toEqual([]); // Update refusals answer the caller; they leave no trace in the workflow
    });
  });

  it('a request id is one person\'s: another reviewer using the same id is heard, the same reviewer repeating it is a repeat', async () => {
    const own = await h.submit(await h.manifest({ model: { riskTier: 'high' } }), submitter);
    await waitForStatus(own, 'IN_REVIEW');
    const first = await sendUpdate(own, 'decide', { actor: people.rita, gate: 'technical', decision: 'approve', comment: 'ok', requestId: 'shared-id' });
    const other = await sendUpdate(own, 'decide', { actor: people.ravi, gate: 'technical', decision: 'approve', comment: 'ok', requestId: 'shared-id' });
    const again = await sendUpdate(own, 'decide', { actor: people.rita, gate: 'technical', decision: 'approve', comment: 'ok', requestId: 'shared-id' });
    expect(again).toEqual(first);
    expect(other.summary).not.toEqual(first.summary);
    const state = await waitForState(own, (s) => s.stages[0]!.gates[0]!.status === 'approved');
    expect(state.stages[0]!.gates[0]!.signatures.map((x) => x.actorId).sort()).toEqual(['ravi', 'rita']);
    await sendUpdate(own, 'withdraw', { actor: submitter, reason: 'test done' });
    await own.result();
    await recordHistory('promotion-request-ids-per-actor', own);
  });

  describe('through the Signal, nothing changes and the refusal is recorded in the state', () => {
    // The test policy grants operator Signals to modelgate-operator.
    const operator = (actor: Actor): Actor => ({ ...actor, roles: [...actor.roles, 'modelgate-operator'] });

    it('each refusal is recorded with actor, message and reason; a reviewer without an operator role is refused', async () => {
      await handle.signal(promotionSignals.decide, { actor: operator(submitter), requestId: 'sig-1', gate: 'technical', decision: 'approve' });
      await handle.signal(promotionSignals.decide, { actor: operator(people.olivia), requestId: 'sig-2', gate: 'technical', decision: 'approve' });
      await handle.signal(promotionSignals.decide, { actor: operator(people.bo), requestId: 'sig-3', gate: 'technical', decision: 'approve' });
      await handle.signal(promotionSignals.decide, { actor: operator(people.multi), requestId: 'sig-4', gate: 'security', decision: 'approve' });
      await handle.signal(promotionSignals.decide, { nonsense: true } as never);
      // a security reviewer could sign the security gate through the API, but not by Signal
      await handle.signal(promotionSignals.decide, { actor: people.sec, requestId: 'sig-6', gate: 'security', decision: 'approve' });
      const state = await waitForState(handle, (s) => s.refused.length === 6);
      expect(state.refused.map((r) => [r.via, r.actorId ?? null, r.reason])).toEqual([
        ['signal', 'sam', 'separation of duties: sam submitted this promotion and cannot decide on it'],
        ['signal', 'olivia', expect.stringMatching(/^separation of duties: olivia owns model/)],
        ['signal', 'bo', 'bo lacks a role of gate "technical" (needs one of: ml-reviewer)'],
        ['signal', 'multi', 'separation of duties: multi already signed gate "technical"; one person counts once per promotion'],
        ['signal', null, 'actor: must be an object { id, roles }'],
        ['signal', 'sec', 'sec holds no role the policy grants operator Signals (needs one of: modelgate-operator); use the API'],
      ]);
      expect(state.stages[0]!.gates.map((g) => g.signatures.length)).toEqual([1, 0]);
      expect(state.status).toBe('IN_REVIEW');
    });

    it('a flood of refused signals keeps the state bounded: the most recent are kept, all are counted', async () => {
      const before = (await handle.query<PromotionState>('state')).refusedTotal ?? 0;
      await Promise.all(
        Array.from({ length: 230 }, (_, i) =>
          handle.signal(promotionSignals.decide, { actor: people.bo, requestId: `flood-${i}`, gate: 'technical', decision: 'approve' }),
        ),
      );
      const state = await waitForState(handle, (s) => (s.refusedTotal ?? 0) === before + 230);
      expect(state.refused).toHaveLength(200);
      expect(state.timeline.filter((t) => t.action === 'refused')).toHaveLength(200);
      expect(state.status).toBe('IN_REVIEW');
    });

    it('a decision sent by an operator with `temporal workflow signal` takes effect, recorded via signal with the caller\'s Temporal identity', async () => {
      const temporal = process.env.TEMPORAL_CLI ?? path.join(__dirname, '..', '..', '.tools', 'bin', 'temporal');
      const cli = await run(path.join(__dirname, '..', '..', 'temporal', 'install.sh')).then((r) => r.stdout.trim()).catch(() => temporal);
      const env = testStackEnv();
      await run(cli, [
        'workflow', 'signal',
        '--address', env.temporalAddress,
        '--namespace', env.namespace,
        '--workflow-id', handle.workflowId,
        '--name', 'decide',
        '--identity', 'ops-console:sec@bank.example',
        '--input', JSON.stringify({ actor: operator(people.sec), requestId: 'cli-1', gate: 'security', decision: 'approve', comment: 'scanned by hand' }),
      ]);
      const state = await waitForState(handle, (s) => s.stages[0]!.gates[1]!.status === 'approved');
      expect(state.stages[0]!.gates[1]!.signatures).toEqual([
        expect.objectContaining({ actorId: 'sec', decision: 'approve', comment: 'scanned by hand', requestId: 'cli-1' }),
      ]);
      const signed = state.timeline.filter((t) => t.actor === 'sec' && t.action !== 'refused' && t.detail?.via === 'signal');
      expect(signed.length).toBeGreaterThan(0);
      for (const entry of signed) expect(entry.detail).toMatchObject({ via: 'signal', temporalIdentity: 'ops-console:sec@bank.example' });
      // the audit timeline (API, CLI, dashboard, archive) renders them as such
      const rendered = signed.map((entry) => renderAuditEvent(auditRecordOf(entry, 'test-1'), 'test-1'));
      for (const event of rendered) expect(event).toMatchObject({ actor: 'sec', via: 'signal', temporalIdentity: 'ops-console:sec@bank.example' });
      // a repeated signal with the same requestId changes nothing
      await handle.signal(promotionSignals.decide, { actor: operator(people.sec), requestId: 'cli-1', gate: 'security', decision: 'approve' });
      await handle.signal(promotionSignals.withdraw, { actor: operator(submitter), requestId: 'w-1', reason: 'test done' });
      const final = (await handle.result()) as PromotionState;
      expect(final.stages[0]!.gates[1]!.signatures).toHaveLength(1);
      expect(final.status).toBe('WITHDRAWN');
      await recordHistory('promotion-operator-signals', handle);
    });
  });
});
