// Benchmark of hash + scan in one pass on a checkpoint whose pickle is large (a state dict of
// 100,000+ tensors), against `openssl dgst -sha256` on the same file in the same run, order
// alternated, several rounds; peak RSS at two sizes; and adversarial inputs for each bound of
// the scanner, each timed per MB of input.
// Usage: npx tsx bench/checks/hash-scan.ts [sizeGiB=1] [tensors=100000] [rounds=5]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { isDangerous } from '../../src/checks/security/findings';
import { writeTorchCheckpoint } from './checkpoint';
import { scanFile } from '../../src/checks/security/scanner';

const ROOT = path.resolve(__dirname, '..', '..');
const python = process.env.MODELGATE_PYTHON || execFileSync(path.join(ROOT, 'scripts', 'python-env.sh'), { encoding: 'utf8' }).trim();

/** Wall and CPU seconds of `openssl dgst -sha256 file`, from /usr/bin/time. */
function openssl(file: string): { seconds: number; cpuSeconds: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S', 'openssl', 'dgst', '-sha256', file], { encoding: 'utf8' });
  const [wall, user, sys] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds: wall!, cpuSeconds: user! + sys! };
}

function hashScanOnce(file: string, mode = 'pytorch'): { seconds: number; cpuSeconds: number; sha256: string; dangerous: string[]; maxRssMiB: number } {
  const out = execFileSync(process.execPath, ['-r', path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cjs', 'index.cjs'), path.join(__dirname, 'hash-scan-once.ts'), file, mode], {
    encoding: 'utf8',
    cwd: ROOT,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as { seconds: number; cpuSeconds: number; sha256: string; dangerous: string[]; maxRssMiB: number };
}

async function adversarial(dir: string): Promise<Record<string, { MB: number; seconds: number; secondsPerMB: number; kinds: string[] }>> {
  const cases: Record<string, Buffer> = {
    'marks (140 MB of MARK)': Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.alloc(140 * 1024 * 1024, 0x28)]),
    'stack (2 M NONE)': Buffer.concat([Buffer.from([0x80, 0x02]), Buffer.alloc(2 * 1024 * 1024, 0x4e)]),
    'memo (9 M MEMOIZE)': Buffer.concat([Buffer.from([0x80, 0x04, 0x4e]), Buffer.alloc(9 * 1024 * 1024, 0x94)]),
    'gzip bomb (2 MB → 2 GiB)': (() => {
      const zeros = gzipSync(Buffer.alloc(64 * 1024 * 1024));
      return Buffer.concat([gzipSync(Buffer.from([0x80, 0x04, 0x8e, 0, 0, 0, 0x80, 0, 0, 0, 0])), ...Array.from({ length: 32 }, () => zeros), gzipSync(Buffer.from('.'))]);
    })(),
    'zip member ratio (64 MiB of zeros deflated)': (() => {
      const data = Buffer.alloc(64 * 1024 * 1024);
      const body = deflateRawSync(data);
      const name = Buffer.from('x.pkl');
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(8, 8); local.writeUInt32LE(crc32(data) >>> 0, 14);
      local.writeUInt32LE(body.length, 18); local.writeUInt32LE(data.length, 22); local.writeUInt16LE(name.length, 26);
      const central = Buffer.alloc(46);
      central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(8, 10); central.writeUInt32LE(crc32(data) >>> 0, 16);
      central.writeUInt32LE(body.length, 20); central.writeUInt32LE(data.length, 24); central.writeUInt16LE(name.length, 28);
      const end = Buffer.alloc(22);
      end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(1, 8); end.writeUInt16LE(1, 10);
      end.writeUInt32LE(46 + name.length, 12); end.writeUInt32LE(30 + name.length + body.length, 16);
      return Buffer.concat([local, name, body, central, name, end]);
    })(),
    'strings (200,000 × 1000-byte BINUNICODE memoized)': Buffer.concat([
      Buffer.from([0x80, 0x04]),
      ...Array.from({ length: 200_000 }, () => Buffer.concat([Buffer.from([0x58, 0xe8, 0x03, 0, 0]), Buffer.alloc(1000, 0x61), Buffer.from([0x94, 0x30])])),
      Buffer.from('N.'),
    ]),
  };
  const out: Record<string, { MB: number; seconds: number; secondsPerMB: number; kinds: string[] }> = {};
  for (const [name, data] of Object.entries(cases)) {
    const file = path.join(dir, `adversarial${name.includes('zip') ? '.zip' : '.joblib'}`);
    writeFileSync(file, data);
    const t = process.hrtime.bigint();
    const scan = await scanFile(file, path.basename(file), { declaredFormat: 'joblib' });
    const s = Number(process.hrtime.bigint() - t) / 1e9;
    const mb = data.length / 1e6;
    out[name] = { MB: Number(mb.toFixed(1)), seconds: Number(s.toFixed(3)), secondsPerMB: Number((s / mb).toFixed(4)), kinds: scan.findings.filter(isDangerous).map((f) => f.kind) };
    rmSync(file);
  }
  return out;
}

async function main(): Promise<void> {
  const gib = Number(process.argv[2] ?? '1');
  const tensors = Number(process.argv[3] ?? '100000');
  const rounds = Number(process.argv[4] ?? '5');
  const dir = mkdtempSync(path.join(tmpdir(), 'modelgate-bench-'));
  try {
    const pklFile = path.join(dir, 'data.pkl');
    execFileSync(python, [path.join(__dirname, 'make_state_dict_pickle.py'), pklFile, String(tensors), '16']);
    const pickle = readFileSync(pklFile);
    const big = path.join(dir, 'checkpoint.pt');
    const quarter = path.join(dir, 'checkpoint-quarter.pt');
    writeTorchCheckpoint(big, pickle, gib * 1024 ** 3 - pickle.length);
    writeTorchCheckpoint(quarter, pickle, (gib * 1024 ** 3) / 4 - pickle.length);
    const size = statSync(big).size;
    const mib = size / 1024 ** 2;
    execFileSync('openssl', ['dgst', '-sha256', big]); // warm the page cache
    const opensslRuns: Array<ReturnType<typeof openssl>> = [];
    const ours: Array<ReturnType<typeof hashScanOnce>> = [];
    const hashOnly: Array<ReturnType<typeof hashScanOnce>> = [];
    for (let r = 0; r < rounds; r++) {
      const steps = [() => opensslRuns.push(openssl(big)), () => ours.push(hashScanOnce(big)), () => hashOnly.push(hashScanOnce(big, '--hash-only'))];
      for (const step of r % 2 === 0 ? steps : steps.reverse()) step();
    }
    const opensslDigest = execFileSync('openssl', ['dgst', '-sha256', '-r', big], { encoding: 'utf8' }).split(' ')[0]!;
    const medianOf = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const summary = (runs: Array<{ seconds: number; cpuSeconds: number }>) => ({
      bestSeconds: Math.min(...runs.map((x) => x.seconds)),
      medianSeconds: medianOf(runs.map((x) => x.seconds)),
      bestMiBps: mib / Math.min(...runs.map((x) => x.seconds)),
      medianCpuSeconds: medianOf(runs.map((x) => x.cpuSeconds)),
      all: runs.map((x) => Number(x.seconds.toFixed(3))),
    });
    const theirs = summary(opensslRuns);
    const pass = summary(ours);
    const hash = summary(hashOnly);
    const small = hashScanOnce(quarter);
    const result = {
      loadAverageAtEnd: loadavg().map((x) => Number(x.toFixed(2))),
      checkpoint: { bytes: size, pickleBytes: pickle.length, tensors, digestMatchesOpenssl: ours.every((o) => o.sha256 === opensslDigest), dangerous: ours[0]!.dangerous },
      opensslDgstSha256: theirs,
      hashPlusScanOnePass: pass,
      nodeSha256Only: hash,
      throughputRatioToOpenssl: { best: theirs.bestSeconds / pass.bestSeconds, median: theirs.medianSeconds / pass.medianSeconds },
      scanOverheadOverNodeSha256: { best: pass.bestSeconds / hash.bestSeconds - 1, median: pass.medianSeconds / hash.medianSeconds - 1 },
      peakRssMiB: { [`${(statSync(quarter).size / 1024 ** 3).toFixed(2)}GiB`]: small.maxRssMiB, [`${(size / 1024 ** 3).toFixed(2)}GiB`]: Math.max(...ours.map((o) => o.maxRssMiB)) },
      adversarial: await adversarial(dir),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
