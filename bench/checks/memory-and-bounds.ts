// Peak RSS of the hash + scan pass on a checkpoint whose pickle is large (a state dict of 100,000+
// tensors) at a quarter of the size and at the full size (flat in the file's size), and
// adversarial inputs for each bound of the scanner, each timed per MB of input. The comparison
// with openssl, picklescan and fickling is `./scripts/bench.sh checks` (bench/checks/run.ts).
// Usage: npx tsx bench/checks/memory-and-bounds.ts [sizeGiB=1] [tensors=100000]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { isDangerous } from '../../src/checks/security/findings';
import { writeTorchCheckpoint } from './checkpoint';
import { scanFile } from '../../src/checks/security/scanner';

const ROOT = path.resolve(__dirname, '..', '..');
const python = process.env.MODELGATE_PYTHON || execFileSync(path.join(ROOT, 'scripts', 'python-env.sh'), { encoding: 'utf8' }).trim();

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
  const dir = mkdtempSync(path.join(tmpdir(), 'modelgate-bench-'));
  try {
    const pklFile = path.join(dir, 'data.pkl');
    execFileSync(python, [path.join(__dirname, 'make_state_dict_pickle.py'), pklFile, String(tensors), '16']);
    const pickle = readFileSync(pklFile);
    const big = path.join(dir, 'checkpoint.pt');
    const quarter = path.join(dir, 'checkpoint-quarter.pt');
    writeTorchCheckpoint(big, pickle, gib * 1024 ** 3 - pickle.length);
    writeTorchCheckpoint(quarter, pickle, (gib * 1024 ** 3) / 4 - pickle.length);
    const full = hashScanOnce(big);
    const small = hashScanOnce(quarter);
    const result = {
      loadAverageAtEnd: loadavg().map((x) => Number(x.toFixed(2))),
      checkpoint: { bytes: statSync(big).size, pickleBytes: pickle.length, tensors, dangerous: full.dangerous },
      peakRssMiB: { [`${(statSync(quarter).size / 1024 ** 3).toFixed(2)}GiB`]: small.maxRssMiB, [`${(statSync(big).size / 1024 ** 3).toFixed(2)}GiB`]: full.maxRssMiB },
      adversarial: await adversarial(dir),
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
