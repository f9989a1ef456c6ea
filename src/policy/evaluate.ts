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
  if (actor.id === state.submitter.id) {
    return `separation of duties: ${actor.id} submitted this promotion and cannot decide on it`;
  }
  if (actor.id === ownerOf(state)) {
    return `separation of duties: ${actor.id} owns model ${state.manifest.model.name} and cannot decide on it`;
  }
  if (state.recertification?.excluded?.includes(actor.id)) {
    return `separation of duties: ${actor.id} submitted the version being re-certified or asked for its re-certification, and cannot decide on it`;
  }
  if (gate.signatures.some((s) => s.actorId === actor.id && !s.void)) {
    return `${actor.id} has already decided on gate "${gate.name}"; one person counts once`;
  }
  if (!policy.separationOfDuties.allowSamePersonOnMultipleGates) {
    for (const stage of state.stages) {
      for (const other of stage.gates) {
        if (other.name !== gate.name && other.signatures.some((s) => s.actorId === actor.id && !s.void)) {
          return `separation of duties: ${actor.id} already signed gate "${other.name}"; one person counts once per promotion`;
        }
      }
    }
  }
  return undefined;
}

/** True when the actor holds at least one of the roles. */
export function hasAnyRole(actor: Actor, roles: readonly string[]): boolean {
  return actor.roles.some((r) => roles.includes(r));
}
