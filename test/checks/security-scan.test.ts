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
  /** Format the manifest declares. */
  declared?: string;
  /** False: scanned as one file of a directory artifact. */
  single?: boolean;
}

let dir: string;
let fixtures: Fixture[];
const verdicts = new Map<string, { dangerous: boolean; kinds: string[]; globals: string[] }>();

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'modelgate-fixtures-'));
  runPythonScript('make_security_fixtures.py', [dir]);
  fixtures = JSON.parse(readFileSync(path.join(dir, 'fixtures.json'), 'utf8')) as Fixture[];
  for (const f of fixtures) {
    const options = { maxUncompressedBytes: f.file === 'bomb.zip' ? 16 * 1024 * 1024 : undefined, declaredFormat: f.declared };
    const scan = await scanFile(path.join(dir, f.file), f.file, options, false, { single: f.single !== false });
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
    expect(fixtures.length).toBeGreaterThan(100);
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

  it('reads joblib inline arrays as joblib does: skips exactly their bytes and scans the opcodes after them', () => {
    for (const f of ['joblib_forest.joblib', 'joblib_forest_zlib.joblib', 'joblib_forest_gzip.joblib', 'joblib_forest_unaligned.joblib']) {
      expect({ f, kinds: verdicts.get(f)!.kinds }).toEqual({ f, kinds: expect.arrayContaining(['joblib_inline_arrays']) });
    }
    expect(verdicts.get('joblib_array_swallows_payload.joblib')!.globals).toContain('os.system');
    expect(verdicts.get('joblib_aligned_payload.joblib')!.globals).toContain('os.system');
    expect(verdicts.get('joblib_shape_computed.joblib')!.kinds).toContain('joblib_array_unresolved');
    expect(verdicts.get('joblib_shape_overflow.joblib')!.kinds).toContain('joblib_array_unresolved');
    expect(verdicts.get('joblib_object_array.joblib')!.kinds).toContain('joblib_object_array');
    expect(verdicts.get('joblib_wrapper_in_list.joblib')!.kinds).toContain('joblib_wrapper_untracked');
    expect(verdicts.get('joblib_declared_pickle.pkl')!.kinds).toContain('loader_dependent_pickle');
  });

  it('reads Keras HDF5 files with the HDF5 library, whatever the JSON spacing or user block', () => {
    for (const f of ['keras_lambda.h5', 'keras_lambda_spaced.h5', 'keras_lambda_userblock.h5', 'keras_lambda_userblock_2k.h5', 'keras_nested_lambda.h5']) {
      expect({ f, kinds: verdicts.get(f)!.kinds }).toEqual({ f, kinds: expect.arrayContaining(['keras_lambda_layer', 'hdf5_summary']) });
    }
    expect(verdicts.get('keras_dense_userblock.h5')!.kinds).toEqual(expect.arrayContaining(['hdf5_user_block', 'hdf5_summary']));
    expect(verdicts.get('keras_bad_json.h5')!.kinds).toContain('malformed_keras_config');
    expect(verdicts.get('keras_corrupt.h5')!.kinds).toContain('hdf5_unreadable');
    expect(verdicts.get('keras_custom_loss.h5')!.kinds).toContain('keras_custom_object');
  });

  it('sniffs protocol 0/1 pickles whatever their name, and fails content that matches no declared format', () => {
    for (const f of ['p0_pickle_named.txt', 'p0_pickle_noext', 'p1_pickle_named.json', 'p0_pickle_in_dir.md', 'p0_after_call_garbage.txt']) {
      expect({ f, globals: verdicts.get(f)!.globals }).toEqual({ f, globals: expect.arrayContaining(['posix.system']) });
    }
    expect(verdicts.get('text_declared_pickle.txt')!.kinds).toContain('unrecognised_content');
    expect(verdicts.get('joblib_bz2.joblib')!.kinds).toContain('unsupported_compression');
  });
});
