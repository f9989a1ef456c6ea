import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isDangerous } from '../../src/checks/security/findings';
import { scanFile } from '../../src/checks/security/scanner';
import { pythonReference, runPythonScript } from './python';

// Pickles attacked with published tooling (fickling's injection API) and the attack shapes
// picklescan and modelscan document, next to the benign real-shaped files they were made from.

interface Attack {
  file: string;
  expect: 'dangerous' | 'safe';
  why: string;
  declared?: string;
}

let dir: string;
let attacks: Attack[];
const dangerous = new Map<string, boolean>();

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'modelgate-attacks-'));
  runPythonScript('make_attack_fixtures.py', [dir]);
  attacks = JSON.parse(readFileSync(path.join(dir, 'attacks.json'), 'utf8')) as Attack[];
  for (const a of attacks) {
    const scan = await scanFile(path.join(dir, a.file), a.file, { declaredFormat: a.declared ?? 'pickle' });
    dangerous.set(a.file, scan.findings.some(isDangerous));
  }
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('published attacks', () => {
  it('catches every payload fickling injects into benign model pickles', () => {
    const injected = attacks.filter((a) => a.file.startsWith('fickling_'));
    expect(injected.length).toBeGreaterThanOrEqual(39);
    expect(injected.filter((a) => !dangerous.get(a.file)).map((a) => a.file)).toEqual([]);
  });

  it('catches every attack shape picklescan and modelscan document', () => {
    const shapes = attacks.filter((a) => a.file.startsWith('shape_'));
    expect(shapes.length).toBeGreaterThanOrEqual(20);
    expect(shapes.filter((a) => !dangerous.get(a.file)).map((a) => a.file)).toEqual([]);
  });

  it('passes the benign real-shaped files the attacks were made from', () => {
    const benign = attacks.filter((a) => a.expect === 'safe');
    expect(benign.map((a) => a.file).sort()).toEqual(['sklearn.joblib', 'sklearn_p4.pkl', 'state_dict_p2.pkl', 'state_dict_p4.pkl']);
    expect(benign.filter((a) => dangerous.get(a.file)).map((a) => a.file)).toEqual([]);
  });

  it('agrees with picklescan on the fickling injections (a second opinion)', () => {
    const injected = attacks.filter((a) => a.file.startsWith('fickling_'));
    const theirs = pythonReference<Record<string, { dangerous: boolean }>>(['picklescan', ...injected.map((a) => path.join(dir, a.file))]);
    const missedByPicklescan = injected.filter((a) => !theirs[path.join(dir, a.file)]!.dangerous).map((a) => a.file);
    // picklescan judges by a denylist: it misses injections whose module it does not list.
    expect(missedByPicklescan.every((f) => dangerous.get(f))).toBe(true);
  });
});
