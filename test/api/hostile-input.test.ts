import type { Server } from 'node:http';
import { gzipSync } from 'node:zlib';
import pino from 'pino';
import request from 'supertest';
import { listenHttp } from '../../src/api/http-server';
import { MAX_JSON_DEPTH } from '../../src/api/request-guards';
import { MANIFEST_LIMITS } from '../../src/manifest/schema';
import { people } from '../support/promotions';
import { type ApiHarness, startApiHarness } from './support';

/**
 * Hostile and mistaken requests: each is refused with a clear 4xx in the error shape
 * `{ error: { code, message, details? } }`, nothing is logged as a crash, and the API keeps serving.
 */
describe('hostile input is refused cleanly', () => {
  let h: ApiHarness;
  let server: Server;
  let auth: string;
  const crashes: Array<{ msg?: string; err?: { message?: string } }> = [];

  beforeAll(async () => {
    const log = pino({ level: 'error' }, { write: (line: string) => void crashes.push(JSON.parse(line)) });
    h = await startApiHarness({ log });
    server = await listenHttp(h.app, 0, '127.0.0.1');
    auth = await h.bearer(people.sam);
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server?.closeAllConnections();
    await h?.close();
  });

  afterEach(async () => {
    expect(crashes.map((c) => `${c.msg}: ${c.err?.message}`)).toEqual([]);
    expect((await request(server).get('/healthz')).status).toBe(200);
  });

  /** Asserts the error shape, the status and code, and that the message says `about`. */
  const expectRefusal = (res: Pick<request.Response, 'status' | 'headers' | 'body'>, status: number, code: string, about: RegExp) => {
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.error).toEqual(expect.objectContaining({ code, message: expect.stringMatching(about) }));
    expect(JSON.stringify(res.body)).not.toMatch(/\n\s+at |node_modules/);
  };
  const submit = () => request(server).post('/v1/promotions').set('authorization', auth);
  /** Posts bytes exactly as given (supertest would serialize a Buffer as JSON). */
  const postRaw = async (path: string, authorization: string, body: Buffer, headers: Record<string, string> = {}) => {
    const { port } = server.address() as { port: number };
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json', ...headers },
      body,
    });
    const text = await res.text();
    return { status: res.status, headers: { 'content-type': res.headers.get('content-type') ?? '' }, body: JSON.parse(text) as unknown };
  };

  describe('bodies', () => {
    it('when the body is larger than the 1 MB limit, then 413 payload_too_large naming the limit', async () => {
      const manifest = await h.manifest();
      const huge = { ...manifest, model: { ...manifest.model, description: 'x'.repeat(1_100_000) } };
      expectRefusal(await submit().send(huge), 413, 'payload_too_large', /larger than the limit of 1048576 bytes/);
    });

    it('when a small gzip body inflates past the limit, then 413 too (the limit counts inflated bytes)', async () => {
      const bomb = gzipSync(Buffer.from(`{"pad":"${'0'.repeat(5_000_000)}"}`));
      expect(bomb.length).toBeLessThan(10_000);
      const res = await postRaw('/v1/promotions', auth, bomb, { 'content-encoding': 'gzip' });
      expectRefusal(res, 413, 'payload_too_large', /limit/);
    });

    it(`when JSON nests deeper than ${MAX_JSON_DEPTH} levels, then 400 naming where`, async () => {
      const manifest = await h.manifest();
      const deep = JSON.stringify({ ...manifest, modelCard: { notes: 'HOLE' } }).replace('"HOLE"', '['.repeat(50_000) + ']'.repeat(50_000));
      const res = await submit().set('content-type', 'application/json').send(deep);
      expectRefusal(res, 400, 'invalid_input', new RegExp(`deeper than ${MAX_JSON_DEPTH} levels \\(at modelCard\\.notes\\.0\\.0`));
      expect(res.body.error.details.problems[0].path).toMatch(/^modelCard\.notes\.0\.0/);
    });

    it('when nesting stays within the bound, then the body is validated as usual', async () => {
      let nested: unknown = 'leaf';
      for (let i = 0; i < MAX_JSON_DEPTH - 3; i++) nested = { level: nested };
      const res = await submit().send({ ...(await h.manifest()), modelCard: { intendedUse: 'testing depth', notes: nested } });
      expect(res.status).toBe(201);
    });

    it.each([
      ['text/plain', '{"a":1}'],
      ['application/x-www-form-urlencoded', 'a=1'],
      ['application/xml', '<manifest/>'],
    ])('when the Content-Type is %s, then 415 unsupported_media_type', async (type, body) => {
      expectRefusal(await submit().set('content-type', type).send(body), 415, 'unsupported_media_type', /must be application\/json/);
    });

    it('when there is no Content-Type at all, then 415 too', async () => {
      const res = await request(server).post('/v1/promotions').set('authorization', auth);
      expectRefusal(res, 415, 'unsupported_media_type', /must be application\/json/);
    });

    it('when the charset is not UTF-8, then 415 naming the charset', async () => {
      const res = await submit().set('content-type', 'application/json; charset=latin1').send('{"a":1}');
      expectRefusal(res, 415, 'unsupported_media_type', /LATIN1/i);
    });

    it.each([
      ['truncated', '{"model": {"name": '],
      ['trailing garbage', '{"a": 1} xyz'],
      ['single quotes', "{'a': 1}"],
      ['a bare NaN', '{"metrics": {"accuracy": NaN}}'],
    ])('when the JSON is malformed (%s), then 400 invalid_input saying so', async (_what, body) => {
      expectRefusal(await submit().set('content-type', 'application/json').send(body), 400, 'invalid_input', /request body is not valid JSON/);
    });

    it('when a string holds bytes that are not UTF-8, then the field is refused by name (400)', async () => {
      const body = Buffer.concat([Buffer.from('{"gate":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('","decision":"approve"}')]);
      const res = await postRaw(`/v1/promotions/${encodeURIComponent('promote:none:1:production')}/decisions`, await h.bearer(people.rita), body);
      expectRefusal(res, 400, 'invalid_input', /^invalid body: gate: must be letters, digits/);
    });
  });

  describe('huge manifests', () => {
    it('when a model card section is longer than the bound, then 400 naming the field', async () => {
      const manifest = await h.manifest();
      const res = await submit().send({ ...manifest, modelCard: { intendedUse: 'x'.repeat(MANIFEST_LIMITS.text + 1) } });
      expectRefusal(res, 400, 'invalid_input', new RegExp(`modelCard.intendedUse: must be at most ${MANIFEST_LIMITS.text} characters`));
      expect(res.body.error.details.problems).toContainEqual({ path: 'modelCard.intendedUse', message: `must be at most ${MANIFEST_LIMITS.text} characters` });
    });

    it('when a manifest declares more metrics than the bound, then 400 naming metrics', async () => {
      const metrics = Object.fromEntries(Array.from({ length: MANIFEST_LIMITS.entries + 1 }, (_, i) => [`m${i}`, 0.5]));
      const res = await submit().send({ ...(await h.manifest()), metrics });
      expectRefusal(res, 400, 'invalid_input', new RegExp(`metrics: must have at most ${MANIFEST_LIMITS.entries} metrics`));
    });

    it('when a metric name is too long, then 400 saying what is wrong with the key', async () => {
      const res = await submit().send({ ...(await h.manifest()), metrics: { ['k'.repeat(200)]: 1 } });
      expectRefusal(res, 400, 'invalid_input', /metrics\.k+: invalid key: must be at most 128 characters/);
    });

    it('when the model card has thousands of extra fields, then 400 naming modelCard', async () => {
      const card = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`field${i}`, 'x']));
      const res = await submit().send({ ...(await h.manifest()), modelCard: card });
      expectRefusal(res, 400, 'invalid_input', new RegExp(`modelCard: must have at most ${MANIFEST_LIMITS.entries} fields`));
    });

    it('when a list holds thousands of items, then 400 naming the list', async () => {
      const manifest = await h.manifest();
      const res = await submit().send({ ...manifest, modelCard: { intendedUse: 'scoring', contacts: Array.from({ length: 5_000 }, () => 'a@b.c') } });
      expectRefusal(res, 400, 'invalid_input', new RegExp(`modelCard.contacts: must have at most ${MANIFEST_LIMITS.entries} items`));
    });

    it('when the artifact URI is not file:// or http(s)://, then 400 naming artifact.uri', async () => {
      const manifest = await h.manifest();
      const res = await submit().send({ ...manifest, artifact: { ...manifest.artifact, uri: 'ftp://example/model.bin' } });
      expectRefusal(res, 400, 'invalid_input', /artifact\.uri: must be a file:\/\/, http:\/\/ or https:\/\/ URI/);
    });
  });

  describe('query strings, paths and methods', () => {
    const list = (query: string) => request(server).get(`/v1/promotions?${query}`).set('authorization', auth);

    it('when a filter is given twice (an array where a string is expected), then 400 naming it', async () => {
      const res = await list('status=IN_REVIEW&status=DEPLOYED');
      expectRefusal(res, 400, 'invalid_input', /^invalid query: status:/);
      expect(res.body.error.details.problems[0].path).toBe('status');
    });

    it.each([['pageSize=100000000'], ['pageSize=-1'], ['pageSize=abc'], ['pageSize=1.5'], ['pageSize=1e400']])(
      'when %s, then 400 naming pageSize',
      async (query) => {
        const res = await list(query);
        expectRefusal(res, 400, 'invalid_input', /pageSize/);
        expect(res.body.error.details.problems.map((p: { path: string }) => p.path)).toContain('pageSize');
      },
    );

    it('when a parameter is unknown or bracketed (model[]=x), then 400 naming it', async () => {
      expectRefusal(await list('model[]=x'), 400, 'invalid_input', /Unrecognized key: "model\[\]"/);
    });

    it('when pageToken was not issued by this list, then 400 at once (Temporal never sees it)', async () => {
      const started = Date.now();
      expectRefusal(await list('pageToken=not-a-token'), 400, 'invalid_input', /pageToken: is not a nextPageToken of this list/);
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it('when a nextPageToken is used with other filters, then 400', async () => {
      await h.submit(await h.manifest());
      await h.submit(await h.manifest());
      let first: request.Response | undefined;
      for (let i = 0; i < 100 && !first?.body.nextPageToken; i++) {
        first = await list('pageSize=1');
        if (!first.body.nextPageToken) await new Promise((r) => setTimeout(r, 100));
      }
      expect(first?.body.nextPageToken).toEqual(expect.any(String));
      expect((await list(`pageSize=1&pageToken=${first!.body.nextPageToken}`)).status).toBe(200);
      expectRefusal(await list(`pageSize=1&status=DEPLOYED&pageToken=${first!.body.nextPageToken}`), 400, 'invalid_input', /pageToken/);
    });

    it('when the request line and headers exceed 64 KiB, then 431 in the error shape', async () => {
      const res = await list(`model=${'a'.repeat(70_000)}`);
      expectRefusal(res, 431, 'request_header_fields_too_large', /larger than 65536 bytes/);
    });

    it('when a query is long but within 64 KiB, then it reaches validation (400, not 431)', async () => {
      expectRefusal(await list(`pageToken=${'a'.repeat(20_000)}`), 400, 'invalid_input', /pageToken: Too big/);
    });

    it('when a path is not valid percent-encoding, then 400 instead of a crash', async () => {
      const res = await request(server).get('/v1/promotions/%E0%A4%A').set('authorization', auth);
      expectRefusal(res, 400, 'invalid_input', /not valid percent-encoding/);
    });

    it('when a promotion id is longer than 1000 characters, then 400 naming the path', async () => {
      const res = await request(server).get(`/v1/promotions/${'p'.repeat(1_001)}`).set('authorization', auth);
      expectRefusal(res, 400, 'invalid_input', /^invalid path:/);
    });

    it('when the method is not one the path has, then 405 with an Allow header', async () => {
      const res = await request(server).put('/v1/promotions/x').set('authorization', auth).send({});
      expectRefusal(res, 405, 'method_not_allowed', /PUT is not allowed on \/v1\/promotions\/x; allowed: GET, HEAD/);
      expect(res.headers.allow).toBe('GET, HEAD, OPTIONS');
      const trace = await request(server).trace('/healthz');
      expect(trace.status).toBe(405);
      const options = await request(server).options('/v1/promotions');
      expect(options.status).toBe(204);
      expect(options.headers.allow).toBe('GET, POST, HEAD, OPTIONS');
    });
  });
});
