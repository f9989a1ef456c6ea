// What each message a promotion accepts changes: one apply step per row of the message table
// (src/shared/message-table.ts), run by the PromotionMachine once the rules accepted the message.
// Deterministic.
import { eligibleRoles, validApprovals } from '../policy/evaluate';
import type { CheckName } from '../shared/checks';
import type { MessageKind } from '../shared/message-table';
import type { MessagePayloads, PromotionState } from '../shared/promotion';
import type { PromotionMachine } from './promotion-machine';

/** What each accepted message changes; returns the summary its sender reads. */
export const MESSAGE_EFFECTS: { [K in MessageKind]: (m: PromotionMachine, payload: MessagePayloads[K]) => string } = {
  decide(m, p) {
    const { state } = m;
    const gate = m.gate(p.gate);
    gate.signatures.push({
      actorId: p.actor.id,
      roles: p.actor.roles,
      decision: p.decision,
      ...(p.comment ? { comment: p.comment } : {}),
      at: m.now(),
      requestId: p.requestId,
      evidenceDigest: state.evidenceDigest ?? '',
    });
    m.record(p.actor.id, `decision_${p.decision}`, { gate: gate.name, comment: p.comment, evidenceDigest: state.evidenceDigest });
    if (p.decision === 'reject') {
      gate.status = 'rejected';
      gate.decidedAt = m.now();
      m.end('REJECTED', p.actor.id, `gate ${gate.name} rejected: ${p.comment}`);
      return `rejected at gate ${gate.name}`;
    }
    if (p.decision === 'request_changes') {
      gate.status = 'changes_requested';
      gate.decidedAt = m.now();
      state.status = 'CHANGES_REQUESTED';
      state.remediationDeadline = new Date(Date.now() + m.policy.remediationWindowMs).toISOString();
      m.effects.notify({ event: 'changes_requested', gate: gate.name, deadline: state.remediationDeadline, detail: p.comment });
      return `changes requested at gate ${gate.name}; revision due by ${state.remediationDeadline}`;
    }
    const count = validApprovals(gate);
    if (count < gate.quorum) return `approved gate ${gate.name} (${count}/${gate.quorum})`;
    gate.status = 'approved';
    gate.decidedAt = m.now();
    return `approved gate ${gate.name} (${count}/${gate.quorum}): gate passed`;
  },
  override(m, p) {
    const { state } = m;
    if (p.kind === 'waive_check') {
      state.waivers.push({ check: p.target as CheckName, by: p.actor.id, justification: p.justification, at: m.now(), evidenceDigest: state.evidenceDigest ?? '' });
      m.record(p.actor.id, 'override_waive_check', { check: p.target, justification: p.justification, breakGlass: true });
      m.effects.notify({ event: 'override', detail: `check ${p.target} waived by ${p.actor.id}: ${p.justification}` });
      return `check ${p.target} waived`;
    }
    const gate = m.gate(p.target);
    gate.status = 'forced';
    gate.decidedAt = m.now();
    gate.forced = { by: p.actor.id, justification: p.justification, at: m.now() };
    m.record(p.actor.id, 'override_force_gate', { gate: gate.name, justification: p.justification, breakGlass: true });
    m.effects.notify({ event: 'override', gate: gate.name, detail: `gate ${gate.name} forced by ${p.actor.id}: ${p.justification}` });
    return `gate ${gate.name} forced`;
  },
  expedite(m, p) {
    m.state.expedited = { by: p.actor.id, reason: p.reason, at: m.now() };
    for (const gate of m.openGates()) m.shortenDeadlines(gate);
    m.record(p.actor.id, 'expedited', { reason: p.reason });
    for (const gate of m.openGates()) {
      m.effects.notify({ event: 'expedited', gate: gate.name, roles: eligibleRoles(gate), deadline: gate.deadlineAt, detail: p.reason });
    }
    return 'expedited: shorter deadlines apply';
  },
  revise(m, p) {
    const { state } = m;
    const { description, ...evidence } = p.changes;
    state.manifest = {
      ...state.manifest,
      ...(evidence as Partial<PromotionState['manifest']>),
      model: description !== undefined ? { ...state.manifest.model, description } : state.manifest.model,
    };
    state.revisions += 1;
    state.status = 'VALIDATING';
    state.remediationDeadline = undefined;
    m.record(p.actor.id, 'revised', { fields: Object.keys(p.changes), comment: p.comment });
    return `revision ${state.revisions} accepted; checks re-run`;
  },
  withdraw(m, p) {
    m.end('WITHDRAWN', p.actor.id, p.reason);
    return 'withdrawn';
  },
};

