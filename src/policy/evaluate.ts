// Pure, workflow-safe evaluation of a resolved policy: which checks block, whether a
// promotion is auto-approved, who may sign a gate, and separation of duties.
// Imports types only, so the workflow bundle can use it.
import type { CheckName, CheckResult } from '../shared/checks';
import { type Actor, type CheckWaiver, type GateState, ownerOf, type PromotionState } from '../shared/promotion';
import type { ResolvedPolicy } from './resolved';

/** Required checks that failed or could not run, and are not waived for the current evidence. */
export function blockingChecks(checks: CheckResult[], waivers: CheckWaiver[], evidenceDigest?: string): CheckName[] {
  return checks
    .filter((c) => c.required && (c.status === 'fail' || c.status === 'error'))
    .filter((c) => !waivers.some((w) => w.check === c.name && w.evidenceDigest === evidenceDigest))
    .map((c) => c.name);
}

/** Outcome of the auto-approval condition, with the reasons it does not hold. */
export interface AutoApprovalDecision {
  approved: boolean;
  reasons: string[];
}

/**
 * Evaluates the policy's auto-approval condition. Waived checks never count as
 * passed; metrics come from the performance check when it computed them, else from
 * the manifest's declared metrics.
 */
export function evaluateAutoApproval(
  condition: ResolvedPolicy['autoApprove'],
  checks: CheckResult[],
  declaredMetrics: Record<string, number>,
): AutoApprovalDecision {
  if (!condition) return { approved: false, reasons: ['the policy has no auto-approval for this tier'] };
  const reasons: string[] = [];
  if (condition.allChecksPass) {
    for (const check of checks) {
      if (check.status !== 'pass') reasons.push(`check ${check.name} is ${check.status}`);
    }
  }
  const measured = checks.find((c) => c.name === 'performance')?.metrics ?? {};
  for (const [metric, minimum] of Object.entries(condition.minMetrics)) {
    const value = typeof measured[metric] === 'number' ? (measured[metric] as number) : declaredMetrics[metric];
    if (value === undefined) reasons.push(`metric ${metric} is not available`);
    else if (value < minimum) reasons.push(`metric ${metric} = ${value} is below ${minimum}`);
  }
  return { approved: reasons.length === 0, reasons };
}

/** Roles that may sign a gate now: its roles, plus its escalation roles once escalated. */
export function eligibleRoles(gate: GateState): string[] {
  return gate.escalated ? [...new Set([...gate.roles, ...gate.escalateTo])] : gate.roles;
}

/** Approvals that count toward a gate's quorum (not void, one per person). */
export function validApprovals(gate: GateState): number {
  return new Set(gate.signatures.filter((s) => s.decision === 'approve' && !s.void).map((s) => s.actorId)).size;
}

/**
 * What separation of duties looks at in a promotion: who submitted it, who owns the model, who
 * else is excluded, and who holds a standing (not void) signature on which gate. The review
 * queue reads it from a promotion's review summary; decisions read it from the state.
 */
export interface SeparationOfDutiesView {
  submitter: string;
  owner: string;
  model: string;
  /** People excluded from deciding beyond the submitter and owner (a re-certification's). */
  excluded: readonly string[];
  /** Each gate's name and the people with a standing signature on it. */
  signers: ReadonlyArray<{ gate: string; actorIds: readonly string[] }>;
}

/** The people with a standing (not void) signature on `gate`, once each, in signing order. */
export function standingSigners(gate: Pick<GateState, 'signatures'>): string[] {
  return [...new Set(gate.signatures.filter((s) => !s.void).map((s) => s.actorId))];
}

/** The separation-of-duties view of a promotion's state. */
export function separationOfDutiesViewOf(state: PromotionState): SeparationOfDutiesView {
  return {
    submitter: state.submitter.id,
    owner: ownerOf(state),
    model: state.manifest.model.name,
    excluded: state.recertification?.excluded ?? [],
    signers: state.stages.flatMap((stage) => stage.gates.map((gate) => ({ gate: gate.name, actorIds: standingSigners(gate) }))),
  };
}

/**
 * Separation of duties for a decision on `gate`: the submitter and the model owner
 * never decide, and one person counts once per promotion unless the policy allows
 * one person on several gates.
 *
 * @returns the reason the actor may not decide, or `undefined` when they may.
 */
export function separationOfDutiesRefusal(
  state: PromotionState,
  policy: Pick<ResolvedPolicy, 'separationOfDuties'>,
  gate: GateState,
  actor: Actor,
): string | undefined {
  return separationOfDutiesRefusalIn(separationOfDutiesViewOf(state), policy, gate.name, actor);
}

/** {@link separationOfDutiesRefusal} on a promotion's separation-of-duties view. */
export function separationOfDutiesRefusalIn(
  view: SeparationOfDutiesView,
  policy: Pick<ResolvedPolicy, 'separationOfDuties'>,
  gate: string,
  actor: Pick<Actor, 'id'>,
): string | undefined {
  if (actor.id === view.submitter) {
    return `separation of duties: ${actor.id} submitted this promotion and cannot decide on it`;
  }
  if (actor.id === view.owner) {
    return `separation of duties: ${actor.id} owns model ${view.model} and cannot decide on it`;
  }
  if (view.excluded.includes(actor.id)) {
    return `separation of duties: ${actor.id} submitted the version being re-certified or asked for its re-certification, and cannot decide on it`;
  }
  if (view.signers.some((s) => s.gate === gate && s.actorIds.includes(actor.id))) {
    return `${actor.id} has already decided on gate "${gate}"; one person counts once`;
  }
  if (!policy.separationOfDuties.allowSamePersonOnMultipleGates) {
    const other = view.signers.find((s) => s.gate !== gate && s.actorIds.includes(actor.id));
    if (other) return `separation of duties: ${actor.id} already signed gate "${other.gate}"; one person counts once per promotion`;
  }
  return undefined;
}

/** True when the actor holds at least one of the roles. */
export function hasAnyRole(actor: Actor, roles: readonly string[]): boolean {
  return actor.roles.some((r) => roles.includes(r));
}
