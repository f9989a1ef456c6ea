// PostgreSQL side of the audit: the append-only, hash-chained archive and the log of refused attempts.
import type { Pool } from 'pg';
import { inTransaction } from '../db/transaction';
import { type AuditRecord, type ChainedAuditRecord, type ChainTail, chainRecords } from './chain';

interface AuditRow {
  promotion_id: string;
  seq: number;
  occurred_at: Date;
  actor: string;
  action: string;
  detail: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/**
 * Archives a promotion's timeline, hash-chained, in one transaction. Idempotent: the chain
 * is a pure function of the events, and rows already archived are kept as they are
 * (`ON CONFLICT DO NOTHING`), so a retry or a later, longer timeline only appends.
 *
 * With `executionId` (the workflow execution's first run id), a later execution of the same
 * promotion id (a resubmission after the first ended) continues the same chain after the rows of
 * the earlier executions instead of colliding with them.
 *
 * @returns how many rows this call added.
 */
export async function archiveAuditRecords(
  pool: Pool,
  promotionId: string,
  records: ReadonlyArray<AuditRecord>,
  executionId?: string,
): Promise<number> {
  if (records.length === 0) return 0;
  return inTransaction(pool, async (client) => {
    // One archiving transaction per promotion at a time: the tail read below stays the tail.
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`audit:${promotionId}`]);
    let tail: ChainTail | undefined;
    if (executionId) {
      const found = await client.query<{ mine: number | null; last_seq: number | null }>(
        `SELECT (SELECT min(seq) FROM audit_events WHERE promotion_id = $1 AND execution_id = $2) AS mine,
                (SELECT max(seq) FROM audit_events WHERE promotion_id = $1) AS last_seq`,
        [promotionId, executionId],
      );
      const { mine, last_seq: lastSeq } = found.rows[0]!;
      const before = mine !== null ? mine - 1 : (lastSeq ?? 0);
      if (before > 0) {
        const link = await client.query<{ hash: string }>('SELECT hash FROM audit_events WHERE promotion_id = $1 AND seq = $2', [promotionId, before]);
        tail = { seq: before, hash: link.rows[0]!.hash };
      }
    }
    const chained = chainRecords(promotionId, records, tail);
    let added = 0;
    for (const row of chained) {
      const result = await client.query(
        `INSERT INTO audit_events (promotion_id, seq, occurred_at, actor, action, detail, prev_hash, hash, execution_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (promotion_id, seq) DO NOTHING`,
        [promotionId, row.seq, row.occurredAt, row.actor, row.action, JSON.stringify(row.detail), row.prevHash, row.hash, executionId ?? null],
      );
      added += result.rowCount ?? 0;
    }
    return added;
  });
}

/** The archived rows of a promotion, in chain order (empty when it was never archived). */
export async function readAuditArchive(pool: Pool, promotionId: string): Promise<ChainedAuditRecord[]> {
  const result = await pool.query<AuditRow>(
    `SELECT promotion_id, seq, occurred_at, actor, action, detail, prev_hash, hash
       FROM audit_events WHERE promotion_id = $1 ORDER BY seq`,
    [promotionId],
  );
  return result.rows.map((r) => ({ ...archivedEventOfRow(r), prevHash: r.prev_hash, hash: r.hash }));
}

/** An `audit_events` row as an archived event, without its chain fields. */
export function archivedEventOfRow(r: Omit<AuditRow, 'prev_hash' | 'hash'>): Omit<ChainedAuditRecord, 'prevHash' | 'hash'> {
  return { promotionId: r.promotion_id, seq: r.seq, occurredAt: r.occurred_at.toISOString(), actor: r.actor, action: r.action, detail: r.detail };
}

/** A refused attempt: who tried what on which promotion, and why it was refused. */
export interface RefusedAttempt {
  at?: string;
  actor?: string;
  promotionId?: string;
  action: string;
  statusCode: number;
  reason: string;
  detail?: Record<string, unknown>;
}

/** Longest text kept of each field of a refused attempt; a caller's input never fills the table. */
export const REFUSED_ATTEMPT_LIMITS = { actor: 200, promotionId: 1000, action: 200, reason: 1000, detailJson: 4000 } as const;

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/**
 * Logs a refused attempt (400, 401, 403, 409, 422, a workflow validator's refusal). Texts longer
 * than {@link REFUSED_ATTEMPT_LIMITS} are clipped; a larger detail is replaced by its size.
 */
export async function logRefusedAttempt(pool: Pool, attempt: RefusedAttempt): Promise<void> {
  const detail = JSON.stringify(attempt.detail ?? {});
  await pool.query(
    `INSERT INTO refused_attempts (actor, promotion_id, action, status_code, reason, detail) VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      attempt.actor === undefined ? null : clip(attempt.actor, REFUSED_ATTEMPT_LIMITS.actor),
      attempt.promotionId === undefined ? null : clip(attempt.promotionId, REFUSED_ATTEMPT_LIMITS.promotionId),
      clip(attempt.action, REFUSED_ATTEMPT_LIMITS.action),
      attempt.statusCode,
      clip(attempt.reason, REFUSED_ATTEMPT_LIMITS.reason),
      detail.length > REFUSED_ATTEMPT_LIMITS.detailJson ? JSON.stringify({ clipped: true, detailLength: detail.length }) : detail,
    ],
  );
}

/**
 * Refused attempts on one promotion, oldest first; with `since`, only those from that time on
 * (attempts on the id before the promotion was submitted concern no promotion of it).
 */
export async function readRefusedAttempts(pool: Pool, promotionId: string, since?: string): Promise<Required<Omit<RefusedAttempt, 'detail'>>[]> {
  const result = await pool.query<{ occurred_at: Date; actor: string | null; action: string; status_code: number | null; reason: string }>(
    `SELECT occurred_at, actor, action, status_code, reason FROM refused_attempts
      WHERE promotion_id = $1 AND ($2::timestamptz IS NULL OR occurred_at >= $2::timestamptz)
      ORDER BY occurred_at, id`,
    [promotionId, since ?? null],
  );
  return result.rows.map((r) => ({
    at: r.occurred_at.toISOString(),
    actor: r.actor ?? 'anonymous',
    promotionId,
    action: r.action,
    statusCode: r.status_code ?? 0,
    reason: r.reason,
  }));
}
