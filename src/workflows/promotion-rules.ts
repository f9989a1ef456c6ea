// Whether a promotion accepts a message: payload shape, state, roles and separation of
// duties. Pure and synchronous: Update validators and Signal handlers share it.
import {
  blockingChecks,
  eligibleRoles,
  hasAnyRole,
  separationOfDutiesRefusal,
} from '../policy/evaluate';
import type { ResolvedPolicy } from '../policy/resolved';
import { CHECK_NAMES } from '../shared/checks';
import type { GateState, MessageKind, MessagePayloads, MessageRefusal, PromotionState, PromotionStatus } from '../shared/promotion';
import { ownerOf, TERMINAL_STATUSES } from '../shared/promotion';

const REVISABLE_FIELDS = ['lineage', 'metrics', 'evaluation', 'modelCard', 'description'];
const MIN_JUSTIFICATION = 10;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isText = (v: unknown, max = 10_000): v is string => typeof v === 'string' && v.trim().length > 0 && v.length <= max;

/**
 * Checks the shape of a message payload (the workflow does not trust its callers:
 * operators send Signals by hand).
 *
 * @returns what is wrong, naming the field, or `undefined` when the shape is right.
 */
export function payloadProblem(kind: MessageKind, payload: unknown): string | undefined {
  if (!isObject(payload)) return 'payload: must be an object';
  const actor = payload.actor;
  if (!isObject(actor)) return 'actor: must be an object { id, roles }';
  if (!isText(actor.id, 200)) return 'actor.id: must be a non-empty string';
  if (!Array.isArray(actor.roles) || !actor.roles.every((r) => typeof r === 'string')) {
    return 'actor.roles: must be an array of strings';
  }
  if (!isText(payload.requestId, 200)) return 'requestId: must be a non-empty string of at most 200 characters';
  if (payload.comment !== undefined && typeof payload.comment !== 'string') return 'comment: must be a string';
  if (typeof payload.comment === 'string' && payload.comment.length > 10_000) return 'comment: must be at most 10000 characters';
  switch (kind) {
    case 'decide':
      if (!isText(payload.gate, 200)) return 'gate: must be a gate name';
      if (!['approve', 'reject', 'request_changes'].includes(payload.decision as string)) {
        return 'decision: must be one of approve, reject, request_changes';
      }
      return undefined;
    case 'override':
      if (!['waive_check', 'force_gate'].includes(payload.kind as string)) return 'kind: must be waive_check or force_gate';
      if (!isText(payload.target, 200)) return 'target: must name a check or a gate';
      if (typeof payload.justification !== 'string' || payload.justification.trim().length < MIN_JUSTIFICATION) {
        return `justification: must explain the override in at least ${MIN_JUSTIFICATION} characters`;
      }
      return undefined;
    case 'expedite':
    case 'withdraw':
      if (!isText(payload.reason)) return 'reason: must be a non-empty string';
      return undefined;
    case 'revise': {
      const changes = payload.changes;
      if (!isObject(changes) || Object.keys(changes).length === 0) return 'changes: must be a non-empty object';
      for (const key of Object.keys(changes)) {
        if (key === 'artifact' || key === 'model' || key === 'target') {
          return `changes.${key}: cannot be revised; a new artifact is a new version and a new promotion (with supersedes)`;
        }
        if (!REVISABLE_FIELDS.includes(key)) return `changes.${key}: unknown field (revisable: ${REVISABLE_FIELDS.join(', ')})`;
      }
      if (changes.metrics !== undefined) {
        if (!isObject(changes.metrics) || !Object.values(changes.metrics).every((v) => typeof v === 'number' && Number.isFinite(v))) {
          return 'changes.metrics: must map metric names to numbers';
        }
      }
      for (const key of ['lineage', 'evaluation', 'modelCard']) {
        if (changes[key] !== undefined && !isObject(changes[key])) return `changes.${key}: must be an object`;
      }
      if (changes.description !== undefined && typeof changes.description !== 'string') return 'changes.description: must be a string';
      return undefined;
    }
  }
}

const refuse = (kind: MessageRefusal['kind'], reason: string): MessageRefusal => ({ kind, reason });
const forbidden = (reason: string) => refuse('forbidden', reason);
const conflict = (reason: string) => refuse('conflict', reason);
const byPolicy = (reason: string) => refuse('policy', reason);

function wrongState(status: PromotionStatus, allowed: PromotionStatus[], what: string): MessageRefusal | undefined {
  return allowed.includes(status) ? undefined : conflict(`promotion is ${status}; ${what} only when ${allowed.join(' or ')}`);
}

function findGate(state: PromotionState, name: string): GateState | undefined {
  for (const stage of state.stages) for (const gate of stage.gates) if (gate.name === name) return gate;
  return undefined;
}

function allGateNames(state: PromotionState): string {
  return state.stages.flatMap((s) => s.gates.map((g) => g.name)).join(', ');
}

/**
 * Why the promotion refuses a well-formed message in its current state, with the kind of
 * refusal, or `undefined` when it accepts it.
 */
export function messageRefusal<K extends MessageKind>(
  kind: K,
  payload: MessagePayloads[K],
  state: PromotionState,
  policy: ResolvedPolicy,
): MessageRefusal | undefined {
  const actor = payload.actor;
  switch (kind) {
    case 'decide': {
      const p = payload as MessagePayloads['decide'];
      const stateProblem = wrongState(state.status, ['IN_REVIEW'], 'decisions are accepted');
      if (stateProblem) return stateProblem;
      const gate = findGate(state, p.gate);
      if (!gate) return byPolicy(`unknown gate "${p.gate}" (gates: ${allGateNames(state)})`);
      if (gate.status !== 'open') return conflict(`gate "${gate.name}" is not open (it is ${gate.status})`);
      const roles = eligibleRoles(gate);
      if (!hasAnyRole(actor, roles)) {
        return forbidden(`${actor.id} lacks a role of gate "${gate.name}" (needs one of: ${roles.join(', ')})`);
      }
      const sod = separationOfDutiesRefusal(state, policy, gate, actor);
      if (sod) return forbidden(sod);
      if (p.decision !== 'approve' && !isText(p.comment)) return byPolicy('comment: required to reject or request changes');
      return undefined;
    }
    case 'override': {
      const p = payload as MessagePayloads['override'];
      const roles = p.kind === 'waive_check' ? policy.overrides.waiveCheck : policy.overrides.forceGate;
      if (!hasAnyRole(actor, roles)) {
        return forbidden(
          roles.length === 0
            ? `the policy allows no one to ${p.kind === 'waive_check' ? 'waive checks' : 'force gates'}`
            : `${actor.id} may not ${p.kind === 'waive_check' ? 'waive checks' : 'force gates'} (needs one of: ${roles.join(', ')})`,
        );
      }
      if (actor.id === state.submitter.id) return forbidden(`separation of duties: ${actor.id} submitted this promotion and cannot override on it`);
      if (actor.id === ownerOf(state)) return forbidden(`separation of duties: ${actor.id} owns the model and cannot override on it`);
      if (p.kind === 'waive_check') {
        const stateProblem = wrongState(state.status, ['CHECKS_FAILED'], 'checks can be waived');
        if (stateProblem) return stateProblem;
        if (!(CHECK_NAMES as readonly string[]).includes(p.target)) return byPolicy(`unknown check "${p.target}" (checks: ${CHECK_NAMES.join(', ')})`);
        if (!blockingChecks(state.checks, state.waivers, state.evidenceDigest).includes(p.target as never)) {
          return byPolicy(`check "${p.target}" is not blocking the promotion; only failed required checks can be waived`);
        }
        return undefined;
      }
      const stateProblem = wrongState(state.status, ['IN_REVIEW'], 'gates can be forced');
      if (stateProblem) return stateProblem;
      const gate = findGate(state, p.target);
      if (!gate) return byPolicy(`unknown gate "${p.target}" (gates: ${allGateNames(state)})`);
      if (gate.status !== 'open') return conflict(`gate "${gate.name}" is not open (it is ${gate.status})`);
      return undefined;
    }
    case 'expedite': {
      if (!hasAnyRole(actor, policy.overrides.expedite)) {
        return forbidden(`${actor.id} may not expedite (needs one of: ${policy.overrides.expedite.join(', ') || 'no role is allowed'})`);
      }
      const stateProblem = wrongState(
        state.status,
        ['VALIDATING', 'CHECKS_FAILED', 'IN_REVIEW', 'CHANGES_REQUESTED'],
        'a promotion can be expedited',
      );
      if (stateProblem) return stateProblem;
      if (state.expedited) return conflict(`already expedited by ${state.expedited.by} at ${state.expedited.at}`);
      return undefined;
    }
    case 'revise': {
      if (actor.id !== state.submitter.id) return forbidden(`only the submitter (${state.submitter.id}) may revise this promotion`);
      return wrongState(state.status, ['CHECKS_FAILED', 'CHANGES_REQUESTED'], 'revisions are accepted');
    }
    case 'withdraw': {
      if (actor.id !== state.submitter.id && !hasAnyRole(actor, policy.overrides.withdraw)) {
        return forbidden(`only the submitter (${state.submitter.id}) or a holder of ${policy.overrides.withdraw.join(', ') || 'an admin role'} may withdraw`);
      }
      if (TERMINAL_STATUSES.has(state.status) || state.status === 'APPROVED' || state.status === 'DEPLOYING') {
        return conflict(`promotion is ${state.status}; it can no longer be withdrawn`);
      }
      return undefined;
    }
  }
  return refuse('invalid', `unknown message ${String(kind)}`);
}
