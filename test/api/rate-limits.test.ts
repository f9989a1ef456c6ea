import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Express } from 'express';
import request from 'supertest';
import { refusedTokenLimiter } from '../../src/api/rate-limits';
import { people } from '../support/promotions';
import { waitUntil } from '../support/wait';
import { type ApiHarness, buildTestApp, promotionPath, startApiHarness } from './support';

/**
 * The routes anyone can reach cost a query and a write per refused request (the refused-attempts
 * log): an address that causes too many refusals in a minute is answered 429 before either.
 */
describe('rate limits on refused requests', () => {
  let h: ApiHarness;
  let app: Express;
  beforeAll(async () => {
    h = await startApiHarness();
    app = buildTestApp({ client: h.client, pool: h.pool, policy: h.policy, taskQueue: h.config.temporal.taskQueue, rateLimits: { refusedTokensPerMinute: 5, refusedReportsPerMinute: 3 } });
  }, 120_000);
  afterAll(async () => {
    await h?.close();
  });

  /** Refused attempts logged with status 401 (the log is written in the background). */
  const logged401 = async () => Number((await h.pool.query(`SELECT count(*) AS n FROM refused_attempts WHERE status_code = 401`)).rows[0].n);

  it('bad bearer tokens: the first ones are refused and logged, then the address gets 429 and nothing more is written', async () => {
    for (let i = 0; i < 5; i++) expect((await request(app).get('/v1/promotions').set('authorization', 'Bearer not.a.token')).status).toBe(401);
    const before = await waitUntil(logged401, (n) => n === 5);
    const cut = await request(app).get('/v1/promotions').set('authorization', 'Bearer not.a.token');
    expect(cut.status).toBe(429);
    expect(cut.body.error).toEqual(expect.objectContaining({ code: 'too_many_requests', message: expect.stringMatching(/at most 5 a minute/) }));
    expect(cut.headers['retry-after']).toBeDefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(await logged401()).toBe(before);
    // Requests that succeed are not counted: a valid token on another app is served.
    const fresh = buildTestApp({ client: h.client, pool: h.pool, policy: h.policy, taskQueue: h.config.temporal.taskQueue, rateLimits: { refusedTokensPerMinute: 2, refusedReportsPerMinute: 2 } });
    const auth = await h.bearer(people.sam);
    for (let i = 0; i < 4; i++) expect((await request(fresh).get('/v1/promotions').set('authorization', auth)).status).toBe(200);
  });

  it('deployer reports with bad signatures: refused, then 429 without reading the promotion', async () => {
    const report = () =>
      request(app)
        .post(promotionPath('promote:nobody:1.0.0:production', 'deployment'))
        .set('content-type', 'application/json')
        .set('x-modelgate-timestamp', String(Math.floor(Date.now() / 1000)))
        .set('x-modelgate-signature', 'sha256=00')
        .send({ deploymentId: 'x', status: 'succeeded' });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await report()).status);
    expect(statuses.slice(0, 3).every((s) => s >= 400 && s < 500 && s !== 429)).toBe(true);
    expect(statuses[3]).toBe(429);
  });

  it('counts a request when it is refused, not while it is in flight: more valid requests at once than the limit are all served', async () => {
    // A route that answers only once all the requests have reached it (or after 3 s): with
    // requests counted on arrival, those past the limit were answered 429 before reaching it.
    const inFlight = 8;
    let arrived = 0;
    let release: () => void = () => undefined;
    const allArrived = new Promise<void>((resolve) => (release = resolve));
    const limited = express();
    limited.use(refusedTokenLimiter({ refusedTokensPerMinute: 2, refusedReportsPerMinute: 2 }));
    limited.get('/valid', async (_req, res) => {
      if (++arrived === inFlight) release();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([allArrived, new Promise((r) => (timer = setTimeout(r, 3_000)))]);
      clearTimeout(timer);
      res.json({ ok: true });
    });
    limited.get('/refused', (_req, res) => void res.status(401).json({ error: { code: 'unauthenticated', message: 'refused' } }));
    const server = limited.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const statuses = await Promise.all(Array.from({ length: inFlight }, () => request(server).get('/valid').then((r) => r.status)));
      expect(statuses).toEqual(Array(inFlight).fill(200));
      expect(arrived).toBe(inFlight);
      // Refusals are still counted: two 401s, then 429 for any request from the address.
      expect((await request(server).get('/refused')).status).toBe(401);
      expect((await request(server).get('/refused')).status).toBe(401);
      const cut = await request(server).get('/valid');
      expect(cut.status).toBe(429);
      expect(Number(cut.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('a request whose client hangs up before the answer counts as refused: hanging up does not dodge the limit', async () => {
    const limited = express();
    limited.use(refusedTokenLimiter({ refusedTokensPerMinute: 2, refusedReportsPerMinute: 2 }));
    // Answers 401 after 300 ms, by which time the client below has hung up.
    limited.get('/slow-refusal', (_req, res) => void setTimeout(() => res.status(401).json({ error: { code: 'unauthenticated', message: 'refused' } }), 300));
    limited.get('/valid', (_req, res) => void res.json({ ok: true }));
    const server = limited.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const { port } = server.address() as AddressInfo;
    const hangUp = () =>
      new Promise<void>((resolve) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: '/slow-refusal' });
        req.on('error', () => resolve());
        req.end(() => setTimeout(() => (req.destroy(), resolve()), 50));
      });
    try {
      await hangUp();
      await hangUp();
      await new Promise((r) => setTimeout(r, 500));
      expect((await request(server).get('/valid')).status).toBe(429);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
