// PostgreSQL side of the audit: the append-only, hash-chained archive and the log of refused attempts.
import type { Pool } from 'pg';
import { inTransaction } from '../db/transaction';
import { type AuditRecord, type ChainedAuditRecord, type ChainedRefusedAttempt, type ChainTail, chainRecords, GENESIS_HASH, refusedAttemptHash } from './chain';
import { type AuditSealer, auditEventsChain, REFUSED_ATTEMPTS_CHAIN } from './seal';

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
 * Thrown when a chain already holds a row at a place this archive writes, with other content: rows
 * inserted ahead of the archive (or a rewritten row). The archive is not adopted onto them; the
 * activity fails (and is retried) until people look, and `modelgate audit --verify` names the rows.
 */
export class AuditChainConflict extends Error {
  constructor(readonly promotionId: string, readonly seq: number) {
    super(`audit chain of ${promotionId} already holds an event ${seq} that this archive did not write: rows inserted ahead of it? (run modelgate audit --verify)`);
    this.name = 'AuditChainConflict';
  }
}

/**
 * Archives a promotion's timeline, hash-chained, in one transaction. Idempotent: the chain
 * is a pure function of the events, so a retry finds its own rows (same hash) and adds nothing;
 * a row already there with another hash is a conflict ({@link AuditChainConflict}), never adopted.
 *
 * With `executionId` (the workflow execution's first run id), a later execution of the same
 * promotion id (a resubmission after the first ended) continues the same chain after the rows of
 * the earlier executions instead of colliding with them.
 *
 * With `sealer`, the chain's new head is signed and checkpointed outside the database once the
 * rows are committed (src/audit/seal.ts), naming the rows this call wrote or confirmed.
 *
 * @returns how many rows this call added.
 */
export async function archiveAuditRecords(
  pool: Pool,
  promotionId: string,
  records: ReadonlyArray<AuditRecord>,
  executionId?: string,
  sealer?: AuditSealer,
): Promise<number> {
  if (records.length === 0) return 0;
  const { added, head } = await inTransaction(pool, async (client) => {
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
        if (!link.rows[0]) throw new AuditChainConflict(promotionId, before);
        tail = { seq: before, hash: link.rows[0].hash };
      }
    }
    const chained = chainRecords(promotionId, records, tail);
    const existing = await client.query<{ seq: number; hash: string }>(
      'SELECT seq, hash FROM audit_events WHERE promotion_id = $1 AND seq BETWEEN $2 AND $3',
      [promotionId, chained[0]!.seq, chained.at(-1)!.seq],
    );
    const present = new Map(existing.rows.map((r) => [r.seq, r.hash]));
    let count = 0;
    for (const row of chained) {
      const found = present.get(row.seq);
      if (found === row.hash) continue; // written by an earlier try of this archive
      if (found !== undefined) throw new AuditChainConflict(promotionId, row.seq);
      // No ON CONFLICT: a row that appeared meanwhile fails the archive rather than being adopted.
      await client.query(
        `INSERT INTO audit_events (promotion_id, seq, occurred_at, actor, action, detail, prev_hash, hash, execution_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [promotionId, row.seq, row.occurredAt, row.actor, row.action, JSON.stringify(row.detail), row.prevHash, row.hash, executionId ?? null],
      );
      count += 1;
    }
    return { added: count, head: { chain: auditEventsChain(promotionId), fromSeq: chained[0]!.seq, seq: chained.at(-1)!.seq, hash: chained.at(-1)!.hash } };
  });
  if (sealer) await sealer.seal(head);
  return added;
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
 * Each row is a link of the one `refused_attempts` chain (seq, prev_hash, hash), appended under a
 * lock; with `sealer` the new head is signed and checkpointed once the row is committed.
 */
export async function logRefusedAttempt(pool: Pool, attempt: RefusedAttempt, sealer?: AuditSealer): Promise<void> {
  const detailJson = JSON.stringify(attempt.detail ?? {});
  const detail = JSON.parse(detailJson.length > REFUSED_ATTEMPT_LIMITS.detailJson ? JSON.stringify({ clipped: true, detailLength: detailJson.length }) : detailJson) as Record<string, unknown>;
  const head = await inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [REFUSED_ATTEMPTS_CHAIN]);
    const last = await client.query<{ seq: string; hash: string }>('SELECT seq, hash FROM refused_attempts WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1');
    const seq = last.rows[0] ? Number(last.rows[0].seq) + 1 : 1;
    const prevHash = last.rows[0]?.hash ?? GENESIS_HASH;
    const row: Omit<ChainedRefusedAttempt, 'prevHash' | 'hash'> = {
      seq,
      occurredAt: new Date().toISOString(),
      actor: attempt.actor === undefined ? null : clip(attempt.actor, REFUSED_ATTEMPT_LIMITS.actor),
      promotionId: attempt.promotionId === undefined ? null : clip(attempt.promotionId, REFUSED_ATTEMPT_LIMITS.promotionId),
      action: clip(attempt.action, REFUSED_ATTEMPT_LIMITS.action),
      statusCode: attempt.statusCode,
      reason: clip(attempt.reason, REFUSED_ATTEMPT_LIMITS.reason),
      detail,
    };
    const hash = refusedAttemptHash(prevHash, row);
    await client.query(
      `INSERT INTO refused_attempts (occurred_at, actor, promotion_id, action, status_code, reason, detail, seq, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [row.occurredAt, row.actor, row.promotionId, row.action, row.statusCode, row.reason, JSON.stringify(row.detail), seq, prevHash, hash],
    );
    return { chain: REFUSED_ATTEMPTS_CHAIN, fromSeq: seq, seq, hash };
  });
  if (sealer) await sealer.seal(head);
}

/** The chained rows of `refused_attempts` in chain order, and how many rows predate the chain (no seq). */
export async function readRefusedAttemptChain(pool: Pool): Promise<{ rows: ChainedRefusedAttempt[]; unchained: number }> {
  const result = await pool.query<{ seq: string; occurred_at: Date; actor: string | null; promotion_id: string | null; action: string; status_code: number | null; reason: string; detail: Record<string, unknown>; prev_hash: string; hash: string }>(
    `SELECT seq, occurred_at, actor, promotion_id, action, status_code, reason, detail, prev_hash, hash FROM refused_attempts WHERE seq IS NOT NULL ORDER BY seq`,
  );
  const unchained = await pool.query<{ n: string }>('SELECT count(*) AS n FROM refused_attempts WHERE seq IS NULL');
  return {
    rows: result.rows.map((r) => ({
      seq: Number(r.seq),
      occurredAt: r.occurred_at.toISOString(),
      actor: r.actor,
      promotionId: r.promotion_id,
      action: r.action,
      statusCode: r.status_code,
      reason: r.reason,
      detail: r.detail,
      prevHash: r.prev_hash,
      hash: r.hash,
    })),
    unchained: Number(unchained.rows[0]!.n),
  };
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
