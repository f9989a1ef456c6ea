// Renders a promotion's record as a readable audit timeline (docs/api.md, `GET /v1/promotions/{id}/audit`).
import { PROMOTION_STATUSES, type PromotionStatus, TERMINAL_STATUSES, type TimelineEntry } from '../shared/promotion';
import type { AuditRecord, ChainedAuditRecord } from './chain';

/** One line of the audit timeline. */
export interface AuditEvent {
  seq?: number;
  at: string;
  actor: string;
  action: string;
  gate?: string;
  decision?: string;
  comment?: string;
  evidenceDigest?: string;
  policyVersion: string;
  /** `signal`: the message came as a Temporal Signal from an operator, not through the API. */
  via?: 'signal';
  /** For `via: signal`, the identity the caller's Temporal client declared, as Temporal recorded it. */
  temporalIdentity?: string;
  detail?: Record<string, unknown>;
  /** `workflow`: recorded by the promotion itself; `refusal`: an attempt the API or the workflow refused. */
  source: 'workflow' | 'refusal';
  prevHash?: string;
  hash?: string;
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

const DECISION_OF_ACTION: Record<string, string> = {
  decision_approve: 'approve',
  decision_reject: 'reject',
  decision_request_changes: 'request_changes',
  auto_approved: 'approve',
  approved: 'approve',
  override_force_gate: 'force_gate',
  override_waive_check: 'waive_check',
  gate_timed_out: 'timeout',
};

/** The record archived for a timeline entry: the entry with the policy version it was decided under. */
export function auditRecordOf(entry: TimelineEntry, policyVersion: string): AuditRecord {
  return { occurredAt: entry.at, actor: entry.actor, action: entry.action, detail: { ...(entry.detail ?? {}), policyVersion } };
}

/** Renders one archived or live record as an audit event. */
export function renderAuditEvent(record: AuditRecord | ChainedAuditRecord, fallbackPolicyVersion: string): AuditEvent {
  const { policyVersion, ...detail } = record.detail as Record<string, unknown> & { policyVersion?: unknown };
  const chained = 'hash' in record ? record : undefined;
  const gate = text(detail.gate);
  const decision = DECISION_OF_ACTION[record.action];
  const comment = text(detail.comment) ?? text(detail.justification) ?? text(detail.reason);
  const evidenceDigest = text(detail.evidenceDigest);
  const bySignal = detail.via === 'signal';
  const temporalIdentity = bySignal ? text(detail.temporalIdentity) : undefined;
  return {
    ...(chained ? { seq: chained.seq } : {}),
    at: record.occurredAt,
    actor: record.actor,
    action: record.action,
    ...(gate ? { gate } : {}),
    ...(decision ? { decision } : {}),
    ...(comment ? { comment } : {}),
    ...(evidenceDigest ? { evidenceDigest } : {}),
    policyVersion: text(policyVersion) ?? fallbackPolicyVersion,
    ...(bySignal ? { via: 'signal' as const } : {}),
    ...(temporalIdentity ? { temporalIdentity } : {}),
    ...(Object.keys(detail).length > 0 ? { detail } : {}),
    source: 'workflow',
    ...(chained ? { prevHash: chained.prevHash, hash: chained.hash } : {}),
  };
}

/** Renders a refused attempt logged in PostgreSQL as an audit event. */
export function renderRefusal(
  refusal: { at: string; actor: string; action: string; statusCode: number; reason: string },
  policyVersion: string,
): AuditEvent {
  return {
    at: refusal.at,
    actor: refusal.actor,
    action: `refused_${refusal.action}`,
    decision: 'refused',
    comment: refusal.reason,
    policyVersion,
    detail: { statusCode: refusal.statusCode },
    source: 'refusal',
  };
}

/** Merges workflow events and refusals into one timeline ordered by time (stable). */
export function mergeTimeline(events: AuditEvent[], refusals: AuditEvent[]): AuditEvent[] {
  return [...events, ...refusals]
    .map((event, index) => ({ event, index }))
    .sort((a, b) => (a.event.at < b.event.at ? -1 : a.event.at > b.event.at ? 1 : a.index - b.index))
    .map(({ event }) => event);
}

/** What the archived audit trail tells of a promotion that Temporal no longer holds. */
export interface ArchivedPromotion {
  promotionId: string;
  source: 'archive';
  /** The status the promotion ended in (`UNKNOWN` when the trail has no closing event). */
  status: PromotionStatus | 'UNKNOWN';
  submitter: { id: string };
  submittedAt: string;
  policy?: { name: string; version: string; digest?: string };
  declaredTier?: string;
  effectiveTier?: string;
  tierReasons?: string[];
  outcome?: { status: PromotionStatus; at: string; by: string; reason: string };
  /** How many events the archive holds (`GET …/audit` lists them). */
  archivedEvents: number;
}

const CLOSING_ACTIONS = new Map(PROMOTION_STATUSES.filter((s) => TERMINAL_STATUSES.has(s)).map((s) => [s.toLowerCase(), s]));

/**
 * Summarises a closed promotion from its archived audit trail (first event `submitted`, a
 * closing event named after the final status): who submitted it when, under which policy and
 * tier, and how it ended.
 */
export function summarizeArchivedPromotion(promotionId: string, records: ReadonlyArray<AuditRecord>): ArchivedPromotion {
  const submitted = records.find((r) => r.action === 'submitted') ?? records[0];
  const closing = [...records].reverse().find((r) => CLOSING_ACTIONS.has(r.action));
  const detail = submitted?.detail ?? {};
  const policy = /^(.+)@([^@]+)$/.exec(text(detail.policy) ?? '');
  const status = closing ? CLOSING_ACTIONS.get(closing.action)! : 'UNKNOWN';
  return {
    promotionId,
    source: 'archive',
    status,
    submitter: { id: submitted?.actor ?? 'unknown' },
    submittedAt: submitted?.occurredAt ?? '',
    ...(policy ? { policy: { name: policy[1]!, version: policy[2]!, ...(text(detail.policyDigest) ? { digest: text(detail.policyDigest)! } : {}) } } : {}),
    ...(text(detail.declaredTier) ? { declaredTier: text(detail.declaredTier)! } : {}),
    ...(text(detail.effectiveTier) ? { effectiveTier: text(detail.effectiveTier)! } : {}),
    ...(Array.isArray(detail.tierReasons) ? { tierReasons: detail.tierReasons.filter((r): r is string => typeof r === 'string') } : {}),
    ...(closing && status !== 'UNKNOWN'
      ? { outcome: { status, at: closing.occurredAt, by: closing.actor, reason: text(closing.detail.reason) ?? '' } }
      : {}),
    archivedEvents: records.length,
  };
}
