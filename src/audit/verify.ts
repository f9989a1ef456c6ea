// `modelgate audit --verify`: the audit tables compared with the chain heads the processes signed
// and checkpointed outside the database (docs/operations.md#the-audit-archive). It needs read access
// to the tables, the checkpoint files and the public keys; no secret.
import type { KeyObject } from 'node:crypto';
import type { Pool } from 'pg';
import { readAuditArchive, readRefusedAttemptChain } from './archive';
import { GENESIS_HASH, linkHash, refusedAttemptHash } from './chain';
import { auditEventsChain, headSignatureValid, REFUSED_ATTEMPTS_CHAIN, type SignedHead, type UnreadableCheckpoint } from './seal';

/** The kinds of tampering verify tells apart. */
export type TamperKind =
  | 'edited-row' // a row's content no longer matches its hash, or the chain no longer hashes to a signed head
  | 'deleted-row' // a seq is missing, or a row no longer links to the one before it
  | 'cut-tail' // the table ends before a signed head
  | 'deleted-chain' // a signed head names a chain with no row
  | 'inserted-rows' // rows no signed head covers: inserted ahead of (or beside) the archive
  | 'bad-checkpoint'; // a checkpoint line that is not a signed head, or whose signature does not verify with a trusted key

/** One finding of verify. */
export interface TamperFinding {
  chain: string;
  kind: TamperKind;
  message: string;
}

/** A chain's rows as verify needs them: seq, hash, prev_hash, and the hash recomputed from the content. */
export interface VerifiableRow {
  seq: number;
  prevHash: string;
  hash: string;
  /** sha256 over `prevHash` and the content as it is now. */
  contentHash: string;
}

/** Outcome of {@link verifyAudit}. */
export interface AuditVerification {
  ok: boolean;
  chains: number;
  signedHeads: number;
  findings: TamperFinding[];
  /** Refused attempts logged before they were chained (not protected; counted, not judged). */
  unchainedRefusedAttempts: number;
}

/** A signed head that verified, with where it came from. */
type TrustedHead = SignedHead & { file: string; line: number };

/** Ranges `a–b` of a sorted list of seqs, for messages. */
function ranges(seqs: number[]): string {
  const out: string[] = [];
  let start = seqs[0]!;
  let prev = start;
  for (const seq of [...seqs.slice(1), Number.NaN]) {
    if (seq === prev + 1) {
      prev = seq;
      continue;
    }
    out.push(start === prev ? `${start}` : `${start}–${prev}`);
    start = seq;
    prev = seq;
  }
  return out.join(', ');
}

/**
 * Compares one chain's rows with its trusted signed heads. Pure; the findings name the kind of
 * tampering and the events.
 */
export function verifyChainAgainstHeads(chain: string, rows: ReadonlyArray<VerifiableRow>, heads: ReadonlyArray<TrustedHead>): TamperFinding[] {
  const findings: TamperFinding[] = [];
  const add = (kind: TamperKind, message: string) => findings.push({ chain, kind, message });
  const sorted = [...rows].sort((a, b) => a.seq - b.seq);
  const bySeq = new Map(sorted.map((r) => [r.seq, r]));
  const lastSigned = heads.reduce<TrustedHead | undefined>((best, h) => (!best || h.seq > best.seq ? h : best), undefined);

  if (sorted.length === 0) {
    if (lastSigned) add('deleted-chain', `no row is left, but ${lastSigned.file}:${lastSigned.line} signs its event ${lastSigned.seq} (signed ${lastSigned.signedAt})`);
    return findings;
  }

  // Links: every seq from 1 to the last present, each linking to the one before and hashing to itself.
  const last = sorted.at(-1)!.seq;
  const missing: number[] = [];
  for (let seq = 1; seq <= last; seq += 1) if (!bySeq.has(seq)) missing.push(seq);
  if (missing.length > 0) add('deleted-row', `event(s) ${ranges(missing)} missing (the chain runs to event ${last})`);
  for (const row of sorted) {
    if (row.contentHash !== row.hash) {
      add('edited-row', `event ${row.seq}'s content does not match its hash`);
      continue;
    }
    const before = row.seq === 1 ? GENESIS_HASH : bySeq.get(row.seq - 1)?.hash;
    if (before !== undefined && row.prevHash !== before) {
      add(bySeq.get(row.seq - 1) ? 'edited-row' : 'deleted-row', `event ${row.seq} does not link to event ${row.seq - 1} (that row was rewritten, or rows were removed and renumbered)`);
    }
  }

  // Signed heads: the table reaches each, and holds the signed hash there.
  if (lastSigned && last < lastSigned.seq) {
    add('cut-tail', `the table ends at event ${last}, but ${lastSigned.file}:${lastSigned.line} signs event ${lastSigned.seq} (signed ${lastSigned.signedAt})`);
  }
  const rewritten = heads.filter((h) => bySeq.has(h.seq) && bySeq.get(h.seq)!.hash !== h.hash).sort((a, b) => a.seq - b.seq);
  if (rewritten.length > 0) {
    const h = rewritten[0]!;
    add('edited-row', `event ${h.seq} is not the one ${h.file}:${h.line} signed: the chain was rewritten at or before it`);
  }

  // Coverage: every row lies in a range some signed head says its process wrote or confirmed.
  const covered = (seq: number) => heads.some((h) => h.fromSeq <= seq && seq <= h.seq);
  const uncovered = sorted.filter((r) => !covered(r.seq)).map((r) => r.seq);
  if (uncovered.length > 0) add('inserted-rows', `event(s) ${ranges(uncovered)} are covered by no signed head: inserted outside the archive (ahead of it, or after it)`);
  return findings;
}

/** Trusted heads by chain, and the findings about checkpoint lines that cannot be trusted. */
export function trustedHeads(
  heads: ReadonlyArray<SignedHead & { file: string; line: number }>,
  unreadable: ReadonlyArray<UnreadableCheckpoint>,
  publicKeys: ReadonlyMap<string, KeyObject>,
): { byChain: Map<string, TrustedHead[]>; findings: TamperFinding[] } {
  const byChain = new Map<string, TrustedHead[]>();
  const findings: TamperFinding[] = unreadable.map((u) => ({ chain: `${u.file}:${u.line}`, kind: 'bad-checkpoint', message: u.reason }));
  for (const head of heads) {
    const key = publicKeys.get(head.keyId);
    if (!key) {
      findings.push({ chain: head.chain, kind: 'bad-checkpoint', message: `${head.file}:${head.line} is signed by key ${head.keyId}, which is not among the trusted public keys` });
      continue;
    }
    if (!headSignatureValid(head, key)) {
      findings.push({ chain: head.chain, kind: 'bad-checkpoint', message: `${head.file}:${head.line}: the signature does not verify (the line was altered or forged)` });
      continue;
    }
    byChain.set(head.chain, [...(byChain.get(head.chain) ?? []), head]);
  }
  return { byChain, findings };
}

/**
 * Verifies the audit tables against the checkpoints: every chain of `audit_events` (or only
 * `promotionId`'s) and the `refused_attempts` chain (unless one promotion is asked for), plus
 * every chain a trusted checkpoint names.
 */
export async function verifyAudit(
  pool: Pool,
  checkpoints: { heads: ReadonlyArray<SignedHead & { file: string; line: number }>; unreadable: ReadonlyArray<UnreadableCheckpoint> },
  publicKeys: ReadonlyMap<string, KeyObject>,
  promotionId?: string,
): Promise<AuditVerification> {
  const trusted = trustedHeads(checkpoints.heads, checkpoints.unreadable, publicKeys);
  const findings = [...trusted.findings];
  const auditPrefix = auditEventsChain('');
  const chains = new Set<string>();
  if (promotionId !== undefined) chains.add(auditEventsChain(promotionId));
  else {
    const ids = await pool.query<{ promotion_id: string }>('SELECT DISTINCT promotion_id FROM audit_events ORDER BY promotion_id');
    for (const r of ids.rows) chains.add(auditEventsChain(r.promotion_id));
    for (const chain of trusted.byChain.keys()) if (chain.startsWith(auditPrefix)) chains.add(chain);
    chains.add(REFUSED_ATTEMPTS_CHAIN);
  }
  let unchainedRefusedAttempts = 0;
  for (const chain of [...chains].sort()) {
    let rows: VerifiableRow[];
    if (chain === REFUSED_ATTEMPTS_CHAIN) {
      const refused = await readRefusedAttemptChain(pool);
      unchainedRefusedAttempts = refused.unchained;
      rows = refused.rows.map((r) => ({ seq: r.seq, prevHash: r.prevHash, hash: r.hash, contentHash: refusedAttemptHash(r.prevHash, r) }));
    } else {
      const id = chain.slice(auditPrefix.length);
      rows = (await readAuditArchive(pool, id)).map((r) => ({ seq: r.seq, prevHash: r.prevHash, hash: r.hash, contentHash: linkHash(r.prevHash, r.promotionId, r.seq, r) }));
    }
    findings.push(...verifyChainAgainstHeads(chain, rows, trusted.byChain.get(chain) ?? []));
  }
  if (promotionId !== undefined) {
    const wanted = auditEventsChain(promotionId);
    findings.splice(0, findings.length, ...findings.filter((f) => f.chain === wanted || f.kind === 'bad-checkpoint'));
  }
  const signedHeads = [...trusted.byChain.values()].reduce((n, list) => n + list.length, 0);
  return { ok: findings.length === 0, chains: chains.size, signedHeads, findings, unchainedRefusedAttempts };
}
