// The lifecycle machines without Temporal: the message table's rules and effects, deadlines and
// the approval clock, driven directly (the workflow tests run the same machines on a real server).
import path from 'node:path';
import { PromotionManifestSchema } from '../../src/manifest/schema';
import { loadPolicyFile } from '../../src/policy/load';
import { resolvePolicy } from '../../src/policy/resolve';
import type { ResolvedPolicy } from '../../src/policy/resolved';
import type { CheckResult } from '../../src/shared/checks';
import type { EnvironmentAnnouncement, ServingVersion } from '../../src/shared/environment';
import { MESSAGE_KINDS, PROMOTION_MESSAGES, payloadProblem, statesAccepting } from '../../src/shared/message-table';
import type { MessagePayloads, PromotionStatus } from '../../src/shared/promotion';
import { PROMOTION_STATUSES } from '../../src/shared/promotion';
import { EnvironmentMachine } from '../../src/workflows/environment-machine';
import { MAX_REFUSED_KEPT, PromotionMachine, type PromotionNotice, submittedState } from '../../src/workflows/promotion-machine';
import { people } from '../support/promotions';

const policyFile = path.join(__dirname, '..', 'fixtures', 'policies', 'workflow-test.yaml');

function manifest(tier: 'low' | 'medium' | 'high' = 'medium') {
  return PromotionManifestSchema.parse({
    model: { name: 'fraud', version: '1.0.0', owner: 'olivia', riskTier: tier },
    target: 'production',
    artifact: { uri: 'file:///models/fraud.safetensors', sha256: 'a'.repeat(64), format: 'safetensors' },
    lineage: { codeCommit: '0123abcd' },
    metrics: { accuracy: 0.93 },
    modelCard: { intendedUse: 'Scoring card fraud in tests', limitations: 'Synthetic test data only' },
  });
}

const passing = (name: CheckResult['name']): CheckResult => ({ name, status: 'pass', required: true, summary: 'ok', findings: [], metrics: {}, durationMs: 1 });

async function machine(tier: 'low' | 'medium' | 'high' = 'medium') {
  const loaded = await loadPolicyFile(policyFile);
  const m = manifest(tier);
  const policy: ResolvedPolicy = resolvePolicy(loaded, m);
  const notices: PromotionNotice[] = [];
  let published = 0;
  const state = submittedState({ promotionId: 'p-1', manifest: m, submitter: people.sam, submittedAt: new Date().toISOString(), policy });
  const pm = new PromotionMachine(state, policy, { notify: (n) => notices.push(n), publish: () => (published += 1) }, undefined, true);
  return { pm, notices, published: () => published };
}

/** Into review: the checks passed with this evidence. */
function intoReview(pm: PromotionMachine) {
  pm.state.checks = (['integrity', 'security', 'performance', 'modelCard', 'lineage'] as const).map(passing);
  pm.state.evidenceDigest = 'e'.repeat(64);
  pm.afterChecks();
}

const decide = (actor: { id: string; roles: string[] }, gate: string, requestId = `${actor.id}-${gate}`): MessagePayloads['decide'] => ({
  actor,
  requestId,
  gate,
  decision: 'approve',
});

describe('the message table', () => {
  it('names every kind once, with a path, a body and the states that accept it', () => {
    expect(MESSAGE_KINDS).toEqual(['decide', 'override', 'expedite', 'revise', 'withdraw']);
    expect(new Set(MESSAGE_KINDS.map((k) => PROMOTION_MESSAGES[k].path)).size).toBe(MESSAGE_KINDS.length);
    for (const kind of MESSAGE_KINDS) {
      for (const status of statesAccepting(kind)) expect(PROMOTION_STATUSES).toContain(status);
    }
    expect([...statesAccepting('override')].sort()).toEqual(['CHECKS_FAILED', 'IN_REVIEW']);
  });

  it('checks a payload by the same schema the API uses, naming the field', () => {
    expect(payloadProblem('decide', null)).toBe('payload: must be an object');
    expect(payloadProblem('decide', { nonsense: true })).toBe('actor: must be an object { id, roles }');
    expect(payloadProblem('decide', { actor: { id: '', roles: [] }, requestId: 'r', gate: 'g', decision: 'approve' })).toBe('actor.id: must be a non-empty string');
    expect(payloadProblem('decide', { actor: people.rita, requestId: 'r', gate: 'g', decision: 'maybe' })).toBe('decision: must be one of approve, reject, request_changes');
    expect(payloadProblem('decide', { actor: people.rita, gate: 'g', decision: 'approve' })).toBe('requestId: must be a non-empty string of at most 200 characters');
    expect(payloadProblem('override', { actor: people.rick, requestId: 'r', kind: 'force_gate', target: 'g', justification: 'short' })).toBe(
      'justification: must explain the override in at least 10 characters',
    );
    expect(payloadProblem('revise', { actor: people.sam, requestId: 'r', changes: { artifact: {} } })).toMatch(/^changes\.artifact: cannot be revised/);
    expect(payloadProblem('revise', { actor: people.sam, requestId: 'r', changes: { metrics: { accuracy: 'high' } } })).toMatch(/^changes\.metrics\.accuracy: /);
    expect(payloadProblem('decide', decide(people.rita, 'technical'))).toBeUndefined();
  });
});

describe('PromotionMachine', () => {
  it('opens the first stage in review, takes a decision, and refuses the submitter, the owner and a second signature', async () => {
    const { pm, notices } = await machine();
    intoReview(pm);
    expect(pm.state.status).toBe('IN_REVIEW');
    expect(pm.reviewStep()).toBeUndefined(); // no deadline on these gates: wait for a message
    expect(pm.openGates().map((g) => g.name)).toEqual(['technical']);
    expect(notices.map((n) => n.event)).toEqual(['gate_opened']);

    expect(pm.refusalOf('decide', decide({ id: 'sam', roles: ['ml-reviewer'] }, 'technical'))).toEqual({ kind: 'forbidden', reason: expect.stringMatching(/^separation of duties: sam submitted/) });
    expect(pm.refusalOf('decide', decide(people.olivia, 'technical'))).toEqual({ kind: 'forbidden', reason: expect.stringMatching(/^separation of duties: olivia owns/) });
    expect(pm.refusalOf('decide', decide(people.bo, 'technical'))?.kind).toBe('forbidden');
    expect(pm.refusalOf('decide', decide(people.rita, 'nope'))?.kind).toBe('policy');
    expect(pm.refusalOf('revise', { actor: people.sam, requestId: 'x', changes: { metrics: { accuracy: 0.9 } } })?.kind).toBe('conflict');

    const result = pm.receive('decide', decide(people.rita, 'technical'), 'update');
    expect(result).toMatchObject({ message: 'decide', status: 'IN_REVIEW', summary: 'approved gate technical (1/1): gate passed' });
    expect(pm.receive('decide', decide(people.rita, 'technical'), 'update')).toBe(result); // a repeat answers with the first result
    expect(pm.changes).toBe(1);
    expect(pm.reviewStep()).toBeUndefined();
    expect(pm.openGates().map((g) => g.name)).toEqual(['business']);
    pm.receive('decide', decide(people.bo, 'business'), 'update');
    expect(pm.reviewStep()).toBe('done');
    expect(pm.state.status).toBe('APPROVED');
  });

  it('throws a refused Update as its typed failure; a refused Signal is recorded, bounded, and changes nothing', async () => {
    const { pm } = await machine();
    intoReview(pm);
    pm.reviewStep();
    expect(() => pm.receive('decide', decide(people.bo, 'technical'), 'update')).toThrow(expect.objectContaining({ type: 'MessageForbidden' }));
    for (let i = 0; i < MAX_REFUSED_KEPT + 5; i++) expect(pm.receive('decide', decide(people.bo, 'technical', `flood-${i}`), 'signal')).toBeUndefined();
    expect(pm.state.refused).toHaveLength(MAX_REFUSED_KEPT);
    expect(pm.state.refusedTotal).toBe(MAX_REFUSED_KEPT + 5);
    expect(pm.state.refused.at(-1)?.requestId).toBe(`flood-${MAX_REFUSED_KEPT + 4}`);
    expect(pm.state.timeline.filter((e) => e.action === 'refused')).toHaveLength(MAX_REFUSED_KEPT);
    expect(pm.changes).toBe(0);
  });

  it('names the next deadline for the Temporal UI, escalates at the SLA and ends at the deadline', async () => {
    const { pm, notices } = await machine('high');
    intoReview(pm);
    pm.reviewStep();
    for (const who of [people.rita, people.ravi]) pm.receive('decide', decide(who, 'technical'), 'update');
    pm.receive('decide', decide(people.sec, 'security'), 'update');
    const next = pm.reviewStep();
    expect(next).toMatchObject({ summary: 'SLA legal' });
    const legal = pm.gate('legal');
    legal.slaAt = new Date(Date.now() - 1).toISOString();
    expect(pm.reviewStep()).toMatchObject({ summary: 'deadline legal' });
    expect(legal.escalated).toBe(true);
    expect(notices.map((n) => n.event)).toEqual(expect.arrayContaining(['sla_reminder', 'escalated']));
    legal.deadlineAt = new Date(Date.now() - 1).toISOString();
    expect(pm.reviewStep()).toBe('done');
    expect(pm.state.status).toBe('REJECTED'); // onTimeout: reject
  });

  it('waives a failed check by break-glass and clears it; a revision voids approvals on the old evidence', async () => {
    const { pm } = await machine();
    pm.state.checks = [{ ...passing('lineage'), status: 'fail' }, passing('integrity')];
    pm.state.evidenceDigest = 'e'.repeat(64);
    pm.afterChecks();
    expect(pm.state.status).toBe('CHECKS_FAILED');
    expect(pm.refusalOf('override', { actor: people.rick, requestId: 'w', kind: 'waive_check', target: 'integrity', justification: 'a long enough reason' })?.kind).toBe('policy');
    pm.receive('override', { actor: people.rick, requestId: 'w', kind: 'waive_check', target: 'lineage', justification: 'a long enough reason' }, 'update');
    expect(pm.clearWaivedChecks()).toBe(true);
    expect(pm.state.status).toBe('IN_REVIEW');
    pm.reviewStep();
    pm.receive('decide', decide(people.rita, 'technical'), 'update');
    pm.state.evidenceDigest = 'f'.repeat(64);
    pm.voidStaleApprovals();
    expect(pm.gate('technical').status).toBe('waiting');
    expect(pm.gate('technical').signatures[0]!.void).toBe(true);
  });

  it('ends EXPIRED once the remediation window has passed', async () => {
    const { pm } = await machine();
    pm.state.status = 'CHANGES_REQUESTED';
    pm.state.remediationDeadline = new Date(Date.now() + 60_000).toISOString();
    expect(pm.remediationLeft('late')).toBeGreaterThan(0);
    pm.state.remediationDeadline = new Date(Date.now() - 1).toISOString();
    expect(pm.remediationLeft('late')).toBe(0);
    expect(pm.state.outcome).toMatchObject({ status: 'EXPIRED', reason: 'late' });
  });

  it('accepts each message only in the states the table names', async () => {
    const withdraw = { actor: people.sam, requestId: 'w', reason: 'no longer needed' };
    for (const status of PROMOTION_STATUSES) {
      const { pm } = await machine();
      pm.state.status = status as PromotionStatus;
      expect(pm.refusalOf('withdraw', withdraw) === undefined).toBe(statesAccepting('withdraw').has(status));
    }
  });
});

describe('EnvironmentMachine', () => {
  const serving = (version: string, validForMs: number): ServingVersion => ({
    version,
    promotionId: `p-${version}`,
    manifest: { ...manifest(), model: { ...manifest().model, version } },
    approvedAt: new Date().toISOString(),
    validUntil: new Date(Date.now() + validForMs).toISOString(),
    approvers: ['rita'],
    submitter: 'sam',
    certified: true,
  });
  const deployed = (s: ServingVersion): EnvironmentAnnouncement => ({
    kind: 'deployed',
    model: 'fraud',
    environment: 'production',
    purpose: 'promotion',
    serving: s,
    policy: { name: 'p', version: '1', rollbackRoles: ['ml-manager'], requestRoles: ['risk-manager'], approvalValidForMs: 1000, notifyBeforeMs: 60_000, notifications: [] },
  });

  it('keeps earlier versions as rollback targets and refuses what the rules refuse', () => {
    const revoked: string[] = [];
    const m = new EnvironmentMachine({ model: 'fraud', environment: 'production', previous: [], recertifications: 0, rollbacks: 0, timeline: [] }, undefined, {
      notify: () => undefined,
      revokeApproval: (v) => revoked.push(v),
      publish: () => undefined,
    });
    m.announced(deployed(serving('1', 3_600_000)));
    m.announced(deployed(serving('2', 3_600_000)));
    expect(m.state.serving?.version).toBe('2');
    expect(m.state.previous.map((v) => v.version)).toEqual(['1']);
    expect(m.rollbackRefusal({ actor: people.rita, justification: 'bad latency' })?.kind).toBe('forbidden');
    expect(m.rollbackRefusal({ actor: people.max, justification: ' ' })?.kind).toBe('invalid');
    expect(m.rollbackRefusal({ actor: { id: '', roles: [] }, justification: 'bad latency' })).toEqual({ kind: 'invalid', reason: 'actor.id: must be a non-empty string' });
    expect(m.recertifyRefusal({ trigger: 'drift', reason: 'x' } as never)).toEqual({ kind: 'invalid', reason: 'actor: must be an object { id, roles }' });
    expect(m.rollbackRefusal({ actor: people.max, justification: 'bad latency', toVersion: '7' })).toMatchObject({ kind: 'conflict', reason: expect.stringMatching(/^7 did not serve/) });
    expect(m.rollbackRefusal({ actor: people.max, justification: 'bad latency' })).toBeUndefined();
    expect(m.recertifyRefusal({ actor: people.rick, trigger: 'drift', reason: 'drift seen' })).toBeUndefined();
    expect(m.recertifyRefusal({ actor: people.rick, trigger: 'expiry' as never, reason: 'x' })?.kind).toBe('invalid');
  });

  it('names the approval notice, then the expiry, then expires', () => {
    const m = new EnvironmentMachine({ model: 'fraud', environment: 'production', previous: [], recertifications: 0, rollbacks: 0, timeline: [] }, undefined, {
      notify: () => undefined,
      revokeApproval: () => undefined,
      publish: () => undefined,
    });
    expect(m.expiryStep()).toEqual({ kind: 'idle' });
    m.announced(deployed(serving('1', 3_600_000)));
    expect(m.expiryStep()).toMatchObject({ kind: 'wait', summary: 'approval notice' });
    m.state.serving!.validUntil = new Date(Date.now() + 30_000).toISOString();
    expect(m.expiryStep()).toMatchObject({ kind: 'wait', summary: 'approval expiry' });
    expect(m.state.timeline.map((e) => e.action)).toContain('approval_expiring');
    m.state.serving!.validUntil = new Date(Date.now() - 1).toISOString();
    expect(m.expiryStep()).toMatchObject({ kind: 'expired' });
    expect(m.state.serving!.certified).toBe(false);
  });
});
