// What the signed-in reviewer may try on a promotion, by role, as the policy says. This only
// decides what the page offers: the workflow decides for itself, and its refusals are shown.
import { blockingChecks, eligibleRoles, hasAnyRole, separationOfDutiesRefusal } from '../../src/policy/evaluate';
import type { Policy } from '../../src/policy/schema';
import { PROMOTION_MESSAGES, statesAccepting } from '../../src/shared/message-table';
import type { Actor, GateState, PromotionState, PromotionStatus } from '../../src/shared/promotion';

/** The states that accept each message the page offers, as the message table says. */
const DECIDABLE_IN: readonly PromotionStatus[] = PROMOTION_MESSAGES.decide.acceptedIn.any;
const WAIVABLE_IN: readonly PromotionStatus[] = PROMOTION_MESSAGES.override.acceptedIn.waive_check;
const FORCIBLE_IN: readonly PromotionStatus[] = PROMOTION_MESSAGES.override.acceptedIn.force_gate;
const EXPEDITABLE_IN = statesAccepting('expedite');

/** An open gate the reviewer holds a role for, with the separation-of-duties reason that will refuse them, if any. */
export interface DecidableGate {
  gate: GateState;
  /** Why the workflow will refuse this reviewer's decision (submitter, owner, signed already); the form is still offered. */
  separationWarning?: string;
}

/** Open gates of a promotion in review that one of the reviewer's roles may sign (escalation roles once escalated). */
export function decidableGates(state: PromotionState, actor: Actor, policy: Policy | undefined): DecidableGate[] {
  if (!DECIDABLE_IN.includes(state.status)) return [];
  const separationOfDuties = policy?.separationOfDuties ?? { allowSamePersonOnMultipleGates: false };
  return state.stages
    .flatMap((stage) => stage.gates)
    .filter((gate) => gate.status === 'open' && hasAnyRole(actor, eligibleRoles(gate)))
    .map((gate) => {
      const warning = separationOfDutiesRefusal(state, { separationOfDuties }, gate, actor);
      return warning ? { gate, separationWarning: warning } : { gate };
    });
}

/** The break-glass and expedite actions the reviewer's roles allow on the promotion now. */
export interface ManagerActions {
  /** Blocking checks the reviewer may waive (the promotion is CHECKS_FAILED). */
  waivableChecks: string[];
  /** Open gates the reviewer may force (the promotion is IN_REVIEW). */
  forcibleGates: string[];
  /** Whether the reviewer holds an expedite role (and the promotion can still be expedited). */
  canExpedite: boolean;
  /** Whether the reviewer holds any override or expedite role of the policy at all. */
  holdsManagerRole: boolean;
}

/** What {@link ManagerActions} the reviewer may take; nothing without the policy (unknown roles). */
export function managerActions(state: PromotionState, actor: Actor, policy: Policy | undefined): ManagerActions {
  const overrides = policy?.overrides ?? { waiveCheck: [], forceGate: [], expedite: [], withdraw: [] };
  const mayWaive = hasAnyRole(actor, overrides.waiveCheck);
  const mayForce = hasAnyRole(actor, overrides.forceGate);
  const mayExpedite = hasAnyRole(actor, overrides.expedite);
  return {
    waivableChecks: mayWaive && WAIVABLE_IN.includes(state.status) ? blockingChecks(state.checks, state.waivers, state.evidenceDigest) : [],
    forcibleGates:
      mayForce && FORCIBLE_IN.includes(state.status)
        ? state.stages.flatMap((s) => s.gates).filter((g) => g.status === 'open').map((g) => g.name)
        : [],
    canExpedite: mayExpedite && EXPEDITABLE_IN.has(state.status) && !state.expedited,
    holdsManagerRole: mayWaive || mayForce || mayExpedite,
  };
}
