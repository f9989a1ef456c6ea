// Hashes and scans one file in one streaming pass (scanFile with hash) and prints timing and peak RSS.
// Usage: npx tsx bench/checks/hash-scan-once.ts <file> <declared-format>
// (bench/checks/memory-and-bounds.ts runs it in a process of its own to read the pass's peak RSS.)
import path from 'node:path';
import { isDangerous } from '../../src/checks/security/findings';
import { scanFile } from '../../src/checks/security/scanner';

/** CPU time of the whole process (all threads) so far, in seconds. */
function cpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

async function main(): Promise<void> {
  const [file, format] = process.argv.slice(2);
  const started = process.hrtime.bigint();
  const scan = await scanFile(path.resolve(file!), path.basename(file!), { declaredFormat: format }, true);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const dangerous = scan.findings.filter(isDangerous).map((f) => f.kind);
  process.stdout.write(`${JSON.stringify({ seconds, cpuSeconds: cpuSeconds(), sha256: scan.sha256, dangerous, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`);
}

void main();
