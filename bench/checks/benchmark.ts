// The checks benchmark (issue 18, item 3): Modelgate's integrity + security checks against their
// anchors on the same files, in the same run, order alternated every round:
// - `openssl dgst -sha256` (the practical limit of hashing; the digests must be equal),
// - picklescan and fickling (the pickle scanners in use), timed in one long-lived Python process
//   (bench/checks/anchors.py), as Modelgate's scanner is timed in this process.
// The files are generated: a PyTorch-style checkpoint whose data.pkl is a state dict of
// `tensors` entries, a joblib'd scikit-learn pipeline, a large safetensors file, a benign pickle
// and malicious pickles (bench/checks/make_model_files.py). Every file's verdicts are compared;
// a disagreement not listed in KNOWN_DIFFERENCES (with its reason) fails the run.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { runArtifactChecks } from '../../src/checks';
import { isDangerous } from '../../src/checks/security/findings';
import { scanFile } from '../../src/checks/security/scanner';
import { PromotionManifestSchema } from '../../src/manifest/schema';
import { CheckSettingsSchema } from '../../src/policy/check-settings';
import { sourceRules } from '../../src/sources/rules';
import { latencyFigures } from '../results';
import { writeTorchCheckpoint } from './checkpoint';

/** The sizes of a run. */
export interface ChecksBenchOptions {
  /** Entries of the checkpoint's state dict (its data.pkl); the issue asks for ≥ 100,000. */
  tensors: number;
  /** Tensor data of the checkpoint, MiB (16 storages of whole MiB: rounded down to a multiple of 16). */
  checkpointMiB: number;
  /** Tensor data of the safetensors file, MiB. */
  safetensorsMiB: number;
  /** Trees of the scikit-learn random forest. */
  sklearnTrees: number;
  /** Rounds per file and tool (order alternated: odd rounds run the tools in reverse; an even count is ABBA). */
  rounds: number;
}

/** Full size: what `./scripts/bench.sh checks` runs without options. */
export const DEFAULT_CHECKS_OPTIONS: ChecksBenchOptions = { tensors: 100_000, checkpointMiB: 1024, safetensorsMiB: 1024, sklearnTrees: 200, rounds: 4 };

/** What a tool says of a file: dangerous (refuse), safe, or error (the tool could not judge it). */
export type Verdict = 'dangerous' | 'safe' | 'error';
/** The anchors whose verdicts are compared with Modelgate's. */
export type Anchor = 'picklescan' | 'fickling';

/**
 * Known, justified differences between Modelgate's verdict and an anchor's, per file and anchor:
 * the anchor's verdict that is expected and why Modelgate's differs. Any other disagreement
 * fails the benchmark; a listed one that did not happen is reported as not seen.
 */
export const KNOWN_DIFFERENCES: ReadonlyArray<{ file: string; anchor: Anchor; anchorVerdict: Verdict; reason: string }> = [
  {
    file: 'checkpoint.pt',
    anchor: 'fickling',
    anchorVerdict: 'dangerous',
    reason:
      "fickling's safety analysis marks every import outside Python's standard library LIKELY_UNSAFE (here torch._utils._rebuild_tensor_v2 and torch.FloatStorage, which every torch.save state dict holds), and on a state dict of 100,000 entries it exceeds its own interpretation limits and answers LIKELY_OVERTLY_MALICIOUS; Modelgate allows the globals torch.load itself allows with weights_only=True and walks every opcode",
  },
  {
    file: 'sklearn-model.joblib',
    anchor: 'picklescan',
    anchorVerdict: 'error',
    reason:
      "joblib writes each numpy array's bytes inline after its NumpyArrayWrapper, outside the pickle stream; picklescan stops at the first such array with a scan error and never sees the globals after it. Modelgate skips the inline arrays as joblib reads them and judges every global (the scikit-learn and numpy classes are on its allowlist)",
  },
  {
    file: 'sklearn-model.joblib',
    anchor: 'fickling',
    anchorVerdict: 'error',
    reason: "fickling cannot decode joblib's inline array bytes (PickleDecodeError) and judges nothing; Modelgate skips them as joblib reads them",
  },
  {
    file: 'model.safetensors',
    anchor: 'fickling',
    anchorVerdict: 'error',
    reason: 'a safetensors file holds no pickle and fickling refuses what is not one; Modelgate validates the safetensors header and offsets and passes it',
  },
];

/** How Modelgate's verdict on `file` relates to an anchor's, given the listed differences. */
export function agreementOf(file: string, anchor: Anchor, modelgate: Verdict, anchorVerdict: Verdict, known = KNOWN_DIFFERENCES): AnchorFigures['agreement'] {
  if (modelgate === anchorVerdict) return 'agree';
  return known.some((d) => d.file === file && d.anchor === anchor && d.anchorVerdict === anchorVerdict) ? 'known difference' : 'unlisted difference';
}

/**
 * The disagreements of a run's verdicts: the listed ones with their reason, the unlisted ones
 * (the run fails on any), and the listed ones that did not happen.
 */
export function verdictDifferences(
  verdicts: ReadonlyArray<{ file: string; modelgate: Verdict } & Record<Anchor, Verdict>>,
  known = KNOWN_DIFFERENCES,
): ChecksBenchFigures['differences'] {
  const differences: ChecksBenchFigures['differences'] = { known: [], unlisted: [], listedNotSeen: [] };
  for (const v of verdicts) {
    for (const anchor of ['picklescan', 'fickling'] as const) {
      const agreement = agreementOf(v.file, anchor, v.modelgate, v[anchor], known);
      if (agreement === 'agree') continue;
      const entry = { file: v.file, anchor, modelgate: v.modelgate, anchorVerdict: v[anchor] };
      if (agreement === 'known difference') differences.known.push({ ...entry, reason: known.find((d) => d.file === v.file && d.anchor === anchor)!.reason });
      else differences.unlisted.push(entry);
    }
  }
  for (const d of known) {
    if (!differences.known.some((k) => k.file === d.file && k.anchor === d.anchor)) differences.listedNotSeen.push(`${d.file} (${d.anchor}: ${d.anchorVerdict})`);
  }
  return differences;
}

/** Modelgate's figures on one file. */
export interface ModelgateFigures {
  verdict: Verdict;
  /** Integrity outcome (the declared digest is openssl's). */
  integrity: string;
  /** Kinds of Modelgate's dangerous findings. */
  dangerousKinds: string[];
  /** The checks as the worker's activity runs them (runArtifactChecks): the staging copy into a fresh store, then hash + scan in one pass, the copy kept. */
  workerChecks: ReturnType<typeof latencyFigures> & { MiBps: number; cpuMs: number[] };
  /** The hash + scan pass alone over the staged bytes (scanFile with hash). */
  hashScanPass: ReturnType<typeof latencyFigures> & { MiBps: number; cpuMs: number[] };
  /** The scan alone (no hash): what picklescan and fickling do. */
  scanOnly: ReturnType<typeof latencyFigures>;
}

/** One anchor's figures on one file. */
export interface AnchorFigures extends ReturnType<typeof latencyFigures> {
  verdict: Verdict;
  detail: string;
  /** agree; a listed difference; or an unlisted one (fails the run). */
  agreement: 'agree' | 'known difference' | 'unlisted difference';
}

/** Every figure of one file. */
export interface FileFigures {
  file: string;
  kind: 'benign' | 'malicious';
  bytes: number;
  modelgate: ModelgateFigures;
  openssl: ReturnType<typeof latencyFigures> & { MiBps: number; digestEqual: boolean };
  picklescan: AnchorFigures;
  fickling: AnchorFigures;
  /** Medians compared: openssl's time over Modelgate's (≥ 0.8 is the target for the pass), the anchors' scan time over Modelgate's scan. */
  ratios: { passThroughputToOpenssl: number; workerThroughputToOpenssl: number; speedupOverPicklescan: number; speedupOverFickling: number };
}

/** Sums of the files' medians (the files an anchor answered `error` on are left out: it did not judge them). */
export interface ScanTotals {
  files: string[];
  modelgateScanMs: number;
  anchorMs: number;
  /** anchorMs / modelgateScanMs (target ≥ 10 for picklescan). */
  speedup: number;
}

/** The figures of a run. */
export interface ChecksBenchFigures {
  tools: { node: string; openssl: string; picklescan: string; fickling: string };
  checkpoint: { tensors: number; pickleBytes: number; bytes: number };
  files: FileFigures[];
  /** Modelgate's scan against each anchor's, summed over the files the anchor could judge. */
  totals: { picklescan: ScanTotals; fickling: ScanTotals };
  differences: { known: Array<{ file: string; anchor: Anchor; modelgate: Verdict; anchorVerdict: Verdict; reason: string }>; unlisted: Array<{ file: string; anchor: Anchor; modelgate: Verdict; anchorVerdict: Verdict }>; listedNotSeen: string[] };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e6;
const cpuMsSince = (start: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1000;
};

/** The long-lived anchors process: one request at a time, one JSON answer a line. */
function startAnchors(python: string) {
  const child = spawn(python, [path.join(__dirname, 'anchors.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return {
    async scan(tool: Anchor, file: string): Promise<{ ms: number; verdict: Verdict; detail: string }> {
      child.stdin.write(`${tool}\t${file}\n`);
      const next = await lines.next();
      if (next.done) throw new Error(`the anchors process ended (exit code ${child.exitCode})`);
      return JSON.parse(next.value) as { ms: number; verdict: Verdict; detail: string };
    },
    async stop(): Promise<void> {
      child.stdin.end();
      if (child.exitCode === null) await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}

/** A safetensors file of `mib` MiB of F32 tensors of 1 MiB each. */
function writeSafetensors(file: string, mib: number): void {
  const tensorBytes = 1024 * 1024;
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  for (let i = 0; i < mib; i++) header[`layers.${i}.weight`] = { dtype: 'F32', shape: [512, 512], data_offsets: [i * tensorBytes, (i + 1) * tensorBytes] };
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const chunk = Buffer.alloc(tensorBytes);
  for (let i = 0; i < chunk.length; i += 4) chunk.writeFloatLE(Math.cos(i), i);
  const fd = openSync(file, 'w');
  try {
    writeSync(fd, length);
    writeSync(fd, json);
    for (let i = 0; i < mib; i++) writeSync(fd, chunk);
  } finally {
    closeSync(fd);
  }
}

/** The files of a run, each with its declared format and whether it is malicious. */
function makeFiles(dir: string, python: string, options: ChecksBenchOptions): { files: Array<{ file: string; format: string; kind: 'benign' | 'malicious' }>; pickleBytes: number } {
  execFileSync(python, [path.join(__dirname, 'make_state_dict_pickle.py'), path.join(dir, 'state-dict.pkl'), String(options.tensors), '16']);
  execFileSync(python, [path.join(__dirname, 'make_model_files.py'), dir, String(options.sklearnTrees)]);
  const pickle = readFileSync(path.join(dir, 'state-dict.pkl'));
  rmSync(path.join(dir, 'state-dict.pkl'));
  writeTorchCheckpoint(path.join(dir, 'checkpoint.pt'), pickle, options.checkpointMiB * 1024 * 1024);
  writeTorchCheckpoint(path.join(dir, 'malicious-checkpoint.pt'), readFileSync(path.join(dir, 'malicious-data.pkl')), 16 * 1024 * 1024);
  rmSync(path.join(dir, 'malicious-data.pkl'));
  writeSafetensors(path.join(dir, 'model.safetensors'), options.safetensorsMiB);
  const files = [
    { file: 'checkpoint.pt', format: 'pytorch', kind: 'benign' as const },
    { file: 'sklearn-model.joblib', format: 'joblib', kind: 'benign' as const },
    { file: 'model.safetensors', format: 'safetensors', kind: 'benign' as const },
    { file: 'benign.pkl', format: 'pickle', kind: 'benign' as const },
    { file: 'malicious-checkpoint.pt', format: 'pytorch', kind: 'malicious' as const },
    { file: 'os-system.pkl', format: 'pickle', kind: 'malicious' as const },
    { file: 'builtins-eval.pkl', format: 'pickle', kind: 'malicious' as const },
    { file: 'subprocess-popen.pkl', format: 'pickle', kind: 'malicious' as const },
    { file: 'os-system.joblib', format: 'joblib', kind: 'malicious' as const },
    { file: 'fickling-injected.pkl', format: 'pickle', kind: 'malicious' as const },
  ];
  return { files: files.map((f) => ({ ...f, file: path.join(dir, f.file) })), pickleBytes: pickle.length };
}

/** `openssl dgst -sha256 -r file`: its digest and wall milliseconds (the process included, a few ms). */
function openssl(file: string): { ms: number; sha256: string } {
  const started = process.hrtime.bigint();
  const out = execFileSync('openssl', ['dgst', '-sha256', '-r', file], { encoding: 'utf8' });
  return { ms: ms(started), sha256: out.split(' ')[0]! };
}

/**
 * Runs the checks benchmark: generates the files in a temporary folder (removed at the end),
 * measures every tool on every file `rounds` times, order alternated, and compares the verdicts.
 * `python` is the interpreter with picklescan, fickling, scikit-learn and joblib (scripts/python-env.sh).
 */
export async function runChecksBenchmark(options: ChecksBenchOptions, python: string): Promise<ChecksBenchFigures> {
  const dir = mkdtempSync(path.join(tmpdir(), 'modelgate-bench-checks-'));
  const anchors = startAnchors(python);
  try {
    const { files, pickleBytes } = makeFiles(dir, python, options);
    const settings = CheckSettingsSchema.parse({});
    const figures: FileFigures[] = [];
    for (const { file, format, kind } of files) {
      const bytes = statSync(file).size;
      const mib = bytes / 1024 ** 2;
      const declared = openssl(file).sha256; // also warms the page cache: every tool reads from memory
      const manifest = PromotionManifestSchema.parse({
        model: { name: 'bench', version: '1', owner: 'bench', riskTier: 'low' },
        target: 'staging',
        artifact: { uri: pathToFileURL(file).href, sha256: declared, format },
      });
      // The options the worker's checks give the scanner (src/checks/artifact-checks.ts).
      const scanOptions = { allowGlobals: settings.security.allowGlobals, maxUncompressedBytes: settings.security.maxUncompressedBytes, declaredFormat: format };
      const samples = { worker: [] as number[], workerCpu: [] as number[], pass: [] as number[], passCpu: [] as number[], scan: [] as number[], openssl: [] as number[], picklescan: [] as number[], fickling: [] as number[] };
      let modelgate: { verdict: Verdict; integrity: string; dangerousKinds: string[] } | undefined;
      const answers: Partial<Record<Anchor, { verdict: Verdict; detail: string }>> = {};
      let digestEqual = true;
      // Round 0 is a warm-up (the JIT, the anchors' lazy imports), not counted.
      for (let round = -1; round < options.rounds; round++) {
        const steps: Array<() => Promise<void>> = [
          async () => {
            const store = mkdtempSync(path.join(dir, 'store-'));
            const cpu = process.cpuUsage();
            const started = process.hrtime.bigint();
            const [integrity, security] = await runArtifactChecks({
              manifest,
              settings,
              trustedKeys: [],
              context: { sources: sourceRules([dir], ''), artifactStoreDir: store },
              rethrowTransient: false,
            });
            samples.worker.push(ms(started));
            samples.workerCpu.push(cpuMsSince(cpu));
            rmSync(store, { recursive: true, force: true });
            const verdict: Verdict = security.status === 'fail' ? 'dangerous' : security.status === 'error' ? 'error' : 'safe';
            modelgate = { verdict, integrity: integrity.status, dangerousKinds: [...new Set(security.findings.filter((f) => f.severity === 'medium' || f.severity === 'high' || f.severity === 'critical').map((f) => f.kind))] };
          },
          async () => {
            const cpu = process.cpuUsage();
            const started = process.hrtime.bigint();
            const scan = await scanFile(file, path.basename(file), scanOptions, true);
            samples.pass.push(ms(started));
            samples.passCpu.push(cpuMsSince(cpu));
            if (scan.sha256 !== declared) digestEqual = false;
            const scanStarted = process.hrtime.bigint();
            const only = await scanFile(file, path.basename(file), scanOptions);
            samples.scan.push(ms(scanStarted));
            if (only.findings.some(isDangerous) !== scan.findings.some(isDangerous)) throw new Error(`${path.basename(file)}: the scan with and without the hash disagree`);
          },
          async () => {
            const run = openssl(file);
            samples.openssl.push(run.ms);
            if (run.sha256 !== declared) digestEqual = false;
          },
          async () => {
            const answer = await anchors.scan('picklescan', file);
            samples.picklescan.push(answer.ms);
            answers.picklescan = answer;
          },
          async () => {
            const answer = await anchors.scan('fickling', file);
            samples.fickling.push(answer.ms);
            answers.fickling = answer;
          },
        ];
        for (const step of round % 2 === 0 ? steps : steps.reverse()) await step();
        if (round === -1) for (const list of Object.values(samples)) list.length = 0;
      }
      const name = path.basename(file);
      const anchorFigures = (anchor: Anchor): AnchorFigures => {
        const answer = answers[anchor]!;
        return { verdict: answer.verdict, detail: answer.detail, agreement: agreementOf(name, anchor, modelgate!.verdict, answer.verdict), ...latencyFigures(samples[anchor]) };
      };
      const worker = latencyFigures(samples.worker);
      const pass = latencyFigures(samples.pass);
      const scan = latencyFigures(samples.scan);
      const theirs = latencyFigures(samples.openssl);
      const picklescan = anchorFigures('picklescan');
      const fickling = anchorFigures('fickling');
      const ratio = (a: number, b: number) => Math.round((a / Math.max(b, 0.01)) * 100) / 100;
      figures.push({
        file: name,
        kind,
        bytes,
        modelgate: {
          ...modelgate!,
          workerChecks: { ...worker, MiBps: Math.round(mib / (median(samples.worker) / 1000)), cpuMs: samples.workerCpu.map(Math.round) },
          hashScanPass: { ...pass, MiBps: Math.round(mib / (median(samples.pass) / 1000)), cpuMs: samples.passCpu.map(Math.round) },
          scanOnly: scan,
        },
        openssl: { ...theirs, MiBps: Math.round(mib / (median(samples.openssl) / 1000)), digestEqual },
        picklescan,
        fickling,
        ratios: {
          passThroughputToOpenssl: ratio(median(samples.openssl), median(samples.pass)),
          workerThroughputToOpenssl: ratio(median(samples.openssl), median(samples.worker)),
          speedupOverPicklescan: ratio(median(samples.picklescan), median(samples.scan)),
          speedupOverFickling: ratio(median(samples.fickling), median(samples.scan)),
        },
      });
    }
    const total = (anchor: Anchor): ScanTotals => {
      const judged = figures.filter((f) => f[anchor].verdict !== 'error');
      const sum = (pick: (f: FileFigures) => number[]) => Math.round(judged.reduce((s, f) => s + median(pick(f)), 0) * 10) / 10;
      const modelgateScanMs = sum((f) => f.modelgate.scanOnly.samplesMs);
      const anchorMs = sum((f) => f[anchor].samplesMs);
      return { files: judged.map((f) => f.file), modelgateScanMs, anchorMs, speedup: Math.round((anchorMs / Math.max(modelgateScanMs, 0.1)) * 100) / 100 };
    };
    const differences = verdictDifferences(figures.map((f) => ({ file: f.file, modelgate: f.modelgate.verdict, picklescan: f.picklescan.verdict, fickling: f.fickling.verdict })));
    const pythonVersion = (module: string) => execFileSync(python, ['-c', `import importlib.metadata as m; print(m.version('${module}'))`], { encoding: 'utf8' }).trim();
    return {
      tools: {
        node: process.version,
        openssl: execFileSync('openssl', ['version'], { encoding: 'utf8' }).trim(),
        picklescan: pythonVersion('picklescan'),
        fickling: pythonVersion('fickling'),
      },
      checkpoint: { tensors: options.tensors, pickleBytes, bytes: figures[0]!.bytes },
      files: figures,
      totals: { picklescan: total('picklescan'), fickling: total('fickling') },
      differences,
    };
  } finally {
    await anchors.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
