import { createHash, generateKeyPairSync, sign as signWith, type KeyObject } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runNamedCheck } from '../../src/checks';
import { localArtifact } from '../../src/checks/artifact-source';
import { digestArtifact } from '../../src/checks/digest';
import { OMS_LIMITS } from '../../src/checks/oms/refusal';
import { detectFormat } from '../../src/checks/security/format';
import { preAuthenticationEncoding, publicKeyHint } from '../../src/checks/oms/envelope';
import type { TrustedKey, TrustedRoot } from '../../src/checks/trusted-keys';
import { PromotionManifestSchema } from '../../src/manifest/schema';
import { CheckSettingsSchema } from '../../src/policy/check-settings';
import { testPython, runPythonScript } from './python';
import { testSources } from '../support/sources';

// OMS (OpenSSF model signing) bundles made at test time by the real `model-signing` package of the
// test venv (test/python-requirements.txt), verified by the integrity check.

const work = mkdtempSync(path.join(tmpdir(), 'modelgate-oms-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let counter = 0;
const fresh = (name: string) => path.join(work, `${name}-${++counter}`);

/** Runs the `model_signing` command of the test venv. */
function modelSigning(args: string[]): string {
  return execFileSync(testPython(), ['-m', 'model_signing', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A fresh EC key pair (`key.pem`, `pub.pem`) made by the fixture script. */
function ecKey(curve = 'p256'): { dir: string; key: string; pub: string } {
  const dir = fresh('key');
  runPythonScript('oms_pki.py', ['key', dir, curve]);
  return { dir, key: path.join(dir, 'key.pem'), pub: readFileSync(path.join(dir, 'pub.pem'), 'utf8') };
}

/** A CA (root, intermediate) and a signing certificate, as the fixture script makes them. */
function pki(variant = 'valid'): { dir: string; root: string } {
  const dir = fresh('pki');
  runPythonScript('oms_pki.py', ['pki', dir, variant]);
  return { dir, root: readFileSync(path.join(dir, 'root.pem'), 'utf8') };
}

/** A small model directory: weights, a config in a subfolder, and a .gitattributes file model-signing ignores. */
function modelDir(): string {
  const dir = fresh('model');
  mkdirSync(path.join(dir, 'config'), { recursive: true });
  writeFileSync(path.join(dir, 'weights.bin'), createHash('sha256').update(dir).digest());
  writeFileSync(path.join(dir, 'config', 'model.json'), JSON.stringify({ layers: 2 }));
  writeFileSync(path.join(dir, 'README.md'), '# test model\n');
  writeFileSync(path.join(dir, '.gitattributes'), '*.bin filter=lfs\n');
  return dir;
}

const signWithKey = (model: string, key: string, signature = path.join(model, 'model.sig')) => modelSigning(['sign', 'key', model, '--private_key', key, '--signature', signature]);
const signWithCertificate = (model: string, p: { dir: string }, signature: string) =>
  modelSigning([
    'sign', 'certificate', model,
    '--private_key', path.join(p.dir, 'leaf-key.pem'),
    '--signing_certificate', path.join(p.dir, 'leaf.pem'),
    '--certificate_chain', path.join(p.dir, 'intermediate.pem'),
    '--signature', signature,
  ]);

/** The manifest for an artifact as it is now (its digest recomputed), with an OMS signature. */
async function manifestFor(artifact: string, signature: Record<string, unknown> = { format: 'oms' }) {
  const digest = await digestArtifact(await localArtifact(artifact));
  return PromotionManifestSchema.parse({
    model: { name: 'oms-model', version: '1.0.0', owner: 'olivia', riskTier: 'low' },
    target: 'production',
    artifact: { uri: pathToFileURL(artifact).href, sha256: digest.sha256, format: 'other', signature },
  });
}

async function integrity(artifact: string, trust: { keys?: TrustedKey[]; roots?: TrustedRoot[] }, signature?: Record<string, unknown>) {
  const manifest = await manifestFor(artifact, signature);
  return runNamedCheck('integrity', {
    manifest,
    settings: CheckSettingsSchema.parse({ integrity: { requireSignature: true } }),
    trustedKeys: trust.keys ?? [],
    trustedRoots: trust.roots ?? [],
    context: { sources: testSources() },
    rethrowTransient: false,
  });
}

const kinds = (r: { findings: Array<{ kind: string; severity: string }> }) => r.findings.filter((f) => f.severity !== 'info').map((f) => f.kind);
const trustedKey = (pub: string, keyId = 'release-key'): TrustedKey => ({ keyId, algorithm: 'ecdsa-p256', publicKey: pub });

describe('OMS key-based bundles made by model-signing', () => {
  let key: ReturnType<typeof ecKey>;
  beforeAll(() => {
    key = ecKey();
  });

  it('a valid bundle in the model directory passes, and model-signing itself verifies the same bundle', async () => {
    const model = modelDir();
    signWithKey(model, key.key);
    const result = await integrity(model, { keys: [trustedKey(key.pub)] });
    expect(result.status).toBe('pass');
    expect(result.findings.map((f) => f.kind)).toContain('oms_signature_verified');
    expect(result.metrics).toMatchObject({ signatureVerified: true, signatureKeyId: 'release-key', signedFiles: 3, unsignedFiles: 2 });
    writeFileSync(path.join(work, 'pub-check.pem'), key.pub);
    expect(modelSigning(['verify', 'key', model, '--signature', path.join(model, 'model.sig'), '--public_key', path.join(work, 'pub-check.pem')])).toMatch(/succeeded/);
  });

  it('a changed file fails naming it', async () => {
    const model = modelDir();
    signWithKey(model, key.key);
    writeFileSync(path.join(model, 'config', 'model.json'), JSON.stringify({ layers: 3 }));
    const result = await integrity(model, { keys: [trustedKey(key.pub)] });
    expect(result.status).toBe('fail');
    expect(kinds(result)).toEqual(['oms_file_changed']);
    expect(result.findings.find((f) => f.kind === 'oms_file_changed')?.message).toContain('"config/model.json"');
  });

  it('an added file fails (every file present must be signed)', async () => {
    const model = modelDir();
    signWithKey(model, key.key);
    writeFileSync(path.join(model, 'extra.py'), 'import os\n');
    const result = await integrity(model, { keys: [trustedKey(key.pub)] });
    expect(result.status).toBe('fail');
    expect(kinds(result)).toEqual(['oms_file_unlisted']);
  });

  it('a removed file fails (every signed file must be present)', async () => {
    const model = modelDir();
    signWithKey(model, key.key);
    unlinkSync(path.join(model, 'README.md'));
    const result = await integrity(model, { keys: [trustedKey(key.pub)] });
    expect(result.status).toBe('fail');
    expect(kinds(result)).toEqual(['oms_file_missing']);
  });

  it('a key the policy does not trust fails, and so does a bundle with no key hint verified against the wrong key', async () => {
    const model = modelDir();
    signWithKey(model, key.key);
    const other = ecKey();
    expect(kinds(await integrity(model, { keys: [trustedKey(other.pub)] }))).toEqual(['oms_unknown_key']);
    expect(kinds(await integrity(model, {}))).toEqual(['oms_no_trusted_key']);
    const bundle = JSON.parse(readFileSync(path.join(model, 'model.sig'), 'utf8'));
    delete bundle.verificationMaterial.publicKey.hint;
    writeFileSync(path.join(model, 'model.sig'), JSON.stringify(bundle));
    expect(kinds(await integrity(model, { keys: [trustedKey(other.pub)] }))).toEqual(['oms_signature_mismatch']);
    // Without the hint the right key still verifies it.
    expect((await integrity(model, { keys: [trustedKey(other.pub, 'other'), trustedKey(key.pub)] })).status).toBe('pass');
  });

  it('a P-384 key verifies with SHA-384 as model-signing pairs them', async () => {
    const p384 = ecKey('p384');
    const model = modelDir();
    signWithKey(model, p384.key);
    expect((await integrity(model, { keys: [{ keyId: 'p384', algorithm: 'ecdsa-p384', publicKey: p384.pub }] })).status).toBe('pass');
    // The policy names the algorithm: a P-384 key listed as P-256 is a bad key, not a silent pass.
    expect(kinds(await integrity(model, { keys: [{ keyId: 'p384', algorithm: 'ecdsa-p256', publicKey: p384.pub }] }))).toEqual(['oms_bad_key']);
  });

  it('a tampered envelope fails: the payload changed after signing', async () => {
    const model = modelDir();
    signWithKey(model, key.key);
    const file = path.join(model, 'model.sig');
    const bundle = JSON.parse(readFileSync(file, 'utf8'));
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8'));
    statement.predicate.resources.push({ name: 'backdoor.py', algorithm: 'sha256', digest: 'a'.repeat(64) });
    bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    writeFileSync(file, JSON.stringify(bundle));
    expect(kinds(await integrity(model, { keys: [trustedKey(key.pub)] }))).toEqual(['oms_signature_mismatch']);
  });

  it('the pinned root digest must be the signed one', async () => {
    const model = modelDir();
    signWithKey(model, key.key);
    const passed = await integrity(model, { keys: [trustedKey(key.pub)] });
    const signedRoot = passed.metrics.signedRootDigest as string;
    expect((await integrity(model, { keys: [trustedKey(key.pub)] }, { format: 'oms', rootDigest: signedRoot })).status).toBe('pass');
    const pinned = await integrity(model, { keys: [trustedKey(key.pub)] }, { format: 'oms', rootDigest: 'b'.repeat(64) });
    expect(pinned.status).toBe('fail');
    expect(kinds(pinned)).toEqual(['oms_root_digest_mismatch']);
  });

  it('a one-file model signed with a bundle beside it passes; changed, it fails', async () => {
    const dir = fresh('single');
    mkdirSync(dir);
    const file = path.join(dir, 'model.safetensors');
    writeFileSync(file, 'weights');
    const bundle = path.join(dir, 'model.safetensors.sig');
    signWithKey(file, key.key, bundle);
    const signature = { format: 'oms', bundle: pathToFileURL(bundle).href };
    expect((await integrity(file, { keys: [trustedKey(key.pub)] }, signature)).status).toBe('pass');
    writeFileSync(file, 'weights, changed');
    expect(kinds(await integrity(file, { keys: [trustedKey(key.pub)] }, signature))).toEqual(['oms_file_changed']);
    // Without a bundle named, a one-file artifact has nowhere to hold model.sig.
    expect(kinds(await integrity(file, { keys: [trustedKey(key.pub)] }))).toEqual(['oms_bundle_unreadable']);
  });
});

describe('OMS certificate-based bundles made by model-signing', () => {
  it('a bundle whose certificate chains to a trusted root passes; another root fails', async () => {
    const ca = pki();
    const model = modelDir();
    const bundle = path.join(fresh('sig'), 'model.sig');
    mkdirSync(path.dirname(bundle));
    signWithCertificate(model, ca, bundle);
    const signature = { format: 'oms', bundle: pathToFileURL(bundle).href };
    const passed = await integrity(model, { roots: [{ name: 'test-ca', certificate: ca.root }] }, signature);
    expect(passed.status).toBe('pass');
    expect(passed.metrics.signer).toMatchObject({ kind: 'certificate', root: 'test-ca', subject: 'CN=model-signer@example.test' });
    const other = pki();
    expect(kinds(await integrity(model, { roots: [{ name: 'other-ca', certificate: other.root }] }, signature))).toEqual(['oms_untrusted_certificate']);
    expect(kinds(await integrity(model, {}, signature))).toEqual(['oms_untrusted_certificate']);
    // A changed file fails under a certificate too.
    writeFileSync(path.join(model, 'weights.bin'), 'changed');
    expect(kinds(await integrity(model, { roots: [{ name: 'test-ca', certificate: ca.root }] }, signature))).toEqual(['oms_file_changed']);
  });

  it('a chain with a certificate expired at signing time fails', async () => {
    const ca = pki('expired-intermediate');
    const model = modelDir();
    signWithCertificate(model, ca, path.join(model, 'model.sig'));
    const result = await integrity(model, { roots: [{ name: 'test-ca', certificate: ca.root }] });
    expect(kinds(result)).toEqual(['oms_certificate_expired']);
    expect(result.findings.find((f) => f.kind === 'oms_certificate_expired')?.message).toMatch(/certificate 2 of the bundle is not valid at the signing time/);
  });

  it('a signing certificate without digitalSignature / codeSigning fails', async () => {
    const ca = pki('not-for-signing');
    const model = modelDir();
    signWithCertificate(model, ca, path.join(model, 'model.sig'));
    expect(kinds(await integrity(model, { roots: [{ name: 'test-ca', certificate: ca.root }] }))).toEqual(['oms_certificate_not_for_signing']);
  });

  it('a keyless bundle (one certificate, no trusted root) needs the transparency log and is refused', async () => {
    const ca = pki();
    const model = modelDir();
    signWithCertificate(model, ca, path.join(model, 'model.sig'));
    const file = path.join(model, 'model.sig');
    const bundle = JSON.parse(readFileSync(file, 'utf8'));
    const leaf = bundle.verificationMaterial.x509CertificateChain.certificates[0];
    bundle.verificationMaterial = { certificate: leaf, tlogEntries: [] };
    writeFileSync(file, JSON.stringify(bundle));
    expect(kinds(await integrity(model, { roots: [{ name: 'other', certificate: pki().root }] }))).toEqual(['oms_transparency_log_required']);
  });
});

describe('hostile OMS bundles (statements signed by a trusted key, so the statement checks are reached)', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const keys = [trustedKey(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'test-key')];

  function bundleFor(statement: unknown, key: KeyObject = privateKey, pub: KeyObject = publicKey): string {
    const payload = Buffer.from(JSON.stringify(statement));
    const sig = signWith('sha256', preAuthenticationEncoding('application/vnd.in-toto+json', payload), key);
    return JSON.stringify({
      mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
      verificationMaterial: { publicKey: { hint: publicKeyHint(pub) }, tlogEntries: [] },
      dsseEnvelope: { payload: payload.toString('base64'), payloadType: 'application/vnd.in-toto+json', signatures: [{ sig: sig.toString('base64'), keyid: '' }] },
    });
  }

  function statementOf(resources: Array<{ name: string; digest: string; algorithm?: string }>, serialization: Record<string, unknown> = {}) {
    const root = createHash('sha256');
    for (const r of resources) root.update(Buffer.from(r.digest, 'hex'));
    return {
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'm', digest: { sha256: root.digest('hex') } }],
      predicateType: 'https://model_signing/signature/v1.0',
      predicate: {
        serialization: { method: 'files', hash_type: 'sha256', allow_symlinks: false, ignore_paths: ['model.sig'], ...serialization },
        resources: resources.map((r) => ({ algorithm: 'sha256', ...r })),
      },
    };
  }

  const sha = (text: string) => createHash('sha256').update(text).digest('hex');

  async function check(bundle: string) {
    const model = fresh('hostile');
    mkdirSync(model);
    writeFileSync(path.join(model, 'w.bin'), 'w');
    writeFileSync(path.join(model, 'model.sig'), bundle);
    return integrity(model, { keys });
  }

  it('the crafted statement of the real file passes (the harness itself is sound)', async () => {
    expect((await check(bundleFor(statementOf([{ name: 'w.bin', digest: sha('w') }])))).status).toBe('pass');
  });

  it.each([
    ['a ".." path', [{ name: '../w.bin', digest: sha('w') }], {}, 'oms_bad_path'],
    ['an absolute path', [{ name: '/etc/passwd', digest: sha('w') }], {}, 'oms_bad_path'],
    ['a NUL in a path', [{ name: 'w.bin\u0000x', digest: sha('w') }], {}, 'oms_bad_path'],
    ['a duplicate entry', [{ name: 'w.bin', digest: sha('w') }, { name: 'w.bin', digest: sha('w') }], {}, 'oms_duplicate_entry'],
    ['an unknown resource hash algorithm', [{ name: 'w.bin', digest: sha('w'), algorithm: 'md5' }], {}, 'oms_unsupported_hash_algorithm'],
    ['blake3 serialization', [{ name: 'w.bin', digest: sha('w') }], { hash_type: 'blake3' }, 'oms_unsupported_hash_algorithm'],
    ['shard serialization', [{ name: 'w.bin:0:1', digest: sha('w') }], { method: 'shards', shard_size: 1 }, 'oms_statement_unsupported'],
    ['an ignore path that escapes', [{ name: 'w.bin', digest: sha('w') }], { ignore_paths: ['../..'] }, 'oms_bad_path'],
  ])('%s is refused with a named reason', async (_what, resources, serialization, reason) => {
    const result = await check(bundleFor(statementOf(resources, serialization)));
    expect(result.status).toBe('fail');
    expect(kinds(result)).toEqual([reason]);
  });

  it('a subject digest that is not the hash of the listed digests is refused', async () => {
    const statement = statementOf([{ name: 'w.bin', digest: sha('w') }]);
    statement.subject[0]!.digest.sha256 = 'c'.repeat(64);
    expect(kinds(await check(bundleFor(statement)))).toEqual(['oms_root_digest_inconsistent']);
  });

  it('more listed files than the limit are refused before any is compared', async () => {
    const resources = Array.from({ length: OMS_LIMITS.resources + 1 }, (_, i) => ({ name: `f${i}`, digest: sha('w') }));
    expect(kinds(await check(bundleFor(statementOf(resources))))).toEqual(['oms_too_many_files']);
  });

  it('a bundle nested too deep, one that is not JSON, and one too large are refused', async () => {
    expect(kinds(await check('['.repeat(100) + ']'.repeat(100)))).toEqual(['oms_bundle_malformed']);
    expect(kinds(await check('not json'))).toEqual(['oms_bundle_malformed']);
    expect(kinds(await check(' '.repeat(OMS_LIMITS.bundleBytes + 1)))).toEqual(['oms_bundle_too_large']);
  });

  it('a bundle without a DSSE envelope, or with two signatures, is refused', async () => {
    const bundle = JSON.parse(bundleFor(statementOf([{ name: 'w.bin', digest: sha('w') }])));
    const twice = { ...bundle, dsseEnvelope: { ...bundle.dsseEnvelope, signatures: [bundle.dsseEnvelope.signatures[0], bundle.dsseEnvelope.signatures[0]] } };
    expect(kinds(await check(JSON.stringify(twice)))).toEqual(['oms_bundle_malformed']);
    const message = { ...bundle, dsseEnvelope: undefined, messageSignature: { messageDigest: {}, signature: 'AA==' } };
    expect(kinds(await check(JSON.stringify(message)))).toEqual(['oms_bundle_unsupported']);
  });

  it('the messages never echo what the bundle says', async () => {
    const bundle = JSON.parse(bundleFor(statementOf([{ name: 'w.bin', digest: sha('w') }])));
    bundle.mediaType = '<script>alert(1)</script>';
    const result = await check(JSON.stringify(bundle));
    expect(kinds(result)).toEqual(['oms_bundle_unsupported']);
    expect(JSON.stringify(result)).not.toContain('<script>');
  });
});

describe('around the bundle', () => {
  it('the scanner leaves a JSON model.sig to the signature check, and still reads a pickle hiding behind the name', () => {
    const bundle = Buffer.from('{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"}');
    expect(detectFormat(bundle, 'model.sig', bundle.length, 'safetensors')).toBe('unknown');
    expect(detectFormat(bundle, 'model.sig', bundle.length, 'pickle')).toBe('unknown');
    const protocol0 = Buffer.from("cos\nsystem\n(S'id'\ntR.");
    expect(detectFormat(protocol0, 'model.sig', protocol0.length, 'pickle')).toBe('pickle');
    expect(detectFormat(protocol0, 'model.sig', protocol0.length, 'safetensors')).toBe('safetensors');
  });

  it('copies of a signed directory verify wherever they are (names are relative)', async () => {
    const key = ecKey();
    const model = modelDir();
    signWithKey(model, key.key);
    const copy = fresh('copy');
    cpSync(model, copy, { recursive: true });
    expect((await integrity(copy, { keys: [trustedKey(key.pub)] })).status).toBe('pass');
  });
});
