import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { environmentQuery, environmentUpdates, environmentWorkflowId, recertificationWorkflowId } from '../../src/shared/environment';
import type { PromotionState } from '../../src/shared/promotion';
import { writeTestPolicy } from '../support/deploy-policy';
import { waitUntil } from '../support/wait';
import { recordHistory } from '../support/histories';
import { startNotificationReceiver } from '../support/notification-receiver';
import { people, type PromotionHarness, sendUpdate, startPromotionHarness, waitForStatus } from '../support/promotions';

jest.setTimeout(120_000);

describe('approval expiry and re-certification in the environment lifecycle', () => {
  let h: PromotionHarness;
  let notifications: Awaited<ReturnType<typeof startNotificationReceiver>>;

  beforeAll(async () => {
    notifications = await startNotificationReceiver();
    const policyFile = await writeTestPolicy((p) => {
      p.approvalValidFor = '8s';
      p.recertification = { notifyBefore: '4s', requestRoles: ['ml-manager'] };
      p.overrides.rollback = ['risk-manager'];
      p.notifications = [{ url: notifications.url, events: ['*'] }];
    });
    h = await startPromotionHarness(policyFile);
  });
  afterAll(async () => {
    await h?.close();
    await notifications?.close();
  });

  const eventsOf = (name: string) => notifications.events.filter((e) => (e.model as { name?: string } | undefined)?.name === name);

  /** A low-tier version below the auto-approval metric: one technical review, then deployed. */
  const deploy = async (name: string) => {
    const handle = await h.submit(await h.manifest({ model: { name, riskTier: 'low' }, metrics: { accuracy: 0.85 } }));
    await waitForStatus(handle, 'IN_REVIEW');
    await sendUpdate(handle, 'decide', { actor: people.rita, gate: 'technical', decision: 'approve' });
    const final = (await handle.result()) as PromotionState;
    expect(final.status).toBe('DEPLOYED');
    return final;
  };
  const approvalOf = async (name: string) =>
    (await h.pool.query<{ status: string; promotion_id: string; valid_until: Date }>('SELECT status, promotion_id, valid_until FROM version_approvals WHERE model_name = $1', [name])).rows[0]!;

  it('notifies before expiry, expires the approval, re-certifies under the current policy, and renews it', async () => {
    const name = `exp-${randomUUID().slice(0, 6)}`;
    const deployed = await deploy(name);
    expect(deployed.approval?.validUntil).toBeDefined();
    expect((await approvalOf(name)).valid_until.toISOString()).toBe(deployed.approval!.validUntil);
    const lifecycle = h.client.workflow.getHandle(environmentWorkflowId(name, 'production'));
    const recertId = recertificationWorkflowId(name, '1.0.0', 'production', 1);

    const started = await waitUntil(() => lifecycle.query(environmentQuery), (s) => s.recertification?.promotionId === recertId);
    expect(started.serving).toMatchObject({ version: '1.0.0', certified: false, approvers: ['rita'] });
    expect(started.timeline.map((e) => e.action)).toEqual(expect.arrayContaining(['version_deployed', 'approval_expiring', 'approval_expired', 'recertification_started']));
    expect((await approvalOf(name)).status).toBe('expired');
    const mine = eventsOf(name).map((e) => e.event);
    expect(mine.indexOf('approval_expiring')).toBeGreaterThanOrEqual(0);
    expect(mine.indexOf('approval_expiring')).toBeLessThan(mine.indexOf('recertification_started') === -1 ? Infinity : mine.indexOf('recertification_started'));
    const expiring = eventsOf(name).find((e) => e.event === 'approval_expiring')!;
    expect(String(expiring.detail)).toMatch(/owner olivia; approved by rita/);

    // The re-certification is a promotion: checks re-run, gates as the policy says.
    const recert = h.client.workflow.getHandle(recertId);
    const inReview = await waitForStatus(recert, 'IN_REVIEW');
    expect(inReview.submitter.id).toBe('modelgate');
    expect(inReview.recertification).toMatchObject({ trigger: 'expiry', sequence: 1 });
    expect(inReview.checks.length).toBeGreaterThan(0);
    await sendUpdate(recert, 'decide', { actor: people.ravi, gate: 'technical', decision: 'approve' });
    const renewed = (await recert.result()) as PromotionState;
    expect(renewed.status).toBe('DEPLOYED');
    expect(renewed.outcome?.reason).toMatch(/re-certified/);

    const after = await waitUntil(() => lifecycle.query(environmentQuery), (s) => s.serving?.certified === true && !s.recertification);
    expect(after.serving?.validUntil).toBe(renewed.approval!.validUntil);
    expect(after.serving?.approvers).toEqual(['ravi']);
    const approval = await approvalOf(name);
    expect(approval).toMatchObject({ status: 'approved', promotion_id: recertId });
    // still one serving row: a re-certification provisions nothing
    const rows = await h.pool.query('SELECT count(*)::int AS n FROM environment_deployments WHERE model_name = $1', [name]);
    expect(rows.rows[0].n).toBe(1);
    await recordHistory('promotion-recertification', recert);
  });

  it('a rollback to a named version needs that version\'s approval to be still valid', async () => {
    const name = `rollback-${randomUUID().slice(0, 6)}`;
    await deploy(name);
    const lifecycle = h.client.workflow.getHandle(environmentWorkflowId(name, 'production'));
    await waitUntil(() => lifecycle.query(environmentQuery), (s) => s.serving?.version === '1.0.0');
    const second = await h.submit(await h.manifest({ model: { name, version: '2.0.0', riskTier: 'low' }, metrics: { accuracy: 0.85 } }));
    await waitForStatus(second, 'IN_REVIEW');
    await sendUpdate(second, 'decide', { actor: people.rita, gate: 'technical', decision: 'approve' });
    await second.result();
    const state = await waitUntil(() => lifecycle.query(environmentQuery), (s) => s.serving?.version === '2.0.0' && s.previous.length === 1);
    // 1.0.0's approval (8 s) runs out while it is not serving.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(state.previous[0]!.validUntil) - Date.now() + 500)));
    const refused = await lifecycle
      .executeUpdate(environmentUpdates.rollback, { args: [{ actor: people.rick, toVersion: '1.0.0', justification: 'error rate doubled after 2.0.0' }] })
      .catch((err: unknown) => err);
    expect((refused as WorkflowUpdateFailedError).cause?.message).toMatch(/the approval of 1\.0\.0 for production expired at .*: a rollback needs a still-valid approval/);
    expect((await lifecycle.query(environmentQuery)).serving?.version).toBe('2.0.0');
  });

  it('drift starts a re-certification at once (role-checked, one at a time); a failed one revokes the approval', async () => {
    const name = `drift-${randomUUID().slice(0, 6)}`;
    await deploy(name);
    const lifecycle = h.client.workflow.getHandle(environmentWorkflowId(name, 'production'));
    await waitUntil(() => lifecycle.query(environmentQuery), (s) => s.serving?.version === '1.0.0');

    const refused = await lifecycle
      .executeUpdate(environmentUpdates.recertify, { args: [{ actor: people.rita, trigger: 'drift', reason: 'PSI 0.4' }] })
      .catch((err: unknown) => err);
    expect((refused as WorkflowUpdateFailedError).cause?.message).toMatch(/needs one of the roles: ml-manager/);

    const { promotionId } = await lifecycle.executeUpdate(environmentUpdates.recertify, {
      args: [{ actor: people.max, trigger: 'drift', reason: 'PSI 0.4 on amount', requestId: 'drift-1' }],
    });
    expect(promotionId).toBe(recertificationWorkflowId(name, '1.0.0', 'production', 1));
    const twice = await lifecycle
      .executeUpdate(environmentUpdates.recertify, { args: [{ actor: people.max, trigger: 'drift', reason: 'again' }] })
      .catch((err: unknown) => err);
    expect((twice as WorkflowUpdateFailedError).cause?.message).toMatch(/already running/);

    const recert = h.client.workflow.getHandle(promotionId);
    const review = await waitForStatus(recert, 'IN_REVIEW');
    expect(review.recertification).toMatchObject({ trigger: 'drift', requestedBy: 'max', reason: 'PSI 0.4 on amount', excluded: ['sam', 'max'] });
    // Neither the version's original submitter nor the drift reporter may decide, whatever roles they present.
    for (const id of ['sam', 'max']) {
      const refusal = await sendUpdate(recert, 'decide', { actor: { id, roles: ['ml-reviewer'] }, gate: 'technical', decision: 'approve' }).catch((err: unknown) => err);
      expect((refusal as WorkflowUpdateFailedError).cause?.message).toMatch(new RegExp(`separation of duties: ${id} submitted the version being re-certified or asked for its re-certification`));
    }
    await sendUpdate(recert, 'decide', { actor: people.ravi, gate: 'technical', decision: 'reject', comment: 'drift confirmed; retrain' });
    expect(((await recert.result()) as PromotionState).status).toBe('REJECTED');

    const failed = await waitUntil(() => lifecycle.query(environmentQuery), (s) => !s.recertification && s.serving?.certified === false);
    expect(failed.timeline.map((e) => e.action)).toContain('recertification_failed');
    await waitUntil(() => approvalOf(name), (a) => a.status === 'revoked');
    await waitUntil(async () => eventsOf(name).map((e) => e.event), (events) => events.includes('recertification_failed'));
    // an uncertified version waits for people: no new re-certification starts by itself
    await new Promise((r) => setTimeout(r, 1_000));
    expect((await lifecycle.query(environmentQuery)).recertification).toBeUndefined();
    await recordHistory('environment-lifecycle-drift', lifecycle);
    await recordHistory('environment-lifecycle-named-activities', lifecycle);
  });
});
