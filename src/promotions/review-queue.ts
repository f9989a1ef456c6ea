// A reviewer's queue: the open gates of promotions that the reviewer may sign now, nearest
// deadline first. Pure: built from each promotion's review summary (its memo, else its state).
import { hasAnyRole, separationOfDutiesRefusalIn } from '../policy/evaluate';
import type { ResolvedPolicy } from '../policy/resolved';
import { reviewSummaryOf, separationOfDutiesViewOfSummary, type ReviewSummary } from '../policy/review-summary';
import type { Actor, PromotionState } from '../shared/promotion';

/** An open gate the reviewer may sign. */
export interface QueueGate {
  gate: string;
  title: string;
  stage: string;
  quorum: number;
  approvals: number;
  openedAt?: string;
  /** When the SLA passes (reminder and escalation). */
  slaAt?: string;
  /** Hard deadline. */
  deadlineAt?: string;
  escalated: boolean;
}

/** A promotion in a reviewer's queue. */
export interface QueueEntry {
  promotionId: string;
  model: string;
  version: string;
  target: string;
  riskTier: string;
  submitter: string;
  submittedAt: string;
  expedited: boolean;
  gates: QueueGate[];
  /** The earliest hard deadline of those gates, else their earliest SLA; absent when they have neither. */
  dueAt?: string;
}

/**
 * The gates of a promotion (its review summary) that `actor` may sign now: open, one of the
 * gate's eligible roles (escalation roles once escalated), and no separation-of-duties refusal
 * (not the submitter or owner, not signed already, one person once unless the policy allows).
 * The workflow decides for itself when the reviewer acts; this only decides what is shown.
 */
export function gatesAwaitingIn(summary: ReviewSummary, actor: Actor, separationOfDuties: ResolvedPolicy['separationOfDuties']): QueueGate[] {
  if (summary.status !== 'IN_REVIEW') return [];
  const view = separationOfDutiesViewOfSummary(summary);
  const gates: QueueGate[] = [];
  for (const gate of summary.gates) {
    if (!gate.open || !hasAnyRole(actor, gate.roles)) continue;
    if (separationOfDutiesRefusalIn(view, { separationOfDuties }, gate.name, actor)) continue;
    gates.push({
      gate: gate.name,
      title: gate.title,
      stage: gate.stage,
      quorum: gate.quorum,
      approvals: gate.approvals,
      escalated: gate.escalated,
      ...(gate.openedAt ? { openedAt: gate.openedAt } : {}),
      ...(gate.slaAt ? { slaAt: gate.slaAt } : {}),
      ...(gate.deadlineAt ? { deadlineAt: gate.deadlineAt } : {}),
    });
  }
  return gates;
}

/** {@link gatesAwaitingIn} on a promotion's state. */
export function gatesAwaiting(state: PromotionState, actor: Actor, separationOfDuties: ResolvedPolicy['separationOfDuties']): QueueGate[] {
  return gatesAwaitingIn(reviewSummaryOf(state), actor, separationOfDuties);
}

/** The queue entry of promotion `promotionId` (its review summary) for `actor`, or `undefined` when nothing in it awaits them. */
export function queueEntryIn(
  promotionId: string,
  summary: ReviewSummary,
  actor: Actor,
  separationOfDuties: ResolvedPolicy['separationOfDuties'],
): QueueEntry | undefined {
  const gates = gatesAwaitingIn(summary, actor, separationOfDuties);
  if (gates.length === 0) return undefined;
  const earliest = (values: Array<string | undefined>) => values.filter((v): v is string => !!v).sort((a, b) => Date.parse(a) - Date.parse(b))[0];
  const dueAt = earliest(gates.map((g) => g.deadlineAt)) ?? earliest(gates.map((g) => g.slaAt));
  return {
    promotionId,
    model: summary.model,
    version: summary.version,
    target: summary.target,
    riskTier: summary.riskTier,
    submitter: summary.submitter,
    submittedAt: summary.submittedAt,
    expedited: summary.expedited,
    gates,
    ...(dueAt ? { dueAt } : {}),
  };
}

/** The queue entry of a promotion's state for `actor`, or `undefined` when nothing in it awaits them. */
export function queueEntryOf(state: PromotionState, actor: Actor, separationOfDuties: ResolvedPolicy['separationOfDuties']): QueueEntry | undefined {
  return queueEntryIn(state.promotionId, reviewSummaryOf(state), actor, separationOfDuties);
}

/** Orders a queue: nearest `dueAt` first, entries without one last, then oldest submission first. */
export function sortQueue(entries: QueueEntry[]): QueueEntry[] {
  const due = (e: QueueEntry) => (e.dueAt ? Date.parse(e.dueAt) : Number.POSITIVE_INFINITY);
  return [...entries].sort((a, b) => due(a) - due(b) || Date.parse(a.submittedAt) - Date.parse(b.submittedAt) || (a.promotionId < b.promotionId ? -1 : 1));
}
