import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { localArtifact } from '../../src/checks/artifact-source';
import { digestArtifact } from '../../src/checks/digest';
import { runPythonScript, testPython } from '../checks/python';
import { writeTestPolicy } from '../support/deploy-policy';
import { type PromotionHarness, people, sendUpdate, startPromotionHarness, waitForState } from '../support/promotions';

const afterChecks = (s: { status: string }) => s.status === 'IN_REVIEW' || s.status === 'CHECKS_FAILED';

// The integrity check of a promotion, through the real worker, verifying an OMS bundle that the
// real `model-signing` package made at test time (key-based, a fresh P-256 key).

describe('OMS signatures in a promotion', () => {
  let h: PromotionHarness;
  let keyDir: string;

  beforeAll(async () => {
    const policyFile = await writeTestPolicy(() => undefined);
    keyDir = path.join(path.dirname(policyFile), 'signing-key');
    runPythonScript('oms_pki.py', ['key', keyDir, 'p256']);
    const publicKey = readFileSync(path.join(keyDir, 'pub.pem'), 'utf8');
    const policy = await writeTestPolicy((p) => {
      p.trustedKeys = [{ keyId: 'release-key', algorithm: 'ecdsa-p256', publicKey }];
      (p.checks as { integrity: Record<string, unknown> }).integrity = { enforcement: 'required', requireSignature: true };
    });
    h = await startPromotionHarness(policy);
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  });

  /** A signed model directory (the harness's safetensors file and a config) and its manifest. */
  async function signedManifest() {
    const base = await h.manifest();
    const dir = path.join(h.artifactDir, `${base.model.name}-dir`);
    mkdirSync(dir);
    copyFileSync(fileURLToPath(base.artifact.uri), path.join(dir, 'model.safetensors'));
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ architecture: 'test' }));
    execFileSync(testPython(), ['-m', 'model_signing', 'sign', 'key', dir, '--private_key', path.join(keyDir, 'key.pem'), '--signature', path.join(dir, 'model.sig')], { stdio: ['ignore', 'pipe', 'pipe'] });
    const finish = async () => {
      const digest = await digestArtifact(await localArtifact(dir));
      return { ...base, artifact: { ...base.artifact, uri: pathToFileURL(dir).href, sha256: digest.sha256, signature: { format: 'oms' as const } } };
    };
    return { dir, finish };
  }

  it('a model signed with a trusted key passes integrity and goes to review', async () => {
    const { finish } = await signedManifest();
    const handle = await h.submit(await finish());
    const state = await waitForState(handle, afterChecks, 150_000);
    const integrity = state.checks.find((c) => c.name === 'integrity')!;
    expect(integrity.status).toBe('pass');
    expect(state.checks.filter((c) => c.status === 'fail' || c.status === 'error').map((c) => [c.name, c.summary])).toEqual([]);
    expect(state.status).toBe('IN_REVIEW');
    expect(integrity.findings.map((f) => f.kind)).toContain('oms_signature_verified');
    expect(integrity.metrics).toMatchObject({ signatureVerified: true, signatureKeyId: 'release-key', signedFiles: 2 });
    await sendUpdate(handle, 'withdraw', { actor: people.sam, reason: 'test done' });
  }, 180_000);

  it('a file changed after signing fails integrity and the promotion waits in CHECKS_FAILED', async () => {
    const { dir, finish } = await signedManifest();
    writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ architecture: 'swapped' }));
    // The manifest declares the changed bytes' digest: only the signature can catch the change.
    const handle = await h.submit(await finish());
    const state = await waitForState(handle, afterChecks, 150_000);
    expect(state.status).toBe('CHECKS_FAILED');
    const integrity = state.checks.find((c) => c.name === 'integrity')!;
    expect(integrity.status).toBe('fail');
    expect(integrity.findings.filter((f) => f.severity !== 'info').map((f) => f.kind)).toEqual(['oms_file_changed']);
    await sendUpdate(handle, 'withdraw', { actor: people.sam, reason: 'test done' });
  }, 180_000);
});
