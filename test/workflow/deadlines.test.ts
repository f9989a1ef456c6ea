import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { PromotionState } from '../../src/shared/promotion';
import { recordHistory } from '../support/histories';
import { startNotificationReceiver as startReceiver } from '../support/notification-receiver';
import { people, type PromotionHarness, sendUpdate, startPromotionHarness, waitForState, waitForStatus } from '../support/promotions';

jest.setTimeout(120_000);

describe('deadlines on durable timers, expedite, notifications, continue-as-new', () => {
  let h: PromotionHarness;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let policyDir: string;

  beforeAll(async () => {
    receiver = await startReceiver(2);
    // the workflow-test policy, with notifications to the local receiver
    policyDir = await mkdtemp(path.join(tmpdir(), 'modelgate-policy-'));
    const text = await readFile(path.join(__dirname, '..', 'fixtures', 'policies', 'workflow-test.yaml'), 'utf8');
    const file = path.join(policyDir, 'notifying.yaml');
    await writeFile(file, text.replace('notifications: []', `notifications:\n  - url: ${receiver.url}\n    events: ["*"]`));
    h = await startPromotionHarness(file);
  });
  afterAll(async () => {
    await h?.close();
    await receiver?.close();
    await rm(policyDir, { recursive: true, force: true });
  });

  // low tier below the auto-approval metric: one technical gate, sla 2s → ml-manager, timeout 6s → expire
  const reviewedLowTier = () => h.manifest({ model: { riskTier: 'low' }, metrics: { accuracy: 0.85 } });

  it('after its SLA a gate escalates: reminder and escalation are sent, and the escalation role may sign', async () => {
    const handle = await h.submit(await reviewedLowTier());
    const opened = await waitForStatus(handle, 'IN_REVIEW');
    const gate = opened.stages[0]!.gates[0]!;
    expect(Date.parse(gate.slaAt!) - Date.parse(gate.openedAt!)).toBe(2_000);
    expect(Date.parse(gate.deadlineAt!) - Date.parse(gate.openedAt!)).toBe(6_000);

    const escalated = await waitForState(handle, (s) => s.stages[0]!.gates[0]!.escalated, 10_000);
    expect(escalated.timeline.find((t) => t.action === 'gate_escalated')!.detail).toEqual({ gate: 'technical', escalateTo: ['ml-manager'] });
    expect((await handle.describe()).searchAttributes.PendingRoles).toEqual(['ml-manager', 'ml-reviewer']);
    await sendUpdate(handle, 'decide', { actor: people.max, gate: 'technical', decision: 'approve' });
    const state = (await handle.result()) as PromotionState;
    expect(state.status).toBe('DEPLOYED');

    const mine = receiver.events.filter((e) => e.promotionId === handle.workflowId).map((e) => e.event);
    expect(mine).toEqual(expect.arrayContaining(['gate_opened', 'sla_reminder', 'escalated', 'approved', 'deployed']));
    const escalation = receiver.events.find((e) => e.promotionId === handle.workflowId && e.event === 'escalated')!;
    expect(escalation).toMatchObject({ gate: 'technical', roles: ['ml-manager'], deadline: gate.deadlineAt, link: expect.stringContaining('/v1/promotions/') });
    // the receiver failed twice at first; retries delivered, and the promotion never noticed
    expect(receiver.attempts()).toBeGreaterThan(receiver.events.length);
    await recordHistory('promotion-sla-escalated', handle);

    // an operator reads the lifecycle from the history: every timer and activity says what it is
    const history = await handle.fetchHistory();
    const summaries = (history.events ?? []).flatMap((e) => (e.userMetadata?.summary?.data ? [JSON.parse(Buffer.from(e.userMetadata.summary.data).toString())] : []));
    expect(summaries).toEqual(
      expect.arrayContaining(['verify policy', 'check integrity + security', 'check performance', 'seal evidence', 'notify gate_opened', 'SLA technical', 'deadline technical', 'record approval']),
    );
    const unnamed = (history.events ?? []).filter((e) => (e.timerStartedEventAttributes || e.activityTaskScheduledEventAttributes) && !e.userMetadata?.summary);
    expect(unnamed).toEqual([]);
    await recordHistory('promotion-named-timers-and-activities', handle);
  });

  it('a gate with onTimeout expire ends EXPIRED at its hard deadline', async () => {
    const handle = await h.submit(await reviewedLowTier());
    const state = (await handle.result()) as PromotionState;
    expect(state.status).toBe('EXPIRED');
    expect(state.outcome!.by).toBe('policy@test-1');
    expect(state.outcome!.reason).toMatch(/^gate technical passed its deadline/);
    expect(state.stages[0]!.gates[0]!.status).toBe('timed_out');
    await recordHistory('promotion-gate-expired', handle);
  });

  it('a gate with onTimeout reject ends REJECTED at its hard deadline', async () => {
    const handle = await h.submit(await h.manifest({ model: { riskTier: 'high' } }));
    await waitForStatus(handle, 'IN_REVIEW');
    for (const [actor, gate] of [[people.rita, 'technical'], [people.ravi, 'technical'], [people.sec, 'security'], [people.fay, 'fairness']] as const) {
      await waitForState(handle, (s) => s.stages.some((st) => st.gates.some((g) => g.name === gate && g.status === 'open')));
      await sendUpdate(handle, 'decide', { actor, gate, decision: 'approve' });
    }
    const state = (await handle.result()) as PromotionState;
    expect(state.status).toBe('REJECTED');
    expect(state.outcome!.reason).toMatch(/^gate legal passed its deadline/);

    // One timer per deadline: the fairness decision, made while the stage waited for legal's SLA,
    // did not restart the SLA's timer (each wait used to start its own and cancel it at the next change).
    const history = await handle.fetchHistory();
    const timers = (history.events ?? []).flatMap((e) => (e.timerStartedEventAttributes ? [JSON.parse(Buffer.from(e.userMetadata?.summary?.data ?? new Uint8Array()).toString() || '""') as string] : []));
    expect(timers).toEqual(expect.arrayContaining(['SLA legal', 'deadline legal']));
    expect(timers.filter((t, i) => timers.indexOf(t) !== i)).toEqual([]);
    await recordHistory('promotion-kept-deadline-timers', handle);
  });

  it('expedite switches open gates to the shorter expedited deadlines and notifies reviewers now', async () => {
    const handle = await h.submit(await reviewedLowTier());
    const before = (await waitForStatus(handle, 'IN_REVIEW')).stages[0]!.gates[0]!;
    await expect(sendUpdate(handle, 'expedite', { actor: people.rita, reason: 'fraud spike' })).rejects.toThrow();
    const result = await sendUpdate(handle, 'expedite', { actor: people.max, reason: 'fraud spike this weekend' });
    expect(result.summary).toBe('expedited: shorter deadlines apply');
    const after = (await handle.query<PromotionState>('state')).stages[0]!.gates[0]!;
    expect(Date.parse(after.deadlineAt!)).toBeLessThan(Date.parse(before.deadlineAt!));
    expect(Date.parse(after.slaAt!)).toBeLessThan(Date.parse(before.slaAt!));
    const state = (await handle.result()) as PromotionState;
    expect(state.status).toBe('EXPIRED');
    expect(state.expedited).toMatchObject({ by: 'max', reason: 'fraud spike this weekend' });
    // it expired at the expedited deadline (3s), well before the normal one (6s)
    const expiredAt = Date.parse(state.outcome!.at);
    expect(expiredAt).toBeLessThan(Date.parse(before.deadlineAt!));
    expect(receiver.events.some((e) => e.promotionId === handle.workflowId && e.event === 'expedited')).toBe(true);
    await recordHistory('promotion-expedited', handle);
  });

  it('changes requested and no revision within the remediation window: EXPIRED', async () => {
    const handle = await h.submit(await h.manifest());
    await waitForStatus(handle, 'IN_REVIEW');
    await sendUpdate(handle, 'decide', { actor: people.rita, gate: 'technical', decision: 'request_changes', comment: 'add a limitations section' });
    const state = (await handle.result()) as PromotionState;
    expect(state.status).toBe('EXPIRED');
    expect(state.outcome!.reason).toMatch(/no revision within the remediation window/);
  });

  it('continues as new before the history grows large, carrying state and processed request ids', async () => {
    const handle = await h.submit(await h.manifest({ model: { riskTier: 'high' } }), undefined, 40);
    await waitForStatus(handle, 'IN_REVIEW');
    const first = await sendUpdate(handle, 'decide', { actor: people.rita, gate: 'technical', decision: 'approve', requestId: 'keep-me' });
    for (let i = 0; i < 12; i++) {
      await handle.query('state');
      await sendUpdate(handle, 'decide', { actor: people.bo, gate: 'technical', decision: 'approve' }).catch(() => undefined);
      await handle.signal('decide', { actor: people.bo, requestId: `noise-${i}`, gate: 'technical', decision: 'approve' });
    }
    const state = await waitForState(handle, (s) => s.run > 1, 20_000);
    expect(state.stages[0]!.gates[0]!.signatures.map((s) => s.actorId)).toEqual(['rita']);
    // the request id processed in the first run still returns its first result
    const again = await sendUpdate(handle, 'decide', { actor: people.rita, gate: 'technical', decision: 'approve', requestId: 'keep-me' });
    expect(again).toEqual(first);
    const description = await handle.describe();
    expect(description.runId).not.toBe(description.raw.workflowExecutionInfo?.firstRunId);
    await sendUpdate(handle, 'withdraw', { actor: people.sam, reason: 'test done' });
    expect(((await handle.result()) as PromotionState).status).toBe('WITHDRAWN');
  });
});
