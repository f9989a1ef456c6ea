// The checks benchmark (bench/checks) runs end to end with tiny sizes — openssl, picklescan and
// fickling on the same generated files — and reports every field; Modelgate's verdicts agree with
// the anchors' except for the listed, justified differences. The figures themselves are never
// asserted (speed is for the benchmark to measure). Needs the Python of scripts/python-env.sh.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { KNOWN_DIFFERENCES, runChecksBenchmark, verdictDifferences, type FileFigures } from '../../bench/checks/benchmark';
import { startBenchRecord } from '../../bench/results';
import { testPython } from '../checks/python';

jest.setTimeout(240_000);

const latency = { p50Ms: expect.any(Number), p95Ms: expect.any(Number), samplesMs: expect.any(Array) };
const anchor = { ...latency, verdict: expect.stringMatching(/^(dangerous|safe|error)$/), detail: expect.any(String), agreement: expect.stringMatching(/^(agree|known difference)$/) };

describe('the checks benchmark', () => {
  it('measures Modelgate, openssl, picklescan and fickling on every file and reports every field', async () => {
    const resultsDir = mkdtempSync(path.join(tmpdir(), 'modelgate-checks-bench-results-'));
    const previous = process.env.MODELGATE_BENCH_RESULTS_DIR;
    process.env.MODELGATE_BENCH_RESULTS_DIR = resultsDir;
    try {
      const options = { tensors: 300, checkpointMiB: 16, safetensorsMiB: 2, sklearnTrees: 3, rounds: 2 };
      const record = startBenchRecord('checks', { ...options });
      const figures = await runChecksBenchmark(options, testPython());
      const written = await record.finish(figures);

      expect(figures.tools).toEqual({ node: expect.any(String), openssl: expect.stringMatching(/^OpenSSL /), picklescan: expect.any(String), fickling: expect.any(String) });
      expect(figures.checkpoint).toEqual({ tensors: 300, pickleBytes: expect.any(Number), bytes: expect.any(Number) });
      expect(figures.files.map((f) => [f.file, f.kind, f.modelgate.verdict])).toEqual([
        ['checkpoint.pt', 'benign', 'safe'],
        ['sklearn-model.joblib', 'benign', 'safe'],
        ['model.safetensors', 'benign', 'safe'],
        ['benign.pkl', 'benign', 'safe'],
        ['malicious-checkpoint.pt', 'malicious', 'dangerous'],
        ['os-system.pkl', 'malicious', 'dangerous'],
        ['builtins-eval.pkl', 'malicious', 'dangerous'],
        ['subprocess-popen.pkl', 'malicious', 'dangerous'],
        ['os-system.joblib', 'malicious', 'dangerous'],
        ['fickling-injected.pkl', 'malicious', 'dangerous'],
      ]);
      for (const f of figures.files) {
        const expected: FileFigures = {
          file: f.file,
          kind: f.kind,
          bytes: expect.any(Number),
          modelgate: {
            verdict: f.modelgate.verdict,
            integrity: 'pass',
            dangerousKinds: expect.any(Array),
            workerChecks: { ...latency, MiBps: expect.any(Number), cpuMs: expect.any(Array) },
            hashScanPass: { ...latency, MiBps: expect.any(Number), cpuMs: expect.any(Array) },
            scanOnly: latency,
          },
          openssl: { ...latency, MiBps: expect.any(Number), digestEqual: true },
          picklescan: anchor,
          fickling: anchor,
          ratios: { passThroughputToOpenssl: expect.any(Number), workerThroughputToOpenssl: expect.any(Number), speedupOverPicklescan: expect.any(Number), speedupOverFickling: expect.any(Number) },
        };
        expect(f).toEqual(expected);
        // One sample per round for every tool.
        for (const samples of [f.modelgate.workerChecks.samplesMs, f.modelgate.workerChecks.cpuMs, f.modelgate.hashScanPass.samplesMs, f.modelgate.scanOnly.samplesMs, f.openssl.samplesMs, f.picklescan.samplesMs, f.fickling.samplesMs]) {
          expect(samples).toHaveLength(2);
        }
        if (f.kind === 'malicious') expect(f.modelgate.dangerousKinds.length).toBeGreaterThan(0);
      }
      // Every malicious file is refused by every tool; the known differences are all on benign files.
      for (const f of figures.files.filter((x) => x.kind === 'malicious')) expect([f.picklescan.verdict, f.fickling.verdict]).toEqual(['dangerous', 'dangerous']);
      expect(figures.differences.unlisted).toEqual([]);
      expect(figures.differences.listedNotSeen).toEqual([]);
      expect(figures.differences.known).toHaveLength(KNOWN_DIFFERENCES.length);
      for (const anchorName of ['picklescan', 'fickling'] as const) {
        expect(figures.totals[anchorName]).toEqual({ files: expect.any(Array), modelgateScanMs: expect.any(Number), anchorMs: expect.any(Number), speedup: expect.any(Number) });
      }

      const saved = JSON.parse(readFileSync(path.join(resultsDir, path.basename(written)), 'utf8')) as { benchmark: string; options: unknown; figures: unknown };
      expect(saved.benchmark).toBe('checks');
      expect(saved.options).toEqual(options);
      expect(saved.figures).toEqual(JSON.parse(JSON.stringify(figures)));
    } finally {
      if (previous === undefined) delete process.env.MODELGATE_BENCH_RESULTS_DIR;
      else process.env.MODELGATE_BENCH_RESULTS_DIR = previous;
      rmSync(resultsDir, { recursive: true, force: true });
    }
  });

  it('tells an unlisted disagreement (which fails the run) from a listed one, and reports listed ones not seen', () => {
    const differences = verdictDifferences(
      [
        { file: 'checkpoint.pt', modelgate: 'safe', picklescan: 'safe', fickling: 'dangerous' },
        { file: 'os-system.pkl', modelgate: 'safe', picklescan: 'dangerous', fickling: 'dangerous' },
        // A listed file, but the anchor answered something other than the listed verdict.
        { file: 'sklearn-model.joblib', modelgate: 'safe', picklescan: 'dangerous', fickling: 'error' },
      ],
      KNOWN_DIFFERENCES,
    );
    expect(differences.known.map((d) => [d.file, d.anchor])).toEqual([
      ['checkpoint.pt', 'fickling'],
      ['sklearn-model.joblib', 'fickling'],
    ]);
    expect(differences.unlisted).toEqual([
      { file: 'os-system.pkl', anchor: 'picklescan', modelgate: 'safe', anchorVerdict: 'dangerous' },
      { file: 'os-system.pkl', anchor: 'fickling', modelgate: 'safe', anchorVerdict: 'dangerous' },
      { file: 'sklearn-model.joblib', anchor: 'picklescan', modelgate: 'safe', anchorVerdict: 'dangerous' },
    ]);
    expect(differences.listedNotSeen).toEqual(['sklearn-model.joblib (picklescan: error)', 'model.safetensors (fickling: error)']);
  });
});
