// Benchmark of the integrity + security checks. Usage: npx tsx bench/checks/run.ts [sizeGiB=1]
// 1. builds a PyTorch-style checkpoint (zip: archive/data.pkl, archive/data/N storages, archive/version),
// 2. times `sha256sum` against integrity + security in one streaming pass (warm page cache, best of 3),
// 3. measures peak RSS of that pass at a quarter of the size and at the full size,
// 4. times picklescan and the Modelgate scanner on the same set of pickle-based files, in process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { scanFile } from '../../src/checks/security/scanner';
import { isDangerous } from '../../src/checks/security/findings';
import { writeTorchCheckpoint } from './checkpoint';

const ROOT = path.resolve(__dirname, '..', '..');
const python = process.env.MODELGATE_PYTHON || execFileSync(path.join(ROOT, 'scripts', 'python-env.sh'), { encoding: 'utf8' }).trim();

/** Writes a stored (uncompressed) zip in torch.save's layout with `storageBytes` of tensor data; returns its sha256. */
function writeCheckpoint(file: string, storageBytes: number): string {
  // A state-dict pickle as torch.save writes it (protocol 2, OrderedDict, _rebuild_tensor_v2, persistent ids).
  const pickle = Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.from(
    'ccollections\nOrderedDict\nq\x00)Rq\x01X\x06\x00\x00\x00weightq\x02ctorch._utils\n_rebuild_tensor_v2\nq\x03((X\x07\x00\x00\x00storageq\x04ctorch\nFloatStorage\nq\x05X\x01\x00\x00\x000q\x06X\x03\x00\x00\x00cpuq\x07K\x04tq\x08QK\x00K\x02K\x02\x86q\tK\x02K\x01\x86q\n\x89h\x00)Rq\x0btq\x0cRq\rs.',
    'latin1',
  )]);
  writeTorchCheckpoint(file, pickle, storageBytes);
  return execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0]!;
}

function time(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

function scanOnce(file: string, sha: string): { seconds: number; maxRssMiB: number; integrity: string; security: string } {
  const out = execFileSync('npx', ['tsx', path.join(__dirname, 'scan-once.ts'), file, sha], { encoding: 'utf8', cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
  return JSON.parse(out.trim().split('\n').pop()!) as { seconds: number; maxRssMiB: number; integrity: string; security: string };
}

async function main(): Promise<void> {
  const gib = Number(process.argv[2] ?? '1');
  const dir = mkdtempSync(path.join(tmpdir(), 'modelgate-bench-'));
  try {
    const big = path.join(dir, 'checkpoint.pt');
    const small = path.join(dir, 'checkpoint-quarter.pt');
    const shaBig = writeCheckpoint(big, gib * 1024 ** 3);
    const shaSmall = writeCheckpoint(small, (gib * 1024 ** 3) / 4);
    const size = Number(execFileSync('stat', ['-c', '%s', big], { encoding: 'utf8' }));
    execFileSync('sha256sum', [big]); // warm the page cache
    const sha256sum = Math.min(...[0, 1, 2].map(() => time(() => execFileSync('sha256sum', [big]))));
    const runs = [0, 1, 2].map(() => scanOnce(big, shaBig));
    const best = runs.reduce((a, b) => (a.seconds < b.seconds ? a : b));
    const quarter = scanOnce(small, shaSmall);
    const mib = size / 1024 ** 2;

    // picklescan vs Modelgate on the pickle-based fixtures plus two larger pickles.
    const fx = path.join(dir, 'fixtures');
    execFileSync(python, [path.join(ROOT, 'scripts', 'fixtures', 'make_security_fixtures.py'), fx]);
    execFileSync(python, ['-c', `import pickle,numpy as np
pickle.dump(list(range(3_000_000)), open('${fx}/many_ints.pkl','wb'), protocol=4)
pickle.dump({f'k{i}': np.arange(64, dtype=np.float32) for i in range(50_000)}, open('${fx}/many_arrays.pkl','wb'), protocol=2)
pickle.dump({'blob': np.zeros(50_000_000, dtype=np.float32)}, open('${fx}/big_array.pkl','wb'), protocol=4)`]);
    const files = readdirSync(fx).filter((f) => /\.(pkl|pt|pth|npy|npz)$/.test(f)).map((f) => path.join(fx, f));
    const pyTimer = `import sys,time,json
from picklescan.scanner import scan_file_path
files=sys.argv[1:]
best=1e9
for _ in range(3):
  t=time.perf_counter()
  for f in files:
    try: scan_file_path(f)
    except Exception: pass
  best=min(best,time.perf_counter()-t)
print(best)`;
    const picklescanSeconds = Number(execFileSync(python, ['-c', pyTimer, ...files], { encoding: 'utf8' }).trim());
    let ours = Number.POSITIVE_INFINITY;
    let flagged = 0;
    for (let r = 0; r < 3; r++) {
      const t = process.hrtime.bigint();
      flagged = 0;
      for (const f of files) if ((await scanFile(f, path.basename(f))).findings.some(isDangerous)) flagged++;
      ours = Math.min(ours, Number(process.hrtime.bigint() - t) / 1e9);
    }
    const totalMiB = files.reduce((s, f) => s + Number(execFileSync('stat', ['-c', '%s', f], { encoding: 'utf8' })), 0) / 1024 ** 2;
    const result = {
      checkpoint: { bytes: size, sha256: shaBig, verdicts: { integrity: best.integrity, security: best.security } },
      sha256sum: { seconds: sha256sum, MiBps: mib / sha256sum },
      integrityPlusSecurityOnePass: { seconds: best.seconds, MiBps: mib / best.seconds, ratioToSha256sum: sha256sum / best.seconds },
      peakRssMiB: { [`${(size / 4 / 1024 ** 3).toFixed(2)}GiB`]: quarter.maxRssMiB, [`${(size / 1024 ** 3).toFixed(2)}GiB`]: best.maxRssMiB },
      scannerVsPicklescan: { files: files.length, MiB: totalMiB, picklescanSeconds, modelgateSeconds: ours, speedup: picklescanSeconds / ours, modelgateFlagged: flagged },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
