import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import type { PromotionState } from '../../src/shared/promotion';
import { recordHistory } from '../support/histories';
import { testArtifactStore } from '../support/sources';
import { people } from '../support/promotions';
import { waitUntil } from '../support/wait';
import { type ApiHarness, promotionPath, startApiHarness } from './support';

/** A protocol-2 pickle that runs `os.system('id')` when loaded. */
const MALICIOUS = Buffer.from('\x80\x02cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.', 'latin1');
/** A protocol-2 pickle of an empty dict. */
const BENIGN = Buffer.from('\x80\x02}q\x00.', 'latin1');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Values of this process's environment that no answer may ever contain. */
const SECRETS = [process.env.DATABASE_URL!, process.env.TEMPORAL_ADDRESS!].filter((v) => v && v.length > 8);

/**
 * A hostile submitter with nothing but a data-scientist token names sources that would read the
 * worker's secrets or reach internal hosts, or serves different bytes to different readers:
 * refused at submission where that can be decided, refused by the worker where it cannot, and
 * never echoed. Real API, worker, Temporal and PostgreSQL.
 */
describe('hostile sources', () => {
  let h: ApiHarness;
  let auth: string;
  let server: Server;
  let port: number;
  let hits: Record<string, number> = {};
  let root: string;

  beforeAll(async () => {
    h = await startApiHarness();
    auth = await h.bearer(people.sam);
    root = mkdtempSync(path.join(tmpdir(), 'modelgate-hostile-'));
    symlinkSync('/proc/self/environ', path.join(root, 'environ.csv'));
    server = createServer((req, res) => {
      const url = req.url ?? '/';
      hits[url] = (hits[url] ?? 0) + 1;
      if (url === '/two-faced.pkl') {
        // The first reader gets the malicious model, every later one a clean file.
        res.writeHead(200).end(hits[url] === 1 ? MALICIOUS : BENIGN);
        return;
      }
      if (url === '/to-loopback-name.pkl') {
        res.writeHead(302, { location: `http://localhost:${port}/benign.pkl` }).end();
        return;
      }
      res.writeHead(200).end(BENIGN);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  }, 120_000);

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    rmSync(root, { recursive: true, force: true });
    await h?.close();
  });

  beforeEach(() => {
    hits = {};
  });

  const expectNoSecret = (body: unknown) => {
    const text = JSON.stringify(body);
    for (const secret of SECRETS) expect(text).not.toContain(secret);
  };
  const submit = (manifest: object) => request(h.app).post('/v1/promotions').set('authorization', auth).send(manifest);
  const stateOf = async (id: string): Promise<PromotionState> => {
    const res = await request(h.app).get(promotionPath(id)).set('authorization', auth);
    expect(res.status).toBe(200);
    expectNoSecret(res.body);
    return res.body as PromotionState;
  };
  const settled = (id: string) => waitUntil(() => stateOf(id), (state) => state.status !== 'VALIDATING', 60_000);

  describe('refused at submission, naming the field and the rule', () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['the worker environment as evaluation file', 'evaluation', { uri: 'file:///proc/self/environ', labelColumn: 'y', predictionColumn: 'p' }, 'system-path'],
      ['a host file as model card', 'modelCard', { uri: 'file:///etc/passwd' }, 'outside-roots'],
      ['the metadata service as artifact', 'artifact.uri', 'http://169.254.169.254/latest/meta-data/iam/', 'host-not-allowed'],
      ['loopback by name as artifact', 'artifact.uri', 'http://localhost:8080/benign.pkl', 'host-not-allowed'],
      ['a path climbing out of a root', 'artifact.uri', `file://${tmpdir()}/x/../../etc/passwd`, 'dot-segments'],
      ['a relative path', 'artifact.uri', 'file://etc/passwd', 'relative-path'],
      ['a training-data file outside the roots', 'lineage.trainingData', { uri: 'file:///etc/shadow', classification: 'internal', containsPersonalData: false }, 'outside-roots'],
    ];
    it.each(cases)('%s', async (_what, where, value, rule) => {
      const manifest = JSON.parse(JSON.stringify(await h.manifest())) as Record<string, Record<string, unknown>>;
      const [section, key] = where.split('.') as [string, string | undefined];
      if (key) manifest[section] = { ...manifest[section], [key]: value };
      else manifest[section] = value as Record<string, unknown>;
      const field = where === 'evaluation' || where === 'modelCard' || where === 'lineage.trainingData' ? `${where}.uri` : where;
      const res = await submit(manifest);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_input');
      expect(res.body.error.details.problems).toEqual([expect.objectContaining({ path: field, rule })]);
      expect(res.body.error.message).toContain(field);
      expectNoSecret(res.body);
    });
  });

  it('a revision naming a refused source is refused the same way, naming the changed field', async () => {
    const res = await request(h.app)
      .post(promotionPath('promote:any:1.0.0:production', 'revisions'))
      .set('authorization', auth)
      .send({ changes: { evaluation: { uri: 'file:///proc/self/environ', labelColumn: 'y', predictionColumn: 'p' } }, comment: 'new evaluation' });
    expect(res.status).toBe(400);
    expect(res.body.error.details.problems).toEqual([expect.objectContaining({ path: 'changes.evaluation.uri', rule: 'system-path' })]);
  });

  it('a symlink inside an allowed folder that points at /proc/self/environ is refused by the worker, and nothing of it is shown', async () => {
    const manifest = await h.manifest({ evaluation: { uri: `file://${root}/environ.csv`, labelColumn: 'y', predictionColumn: 'p' } });
    const res = await submit(manifest);
    expect(res.status).toBe(201);
    const state = await settled(res.body.promotionId);
    const performance = state.checks.find((c) => c.name === 'performance')!;
    expect(performance.status).toBe('error');
    expect(performance.summary).toMatch(/source refused \(system-path\): evaluation\.uri/);
    expect(state.status).toBe('CHECKS_FAILED');
  });

  it('a source that answers the first reader with a malicious model and later readers with a clean one cannot pass: it is fetched once, and that copy is hashed and scanned', async () => {
    const manifest = await h.manifest({ artifact: { uri: `http://127.0.0.1:${port}/two-faced.pkl`, sha256: sha(MALICIOUS), format: 'pickle' } });
    const res = await submit(manifest);
    expect(res.status).toBe(201);
    const state = await settled(res.body.promotionId);
    expect(hits['/two-faced.pkl']).toBe(1);
    const [integrity, security] = [state.checks.find((c) => c.name === 'integrity')!, state.checks.find((c) => c.name === 'security')!];
    expect(integrity.status).toBe('pass');
    expect(security.status).toBe('fail');
    expect(security.findings.some((f) => f.global === 'os.system' || f.global === 'posix.system')).toBe(true);
    expect(state.status).toBe('CHECKS_FAILED');
    const handle = h.client.workflow.getHandle(res.body.promotionId);
    expect(((await handle.result()) as PromotionState).status).toBe('EXPIRED'); // after the remediation window
    await recordHistory('promotion-artifact-checks-one-pass', handle);
  });

  it('a redirect to a host that is not listed gives an error result naming the rule', async () => {
    const manifest = await h.manifest({ artifact: { uri: `http://127.0.0.1:${port}/to-loopback-name.pkl`, sha256: sha(BENIGN), format: 'pickle' } });
    const res = await submit(manifest);
    const state = await settled(res.body.promotionId);
    const integrity = state.checks.find((c) => c.name === 'integrity')!;
    expect(integrity.status).toBe('error');
    expect(integrity.summary).toMatch(/source refused \(host-not-allowed\): artifact\.uri \(redirect\): host "localhost" is not in ARTIFACT_HOSTS/);
    expect(hits['/benign.pkl']).toBeUndefined();
  });

  it('keeps the verified bytes read-only in the store under their digest, where deployment takes them', async () => {
    const manifest = await h.manifest({ artifact: { uri: `http://127.0.0.1:${port}/benign.pkl`, sha256: sha(BENIGN), format: 'pickle' } });
    const res = await submit(manifest);
    const state = await settled(res.body.promotionId);
    const integrity = state.checks.find((c) => c.name === 'integrity')!;
    expect(integrity.status).toBe('pass');
    expect(integrity.metrics.verifiedCopy).toMatch(new RegExp(`^sha256/${sha(BENIGN)}/file-[0-9a-f]{64}$`));
    const copy = path.join(testArtifactStore(), integrity.metrics.verifiedCopy as string);
    const files = readdirSync(copy);
    expect(files).toEqual(['benign.pkl']);
    expect(statSync(path.join(copy, 'benign.pkl')).mode & 0o222).toBe(0);
  });
});
