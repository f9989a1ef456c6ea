// Issue 13: a record that cannot be rewritten unnoticed. Promotions run through the real API,
// worker, Temporal server and PostgreSQL; the worker and the API sign their chains' heads into
// their checkpoint files; then someone with the database owner's access tampers with the tables
// and `modelgate audit --verify` (read access, checkpoints, public keys) must name what was done.
import { readFile } from 'node:fs/promises';
import type { Pool } from 'pg';
import request from 'supertest';
import { AuditChainConflict, archiveAuditRecords, readAuditArchive } from '../../src/audit/archive';
import { GENESIS_HASH, linkHash, verifyChain } from '../../src/audit/chain';
import { runCli as cli } from '../support/cli';
import { people, waitForStatus } from '../support/promotions';
import { type ApiHarness, startApiHarness } from './support';

describe('audit --verify names each kind of tampering (real API, worker, Temporal, PostgreSQL)', () => {
  let h: ApiHarness;

  beforeAll(async () => {
    h = await startApiHarness();
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  }, 60_000);

  /** The CLI's verify, as an auditor runs it: owner-free read access (here the owner URL), the checkpoints and public keys. */
  const verify = (promotionId?: string) =>
    cli([
      'audit',
      ...(promotionId ? [promotionId] : []),
      '--verify',
      '--database-url',
      h.config.databaseUrl,
      '--checkpoints',
      h.audit.checkpointFiles.join(','),
      '--public-keys',
      h.audit.publicKeyFiles.join(','),
    ]);

  /** Submits a low-risk manifest through the API and waits until the promotion is deployed and archived. */
  async function deployedPromotion(name?: string): Promise<string> {
    const manifest = await h.manifest({ model: { riskTier: 'low', ...(name ? { name } : {}) } });
    const res = await request(h.app).post('/v1/promotions').set('authorization', await h.bearer(people.sam)).send(manifest);
    expect(res.status).toBe(201);
    const id = res.body.promotionId as string;
    await waitForStatus(h.client.workflow.getHandle(id), 'DEPLOYED', 60_000);
    await h.client.workflow.getHandle(id).result();
    return id;
  }

  /** Runs `sql` as the owner with the append-only triggers off, as an attacker holding the owner role would. */
  async function asOwnerWithoutTriggers(pool: Pool, table: 'audit_events' | 'refused_attempts', sql: string, params: unknown[]) {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
      await client.query(sql, params);
      await client.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }

  it('the service role the API and worker use may only SELECT and INSERT the audit tables', async () => {
    const id = await deployedPromotion();
    for (const table of ['audit_events', 'refused_attempts']) {
      for (const sql of [
        `UPDATE ${table} SET action = 'x'`,
        `DELETE FROM ${table}`,
        `TRUNCATE ${table}`,
        `ALTER TABLE ${table} DISABLE TRIGGER USER`,
        `DROP TRIGGER ${table}_no_update_delete ON ${table}`,
        `ALTER TABLE ${table} ADD COLUMN mallory text`,
        `DROP TABLE ${table}`,
      ]) {
        await expect(h.servicePool.query(sql)).rejects.toThrow(/permission denied|must be owner/);
      }
      await expect(h.servicePool.query(`SELECT count(*) FROM ${table}`)).resolves.toBeDefined();
    }
    expect((await readAuditArchive(h.servicePool, id)).length).toBeGreaterThan(3);
    const intact = await verify(id);
    expect(intact.stdout).toMatch(/intact/);
    expect(intact.code).toBe(0);
  }, 90_000);

  it('an edited row: named edited-row, also when the attacker recomputes every hash after it', async () => {
    const id = await deployedPromotion();
    await asOwnerWithoutTriggers(h.pool, 'audit_events', `UPDATE audit_events SET actor = 'mallory' WHERE promotion_id = $1 AND seq = 2`, [id]);
    const edited = await verify(id);
    expect(edited.code).toBe(1);
    expect(edited.stdout).toContain(`TAMPERED edited-row audit_events/${id}: event 2's content does not match its hash`);

    // Recompute the whole chain from the edited row on, as plain SHA-256 lets anyone do: the links
    // hold again (the old check passes), but the chain no longer hashes to the signed head.
    const rows = await readAuditArchive(h.pool, id);
    let prev = GENESIS_HASH;
    for (const row of rows) {
      const hash = linkHash(prev, id, row.seq, row);
      await asOwnerWithoutTriggers(h.pool, 'audit_events', 'UPDATE audit_events SET prev_hash = $3, hash = $4 WHERE promotion_id = $1 AND seq = $2', [id, row.seq, prev, hash]);
      prev = hash;
    }
    expect(verifyChain(await readAuditArchive(h.pool, id)).ok).toBe(true);
    const rewritten = await verify(id);
    expect(rewritten.code).toBe(1);
    expect(rewritten.stdout).toMatch(new RegExp(`TAMPERED edited-row audit_events/${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: event \\d+ is not the one .* signed`));
  }, 90_000);

  it('a deleted row: named deleted-row with the missing event', async () => {
    const id = await deployedPromotion();
    await asOwnerWithoutTriggers(h.pool, 'audit_events', 'DELETE FROM audit_events WHERE promotion_id = $1 AND seq = 3', [id]);
    const res = await verify(id);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`TAMPERED deleted-row audit_events/${id}: event(s) 3 missing`);
  }, 90_000);

  it('a cut tail: named cut-tail (the old link check passed it)', async () => {
    const id = await deployedPromotion();
    const before = await readAuditArchive(h.pool, id);
    const last = before.at(-1)!.seq;
    await asOwnerWithoutTriggers(h.pool, 'audit_events', 'DELETE FROM audit_events WHERE promotion_id = $1 AND seq >= $2', [id, last - 1]);
    expect(verifyChain(await readAuditArchive(h.pool, id)).ok).toBe(true); // what `audit --verify` checked before
    const res = await verify(id);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`TAMPERED cut-tail audit_events/${id}: the table ends at event ${last - 2}`);
    expect(res.stdout).toContain(`signs event ${last}`);
  }, 90_000);

  it("a deleted chain: a promotion's whole chain gone is named deleted-chain", async () => {
    const id = await deployedPromotion();
    await asOwnerWithoutTriggers(h.pool, 'audit_events', 'DELETE FROM audit_events WHERE promotion_id = $1', [id]);
    expect(verifyChain([]).ok).toBe(true); // the old check: nothing to break
    const one = await verify(id);
    expect(one.code).toBe(1);
    expect(one.stdout).toContain(`TAMPERED deleted-chain audit_events/${id}: no row is left`);
    const all = await verify();
    expect(all.code).toBe(1);
    expect(all.stdout).toContain(`TAMPERED deleted-chain audit_events/${id}`);
  }, 90_000);

  it('pre-inserted rows: rows put ahead of a promotion are named inserted-rows, never adopted silently', async () => {
    const name = `pre-${Date.now()}`;
    const id = `promote:${name}:1.0.0:production`;
    // The attacker writes a well-formed chain head for a promotion that does not exist yet.
    const forged = { occurredAt: '2020-01-01T00:00:00.000Z', actor: 'mallory', action: 'decision_approve', detail: { gate: 'technical' } };
    await h.pool.query(
      `INSERT INTO audit_events (promotion_id, seq, occurred_at, actor, action, detail, prev_hash, hash, execution_id)
       VALUES ($1, 1, $2, $3, $4, $5, $6, $7, 'forged')`,
      [id, forged.occurredAt, forged.actor, forged.action, JSON.stringify(forged.detail), GENESIS_HASH, linkHash(GENESIS_HASH, id, 1, forged)],
    );
    expect(await deployedPromotion(name)).toBe(id);
    const rows = await readAuditArchive(h.pool, id);
    expect(rows[0]!.actor).toBe('mallory');
    expect(verifyChain(rows).ok).toBe(true); // the old check: a valid prefix of a real chain
    const res = await verify(id);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`TAMPERED inserted-rows audit_events/${id}: event(s) 1 are covered by no signed head`);

    // Without an execution id the archive writes from event 1: a row already there with other
    // content fails it (no ON CONFLICT DO NOTHING), instead of being kept as the chain's start.
    const other = `rollback:${name}:production:1`;
    await h.pool.query(
      `INSERT INTO audit_events (promotion_id, seq, occurred_at, actor, action, detail, prev_hash, hash) VALUES ($1, 1, now(), 'mallory', 'rolled_back', '{}', $2, $3)`,
      [other, GENESIS_HASH, 'e'.repeat(64)],
    );
    await expect(
      archiveAuditRecords(h.servicePool, other, [{ occurredAt: new Date().toISOString(), actor: 'max', action: 'rolled_back', detail: {} }], undefined, h.audit.worker),
    ).rejects.toThrow(AuditChainConflict);
  }, 90_000);

  it('refused attempts are one signed chain: edited, deleted, cut and inserted rows are each named', async () => {
    // Refusals through the API: invalid submissions, and a forged token.
    const id = 'promote:refused:1.0.0:production';
    for (let i = 0; i < 6; i += 1) {
      const res = await request(h.app).post('/v1/promotions').set('authorization', await h.bearer(people.sam)).send({ model: { name: 'refused', version: '1.0.0' }, target: 'production' });
      expect(res.status).toBe(400);
    }
    await request(h.app).get('/v1/promotions').set('authorization', 'Bearer not-a-token');
    const chainEnd = async () => Number((await h.pool.query<{ n: string }>('SELECT coalesce(max(seq), 0) AS n FROM refused_attempts')).rows[0]!.n);
    const signedEnd = async () => {
      const lines = (await readFile(h.audit.checkpointFiles[1]!, 'utf8')).trim().split('\n').filter(Boolean);
      return Math.max(0, ...lines.map((l) => JSON.parse(l) as { chain: string; seq: number }).filter((l) => l.chain === 'refused_attempts').map((l) => l.seq));
    };
    const deadline = Date.now() + 10_000;
    while ((await chainEnd()) < 7 || (await signedEnd()) < (await chainEnd())) {
      if (Date.now() > deadline) throw new Error('the refused attempts were not all logged and signed');
      await new Promise((r) => setTimeout(r, 100));
    }
    const intact = await verify();
    expect(intact.stdout).not.toContain('refused_attempts');

    const end = await chainEnd();
    await asOwnerWithoutTriggers(h.pool, 'refused_attempts', `UPDATE refused_attempts SET reason = 'nothing happened' WHERE seq = 2`, []);
    await asOwnerWithoutTriggers(h.pool, 'refused_attempts', 'DELETE FROM refused_attempts WHERE seq = 4', []);
    await asOwnerWithoutTriggers(h.pool, 'refused_attempts', 'DELETE FROM refused_attempts WHERE seq = $1', [end]);
    const res = await verify();
    expect(res.code).toBe(1);
    expect(res.stdout).toContain("TAMPERED edited-row refused_attempts: event 2's content does not match its hash");
    expect(res.stdout).toContain('TAMPERED deleted-row refused_attempts: event(s) 4 missing');
    expect(res.stdout).toContain(`TAMPERED cut-tail refused_attempts: the table ends at event ${end - 1}`);

    // A row inserted with a correct link after the end (as plain SHA-256 lets anyone compute).
    const { refusedAttemptHash } = await import('../../src/audit/chain');
    const prev = (await h.pool.query<{ hash: string }>('SELECT hash FROM refused_attempts WHERE seq = $1', [end - 1])).rows[0]!.hash;
    const row = { seq: end + 10, occurredAt: new Date().toISOString(), actor: 'mallory', promotionId: id, action: 'decide', statusCode: 403, reason: 'forged', detail: {} };
    await h.pool.query(
      `INSERT INTO refused_attempts (occurred_at, actor, promotion_id, action, status_code, reason, detail, seq, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, '{}', $7, $8, $9)`,
      [row.occurredAt, row.actor, row.promotionId, row.action, row.statusCode, row.reason, row.seq, prev, refusedAttemptHash(prev, row)],
    );
    const inserted = await verify();
    expect(inserted.code).toBe(1);
    expect(inserted.stdout).toContain(`TAMPERED inserted-rows refused_attempts: event(s) ${end + 10} are covered by no signed head`);
  }, 90_000);

  it('a forged or altered checkpoint line is named bad-checkpoint; verify without checkpoints refuses to judge', async () => {
    const file = h.audit.checkpointFiles[0]!;
    const lines = (await readFile(file, 'utf8')).trim().split('\n');
    const altered = { ...JSON.parse(lines[0]!), seq: 999 };
    const { appendFile } = await import('node:fs/promises');
    await appendFile(file, `${JSON.stringify(altered)}\n`);
    const res = await verify();
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/TAMPERED bad-checkpoint .*the signature does not verify/);
    const blind = await cli(['audit', '--verify', '--database-url', h.config.databaseUrl], { AUDIT_CHECKPOINT_FILES: undefined, AUDIT_PUBLIC_KEY_FILES: undefined });
    expect(blind.code).toBe(2);
    expect(blind.stderr).toMatch(/--checkpoints/);
  }, 30_000);
});
