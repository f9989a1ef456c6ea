import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runAllChecks, runNamedCheck } from '../../src/checks';
import type { RegistryReader } from '../../src/registry';
import { CheckSettingsSchema } from '../../src/policy/check-settings';
import { main } from '../../src/cli/index';
import { type PromotionManifestInput, PromotionManifestSchema } from '../../src/manifest/schema';
import { testSources } from '../support/sources';

const dir = mkdtempSync(path.join(tmpdir(), 'modelgate-checks-'));
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const settings = (input: Record<string, unknown> = {}) => CheckSettingsSchema.parse(input);

function manifest(overrides: Partial<PromotionManifestInput> = {}) {
  return PromotionManifestSchema.parse({
    model: { name: 'churn', version: '2.0.0', owner: 'alice', riskTier: 'low' },
    target: 'staging',
    artifact: { uri: pathToFileURL(path.join(dir, 'model.pkl')).href, sha256: sha(MODEL), format: 'pickle' },
    lineage: { codeCommit: 'a1b2c3d', trainingData: { uri: 's3://d', classification: 'internal', containsPersonalData: false } },
    modelCard: { intendedUse: 'Scoring churn risk of existing business customers.', limitations: 'Not validated for consumer accounts or new markets.' },
    ...overrides,
  });
}

// pickle.dumps({'a': 1}, protocol=4)
const MODEL = Buffer.from('80049506000000000000007d948c0161944b01732e', 'hex');

beforeAll(() => {
  writeFileSync(path.join(dir, 'model.pkl'), MODEL);
  mkdirSync(path.join(dir, 'bundle', 'sub'), { recursive: true });
  writeFileSync(path.join(dir, 'bundle', 'b.bin'), 'bbb');
  writeFileSync(path.join(dir, 'bundle', 'sub', 'a.txt'), 'aaa');
  writeFileSync(path.join(dir, 'bundle', 'a.txt'), 'top');
  writeFileSync(path.join(dir, 'eval.csv'), 'label,pred,group,email\n1,1,a,x\n0,0,a,x\n1,0,b,bob@example.com\n0,1,b,x\n');
  writeFileSync(path.join(dir, 'bad-label.csv'), 'label,pred,group\n1,1,a\nabc,0,b\n');
  writeFileSync(path.join(dir, 'empty-group.csv'), 'label,pred,group\n1,1,a\n0,0,\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (name: Parameters<typeof runNamedCheck>[0], m = manifest(), s = settings(), extra: { registry?: RegistryReader; trustedKeys?: Array<{ keyId: string; algorithm: 'ed25519'; publicKey: string }> } = {}) =>
  runNamedCheck(name, { manifest: m, settings: s, trustedKeys: extra.trustedKeys ?? [], context: { sources: testSources(), registry: extra.registry }, rethrowTransient: false });

describe('integrity', () => {
  it('passes when the recomputed sha256 equals the declared digest', async () => {
    const r = await run('integrity');
    expect(r.status).toBe('pass');
    expect(r.metrics.sha256).toBe(sha(MODEL));
  });

  it('fails naming both digests when they differ', async () => {
    const r = await run('integrity', manifest({ artifact: { uri: pathToFileURL(path.join(dir, 'model.pkl')).href, sha256: 'b'.repeat(64), format: 'pickle' } }));
    expect(r.status).toBe('fail');
    expect(r.summary).toContain('b'.repeat(64));
  });

  it('digests a directory as sigstore model-transparency does: sorted per-file digests, concatenated raw, hashed', async () => {
    const files = ['a.txt', 'b.bin', 'sub/a.txt'].map((f) => Buffer.from(sha(f === 'a.txt' ? 'top' : f === 'b.bin' ? 'bbb' : 'aaa'), 'hex'));
    const root = sha(Buffer.concat(files));
    const r = await run('integrity', manifest({ artifact: { uri: pathToFileURL(path.join(dir, 'bundle')).href, sha256: root, format: 'other' } }));
    expect(r.status).toBe('pass');
    expect(r.metrics.files).toBe(3);
  });

  it('errors, naming the URI, when the artifact does not resolve', async () => {
    const r = await run('integrity', manifest({ artifact: { uri: 'file:///nowhere/model.pkl', sha256: 'a'.repeat(64), format: 'pickle' } }));
    expect(r.status).toBe('error');
    expect(r.summary).toContain('source refused (outside-roots): artifact.uri');
  });

  it('verifies an Ed25519 signature over the digest with a raw base64 key and with a PEM key', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const value = sign(null, Buffer.from(sha(MODEL)), privateKey).toString('base64');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
    const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const signed = manifest({ artifact: { uri: pathToFileURL(path.join(dir, 'model.pkl')).href, sha256: sha(MODEL), format: 'pickle', signature: { keyId: 'k1', algorithm: 'ed25519', value } } });
    for (const key of [raw, pem]) {
      const r = await run('integrity', signed, settings(), { trustedKeys: [{ keyId: 'k1', algorithm: 'ed25519', publicKey: key }] });
      expect(r.status).toBe('pass');
      expect(r.metrics.signatureVerified).toBe(true);
    }
    const other = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const bad = await run('integrity', signed, settings(), { trustedKeys: [{ keyId: 'k1', algorithm: 'ed25519', publicKey: other }] });
    expect(bad.status).toBe('fail');
    const unsigned = await run('integrity', manifest(), settings({ integrity: { requireSignature: true } }));
    expect(unsigned.findings.map((f) => f.kind)).toContain('signature_missing');
  });
});

describe('performance and fairness on bad input', () => {
  const evaluation = (file: string) => ({ uri: pathToFileURL(path.join(dir, file)).href, labelColumn: 'label', predictionColumn: 'pred', sensitiveColumns: ['group'], positiveLabel: 1 });

  it('an advisory check that fails reports warn; a required one fails', async () => {
    const m = manifest({ evaluation: evaluation('eval.csv') });
    const required = await run('performance', m, settings({ performance: { min: { accuracy: 0.9 } } }));
    expect(required.status).toBe('fail');
    expect(required.summary).toContain('accuracy 0.5 is below the minimum 0.9');
    const advisory = await run('performance', m, settings({ performance: { enforcement: 'advisory', min: { accuracy: 0.9 } } }));
    expect(advisory).toMatchObject({ status: 'warn', required: false });
  });

  it.each([
    ['a missing column', { ...evaluation('eval.csv'), labelColumn: 'nope' }, "no column 'nope'"],
    ['a non-numeric label', evaluation('bad-label.csv'), 'non-numeric value "abc" at row 2'],
    ['a URI that does not resolve', evaluation('missing.csv'), 'evaluation.uri: the source cannot be read (ENOENT)'],
  ])('%s gives an error result that names it', async (_what, ev, text) => {
    const r = await run('performance', manifest({ evaluation: ev }));
    expect(r.status).toBe('error');
    expect(r.summary).toContain(text);
  });

  it('an empty group value gives an error naming the column and row', async () => {
    const r = await run('fairness', manifest({ evaluation: evaluation('empty-group.csv') }));
    expect(r.status).toBe('error');
    expect(r.summary).toContain("sensitive column 'group' is empty in 1 row(s) (first at row 2)");
  });

  it('reports groups below the minimum size instead of dropping them', async () => {
    const r = await run('fairness', manifest({ evaluation: evaluation('eval.csv') }), settings({ fairness: { minGroupSize: 5, fourFifthsRule: false } }));
    expect(r.findings.find((f) => f.kind === 'group_too_small')?.message).toContain('a (2), b (2)');
    expect(Object.keys(r.metrics.byGroup as object)).toEqual(['a', 'b']);
  });
});

describe('model card, lineage and privacy', () => {
  const registry = (versions: Record<string, string>): RegistryReader => ({
    findVersion: async (_m, v) => (versions[v] ? { sha256: versions[v], metrics: {} } : undefined),
    servingVersion: async () => undefined,
  });

  it('fails a high-risk model card that lacks the tier fields or holds placeholders', async () => {
    const m = manifest({ model: { name: 'churn', version: '2.0.0', owner: 'alice', riskTier: 'high' }, modelCard: { intendedUse: 'TBD' } });
    const r = await run('modelCard', m);
    expect(r.status).toBe('fail');
    expect(r.findings.map((f) => f.location)).toEqual(expect.arrayContaining(['intendedUse', 'humanOversight', 'postMarketMonitoring']));
  });

  it('fails when the version is registered with another digest, and when the parent is unknown', async () => {
    const m = manifest({ lineage: { codeCommit: 'a1b2c3d', parentVersion: '1.0.0', trainingData: { uri: 's3://d', classification: 'internal', containsPersonalData: false } } });
    const conflict = await run('lineage', m, settings(), { registry: registry({ '2.0.0': 'c'.repeat(64), '1.0.0': 'd'.repeat(64) }) });
    expect(conflict.findings.map((f) => f.kind)).toEqual(['version_digest_conflict']);
    const orphan = await run('lineage', m, settings(), { registry: registry({}) });
    expect(orphan.findings.map((f) => f.kind)).toEqual(['parent_not_found']);
    const local = await run('lineage', m);
    expect(local.status).toBe('pass');
    expect(local.findings.map((f) => f.kind)).toEqual(['registry_unavailable']);
  });

  it('finds e-mail addresses in the evaluation sample and refuses restricted data where not allowed', async () => {
    const m = manifest({
      evaluation: { uri: pathToFileURL(path.join(dir, 'eval.csv')).href, labelColumn: 'label', predictionColumn: 'pred' },
      lineage: { codeCommit: 'a1b2c3d', trainingData: { uri: 's3://d', classification: 'restricted', containsPersonalData: true } },
    });
    const r = await run('privacy', m, settings({ privacy: { allowedClassifications: ['public', 'internal'] } }));
    expect(r.status).toBe('fail');
    expect(r.findings.map((f) => f.kind)).toEqual(expect.arrayContaining(['classification_not_allowed', 'legal_review_required', 'personal_data_in_evaluation']));
    expect(r.metrics.requiresLegalReview).toBe(true);
  });
});

describe('modelgate scan / check', () => {
  async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const w1 = jest.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    const w2 = jest.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    try {
      const code = await main(['node', 'modelgate', ...args]);
      return { code, out, err };
    } finally {
      w1.mockRestore();
      w2.mockRestore();
    }
  }

  it('scan exits 0 on a harmless pickle, 1 on a dangerous one, 2 on an unreadable path', async () => {
    expect((await cli(['scan', path.join(dir, 'model.pkl')])).code).toBe(0);
    writeFileSync(path.join(dir, 'evil.pkl'), Buffer.from("cos\nsystem\n(S'id'\ntR.", 'latin1'));
    const evil = await cli(['scan', path.join(dir, 'evil.pkl'), '--json']);
    expect(evil.code).toBe(1);
    const parsed = JSON.parse(evil.out) as { status: string; findings: Array<{ global?: string; severity: string }> };
    expect(parsed.status).toBe('fail');
    expect(parsed.findings).toContainEqual(expect.objectContaining({ global: 'os.system', severity: 'critical' }));
    const missing = await cli(['scan', path.join(dir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.err).not.toMatch(/\n\s+at /);
  });

  it('check prints every result as JSON and exits 1 when a required check fails, 2 on an invalid manifest', async () => {
    const file = path.join(dir, 'manifest.json');
    writeFileSync(file, JSON.stringify({ ...manifest(), artifact: { ...manifest().artifact, uri: 'file://model.pkl', sha256: 'e'.repeat(64) } }));
    const res = await cli(['check', file, '--json']);
    const parsed = JSON.parse(res.out) as { status: string; checks: Array<{ name: string; status: string }> };
    expect(parsed.checks.map((c) => c.name)).toEqual(['integrity', 'security', 'performance', 'fairness', 'modelCard', 'lineage', 'privacy']);
    expect(parsed.checks[0]!.status).toBe('fail');
    // The scan's verdict is bound to the declared digest: bytes that are not the declared artifact fail it too.
    expect(parsed.checks[1]!.status).toBe('fail');
    expect(res.code).toBe(1);
    writeFileSync(file, JSON.stringify({ model: { name: 'x' } }));
    const invalid = await cli(['check', file]);
    expect(invalid.code).toBe(2);
    expect(invalid.err).toContain('model.version');
  });

  it('runs integrity and security in one pass with the same verdicts as separately', async () => {
    const results = await runAllChecks({ manifest: manifest(), settings: settings(), trustedKeys: [], context: { sources: testSources() } });
    expect(results.slice(0, 2).map((r) => r.status)).toEqual(['pass', 'pass']);
  });
});
