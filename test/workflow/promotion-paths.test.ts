import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import type { PromotionState } from '../../src/shared/promotion';
import { stateQuery } from '../../src/shared/messages';
import { archiveAuditRecords, readAuditArchive } from '../../src/audit/archive';
import { verifyChain } from '../../src/audit/chain';
import { auditRecordOf } from '../../src/audit/timeline';
import { PROMOTION_CHANGE_BASELINES, PROMOTION_CHANGES, PROMOTION_CHANGES_BASELINE } from '../../src/workflows/promotion-changes';
import { recordHistory } from '../support/histories';
import { people, type PromotionHarness, sendUpdate, startPromotionHarness, waitForState, waitForStatus } from '../support/promotions';

jest.setTimeout(90_000);

/** Expects an Update to be refused with a reason matching `reason`. */
async function expectRefused(update: Promise<unknown>, reason: RegExp): Promise<void> {
  const error = await update.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  expect((error as WorkflowUpdateFailedError).cause?.message).toMatch(reason);
}

const approve = (handle: WorkflowHandle, actor: (typeof people)[keyof typeof people], gate: string, requestId?: string) =>
  sendUpdate(handle, 'decide', { actor, gate, decision: 'approve', comment: 'looks right', ...(requestId ? { requestId } : {}) });

const final = async (handle: WorkflowHandle) => (await handle.result()) as PromotionState;

describe('PromotionWorkflow paths on the real dev server', () => {
  let h: PromotionHarness;
  beforeAll(async () => {
    h = await startPromotionHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('auto-approves a low-risk model whose checks all pass, then deploys it', async () => {
    const manifest = await h.manifest({ model: { riskTier: 'low' } });
    const handle = await h.submit(manifest);
    const result = await final(handle);
    expect(result.checks.map((c) => [c.name, c.status]).sort()).toEqual(
      [['integrity', 'pass'], ['lineage', 'pass'], ['modelCard', 'pass'], ['performance', 'pass'], ['security', 'pass']],
    );
    expect(result.status).toBe('DEPLOYED');
    expect(result.timeline.map((t) => t.action)).toEqual(
      expect.arrayContaining(['submitted', 'checks_started', 'checks_completed', 'auto_approved', 'deploying', 'deployed']),
    );
    expect(result.timeline.find((t) => t.action === 'auto_approved')!.actor).toBe('policy@test-1');
    expect(result.policy).toEqual({ name: 'workflow-test', version: 'test-1', digest: h.policy.digest });
    expect(result.stages.every((s) => s.gates.every((g) => g.signatures.length === 0))).toBe(true);

    const serving = await h.pool.query(
      `SELECT version FROM environment_deployments WHERE model_name = $1 AND environment = 'production' AND superseded_at IS NULL`,
      [manifest.model.name],
    );
    expect(serving.rows).toEqual([{ version: '1.0.0' }]);
    const approval = await h.pool.query(`SELECT status, decided_by, evidence_digest FROM version_approvals WHERE model_name = $1`, [manifest.model.name]);
    expect(approval.rows).toEqual([{ status: 'approved', decided_by: 'policy@test-1', evidence_digest: result.evidenceDigest }]);
    const description = await handle.describe();
    expect(description.searchAttributes.PromotionStatus).toEqual(['DEPLOYED']);
    await recordHistory('promotion-auto-approve', handle);
  });

  it('a low-risk model below the auto-approval metric goes to human review instead', async () => {
    const handle = await h.submit(await h.manifest({ model: { riskTier: 'low' }, metrics: { accuracy: 0.85 } }));
    const state = await waitForStatus(handle, 'IN_REVIEW');
    expect(state.timeline.find((t) => t.action === 'auto_approval_not_applicable')?.detail).toEqual({
      reasons: ['metric accuracy = 0.85 is below 0.9'],
    });
    await sendUpdate(handle, 'withdraw', { actor: people.sam, reason: 'test done' });
  });

  it('walks a high-risk promotion through three stages of parallel gates with quorum 2 on technical', async () => {
    // personal data in training data raises medium to high for production
    const manifest = await h.manifest({
      model: { riskTier: 'medium' },
      lineage: { trainingData: { uri: 's3://data/x', classification: 'internal', containsPersonalData: true } },
    });
    const handle = await h.submit(manifest);
    let state = await waitForStatus(handle, 'IN_REVIEW');
    expect(state.effectiveTier).toBe('high');
    expect(state.tierReasons).toEqual(['personal data in training data']);
    expect(state.stages[0]!.gates.map((g) => [g.name, g.status])).toEqual([['technical', 'open'], ['security', 'open']]);
    let description = await handle.describe();
    expect(description.searchAttributes.PendingGates).toEqual(['technical', 'security']);
    expect(description.searchAttributes.PendingRoles).toEqual(['ml-reviewer', 'security-reviewer']);

    // a later stage's gate is not open yet
    await expectRefused(approve(handle, people.fay, 'fairness'), /gate "fairness" is not open \(it is waiting\)/);

    const first = await approve(handle, people.rita, 'technical');
    expect(first.summary).toBe('approved gate technical (1/2)');
    expect(first.status).toBe('IN_REVIEW');
    await approve(handle, people.sec, 'security');
    const second = await approve(handle, people.ravi, 'technical');
    expect(second.summary).toBe('approved gate technical (2/2): gate passed');

    state = await waitForState(handle, (s) => s.currentStage === 1);
    expect(state.stages[0]!.status).toBe('passed');
    expect(state.stages[1]!.gates.map((g) => g.status)).toEqual(['open', 'open']);
    await approve(handle, people.fay, 'fairness');
    await approve(handle, people.lee, 'legal');
    await waitForState(handle, (s) => s.currentStage === 2);
    description = await handle.describe();
    expect(description.searchAttributes.PendingRoles).toEqual(['business-owner']);
    await approve(handle, people.bo, 'business');

    const result = await final(handle);
    expect(result.status).toBe('DEPLOYED');
    const signers = result.stages.flatMap((s) => s.gates.flatMap((g) => g.signatures.map((x) => `${g.name}:${x.actorId}`)));
    expect(signers.sort()).toEqual(['business:bo', 'fairness:fay', 'legal:lee', 'security:sec', 'technical:ravi', 'technical:rita']);
    // every approval binds the evidence it saw
    expect(new Set(result.stages.flatMap((s) => s.gates.flatMap((g) => g.signatures.map((x) => x.evidenceDigest))))).toEqual(
      new Set([result.evidenceDigest]),
    );
    await recordHistory('promotion-high-tier-approved', handle);
  });

  /** A promotion approved at both stages of the default policy and deployed. */
  const deployThroughBothStages = async () => {
    const handle = await h.submit(await h.manifest());
    await waitForStatus(handle, 'IN_REVIEW');
    await approve(handle, people.rita, 'technical');
    await waitForState(handle, (s) => s.currentStage === 1);
    await approve(handle, people.bo, 'business');
    expect((await final(handle)).status).toBe('DEPLOYED');
    return handle;
  };

  it('upserts its search attributes only when they changed: no upsert repeats the one before it', async () => {
    const handle = await deployThroughBothStages();

    const { events } = await handle.fetchHistory();
    const upserts = (events ?? []).flatMap((e) => {
      const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
      // The SDK's own upserts (TemporalChangeVersion, with each patch marker) are not the promotion's.
      if (!fields?.PromotionStatus) return [];
      return [Object.fromEntries(Object.keys(fields).sort().map((name) => [name, JSON.parse(Buffer.from(fields[name]!.data ?? new Uint8Array()).toString('utf8')) as unknown]))];
    });
    // What reviewers and operators filter on was published: each status the promotion passed through, the last one DEPLOYED.
    const statuses = upserts.map((u) => [u.PromotionStatus].flat()[0]);
    expect(statuses).toEqual(expect.arrayContaining(['VALIDATING', 'IN_REVIEW', 'DEPLOYED']));
    expect(statuses[statuses.length - 1]).toBe('DEPLOYED');
    const repeats = upserts.filter((u, i) => i > 0 && JSON.stringify(u) === JSON.stringify(upserts[i - 1]));
    expect(repeats).toEqual([]);
    await recordHistory('promotion-search-attributes-when-changed', handle);
  });

  it('publishes once per workflow task: one search-attribute upsert and one memo upsert at most in each', async () => {
    // The technical decision closes stage 0 and opens stage 1 in one task: two steps, one publication.
    const handle = await deployThroughBothStages();

    const { events } = await handle.fetchHistory();
    const perTask: Array<{ searchAttributes: number; memo: number }> = [{ searchAttributes: 0, memo: 0 }];
    for (const e of events ?? []) {
      if (e.workflowTaskCompletedEventAttributes) perTask.push({ searchAttributes: 0, memo: 0 });
      // The SDK's own upsert (TemporalChangeVersion, with the patch marker) is not the promotion's.
      if (e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.PromotionStatus) perTask[perTask.length - 1]!.searchAttributes += 1;
      if (e.workflowPropertiesModifiedEventAttributes) perTask[perTask.length - 1]!.memo += 1;
    }
    expect(perTask.filter((t) => t.searchAttributes > 1 || t.memo > 1)).toEqual([]);
    // Still every status and the stage-1 gate were published.
    expect(perTask.reduce((n, t) => n + t.searchAttributes, 0)).toBeGreaterThanOrEqual(5);
    const summaries = (events ?? []).flatMap((e) => {
      const field = e.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields?.reviewSummary;
      return field?.data ? [JSON.parse(Buffer.from(field.data).toString('utf8')) as { status: string }] : [];
    });
    expect(summaries[summaries.length - 1]!.status).toBe('DEPLOYED');
    await recordHistory('promotion-visibility-once-per-task', handle);
  });

  it('records one patch marker, the baseline of its changes, not a marker per change', async () => {
    // Deployed: the promotion went past every place a change is asked for (checks, approval, deployment, archive).
    const handle = await deployThroughBothStages();

    const { events } = await handle.fetchHistory();
    const text = (payload: { data?: Uint8Array | null } | undefined) => Buffer.from(payload?.data ?? new Uint8Array()).toString('utf8');
    const patches = (events ?? []).flatMap((e) => {
      const marker = e.markerRecordedEventAttributes;
      if (marker?.markerName !== 'core_patch') return [];
      return [(JSON.parse(text(marker.details?.['patch-data']?.payloads?.[0])) as { id: string }).id];
    });
    expect(patches).toEqual([PROMOTION_CHANGES_BASELINE]);
    // The SDK upserts TemporalChangeVersion with each marker: once, naming the baseline.
    const changeVersions = (events ?? []).flatMap((e) => {
      const field = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.TemporalChangeVersion;
      return field ? [JSON.parse(text(field)) as unknown] : [];
    });
    expect(changeVersions).toEqual([[PROMOTION_CHANGES_BASELINE]]);
    await recordHistory(PROMOTION_CHANGES_BASELINE, handle);
  });

  it('the baseline a new promotion records covers every change, and each older baseline fewer', () => {
    expect(PROMOTION_CHANGE_BASELINES[0]!.covers).toBe(PROMOTION_CHANGES.length);
    const covers = PROMOTION_CHANGE_BASELINES.map((b) => b.covers);
    expect(covers).toEqual([...covers].sort((a, b) => b - a));
    expect(new Set(covers).size).toBe(covers.length);
  });

  it('a rejection ends the promotion; rejecting needs a comment', async () => {
    const handle = await h.submit(await h.manifest());
    await waitForStatus(handle, 'IN_REVIEW');
    await expectRefused(
      sendUpdate(handle, 'decide', { actor: people.rita, gate: 'technical', decision: 'reject' }),
      /comment: required to reject/,
    );
    const result = await sendUpdate(handle, 'decide', { actor: people.rita, gate: 'technical', decision: 'reject', comment: 'leaks the label' });
    expect(result.status).toBe('REJECTED');
    const state = await final(handle);
    expect(state.outcome).toMatchObject({ status: 'REJECTED', by: 'rita', reason: 'gate technical rejected: leaks the label' });
    await recordHistory('promotion-rejected', handle);
  });

  it('request changes → revise → checks re-run, approvals on the old evidence are void → re-review → deployed', async () => {
    const handle = await h.submit(await h.manifest());
    await waitForStatus(handle, 'IN_REVIEW');
    await approve(handle, people.rita, 'technical');
    await waitForState(handle, (s) => s.currentStage === 1);
    const requested = await sendUpdate(handle, 'decide', {
      actor: people.bo,
      gate: 'business',
      decision: 'request_changes',
      comment: 'state the limitations for small merchants',
    });
    expect(requested.status).toBe('CHANGES_REQUESTED');
    const before = await handle.query('state');

    // only the submitter revises, and never the artifact
    await expectRefused(sendUpdate(handle, 'revise', { actor: people.rita, changes: { metrics: { accuracy: 0.95 } } }), /only the submitter \(sam\)/);
    await expectRefused(
      sendUpdate(handle, 'revise', { actor: people.sam, changes: { artifact: { sha256: 'f'.repeat(64) } } as never }),
      /changes\.artifact: cannot be revised/,
    );
    const revised = await sendUpdate(handle, 'revise', {
      actor: people.sam,
      changes: { modelCard: { intendedUse: 'Scoring card fraud in tests', limitations: 'Not for merchants under 10 sales a month' } },
    });
    expect(revised.status).toBe('VALIDATING');

    const state = await waitForState(handle, (s) => s.status === 'IN_REVIEW' && s.checkRuns === 2);
    expect(state.evidenceDigest).not.toBe((before as PromotionState).evidenceDigest);
    expect(state.currentStage).toBe(0);
    const technical = state.stages[0]!.gates[0]!;
    expect(technical.status).toBe('open');
    expect(technical.signatures).toEqual([expect.objectContaining({ actorId: 'rita', void: true })]);
    expect(state.timeline.map((t) => t.action)).toContain('approvals_voided');

    await approve(handle, people.rita, 'technical'); // her earlier approval is void, so she may sign again
    await waitForState(handle, (s) => s.currentStage === 1);
    await approve(handle, people.bo, 'business');
    expect((await final(handle)).status).toBe('DEPLOYED');
    await recordHistory('promotion-changes-requested-revised', handle);
  });

  it('failed checks wait in CHECKS_FAILED until a risk manager waives them (break-glass, flagged)', async () => {
    const manifest = await h.manifest();
    manifest.artifact.sha256 = '0'.repeat(64); // the declared digest is wrong
    const handle = await h.submit(manifest);
    let state = await waitForStatus(handle, 'CHECKS_FAILED');
    expect(state.checks.find((c) => c.name === 'integrity')!.status).toBe('fail');
    // The scan is bound to the declared digest: bytes that are not the declared artifact fail it too.
    expect(state.checks.find((c) => c.name === 'security')!.findings[0]!.kind).toBe('scanned_bytes_not_declared');
    expect((await handle.describe()).searchAttributes.PromotionStatus).toEqual(['CHECKS_FAILED']);

    await expectRefused(
      sendUpdate(handle, 'override', { actor: people.max, kind: 'waive_check', target: 'integrity', justification: 'digest was re-verified by hand' }),
      /max may not waive checks \(needs one of: risk-manager\)/,
    );
    await expectRefused(
      sendUpdate(handle, 'override', { actor: people.rick, kind: 'waive_check', target: 'lineage', justification: 'digest was re-verified by hand' }),
      /check "lineage" is not blocking/,
    );
    await expectRefused(
      sendUpdate(handle, 'override', { actor: people.rick, kind: 'waive_check', target: 'integrity', justification: 'ok' }),
      /justification: must explain/,
    );
    const waived = await sendUpdate(handle, 'override', {
      actor: people.rick,
      kind: 'waive_check',
      target: 'integrity',
      justification: 'digest mismatch is a known packaging bug, artifact verified by hand',
    });
    expect(waived.summary).toBe('check integrity waived');
    expect((await handle.query(stateQuery)).status).toBe('CHECKS_FAILED');
    await sendUpdate(handle, 'override', {
      actor: people.rick,
      kind: 'waive_check',
      target: 'security',
      justification: 'the scanned bytes are the artifact verified by hand under its real digest',
    });
    state = await waitForStatus(handle, 'IN_REVIEW');
    expect(state.waivers).toEqual([expect.objectContaining({ check: 'integrity', by: 'rick' }), expect.objectContaining({ check: 'security', by: 'rick' })]);
    expect(state.timeline.find((t) => t.action === 'override_waive_check')!.detail).toMatchObject({ breakGlass: true });
    await sendUpdate(handle, 'withdraw', { actor: people.sam, reason: 'test done' });
    await recordHistory('promotion-checks-failed-waived', handle);
  });

  it('a failed-checks promotion without revision or waiver expires after the remediation window', async () => {
    const manifest = await h.manifest();
    manifest.artifact.sha256 = '1'.repeat(64);
    const handle = await h.submit(manifest);
    await waitForStatus(handle, 'CHECKS_FAILED');
    const state = await final(handle);
    expect(state.status).toBe('EXPIRED');
    expect(state.outcome!.reason).toMatch(/remediation window/);
  });

  it('a risk manager forces a gate (break-glass); the promotion moves on', async () => {
    const handle = await h.submit(await h.manifest());
    await waitForStatus(handle, 'IN_REVIEW');
    await expectRefused(
      sendUpdate(handle, 'override', { actor: people.rick, kind: 'force_gate', target: 'business', justification: 'outage fix must ship tonight' }),
      /gate "business" is not open/,
    );
    await sendUpdate(handle, 'override', { actor: people.rick, kind: 'force_gate', target: 'technical', justification: 'outage fix must ship tonight' });
    const state = await waitForState(handle, (s) => s.currentStage === 1);
    expect(state.stages[0]!.gates[0]).toMatchObject({ status: 'forced', forced: { by: 'rick', justification: 'outage fix must ship tonight' } });
    await approve(handle, people.bo, 'business');
    expect((await final(handle)).status).toBe('DEPLOYED');
    await recordHistory('promotion-forced-gate', handle);
  });

  it('withdraw: the submitter may, a reviewer may not', async () => {
    const handle = await h.submit(await h.manifest());
    await waitForStatus(handle, 'IN_REVIEW');
    await expectRefused(sendUpdate(handle, 'withdraw', { actor: people.bo, reason: 'not needed' }), /only the submitter \(sam\)/);
    const result = await sendUpdate(handle, 'withdraw', { actor: people.sam, reason: 'superseded by 1.0.1' });
    expect(result.status).toBe('WITHDRAWN');
    const state = await final(handle);
    expect(state.outcome).toMatchObject({ status: 'WITHDRAWN', by: 'sam', reason: 'superseded by 1.0.1' });
    await expectRefused(approve(handle, people.rita, 'technical'), /./).catch(() => undefined);
    await recordHistory('promotion-withdrawn', handle);
  });

  it('a withdrawal while the checks run cancels them and closes the promotion', async () => {
    for (let i = 0; i < 3; i++) {
      const handle = await h.submit(await h.manifest());
      await handle.query('state'); // a query in between must not disturb the update
      const result = await sendUpdate(handle, 'withdraw', { actor: people.sam, reason: 'submitted by mistake' });
      expect(result.status).toBe('WITHDRAWN');
      expect((await final(handle)).status).toBe('WITHDRAWN');
    }
  });

  it('a repeated requestId returns the first result, counts once and leaves nothing in the history', async () => {
    const handle = await h.submit(await h.manifest({ model: { riskTier: 'high' } }));
    await waitForStatus(handle, 'IN_REVIEW');
    const first = await approve(handle, people.rita, 'technical', 'req-1');
    const again = await approve(handle, people.rita, 'technical', 'req-1');
    expect(again).toEqual(first);
    const state = await handle.query('state') as PromotionState;
    expect(state.stages[0]!.gates[0]!.signatures).toHaveLength(1);
    // The repeat was refused with the first result: one accepted Update, so a retry can never be
    // interleaved with the promotion's other work in a workflow task (which replay could not reproduce).
    const accepted = (await handle.fetchHistory()).events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes);
    expect(accepted).toHaveLength(1);
    await sendUpdate(handle, 'withdraw', { actor: people.sam, reason: 'test done' });
  });

  it('a repeated identical submission returns the running promotion, never a second one', async () => {
    const manifest = await h.manifest();
    const handle = await h.submit(manifest);
    const { startPromotion } = await import('../../src/promotions/start');
    const again = await startPromotion(h.client, { manifest, submitter: people.sam, policy: h.policy, taskQueue: h.config.temporal.taskQueue });
    expect(again).toMatchObject({ promotionId: handle.workflowId, existing: true });
    const { PromotionConflict } = await import('../../src/promotions/start');
    await expect(
      startPromotion(h.client, { manifest: { ...manifest, metrics: { accuracy: 0.99 } }, submitter: people.sam, policy: h.policy, taskQueue: h.config.temporal.taskQueue }),
    ).rejects.toBeInstanceOf(PromotionConflict);
    await sendUpdate(handle, 'withdraw', { actor: people.sam, reason: 'test done' });
  });

  it('a promotion id used again after its first run ended continues one audit chain, and a retried archive adds nothing', async () => {
    const manifest = await h.manifest();
    const first = await h.submit(manifest);
    await waitForStatus(first, 'IN_REVIEW');
    await sendUpdate(first, 'withdraw', { actor: people.sam, reason: 'wrong evaluation file' });
    const firstRun = await final(first);
    const second = await h.submit(manifest);
    expect(second.workflowId).toBe(first.workflowId);
    await waitForStatus(second, 'IN_REVIEW');
    await sendUpdate(second, 'withdraw', { actor: people.sam, reason: 'not this week' });
    const secondRun = await final(second);

    const rows = await readAuditArchive(h.pool, first.workflowId);
    expect(rows).toHaveLength(firstRun.timeline.length + secondRun.timeline.length);
    expect(rows.filter((r) => r.action === 'submitted')).toHaveLength(2);
    expect(rows.at(-1)!.detail.reason).toBe('not this week');
    expect(verifyChain(rows)).toMatchObject({ ok: true, events: rows.length });

    const description = await h.client.workflow.getHandle(first.workflowId).describe();
    const again = await archiveAuditRecords(
      h.pool,
      first.workflowId,
      secondRun.timeline.map((e) => auditRecordOf(e, secondRun.policy.version)),
      description.runId,
    );
    expect(again).toBe(0);
  });
});
