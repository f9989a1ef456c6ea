// Benchmark of hash + scan in one pass on a checkpoint whose pickle is large (a state dict of
// 100,000+ tensors), against `openssl dgst -sha256` on the same file in the same run, order
// alternated, several rounds; peak RSS at two sizes; and adversarial inputs for each bound of
// the scanner, each timed per MB of input.
// Usage: npx tsx bench/checks/hash-scan.ts [sizeGiB=1] [tensors=100000] [rounds=5]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { isDangerous } from '../../src/checks/security/findings';
import { writeTorchCheckpoint } from './checkpoint';
import { scanFile } from '../../src/checks/security/scanner';

const ROOT = path.resolve(__dirname, '..', '..');
const python = process.env.MODELGATE_PYTHON || execFileSync(path.join(ROOT, 'scripts', 'python-env.sh'), { encoding: 'utf8' }).trim();

function seconds(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

function hashScanOnce(file: string, mode = 'pytorch'): { seconds: number; sha256: string; dangerous: string[]; maxRssMiB: number } {
  const out = execFileSync(process.execPath, ['-r', path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cjs', 'index.cjs'), path.join(__dirname, 'hash-scan-once.ts'), file, mode], {
    encoding: 'utf8',
    cwd: ROOT,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as { seconds: number; sha256: string; dangerous: string[]; maxRssMiB: number };
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
    const opensslSeconds: number[] = [];
    const ours: Array<ReturnType<typeof hashScanOnce>> = [];
    const hashOnly: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const openssl = () => opensslSeconds.push(seconds(() => execFileSync('openssl', ['dgst', '-sha256', big])));
      const scan = () => ours.push(hashScanOnce(big));
      const hash = () => hashOnly.push(hashScanOnce(big, '--hash-only').seconds);
      if (r % 2 === 0) { openssl(); scan(); hash(); } else { hash(); scan(); openssl(); }
    }
    const opensslDigest = execFileSync('openssl', ['dgst', '-sha256', '-r', big], { encoding: 'utf8' }).split(' ')[0]!;
    const bestOpenssl = Math.min(...opensslSeconds);
    const bestOurs = Math.min(...ours.map((o) => o.seconds));
    const medianOf = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const small = hashScanOnce(quarter);
    const result = {
      checkpoint: { bytes: size, pickleBytes: pickle.length, tensors, digestMatchesOpenssl: ours.every((o) => o.sha256 === opensslDigest), dangerous: ours[0]!.dangerous },
      opensslDgstSha256: { bestSeconds: bestOpenssl, medianSeconds: medianOf(opensslSeconds), MiBps: mib / bestOpenssl, all: opensslSeconds },
      hashPlusScanOnePass: { bestSeconds: bestOurs, medianSeconds: medianOf(ours.map((o) => o.seconds)), MiBps: mib / bestOurs, all: ours.map((o) => o.seconds) },
      nodeSha256Only: { bestSeconds: Math.min(...hashOnly), medianSeconds: medianOf(hashOnly), all: hashOnly, ratioToOpenssl: bestOpenssl / Math.min(...hashOnly) },
      scanOverheadOverNodeSha256: { best: bestOurs / Math.min(...hashOnly) - 1, median: medianOf(ours.map((o) => o.seconds)) / medianOf(hashOnly) - 1 },
      throughputRatioToOpenssl: { best: bestOpenssl / bestOurs, median: medianOf(opensslSeconds) / medianOf(ours.map((o) => o.seconds)) },
      peakRssMiB: { [`${(statSync(quarter).size / 1024 ** 3).toFixed(2)}GiB`]: small.maxRssMiB, [`${(size / 1024 ** 3).toFixed(2)}GiB`]: Math.max(...ours.map((o) => o.maxRssMiB)) },
      adversarial: await adversarial(dir),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
