// Governance figures computed from archived audit timelines (pure: no I/O, no clock).
// What the figures cover, and what they do not, is described in README "Dashboard".
import type { ChainedAuditRecord } from '../audit/chain';

/** An archived audit event of one promotion (its place in the chain without the hashes). */
export type ArchivedAuditEvent = Omit<ChainedAuditRecord, 'prevHash' | 'hash'>;

/** Actions of the audit timeline that the governance figures read (the SQL reads only these). */
export const GOVERNANCE_ACTIONS = [
  'submitted',
  'checks_completed',
  'gate_opened',
  'gate_timed_out',
  'decision_approve',
  'decision_reject',
  'decision_request_changes',
  'approved',
  'auto_approved',
  'rejected',
  'deployed',
  'deploy_failed',
  'expired',
  'withdrawn',
  'superseded',
] as const;

/** Final statuses a promotion's timeline ends with (the action is the status in lower case). */
const ENDINGS = new Set(['deployed', 'deploy_failed', 'rejected', 'expired', 'withdrawn', 'superseded']);
/** Events that end the review: the promotion was approved (by people or the policy) or rejected. */
const DECISIONS = new Set(['approved', 'auto_approved', 'rejected']);
const REVIEWER_DECISIONS: Record<string, 'approve' | 'reject' | 'request_changes'> = {
  decision_approve: 'approve',
  decision_reject: 'reject',
  decision_request_changes: 'request_changes',
};

/** Durations of one group (a tier or a gate), in seconds. */
export interface DurationSummary {
  /** How many durations the figures are computed from. */
  count: number;
  medianSeconds: number;
  p90Seconds: number;
}

/** Time from submission to the decision (approved, auto-approved or rejected), per effective tier. */
export interface TierDecisionTime extends DurationSummary {
  tier: string;
  approved: number;
  rejected: number;
}

/** Time from a gate opening to a reviewer's decision on it, per gate name. */
export interface GateDecisionTime extends DurationSummary {
  gate: string;
  approvals: number;
  rejections: number;
  changeRequests: number;
}

/** A check that failed (or could not run) in check runs of the archived promotions. */
export interface FailingCheck {
  check: string;
  /** Check runs whose result was `fail`. */
  failed: number;
  /** Check runs whose result was `error` (could not run). */
  errored: number;
  /** Promotions in which the check failed or errored at least once. */
  promotions: number;
}

/** Why promotions were rejected, grouped. */
export interface RejectionReason {
  /** `reviewer`: a reviewer rejected, with this comment; `deadline`: a gate's hard deadline passed; `other`: the promotion's own reason. */
  kind: 'reviewer' | 'deadline' | 'other';
  /** The reason as first written (grouping ignores case, spacing and a final full stop). */
  reason: string;
  count: number;
  /** Gates at which it happened (sorted). */
  gates: string[];
  lastAt: string;
}

/** Everything the archive tells about decisions, failing checks and rejections. */
export interface ArchiveStats {
  /** Archived promotions the figures cover. */
  promotions: number;
  /** How those promotions ended, by final status (upper case, as `PromotionStatus`). */
  outcomes: Array<{ status: string; count: number }>;
  timeToDecisionByTier: TierDecisionTime[];
  timeToDecisionByGate: GateDecisionTime[];
  /** Most frequent first. */
  failingChecks: FailingCheck[];
  /** Most frequent first, at most `maxReasons`. */
  rejectionReasons: RejectionReason[];
}

/**
 * The value below which `q` (0..1) of the sorted values lie, interpolated linearly between
 * neighbours (the median of [1, 2] is 1.5). `NaN` for no values.
 */
export function quantile(sorted: ReadonlyArray<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const position = (sorted.length - 1) * q;
  const below = Math.floor(position);
  const above = Math.ceil(position);
  return sorted[below]! + (sorted[above]! - sorted[below]!) * (position - below);
}

function summarize(durations: number[]): DurationSummary {
  const sorted = [...durations].sort((a, b) => a - b);
  return { count: sorted.length, medianSeconds: round(quantile(sorted, 0.5)), p90Seconds: round(quantile(sorted, 0.9)) };
}

const round = (seconds: number) => Math.round(seconds * 1000) / 1000;
const secondsBetween = (from: string, to: string) => (Date.parse(to) - Date.parse(from)) / 1000;
const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim().length > 0 ? v.trim() : undefined);

/** Grouping key of a free-text reason: case, runs of spaces and a final full stop do not matter. */
export function reasonKey(reason: string): string {
  return reason.trim().replace(/\s+/g, ' ').replace(/\.$/, '').toLowerCase();
}

/**
 * Computes the governance figures from archived timelines. `events` may hold several
 * promotions in any order; each promotion's events are read in `seq` order, one execution (from
 * its `submitted` on) at a time; with `since`, executions submitted before it are left out.
 *
 * - time to decision per tier: `submitted` (its `effectiveTier`) → the first `approved`,
 *   `auto_approved` or `rejected`; promotions that ended otherwise (expired, withdrawn) have none;
 * - time to decision per gate: the gate's latest `gate_opened` → each reviewer decision on it;
 * - failing checks: every check run (`checks_completed` results) that was `fail` or `error`;
 * - rejection reasons: each `rejected` ending, attributed to the reviewer's comment, the gate
 *   whose deadline passed, or the promotion's own reason.
 */
export function computeArchiveStats(events: ReadonlyArray<ArchivedAuditEvent>, options: { maxReasons?: number; since?: Date } = {}): ArchiveStats {
  const byPromotion = new Map<string, ArchivedAuditEvent[]>();
  for (const event of events) {
    const list = byPromotion.get(event.promotionId);
    if (list) list.push(event);
    else byPromotion.set(event.promotionId, [event]);
  }
  const executions = [...byPromotion].flatMap(([promotionId, timeline]) =>
    executionsOf(timeline)
      .filter((execution) => !options.since || Date.parse(execution[0]!.occurredAt) >= options.since.getTime())
      .map((execution, i) => [`${promotionId}#${i}`, execution] as const),
  );

  const outcomes = new Map<string, number>();
  const tierDurations = new Map<string, { durations: number[]; approved: number; rejected: number }>();
  const gateDurations = new Map<string, { durations: number[]; approvals: number; rejections: number; changeRequests: number }>();
  const checks = new Map<string, { failed: number; errored: number; promotions: Set<string> }>();
  const reasons = new Map<string, RejectionReason & { gateSet: Set<string> }>();

  for (const [promotionId, timeline] of executions) {
    let submittedAt: string | undefined;
    let tier = 'unknown';
    let decided = false;
    const openedAt = new Map<string, string>();
    let lastReject: { gate?: string; comment?: string } | undefined;
    let lastTimeout: { gate?: string } | undefined;

    for (const event of timeline) {
      const detail = event.detail ?? {};
      const reviewerDecision = REVIEWER_DECISIONS[event.action];
      if (event.action === 'submitted') {
        submittedAt ??= event.occurredAt;
        tier = text(detail.effectiveTier) ?? tier;
      } else if (event.action === 'checks_completed') {
        const results = detail.results && typeof detail.results === 'object' ? (detail.results as Record<string, unknown>) : {};
        for (const [check, status] of Object.entries(results)) {
          if (status !== 'fail' && status !== 'error') continue;
          const entry = checks.get(check) ?? { failed: 0, errored: 0, promotions: new Set<string>() };
          if (status === 'fail') entry.failed += 1;
          else entry.errored += 1;
          entry.promotions.add(promotionId);
          checks.set(check, entry);
        }
      } else if (event.action === 'gate_opened') {
        const gate = text(detail.gate);
        if (gate) openedAt.set(gate, event.occurredAt);
      } else if (event.action === 'gate_timed_out') {
        lastTimeout = { gate: text(detail.gate) };
      } else if (reviewerDecision) {
        const gate = text(detail.gate);
        const opened = gate ? openedAt.get(gate) : undefined;
        if (gate && opened) {
          const seconds = secondsBetween(opened, event.occurredAt);
          if (seconds >= 0) {
            const entry = gateDurations.get(gate) ?? { durations: [], approvals: 0, rejections: 0, changeRequests: 0 };
            entry.durations.push(seconds);
            if (reviewerDecision === 'approve') entry.approvals += 1;
            else if (reviewerDecision === 'reject') entry.rejections += 1;
            else entry.changeRequests += 1;
            gateDurations.set(gate, entry);
          }
        }
        if (reviewerDecision === 'reject') lastReject = { gate, comment: text(detail.comment) };
      }

      if (DECISIONS.has(event.action) && !decided && submittedAt) {
        decided = true;
        const seconds = secondsBetween(submittedAt, event.occurredAt);
        if (seconds >= 0) {
          const entry = tierDurations.get(tier) ?? { durations: [], approved: 0, rejected: 0 };
          entry.durations.push(seconds);
          if (event.action === 'rejected') entry.rejected += 1;
          else entry.approved += 1;
          tierDurations.set(tier, entry);
        }
      }
      if (ENDINGS.has(event.action)) {
        const status = event.action.toUpperCase();
        outcomes.set(status, (outcomes.get(status) ?? 0) + 1);
      }
      if (event.action === 'rejected') {
        const rejection: Omit<RejectionReason, 'count' | 'gates' | 'lastAt'> & { gate?: string } = lastReject
          ? { kind: 'reviewer', reason: lastReject.comment ?? '(no comment)', ...(lastReject.gate ? { gate: lastReject.gate } : {}) }
          : lastTimeout
            ? { kind: 'deadline', reason: 'hard deadline passed without a decision', ...(lastTimeout.gate ? { gate: lastTimeout.gate } : {}) }
            : { kind: 'other', reason: text(detail.reason) ?? '(no reason recorded)' };
        const key = `${rejection.kind}\n${reasonKey(rejection.reason)}`;
        const entry = reasons.get(key) ?? { kind: rejection.kind, reason: rejection.reason, count: 0, gates: [], lastAt: event.occurredAt, gateSet: new Set<string>() };
        entry.count += 1;
        if (rejection.gate) entry.gateSet.add(rejection.gate);
        if (event.occurredAt > entry.lastAt) entry.lastAt = event.occurredAt;
        reasons.set(key, entry);
      }
    }
  }

  const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return {
    promotions: executions.length,
    outcomes: [...outcomes].map(([status, count]) => ({ status, count })).sort((a, b) => b.count - a.count || byName(a.status, b.status)),
    timeToDecisionByTier: [...tierDurations]
      .map(([tier, e]) => ({ tier, ...summarize(e.durations), approved: e.approved, rejected: e.rejected }))
      .sort((a, b) => tierRank(a.tier) - tierRank(b.tier) || byName(a.tier, b.tier)),
    timeToDecisionByGate: [...gateDurations]
      .map(([gate, e]) => ({ gate, ...summarize(e.durations), approvals: e.approvals, rejections: e.rejections, changeRequests: e.changeRequests }))
      .sort((a, b) => byName(a.gate, b.gate)),
    failingChecks: [...checks]
      .map(([check, e]) => ({ check, failed: e.failed, errored: e.errored, promotions: e.promotions.size }))
      .sort((a, b) => b.failed + b.errored - (a.failed + a.errored) || byName(a.check, b.check)),
    rejectionReasons: [...reasons.values()]
      .map(({ gateSet, ...r }) => ({ ...r, gates: [...gateSet].sort() }))
      .sort((a, b) => b.count - a.count || byName(b.lastAt, a.lastAt))
      .slice(0, options.maxReasons ?? 10),
  };
}

/**
 * Splits one promotion id's archived events into its executions: a promotion id promoted again
 * (after the first ended) continues the same chain, and each execution begins with `submitted`.
 * Events before the first `submitted` belong to no execution the figures can read.
 */
function executionsOf(timeline: ArchivedAuditEvent[]): ArchivedAuditEvent[][] {
  const executions: ArchivedAuditEvent[][] = [];
  for (const event of [...timeline].sort((a, b) => a.seq - b.seq)) {
    if (event.action === 'submitted') executions.push([event]);
    else executions[executions.length - 1]?.push(event);
  }
  return executions;
}

const TIER_ORDER = ['low', 'medium', 'high'];
const tierRank = (tier: string) => (TIER_ORDER.includes(tier) ? TIER_ORDER.indexOf(tier) : TIER_ORDER.length);
