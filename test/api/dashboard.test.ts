import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import express from 'express';
import request from 'supertest';
import type { DashboardOptions } from '../../src/api/dashboard';
import { DEV_USERS } from '../../src/api/dev-sign-in';
import { ARCHIVE_FIGURES_MAX_AGE_MS, governanceRoutes } from '../../src/api/governance';
import { createReviewStateReader } from '../../src/api/review-states';
import { loadPolicyFile } from '../../src/policy/load';
import { waitUntil } from '../support/wait';
import { people, sendUpdate, waitForStatus } from '../support/promotions';
import { type ApiHarness, buildTestApp, startApiHarness, TEST_DEV_SECRET } from './support';

const DASHBOARD_POLICY = path.join(__dirname, '..', 'fixtures', 'policies', 'dashboard-test.yaml');

describe('the dashboard and the endpoints it reads', () => {
  let h: ApiHarness;

  beforeAll(async () => {
    h = await startApiHarness({ policyFile: DASHBOARD_POLICY, dashboard: { devSignIn: { devSignInSecret: TEST_DEV_SECRET } } });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  }, 60_000);

  /** Another app on the same services, served with other dashboard options. */
  const appWith = (dashboard: DashboardOptions) =>
    buildTestApp({ client: h.client, pool: h.pool, policy: h.policy, taskQueue: h.config.temporal.taskQueue, authenticator: { authenticate: async () => people.rita }, dashboard });

  describe('serving /ui/', () => {
    it('redirects / and /ui to /ui/, and serves the built page with a policy that allows this origin only', async () => {
      const root = await request(h.app).get('/');
      expect(root.status).toBe(302);
      expect(root.headers.location).toBe('/ui/');
      const bare = await request(h.app).get('/ui?x=1');
      expect(bare.status).toBe(301);
      expect(bare.headers.location).toBe('/ui/?x=1');
      const page = await request(h.app).get('/ui/');
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toMatch(/text\/html/);
      expect(page.headers['content-security-policy']).toContain("default-src 'self'");
      expect(page.headers['content-security-policy']).toContain("connect-src 'self'");
      expect(page.text).toContain('<script type="module" src="app.js">');
      expect(page.text).not.toMatch(/(src|href)="(https?:)?\/\//);
      const script = await request(h.app).get('/ui/app.js');
      expect(script.status).toBe(200);
      expect(script.headers['content-type']).toMatch(/javascript/);
    });

    it('when the dashboard was not built, then 503 says how to build it', async () => {
      const empty = await mkdtemp(path.join(tmpdir(), 'modelgate-no-dashboard-'));
      try {
        const res = await request(appWith({ assetsDir: empty })).get('/ui/');
        expect(res.status).toBe(503);
        expect(res.body.error).toEqual({ code: 'not_ready', message: expect.stringMatching(/dashboard is not built .*run npm run build/) });
      } finally {
        await rm(empty, { recursive: true, force: true });
      }
    });
  });

  describe('dev sign-in', () => {
    it('when it is not enabled, then the page is told so and no token is issued', async () => {
      const app = appWith({});
      expect((await request(app).get('/ui/config.json')).body).toEqual({ devSignIn: false });
      expect((await request(app).post('/ui/dev-sign-in').send({ user: 'rita' })).status).toBe(404);
      expect((await request(app).get('/ui/dev-users')).status).toBe(404);
    });

    it('when enabled, issues a token for a dev user that the API accepts with their roles', async () => {
      expect((await request(h.app).get('/ui/config.json')).body).toEqual({ devSignIn: true });
      const users = await request(h.app).get('/ui/dev-users');
      expect(users.body.users.map((u: { id: string }) => u.id)).toEqual(DEV_USERS.map((u) => u.id));
      const signIn = await request(h.app).post('/ui/dev-sign-in').send({ user: 'rick' });
      expect(signIn.status).toBe(200);
      const me = await request(h.app).get('/v1/me').set('authorization', `Bearer ${signIn.body.token}`);
      expect(me.body).toEqual({ id: 'rick', roles: ['risk-manager'] });
    });

    it('when the user is unknown or the body malformed, then 400 names the field', async () => {
      const unknown = await request(h.app).post('/ui/dev-sign-in').send({ user: 'mallory' });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.details.problems).toEqual([{ path: 'user', message: 'unknown dev user' }]);
      const malformed = await request(h.app).post('/ui/dev-sign-in').send({ user: 'rita', roles: ['admin'] });
      expect(malformed.status).toBe(400);
      expect(malformed.body.error.message).toMatch(/roles/);
    });

    it('the dev users hold every role the shipped default policy names', async () => {
      const { policy } = await loadPolicyFile(path.join(__dirname, '..', '..', 'policies', 'default.yaml'));
      // Every list of roles anywhere in the policy: gates' roles and escalations, overrides, re-certification.
      const named = new Set<string>();
      const collect = (value: unknown, key: string, parent: string) => {
        if (Array.isArray(value)) {
          if (/roles$|^escalateTo$/i.test(key) || parent === 'overrides') value.forEach((r) => typeof r === 'string' && named.add(r));
          value.forEach((v) => collect(v, '', key));
        } else if (value && typeof value === 'object') {
          for (const [k, v] of Object.entries(value)) collect(v, k, key);
        }
      };
      collect(policy, '', '');
      const held = new Set(DEV_USERS.flatMap((u) => u.roles));
      expect([...named].filter((r) => !held.has(r))).toEqual([]);
      expect(named.size).toBeGreaterThan(8);
    });
  });

  describe('GET /v1/me', () => {
    it('answers the caller as the API reads the token; without one, 401', async () => {
      const me = await request(h.app).get('/v1/me').set('authorization', await h.bearer(people.multi));
      expect(me.body).toEqual({ id: 'multi', roles: ['ml-reviewer', 'security-reviewer'] });
      expect((await request(h.app).get('/v1/me')).status).toBe(401);
    });
  });

  describe('GET /v1/review-queue', () => {
    let medium: string;
    let high: string;
    let ownedByRita: string;

    beforeAll(async () => {
      const handles = await Promise.all([
        h.manifest({ model: { riskTier: 'medium' } }).then((m) => h.submit(m)),
        h.manifest({ model: { riskTier: 'high' } }).then((m) => h.submit(m)),
        h.manifest({ model: { riskTier: 'medium', owner: 'rita' } }).then((m) => h.submit(m)),
      ]);
      await Promise.all(handles.map((handle) => waitForStatus(handle, 'IN_REVIEW')));
      [medium, high, ownedByRita] = handles.map((handle) => handle.workflowId) as [string, string, string];
    }, 60_000);

    const queueOf = async (actor: (typeof people)[keyof typeof people]) => {
      const res = await request(h.app).get('/v1/review-queue').set('authorization', await h.bearer(actor));
      expect(res.status).toBe(200);
      return res.body as { entries: Array<{ promotionId: string; dueAt?: string; gates: Array<{ gate: string; deadlineAt?: string }> }>; truncated: boolean };
    };
    const ours = (body: Awaited<ReturnType<typeof queueOf>>) => body.entries.filter((e) => [medium, high, ownedByRita].includes(e.promotionId));

    it("lists what waits on the reviewer's gates, nearest deadline first, without the promotions they may not sign", async () => {
      const queue = await waitUntil(() => queueOf(people.rita), (q) => ours(q).length >= 2);
      expect(ours(queue).map((e) => e.promotionId)).toEqual([high, medium]);
      const [first, second] = ours(queue);
      expect(first!.gates.map((g) => g.gate)).toEqual(['technical']);
      expect(first!.dueAt).toBe(first!.gates[0]!.deadlineAt);
      expect(Date.parse(first!.dueAt!)).toBeLessThan(Date.parse(second!.dueAt!));
      expect(queue.truncated).toBe(false);
    });

    it('shows another role only its own gate, and nothing to a role whose gate is not open yet', async () => {
      const security = await waitUntil(() => queueOf(people.sec), (q) => ours(q).length >= 1);
      expect(ours(security).map((e) => [e.promotionId, e.gates.map((g) => g.gate)])).toEqual([[high, ['security']]]);
      expect(ours(await queueOf(people.bo))).toEqual([]);
    });

    it('a promotion leaves the queue once its gate is decided', async () => {
      await sendUpdate(h.client.workflow.getHandle(medium), 'decide', { actor: people.ravi, gate: 'technical', decision: 'approve' });
      const queue = await waitUntil(() => queueOf(people.rita), (q) => !ours(q).some((e) => e.promotionId === medium));
      expect(ours(queue).map((e) => e.promotionId)).toEqual([high]);
      const business = await waitUntil(() => queueOf(people.bo), (q) => ours(q).length === 1);
      expect(ours(business)[0]!.gates[0]!.gate).toBe('business');
    });
  });

  describe('review states for the queue', () => {
    /** The harness's client, counting the state queries that reach a worker. */
    const countingClient = () => {
      const counted = { queries: 0 };
      const client = {
        withDeadline: h.client.withDeadline.bind(h.client),
        workflow: {
          getHandle: (id: string) => {
            const handle = h.client.workflow.getHandle(id);
            return {
              describe: () => handle.describe(),
              query: (...args: Parameters<typeof handle.query>) => {
                counted.queries += 1;
                return handle.query(...args);
              },
            };
          },
        },
      } as unknown as Client;
      return { client, counted };
    };

    it('are queried again only when the history grew; a state is forgotten past the limit', async () => {
      const a = await h.submit(await h.manifest({ model: { riskTier: 'medium' } }));
      const b = await h.submit(await h.manifest({ model: { riskTier: 'medium' } }));
      await Promise.all([waitForStatus(a, 'IN_REVIEW'), waitForStatus(b, 'IN_REVIEW')]);
      const { client, counted } = countingClient();
      const read = createReviewStateReader(client, { limit: 1 });
      expect((await read(a.workflowId)).stages[0]!.gates[0]!.status).toBe('open');
      expect((await read(a.workflowId)).timeline).toEqual([]);
      expect(counted.queries).toBe(1);
      await sendUpdate(a, 'decide', { actor: people.rita, gate: 'technical', decision: 'approve' });
      expect((await read(a.workflowId)).stages[0]!.gates[0]!.status).toBe('approved');
      expect(counted.queries).toBe(2);
      await read(b.workflowId);
      await read(a.workflowId);
      expect(counted.queries).toBe(4);
    });

    it('fail within the timeout when a promotion has no worker', async () => {
      const read = createReviewStateReader(h.client, { timeoutMs: 500 });
      const orphan = await h.client.workflow.start('PromotionWorkflow', { taskQueue: 'no-worker-here', workflowId: `orphan-${Date.now()}`, args: [{}] });
      const started = Date.now();
      await expect(read(orphan.workflowId)).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(5_000);
      await orphan.terminate('test over');
    });
  });

  describe('GET /v1/promotions?tier=', () => {
    it('filters by effective risk tier; an unknown tier is 400', async () => {
      const high = await h.submit(await h.manifest({ model: { riskTier: 'high' } }));
      const auth = await h.bearer(people.rita);
      const listed = await waitUntil(
        () => request(h.app).get('/v1/promotions?tier=high&pageSize=500').set('authorization', auth),
        (r) => r.body.promotions?.some((p: { promotionId: string }) => p.promotionId === high.workflowId),
      );
      expect(listed.body.query).toContain("RiskTier = 'high'");
      expect(new Set(listed.body.promotions.map((p: { riskTier: string }) => p.riskTier))).toEqual(new Set(['high']));
      const bad = await request(h.app).get('/v1/promotions?tier=extreme').set('authorization', auth);
      expect(bad.status).toBe(400);
      expect(bad.body.error.details.problems[0].path).toBe('tier');
    });
  });

  describe('GET /v1/governance', () => {
    beforeAll(async () => {
      const deployed = await h.submit(await h.manifest({ model: { riskTier: 'medium' } }));
      const rejected = await h.submit(await h.manifest({ model: { riskTier: 'medium' } }));
      const failing = await h.submit(await h.manifest({ model: { riskTier: 'low' }, metrics: { accuracy: 0.5 } }));
      await waitForStatus(deployed, 'IN_REVIEW');
      await sendUpdate(deployed, 'decide', { actor: people.rita, gate: 'technical', decision: 'approve' });
      await waitUntil(() => deployed.query<{ stages: Array<{ gates: Array<{ status: string }> }> }>('state'), (s) => s.stages[1]!.gates[0]!.status === 'open');
      await sendUpdate(deployed, 'decide', { actor: people.bo, gate: 'business', decision: 'approve' });
      await waitForStatus(rejected, 'IN_REVIEW');
      await sendUpdate(rejected, 'decide', { actor: people.rita, gate: 'technical', decision: 'reject', comment: 'Calibration drifts on the holdout set' });
      await waitForStatus(failing, 'CHECKS_FAILED');
      await sendUpdate(failing, 'withdraw', { actor: people.sam, reason: 'accuracy too low' });
      // Each promotion archives its timeline as it closes.
      await waitUntil(
        () => h.pool.query<{ n: string }>('SELECT count(DISTINCT promotion_id) AS n FROM audit_events'),
        (r) => Number(r.rows[0]!.n) === 3,
      );
      // One archived long ago: outside a 90-day window.
      await h.pool.query(
        `INSERT INTO audit_events (promotion_id, seq, occurred_at, actor, action, detail, prev_hash, hash)
         VALUES ('promote:old:1:production', 1, now() - interval '200 days', 'sam', 'submitted', '{"effectiveTier":"high"}', $1, $2),
                ('promote:old:1:production', 2, now() - interval '199 days', 'modelgate', 'rejected', '{"reason":"an old reason"}', $2, $3)`,
        ['0'.repeat(64), '1'.repeat(64), '2'.repeat(64)],
      );
    }, 90_000);

    const governance = async (query = '') => {
      const res = await request(h.app).get(`/v1/governance${query}`).set('authorization', await h.bearer(people.max));
      expect(res.status).toBe(200);
      return res.body;
    };

    it('counts every status from Temporal visibility', async () => {
      const body = await waitUntil(
        () => governance(),
        (b) => b.promotionsByStatus.find((s: { status: string }) => s.status === 'DEPLOYED').count >= 1,
      );
      expect(body.promotionsByStatus.map((s: { status: string }) => s.status)).toEqual([
        'VALIDATING', 'CHECKS_FAILED', 'IN_REVIEW', 'CHANGES_REQUESTED', 'APPROVED', 'DEPLOYING',
        'DEPLOYED', 'REJECTED', 'EXPIRED', 'WITHDRAWN', 'SUPERSEDED', 'DEPLOY_FAILED',
      ]);
      const count = (status: string) => body.promotionsByStatus.find((s: { status: string }) => s.status === status).count;
      expect(count('REJECTED')).toBeGreaterThanOrEqual(1);
      expect(count('WITHDRAWN')).toBeGreaterThanOrEqual(1);
      expect(count('IN_REVIEW')).toBeGreaterThanOrEqual(2);
    });

    it('computes decision times, failing checks and rejection reasons from the archive of the period', async () => {
      const { archive } = await governance();
      expect(archive.days).toBe(90);
      expect(archive.promotions).toBe(3);
      expect(archive.outcomes).toEqual([
        { status: 'DEPLOYED', count: 1 },
        { status: 'REJECTED', count: 1 },
        { status: 'WITHDRAWN', count: 1 },
      ]);
      expect(archive.timeToDecisionByTier).toEqual([expect.objectContaining({ tier: 'medium', count: 2, approved: 1, rejected: 1 })]);
      expect(archive.timeToDecisionByTier[0].medianSeconds).toBeGreaterThan(0);
      expect(archive.timeToDecisionByGate.map((g: { gate: string; count: number }) => [g.gate, g.count])).toEqual([
        ['business', 1],
        ['technical', 2],
      ]);
      expect(archive.failingChecks).toEqual([{ check: 'performance', failed: 1, errored: 0, promotions: 1 }]);
      expect(archive.rejectionReasons).toEqual([
        { kind: 'reviewer', reason: 'Calibration drifts on the holdout set', count: 1, gates: ['technical'], lastAt: expect.any(String) },
      ]);
    });

    it('reuses the archive figures of a period for a while, however often they are asked for', async () => {
      let now = new Date();
      const app = express().use('/g', governanceRoutes({ client: h.client, pool: h.pool, now: () => now }));
      const promotions = async () => (await request(app).get('/g?days=30')).body.archive.promotions as number;
      const before = await promotions();
      await h.pool.query(
        `INSERT INTO audit_events (promotion_id, seq, occurred_at, actor, action, detail, prev_hash, hash)
         VALUES ('promote:late:1:production', 1, now(), 'sam', 'submitted', '{"effectiveTier":"low"}', $1, $2)`,
        ['0'.repeat(64), '3'.repeat(64)],
      );
      now = new Date(now.getTime() + ARCHIVE_FIGURES_MAX_AGE_MS - 1_000);
      expect(await promotions()).toBe(before);
      now = new Date(now.getTime() + 2_000);
      expect(await promotions()).toBe(before + 1);
    });

    it('a longer period takes in older archived promotions; a period out of range is 400', async () => {
      const year = await governance('?days=365');
      // the three of this block, the one archived 200 days ago and the one the test above added
      expect(year.archive.promotions).toBe(5);
      expect(year.archive.rejectionReasons.map((r: { reason: string }) => r.reason)).toContain('an old reason');
      const bad = await request(h.app).get('/v1/governance?days=0').set('authorization', await h.bearer(people.max));
      expect(bad.status).toBe(400);
      expect(bad.body.error.details.problems[0].path).toBe('days');
    });
  });

  it('the OpenAPI document describes the new endpoints and the tier filter', async () => {
    const doc = (await request(h.app).get('/openapi.json')).body;
    for (const p of ['/v1/me', '/v1/review-queue', '/v1/governance']) expect(doc.paths[p].get).toBeDefined();
    expect(doc.paths['/v1/governance'].get.parameters.map((p: { name: string }) => p.name)).toEqual(['days']);
    expect(doc.paths['/v1/promotions'].get.parameters.map((p: { name: string }) => p.name)).toContain('tier');
    expect(doc.components.schemas.GovernanceStats).toBeDefined();
  });
});
