// The tamper-evident chain of an archived audit trail (docs/operations.md#the-audit-archive): each event carries the
// hash of the one before it, so changing, removing or inserting a row breaks every later link.
import { createHash } from 'node:crypto';
import { canonicalJson } from '../shared/canonical-json';

/** `prev_hash` of the first event of a promotion. */
export const GENESIS_HASH = '0'.repeat(64);

/** An audit event as archived, before it is chained. */
export interface AuditRecord {
  occurredAt: string;
  actor: string;
  action: string;
  detail: Record<string, unknown>;
}

/** An archived audit event with its place in the chain. */
export interface ChainedAuditRecord extends AuditRecord {
  promotionId: string;
  seq: number;
  prevHash: string;
  hash: string;
}

/**
 * Hash of one link: sha256 over the previous hash and the canonical JSON of the event
 * (promotion id, seq, time, actor, action, detail).
 */
export function linkHash(prevHash: string, promotionId: string, seq: number, record: AuditRecord): string {
  const body = canonicalJson({
    promotionId,
    seq,
    occurredAt: record.occurredAt,
    actor: record.actor,
    action: record.action,
    detail: record.detail,
  });
  return createHash('sha256').update(`${prevHash}\n${body}`).digest('hex');
}

/** Where a chain continues: the last archived link (absent: the chain starts at seq 1). */
export interface ChainTail {
  seq: number;
  hash: string;
}

/**
 * Chains a promotion's events in order, starting at seq 1 from {@link GENESIS_HASH}, or after
 * `tail` when the promotion's chain already has events (an earlier execution of the same id).
 */
export function chainRecords(promotionId: string, records: ReadonlyArray<AuditRecord>, tail?: ChainTail): ChainedAuditRecord[] {
  let prevHash = tail?.hash ?? GENESIS_HASH;
  const first = (tail?.seq ?? 0) + 1;
  return records.map((record, index) => {
    const seq = first + index;
    const detail = JSON.parse(JSON.stringify(record.detail ?? {})) as Record<string, unknown>;
    const hash = linkHash(prevHash, promotionId, seq, { ...record, detail });
    const chained = { promotionId, seq, occurredAt: record.occurredAt, actor: record.actor, action: record.action, detail, prevHash, hash };
    prevHash = hash;
    return chained;
  });
}

/** Outcome of {@link verifyChain}. */
export type ChainVerification =
  | { ok: true; events: number; head: string }
  | { ok: false; events: number; firstBrokenSeq: number; reason: string };

/**
 * Recomputes a promotion's chain from its rows (sorted by seq here) and names the first
 * broken link: a gap in seq, a `prev_hash` that is not the previous row's hash, or a row
 * whose content no longer matches its hash.
 */
export function verifyChain(rows: ReadonlyArray<ChainedAuditRecord>): ChainVerification {
  const sorted = [...rows].sort((a, b) => a.seq - b.seq);
  let prevHash = GENESIS_HASH;
  for (const [index, row] of sorted.entries()) {
    const expectedSeq = index + 1;
    if (row.seq !== expectedSeq) {
      return { ok: false, events: sorted.length, firstBrokenSeq: expectedSeq, reason: `event ${expectedSeq} is missing (next is ${row.seq})` };
    }
    if (row.prevHash !== prevHash) {
      return { ok: false, events: sorted.length, firstBrokenSeq: row.seq, reason: `prev_hash does not match the hash of event ${row.seq - 1}` };
    }
    const recomputed = linkHash(prevHash, row.promotionId, row.seq, row);
    if (recomputed !== row.hash) {
      return { ok: false, events: sorted.length, firstBrokenSeq: row.seq, reason: 'content does not match its hash (the row was altered or forged)' };
    }
    prevHash = row.hash;
  }
  return { ok: true, events: sorted.length, head: prevHash };
}

/** A refused attempt as it is chained in `refused_attempts`. */
export interface ChainedRefusedAttempt {
  seq: number;
  occurredAt: string;
  actor: string | null;
  promotionId: string | null;
  action: string;
  statusCode: number | null;
  reason: string;
  detail: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

/** Hash of one refused attempt's link: sha256 over the previous hash and the canonical JSON of the row. */
export function refusedAttemptHash(prevHash: string, row: Omit<ChainedRefusedAttempt, 'prevHash' | 'hash'>): string {
  const body = canonicalJson({
    chain: 'refused_attempts',
    seq: row.seq,
    occurredAt: row.occurredAt,
    actor: row.actor,
    promotionId: row.promotionId,
    action: row.action,
    statusCode: row.statusCode,
    reason: row.reason,
    detail: row.detail,
  });
  return createHash('sha256').update(`${prevHash}\n${body}`).digest('hex');
}
