import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { listLocalDirectory, openDocumentSource, openLocalSource } from '../../src/sources/read';
import { SourceRefusal, addressRefusal, checkSourceUri, parseHosts, parseRoots, sourceRules } from '../../src/sources/rules';

/** The rule a call refuses with, or 'allowed'. */
function ruleOf(run: () => unknown): string {
  try {
    run();
    return 'allowed';
  } catch (err) {
    if (err instanceof SourceRefusal) return err.rule;
    throw err;
  }
}

async function asyncRuleOf(run: () => Promise<unknown>): Promise<string> {
  try {
    const opened = await run();
    const handle = (opened as { file?: { handle?: { close(): Promise<void> } } }).file?.handle;
    await handle?.close();
    (opened as { destroy?: () => void }).destroy?.();
    return 'allowed';
  } catch (err) {
    if (err instanceof SourceRefusal) return err.rule;
    throw err;
  }
}

describe('source rules decided without reading (what the API refuses at submission)', () => {
  const rules = sourceRules('/srv/models,/data/eval', 'models.example.com,files.example.com:8443,10.20.0.0/16,127.0.0.1');
  const cases: Array<[string, string]> = [
    ['file:///srv/models/churn/model.pkl', 'allowed'],
    ['file:///srv/models', 'allowed'],
    ['file:///srv/modelsX/evil.pkl', 'outside-roots'],
    ['file:///proc/self/environ', 'system-path'],
    ['file:///sys/kernel/notes', 'system-path'],
    ['file:///dev/zero', 'system-path'],
    ['file:///etc/passwd', 'outside-roots'],
    ['file://localhost/etc/shadow', 'outside-roots'],
    ['file:///srv/models/../../etc/passwd', 'dot-segments'],
    ['file:///srv/models/%2e%2e/%2e%2e/etc/passwd', 'dot-segments'],
    ['file://relative/model.pkl', 'relative-path'],
    ['file:///srv/models/a%00b', 'scheme'],
    ['s3://bucket/model.pkl', 'scheme'],
    ['ftp://models.example.com/model.pkl', 'scheme'],
    ['https://models.example.com/m.pkl', 'allowed'],
    ['https://MODELS.example.com/m.pkl', 'allowed'],
    ['https://files.example.com:8443/m.pkl', 'allowed'],
    ['https://files.example.com/m.pkl', 'host-not-allowed'],
    ['https://models.example.com.evil.net/m.pkl', 'host-not-allowed'],
    ['https://user:pw@models.example.com/m.pkl', 'credentials'],
    ['http://169.254.169.254/latest/meta-data/', 'host-not-allowed'],
    ['http://10.20.3.4/m.pkl', 'allowed'],
    ['http://10.21.3.4/m.pkl', 'host-not-allowed'],
    ['http://127.0.0.1:9000/m.pkl', 'allowed'],
    ['http://127.0.0.2/m.pkl', 'host-not-allowed'],
    ['http://[::1]/m.pkl', 'host-not-allowed'],
    ['http://localhost/m.pkl', 'host-not-allowed'],
    ['http://2130706433/m.pkl', 'allowed'], // 127.0.0.1 spelled as a number is the listed address
    ['http://2130706434/m.pkl', 'host-not-allowed'], // 127.0.0.2 spelled as a number
    ['http://[::ffff:127.0.0.2]/m.pkl', 'host-not-allowed'],
  ];
  it.each(cases)('%s → %s', (uri, expected) => {
    expect(ruleOf(() => checkSourceUri(uri, rules, 'artifact.uri'))).toBe(expected);
  });

  it('refuses every file:// source when no root is configured, and every URL when no host is', () => {
    const none = sourceRules('', '');
    expect(ruleOf(() => checkSourceUri('file:///tmp/model.pkl', none, 'artifact.uri'))).toBe('no-roots');
    expect(ruleOf(() => checkSourceUri('https://models.example.com/m.pkl', none, 'artifact.uri'))).toBe('host-not-allowed');
  });

  it('names the field and the rule in the message', () => {
    expect(() => checkSourceUri('file:///proc/self/environ', rules, 'evaluation.uri')).toThrow(/^evaluation\.uri: .*\/proc/);
  });

  it('refuses loopback, private, link-local and metadata addresses unless listed; metadata only when listed exactly', () => {
    const hosts = parseHosts('models.example.com,169.254.0.0/16,192.168.1.7');
    expect(addressRefusal('93.184.216.34', hosts)).toBeUndefined();
    expect(addressRefusal('127.0.0.1', hosts)).toMatch(/loopback/);
    expect(addressRefusal('::1', hosts)).toMatch(/loopback/);
    expect(addressRefusal('::ffff:127.0.0.1', hosts)).toMatch(/loopback/);
    expect(addressRefusal('10.0.0.1', hosts)).toMatch(/private/);
    expect(addressRefusal('fd12::1', hosts)).toMatch(/private/);
    expect(addressRefusal('192.168.1.7', hosts)).toBeUndefined();
    expect(addressRefusal('169.254.1.1', hosts)).toBeUndefined();
    expect(addressRefusal('169.254.169.254', hosts)).toMatch(/metadata/);
    expect(addressRefusal('169.254.169.254', parseHosts('169.254.169.254'))).toBeUndefined();
    expect(addressRefusal('0.0.0.0', hosts)).toMatch(/reserved/);
    // IPv6 forms that reach IPv4 or local networks: IPv4-compatible, NAT64, Teredo, 6to4, site-local.
    for (const address of ['::127.0.0.1', '64:ff9b::7f00:1', '64:ff9b:1::a00:1', '2001::7f00:1', '2002:7f00:1::1', 'fec0::1']) {
      expect(addressRefusal(address, hosts)).toMatch(/reserved/);
    }
    expect(addressRefusal('2606:4700::1111', hosts)).toBeUndefined();
  });

  it('refuses bad configuration with the entry named', () => {
    expect(() => parseRoots('relative/dir')).toThrow(/not an absolute path/);
    expect(() => parseRoots('/proc')).toThrow(/\/proc/);
    expect(() => parseRoots('/')).toThrow(/whole filesystem/);
    expect(() => parseHosts('http://models.example.com')).toThrow(/neither a host name/);
    expect(() => parseHosts('10.0.0.0/99')).toThrow(/not an IP network/);
  });
});

describe('local sources are checked on what is really opened', () => {
  let root: string;
  let outside: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'modelgate-roots-'));
    outside = mkdtempSync(path.join(tmpdir(), 'modelgate-outside-'));
    writeFileSync(path.join(root, 'model.pkl'), 'ok');
    writeFileSync(path.join(outside, 'secret.txt'), 'AUTH_JWT_SECRET=do-not-read');
    linkSync(path.join(outside, 'secret.txt'), path.join(root, 'hard-link.csv'));
    symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'link-to-secret.csv'));
    symlinkSync('/proc/self/environ', path.join(root, 'environ.csv'));
    symlinkSync(outside, path.join(root, 'linked-dir'));
    mkdirSync(path.join(root, 'dir'));
    execFileSync('mkfifo', [path.join(root, 'pipe.csv')]);
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });
  const rules = () => sourceRules(root, '');

  it('reads a regular file inside a root', async () => {
    expect(await asyncRuleOf(() => openLocalSource(`file://${root}/model.pkl`, rules(), 'artifact.uri'))).toBe('allowed');
  });
  it('refuses a symlink inside a root that points outside it, also to /proc', async () => {
    expect(await asyncRuleOf(() => openLocalSource(`file://${root}/link-to-secret.csv`, rules(), 'evaluation.uri'))).toBe('outside-roots');
    expect(await asyncRuleOf(() => openLocalSource(`file://${root}/environ.csv`, rules(), 'evaluation.uri'))).toBe('system-path');
    expect(await asyncRuleOf(() => openLocalSource(`file://${root}/linked-dir/secret.txt`, rules(), 'evaluation.uri'))).toBe('outside-roots');
  });
  it('refuses a hard link, which can name any file of the same filesystem whatever its path says', async () => {
    expect(await asyncRuleOf(() => openLocalSource(`file://${root}/hard-link.csv`, rules(), 'evaluation.uri'))).toBe('hard-link');
  });
  it('lists a directory source only through folders inside a root, and never follows a symlink', async () => {
    const listing = await listLocalDirectory(root, rules(), 'artifact.uri');
    expect(listing.symlinks.sort()).toEqual(['environ.csv', 'link-to-secret.csv', 'linked-dir']);
    expect(listing.others).toEqual(['pipe.csv']);
    expect(listing.files).not.toContain('linked-dir/secret.txt');
    await expect(listLocalDirectory(path.join(root, 'linked-dir'), rules(), 'artifact.uri')).rejects.toThrow(/cannot be opened \((ELOOP|ENOTDIR)\)/);
  });
  it('refuses a FIFO without blocking on it, and a directory where a document is expected', async () => {
    expect(await asyncRuleOf(() => openDocumentSource(`file://${root}/pipe.csv`, rules(), 'evaluation.uri'))).toBe('not-a-file');
    expect(await asyncRuleOf(() => openDocumentSource(`file://${root}/dir`, rules(), 'evaluation.uri'))).toBe('not-a-file');
  });
  it('refuses a missing file without saying more than its error code', async () => {
    await expect(openLocalSource(`file://${root}/missing.pkl`, rules(), 'artifact.uri')).rejects.toThrow('artifact.uri: the source cannot be read (ENOENT)');
  });
  it('refuses a document over the size limit', async () => {
    expect(await asyncRuleOf(() => openDocumentSource(`file://${root}/model.pkl`, sourceRules(root, '', { maxDocumentBytes: 1 }), 'modelCard.uri'))).toBe('too-large');
  });
});
