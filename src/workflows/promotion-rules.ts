// Whether a promotion accepts a well-formed message (the shape is the message table's):
// state, roles and separation of duties. Pure and synchronous: Update validators and Signal
// handlers share it.
import {
  blockingChecks,
  eligibleRoles,
  hasAnyRole,
  separationOfDutiesRefusal,
} from '../policy/evaluate';
import type { ResolvedPolicy } from '../policy/resolved';
import { CHECK_NAMES } from '../shared/checks';
import { type MessageKind, PROMOTION_MESSAGES } from '../shared/message-table';
import type { GateState, MessagePayloads, MessageRefusal, PromotionState, PromotionStatus } from '../shared/promotion';
import { ownerOf } from '../shared/promotion';

const isText = (v: unknown): v is string => typeof v === 'string' && v.trim().length > 0 && v.length <= 10_000;

const refuse = (kind: MessageRefusal['kind'], reason: string): MessageRefusal => ({ kind, reason });
const forbidden = (reason: string) => refuse('forbidden', reason);
const conflict = (reason: string) => refuse('conflict', reason);
const byPolicy = (reason: string) => refuse('policy', reason);

/** A conflict unless the message table's row accepts the message in `status`. */
function wrongState(status: PromotionStatus, allowed: readonly PromotionStatus[], what: string): MessageRefusal | undefined {
  return allowed.includes(status) ? undefined : conflict(`promotion is ${status}; ${what} only when ${allowed.join(' or ')}`);
}

function findGate(state: PromotionState, name: string): GateState | undefined {
  for (const stage of state.stages) for (const gate of stage.gates) if (gate.name === name) return gate;
  return undefined;
}

function allGateNames(state: PromotionState): string {
  return state.stages.flatMap((s) => s.gates.map((g) => g.name)).join(', ');
}

type Rule<K extends MessageKind> = (payload: MessagePayloads[K], state: PromotionState, policy: ResolvedPolicy) => MessageRefusal | undefined;

/**
 * Why the promotion refuses a well-formed message in its current state, with the kind of
 * refusal, or `undefined` when it accepts it: one rule per row of the message table.
 */
export const MESSAGE_RULES: { [K in MessageKind]: Rule<K> } = {
  decide(p, state, policy) {
    const stateProblem = wrongState(state.status, PROMOTION_MESSAGES.decide.acceptedIn.any, 'decisions are accepted');
    if (stateProblem) return stateProblem;
    const gate = findGate(state, p.gate);
    if (!gate) return byPolicy(`unknown gate "${p.gate}" (gates: ${allGateNames(state)})`);
    if (gate.status !== 'open') return conflict(`gate "${gate.name}" is not open (it is ${gate.status})`);
    const roles = eligibleRoles(gate);
    if (!hasAnyRole(p.actor, roles)) return forbidden(`${p.actor.id} lacks a role of gate "${gate.name}" (needs one of: ${roles.join(', ')})`);
    const sod = separationOfDutiesRefusal(state, policy, gate, p.actor);
    if (sod) return forbidden(sod);
    if (p.decision !== 'approve' && !isText(p.comment)) return byPolicy('comment: required to reject or request changes');
    return undefined;
  },
  override(p, state, policy) {
    const { actor } = p;
    const roles = p.kind === 'waive_check' ? policy.overrides.waiveCheck : policy.overrides.forceGate;
    const what = p.kind === 'waive_check' ? 'waive checks' : 'force gates';
    if (!hasAnyRole(actor, roles)) {
      return forbidden(roles.length === 0 ? `the policy allows no one to ${what}` : `${actor.id} may not ${what} (needs one of: ${roles.join(', ')})`);
    }
    if (actor.id === state.submitter.id) return forbidden(`separation of duties: ${actor.id} submitted this promotion and cannot override on it`);
    if (actor.id === ownerOf(state)) return forbidden(`separation of duties: ${actor.id} owns the model and cannot override on it`);
    if (p.kind === 'waive_check') {
      const stateProblem = wrongState(state.status, PROMOTION_MESSAGES.override.acceptedIn.waive_check, 'checks can be waived');
      if (stateProblem) return stateProblem;
      if (!(CHECK_NAMES as readonly string[]).includes(p.target)) return byPolicy(`unknown check "${p.target}" (checks: ${CHECK_NAMES.join(', ')})`);
      if (!blockingChecks(state.checks, state.waivers, state.evidenceDigest).includes(p.target as never)) {
        return byPolicy(`check "${p.target}" is not blocking the promotion; only failed required checks can be waived`);
      }
      return undefined;
    }
    const stateProblem = wrongState(state.status, PROMOTION_MESSAGES.override.acceptedIn.force_gate, 'gates can be forced');
    if (stateProblem) return stateProblem;
    const gate = findGate(state, p.target);
    if (!gate) return byPolicy(`unknown gate "${p.target}" (gates: ${allGateNames(state)})`);
    if (gate.status !== 'open') return conflict(`gate "${gate.name}" is not open (it is ${gate.status})`);
    return undefined;
  },
  expedite(p, state, policy) {
    if (!hasAnyRole(p.actor, policy.overrides.expedite)) {
      return forbidden(`${p.actor.id} may not expedite (needs one of: ${policy.overrides.expedite.join(', ') || 'no role is allowed'})`);
    }
    const stateProblem = wrongState(state.status, PROMOTION_MESSAGES.expedite.acceptedIn.any, 'a promotion can be expedited');
    if (stateProblem) return stateProblem;
    if (state.expedited) return conflict(`already expedited by ${state.expedited.by} at ${state.expedited.at}`);
    return undefined;
  },
  revise(p, state) {
    if (p.actor.id !== state.submitter.id) return forbidden(`only the submitter (${state.submitter.id}) may revise this promotion`);
    return wrongState(state.status, PROMOTION_MESSAGES.revise.acceptedIn.any, 'revisions are accepted');
  },
  withdraw(p, state, policy) {
    if (p.actor.id !== state.submitter.id && !hasAnyRole(p.actor, policy.overrides.withdraw)) {
      return forbidden(`only the submitter (${state.submitter.id}) or a holder of ${policy.overrides.withdraw.join(', ') || 'an admin role'} may withdraw`);
    }
    if (!PROMOTION_MESSAGES.withdraw.acceptedIn.any.includes(state.status as never)) {
      return conflict(`promotion is ${state.status}; it can no longer be withdrawn`);
    }
    return undefined;
  },
};
