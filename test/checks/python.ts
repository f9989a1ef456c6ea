import { execFileSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
let cached: string | undefined;

/**
 * The Python interpreter with the test requirements (scikit-learn, Fairlearn, picklescan, numpy):
 * `MODELGATE_PYTHON`, or the venv that scripts/python-env.sh prepares.
 */
export function testPython(): string {
  if (cached) return cached;
  cached = process.env.MODELGATE_PYTHON || execFileSync(path.join(ROOT, 'scripts', 'python-env.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  return cached;
}

/** Runs a script of scripts/fixtures with the test Python and returns its stdout. */
export function runPythonScript(script: string, args: string[]): string {
  return execFileSync(testPython(), [path.join(ROOT, 'scripts', 'fixtures', script), ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** Runs scripts/fixtures/reference.py and parses its JSON. */
export function pythonReference<T>(args: string[]): T {
  return JSON.parse(runPythonScript('reference.py', args)) as T;
}
