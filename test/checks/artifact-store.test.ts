import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkIntegrityAndSecurity } from '../../src/checks/artifact-checks';
import { checkVerifiedCopy } from '../../src/checks/artifact-source';
import { CheckSettingsSchema } from '../../src/policy/check-settings';
import { PromotionManifestSchema } from '../../src/manifest/schema';
import { testSources } from '../support/sources';

/** A protocol-0 pickle that runs a shell command when loaded. */
const MALICIOUS = Buffer.from("cposix\nsystem\n(S'touch /tmp/pwned'\ntR.", 'latin1');
const raw = (b: Buffer) => createHash('sha256').update(b).digest();

/**
 * The store keeps, under a name that says what they are, only bytes that were the declared
 * artifact and passed the scanner; a deployment's re-check accepts a copy only as what its name
 * says. Found by an attacker's review: a directory's root digest covers no file names, and a
 * one-file directory's root digest is the sha256 of a 32-byte file.
 */
describe('the verified-copy store cannot be poisoned', () => {
  let dir: string;
  let store: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'modelgate-store-test-'));
    store = path.join(dir, 'store');
  });
  afterEach(() => {
    const writable = (d: string) => {
      chmodSync(d, 0o700);
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) writable(path.join(d, e.name));
    };
    writable(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  const check = (uri: string, sha256: string, format: 'pickle' | 'other') =>
    checkIntegrityAndSecurity(
      PromotionManifestSchema.parse({
        model: { name: 'm', version: '1', owner: 'o', riskTier: 'low' },
        target: 'staging',
        artifact: { uri, sha256, format },
      }),
      CheckSettingsSchema.parse({}),
      [],
      { sources: testSources(), artifactStoreDir: store },
    );

  it('a rejected directory is not kept, so a 32-byte file with the same digest gets its own copy', async () => {
    mkdirSync(path.join(dir, 'a'));
    writeFileSync(path.join(dir, 'a', 'model.pkl'), MALICIOUS);
    const rootDigest = createHash('sha256').update(raw(MALICIOUS)).digest('hex');
    const first = await check(pathToFileURL(path.join(dir, 'a')).href, rootDigest, 'pickle');
    expect(first.integrity.outcome).toBe('pass');
    expect(first.security.outcome).toBe('fail');
    expect(first.integrity.metrics.verifiedCopy).toBeUndefined();

    writeFileSync(path.join(dir, 'blob'), raw(MALICIOUS));
    const second = await check(pathToFileURL(path.join(dir, 'blob')).href, rootDigest, 'other');
    expect(second.integrity.outcome).toBe('pass');
    const copy = second.integrity.metrics.verifiedCopy as string;
    expect(copy).toMatch(new RegExp(`^sha256/${rootDigest}/file-`));
    expect(readdirSync(path.join(store, copy))).toEqual(['blob']);
    expect(await checkVerifiedCopy(store, copy)).toBe('intact');
  });

  it('two directories with the same root digest but other file names are two copies, each intact only as itself', async () => {
    for (const [folder, name] of [['a', 'notes.txt'], ['b', 'readme.txt']] as const) {
      mkdirSync(path.join(dir, folder));
      writeFileSync(path.join(dir, folder, name), 'same bytes');
    }
    const rootDigest = createHash('sha256').update(raw(Buffer.from('same bytes'))).digest('hex');
    const a = (await check(pathToFileURL(path.join(dir, 'a')).href, rootDigest, 'other')).integrity.metrics.verifiedCopy as string;
    const b = (await check(pathToFileURL(path.join(dir, 'b')).href, rootDigest, 'other')).integrity.metrics.verifiedCopy as string;
    expect(a).not.toBe(b);
    expect(readdirSync(path.join(store, b))).toEqual(['readme.txt']);
    expect(await checkVerifiedCopy(store, a)).toBe('intact');
    expect(await checkVerifiedCopy(store, b)).toBe('intact');
    // A copy presented under another's name is not intact.
    expect(await checkVerifiedCopy(store, a.replace(/directory-[0-9a-f]+$/, b.split('/')[2]!.replace('directory-', 'file-')))).not.toBe('intact');
  });

  it('an altered copy already in the store is replaced by the newly verified bytes', async () => {
    writeFileSync(path.join(dir, 'model.txt'), 'original');
    const sha = createHash('sha256').update('original').digest('hex');
    const copy = (await check(pathToFileURL(path.join(dir, 'model.txt')).href, sha, 'other')).integrity.metrics.verifiedCopy as string;
    const stored = path.join(store, copy, 'model.txt');
    chmodSync(path.join(store, copy), 0o700);
    chmodSync(stored, 0o600);
    writeFileSync(stored, 'tampered');
    expect(await checkVerifiedCopy(store, copy)).toBe('altered');
    await check(pathToFileURL(path.join(dir, 'model.txt')).href, sha, 'other');
    expect(await checkVerifiedCopy(store, copy)).toBe('intact');
  });
});
