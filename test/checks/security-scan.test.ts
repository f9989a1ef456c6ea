import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDangerous } from '../../src/checks/security/findings';
import { scanFile } from '../../src/checks/security/scanner';
import { pythonReference, runPythonScript } from './python';

interface Fixture {
  file: string;
  expect: 'dangerous' | 'safe';
  why: string;
  picklescan: boolean;
  picklescanDiffers?: string;
}

let dir: string;
let fixtures: Fixture[];
const verdicts = new Map<string, { dangerous: boolean; kinds: string[]; globals: string[] }>();

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'modelgate-fixtures-'));
  runPythonScript('make_security_fixtures.py', [dir]);
  fixtures = JSON.parse(readFileSync(path.join(dir, 'fixtures.json'), 'utf8')) as Fixture[];
  for (const f of fixtures) {
    const scan = await scanFile(path.join(dir, f.file), f.file, { maxUncompressedBytes: f.file === 'bomb.zip' ? 16 * 1024 * 1024 : undefined });
    verdicts.set(f.file, {
      dangerous: scan.findings.some(isDangerous),
      kinds: scan.findings.map((x) => x.kind),
      globals: scan.findings.filter((x) => x.global && isDangerous(x)).map((x) => x.global!),
    });
  }
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('security scan of generated fixtures', () => {
  it('gives every fixture its expected verdict', () => {
    const wrong = fixtures
      .filter((f) => verdicts.get(f.file)!.dangerous !== (f.expect === 'dangerous'))
      .map((f) => `${f.file} (${f.why}): ${JSON.stringify(verdicts.get(f.file))}`);
    expect(wrong).toEqual([]);
    expect(fixtures.length).toBeGreaterThan(60);
  });

  it('agrees with picklescan on every pickle-based fixture, except the documented differences', () => {
    const judged = fixtures.filter((f) => f.picklescan);
    const theirs = pythonReference<Record<string, { dangerous: boolean }>>(['picklescan', ...judged.map((f) => path.join(dir, f.file))]);
    const disagreements: string[] = [];
    for (const f of judged) {
      const ours = verdicts.get(f.file)!.dangerous;
      const other = theirs[path.join(dir, f.file)]!.dangerous;
      if (f.picklescanDiffers) {
        expect({ file: f.file, other }).toEqual({ file: f.file, other: !ours });
      } else if (ours !== other) disagreements.push(`${f.file}: modelgate ${ours}, picklescan ${other}`);
    }
    expect(disagreements).toEqual([]);
    expect(judged.length).toBeGreaterThan(40);
  });

  it('names the dangerous global resolved through the memo', () => {
    expect(verdicts.get('stack_global_memo.pkl')!.globals).toContain('os.system');
    expect(verdicts.get('stack_global_long_memo.pkl')!.globals).toContain('subprocess.getoutput');
    expect(verdicts.get('stack_global_text_memo.pkl')!.globals).toContain('builtins.eval');
    expect(verdicts.get('stack_global_computed.pkl')!.kinds).toContain('unresolved_global');
  });

  it('reports what it found before a truncation, and the truncation', () => {
    const v = verdicts.get('truncated_after_global.pkl')!;
    expect(v.globals).toContain('posix.system');
    expect(v.kinds).toContain('corrupt_pickle');
  });

  it('scans every pickle of a file and every member of an archive, whatever its flags', () => {
    expect(verdicts.get('two_pickles.pkl')!.globals).toContain('posix.system');
    expect(verdicts.get('torch_malicious_encrypted_flag.pt')!.kinds).toEqual(expect.arrayContaining(['encryption_flag', 'dangerous_global']));
    expect(verdicts.get('torch_malicious_bad_crc.pt')!.kinds).toEqual(expect.arrayContaining(['crc_mismatch', 'dangerous_global']));
    expect(verdicts.get('torch_hidden_member.pt')!.kinds).toEqual(expect.arrayContaining(['hidden_member', 'dangerous_global']));
    expect(verdicts.get('object_arrays.npz')!.globals).toContain('posix.system');
  });

  it('treats raw storage after a legacy PyTorch file as data, not as pickles', () => {
    expect(verdicts.get('legacy_torch_benign.pt')!.kinds).toContain('legacy_torch_format');
    expect(verdicts.get('legacy_torch_malicious.pt')!.globals).toContain('posix.system');
  });

  it('bounds archive bombs and fails closed on corrupt archives', () => {
    expect(verdicts.get('bomb.zip')!.kinds).toContain('archive_bomb');
    expect(verdicts.get('corrupt_archive.pt')!.kinds).toContain('corrupt_archive');
  });
});
