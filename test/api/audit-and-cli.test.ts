import { writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import path from 'node:path';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { stringify as toYaml } from 'yaml';
import { archiveAuditRecords, readAuditArchive } from '../../src/audit/archive';
import { verifyChain } from '../../src/audit/chain';
import type { PromotionState } from '../../src/shared/promotion';
import { people, waitForState, waitForStatus } from '../support/promotions';
import { runCli as cli } from '../support/cli';
import { type ApiHarness, promotionPath, startApiHarness, TEST_DEV_SECRET, TEST_SECRET } from './support';

describe('audit archive and the modelgate CLI against a running API', () => {
  let h: ApiHarness;
  let server: Server;
  let url: string;
  const tokens: Record<string, string> = {};
  const as = (who: keyof typeof people) => ({ MODELGATE_URL: url, MODELGATE_TOKEN: tokens[who] });
  /** What `audit --verify` reads: the audit tables, the checkpoint files and the public keys. */
  const auditor = () => ({
    AUDIT_DATABASE_URL: h.config.databaseUrl,
    AUDIT_CHECKPOINT_FILES: h.audit.checkpointFiles.join(','),
    AUDIT_PUBLIC_KEY_FILES: h.audit.publicKeyFiles.join(','),
  });

  beforeAll(async () => {
    h = await startApiHarness({ dashboard: { devSignIn: { devSignInSecret: TEST_DEV_SECRET } } });
    server = await new Promise<Server>((resolve) => {
      const s = h.app.listen(0, '127.0.0.1', () => resolve(s));
    });
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    for (const who of Object.keys(people) as Array<keyof typeof people>) {
      tokens[who] = (await h.bearer(people[who])).slice('Bearer '.length);
    }
  }, 120_000);
  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await h?.close();
  }, 60_000);

  it('dev-token prints a dev token (mg_dev, the dev sign-in key) with sub and roles that the API with dev sign-in accepts', async () => {
    const res = await cli(['dev-token', '--user', 'alice', '--roles', 'ml-reviewer,security-reviewer'], { DEV_SIGN_IN_SECRET: TEST_DEV_SECRET });
    expect(res.code).toBe(0);
    const token = res.stdout.trim();
    expect(decodeJwt(token)).toMatchObject({ sub: 'alice', roles: ['ml-reviewer', 'security-reviewer'], mg_dev: true });
    const list = await cli(['list', '--json'], { MODELGATE_URL: url, MODELGATE_TOKEN: token });
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout).promotions).toEqual(expect.any(Array));
    const withProductionKey = await cli(['dev-token', '--user', 'alice', '--secret', TEST_SECRET]);
    const refused = await cli(['list', '--json'], { MODELGATE_URL: url, MODELGATE_TOKEN: withProductionKey.stdout.trim() });
    expect(refused.code).toBe(3);
    const noSecret = await cli(['dev-token', '--user', 'alice'], { DEV_SIGN_IN_SECRET: undefined, AUTH_JWT_SECRET: TEST_SECRET });
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toMatch(/DEV_SIGN_IN_SECRET/);
  });

  it('without a token the CLI exits 3 and says how to get one; a malformed manifest exits 2 naming the fields', async () => {
    const file = path.join(h.artifactDir, 'bad.yaml');
    await writeFile(file, toYaml({ model: { name: 'x' }, target: 'production' }));
    const anonymous = await cli(['submit', file], { MODELGATE_URL: url, MODELGATE_TOKEN: undefined });
    expect(anonymous.code).toBe(3);
    expect(anonymous.stderr).toMatch(/dev-token/);
    const bad = await cli(['submit', file], as('sam'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/model\.version/);
    expect(bad.stderr).toMatch(/artifact/);
    const unreachable = await cli(['status', 'x', '--server', 'http://127.0.0.1:1']);
    expect(unreachable.code).toBe(7);
  });

  it('submit --wait blocks until a decision, showing progress, and exits 0 when deployed', async () => {
    const manifest = await h.manifest({ model: { riskTier: 'low' } });
    const file = path.join(h.artifactDir, 'low.yaml');
    await writeFile(file, toYaml(manifest));
    const res = await cli(['submit', file, '--wait', '--poll', '0.2', '--wait-timeout', '60'], as('sam'));
    expect(res.stderr).toMatch(/submitted: promote:/);
    expect(res.stderr).toMatch(/DEPLOYED/);
    expect(res.stdout).toMatch(/status\s+DEPLOYED/);
    expect(res.code).toBe(0);
  }, 90_000);

  describe('a reviewed promotion, its archive and its verification', () => {
    let id: string;

    beforeAll(async () => {
      const manifest = await h.manifest({ model: { riskTier: 'medium' } });
      const file = path.join(h.artifactDir, 'medium.json');
      await writeFile(file, JSON.stringify(manifest));
      const submitted = await cli(['submit', file, '--json'], as('sam'));
      expect(submitted.code).toBe(0);
      id = JSON.parse(submitted.stdout).promotionId;
      await waitForStatus(h.client.workflow.getHandle(id), 'IN_REVIEW');
    }, 60_000);

    it('reviewers see it with list --pending and status; wrong roles exit 3; approvals go through', async () => {
      const pending = await cli(['list', '--pending'], as('rita'));
      expect(pending.code).toBe(0);
      expect(pending.stdout).toMatch(/PROMOTION\s+STATUS/);
      const status = await cli(['status', id], as('rita'));
      expect(status.stdout).toMatch(/status\s+IN_REVIEW/);
      expect(status.stdout).toMatch(/technical\s+open\s+0\/1/);

      const wrongRole = await cli(['approve', id, '--gate', 'technical'], as('bo'));
      expect(wrongRole.code).toBe(3);
      expect(wrongRole.stderr).toMatch(/bo lacks a role of gate "technical"/);
      const notOpen = await cli(['approve', id, '--gate', 'business', '--json'], as('bo'));
      expect(notOpen.code).toBe(5);
      expect(JSON.parse(notOpen.stdout).error.status).toBe(409);

      const approved = await cli(['approve', id, '--gate', 'technical', '--comment', 'metrics hold'], as('rita'));
      expect(approved.code).toBe(0);
      expect(approved.stdout).toMatch(/approved gate technical/);
      await waitForState(h.client.workflow.getHandle(id), (s) => s.stages[1]!.gates[0]!.status === 'open');
      expect((await cli(['approve', id, '--gate', 'business'], as('bo'))).code).toBe(0);
      await h.client.workflow.getHandle(id).result();
    }, 60_000);

    it('before closing, the promotion archived its whole timeline, hash-chained', async () => {
      const state = (await h.client.workflow.getHandle(id).result()) as PromotionState;
      const rows = await readAuditArchive(h.pool, id);
      expect(rows.map((r) => r.action)).toEqual(state.timeline.map((e) => e.action));
      expect(rows.at(-1)!.action).toBe('deployed');
      expect(verifyChain(rows)).toEqual({ ok: true, events: rows.length, head: rows.at(-1)!.hash });

      const archived = await request(h.app).get(`${promotionPath(id, 'audit')}?source=archive`).set('authorization', await h.bearer(people.rita));
      expect(archived.body.source).toBe('archive');
      const decision = archived.body.events.find((e: { action: string }) => e.action === 'decision_approve');
      expect(decision).toMatchObject({ actor: 'rita', gate: 'technical', decision: 'approve', comment: 'metrics hold', policyVersion: 'test-1' });
      expect(decision.hash).toMatch(/^[0-9a-f]{64}$/);

      const table = await cli(['audit', id], as('rita'));
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/rita\s+decision_approve\s+technical\s+approve\s+metrics hold/);
      expect(table.stdout).toMatch(/bo\s+refused_decide\s+refused\s+bo lacks a role/);
      const jsonl = await cli(['audit', id, '--jsonl'], as('rita'));
      expect(jsonl.stdout.trim().split('\n').length).toBeGreaterThan(rows.length);
    });

    it('the database refuses UPDATE and DELETE on the archive', async () => {
      await expect(h.pool.query(`UPDATE audit_events SET actor = 'mallory' WHERE promotion_id = $1`, [id])).rejects.toThrow(
        /audit_events is append-only: UPDATE is not allowed/,
      );
      await expect(h.pool.query(`DELETE FROM audit_events WHERE promotion_id = $1`, [id])).rejects.toThrow(/append-only: DELETE/);
      await expect(h.pool.query(`TRUNCATE audit_events`)).rejects.toThrow(/append-only: TRUNCATE/);
    });

    it('audit --verify passes on the intact chain and names the first broken link of a forged one', async () => {
      const intact = await cli(['audit', id, '--verify'], auditor());
      expect(intact.code).toBe(0);
      expect(intact.stdout).toMatch(/intact: every row matches the \d+ signed head/);

      const rows = await readAuditArchive(h.pool, id);
      const forgedSeq = rows.length + 1;
      await h.pool.query(
        `INSERT INTO audit_events (promotion_id, seq, occurred_at, actor, action, detail, prev_hash, hash)
         VALUES ($1, $2, now(), 'mallory', 'decision_approve', '{"gate":"security"}', $3, $4)`,
        [id, forgedSeq, rows.at(-1)!.hash, 'f'.repeat(64)],
      );
      const forged = await cli(['audit', id, '--verify'], auditor());
      expect(forged.code).toBe(1);
      expect(forged.stdout).toContain(`TAMPERED edited-row audit_events/${id}: event ${forgedSeq}'s content does not match its hash`);
      expect(forged.stdout).toContain(`TAMPERED inserted-rows audit_events/${id}: event(s) ${forgedSeq} are covered by no signed head`);

      // A superuser who bypasses the trigger to rewrite history is caught at the row changed.
      await h.pool.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update_delete');
      try {
        await h.pool.query(`UPDATE audit_events SET actor = 'mallory' WHERE promotion_id = $1 AND seq = 3`, [id]);
      } finally {
        await h.pool.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update_delete');
      }
      const rewritten = await cli(['audit', id, '--verify', '--json'], auditor());
      expect(rewritten.code).toBe(1);
      expect(JSON.parse(rewritten.stdout).findings).toContainEqual({ chain: `audit_events/${id}`, kind: 'edited-row', message: "event 3's content does not match its hash" });
    });
  });

  it('serves the timeline from the archive once Temporal no longer has the promotion', async () => {
    const gone = 'promote:retired-model:0.1.0:production';
    await archiveAuditRecords(h.pool, gone, [
      { occurredAt: '2020-01-01T00:00:00.000Z', actor: 'sam', action: 'submitted', detail: { policyVersion: 'old-1' } },
      { occurredAt: '2020-01-02T00:00:00.000Z', actor: 'rita', action: 'decision_approve', detail: { gate: 'technical', policyVersion: 'old-1' } },
      { occurredAt: '2020-01-03T00:00:00.000Z', actor: 'modelgate', action: 'deployed', detail: { reason: 'serving production', policyVersion: 'old-1' } },
    ]);
    const res = await request(h.app).get(promotionPath(gone, 'audit')).set('authorization', await h.bearer(people.rita));
    expect(res.status).toBe(200);
    expect(res.body.source).toBe('archive');
    expect(res.body.events.map((e: { action: string; policyVersion: string }) => [e.action, e.policyVersion])).toEqual([
      ['submitted', 'old-1'],
      ['decision_approve', 'old-1'],
      ['deployed', 'old-1'],
    ]);
    const missing = await request(h.app).get(promotionPath('promote:never:1:production', 'audit')).set('authorization', await h.bearer(people.rita));
    expect(missing.status).toBe(404);
    // Archived without the worker's seal: verify names the rows no signed head covers.
    const verify = await cli(['audit', gone, '--verify'], auditor());
    expect(verify.code).toBe(1);
    expect(verify.stdout).toContain(`TAMPERED inserted-rows audit_events/${gone}: event(s) 1–3 are covered by no signed head`);
    const status = await cli(['status', gone], as('rita'));
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/status\s+DEPLOYED — serving production \(by modelgate\)/);
    expect(status.stdout).toMatch(/source\s+the audit archive \(3 events/);
  });
});
