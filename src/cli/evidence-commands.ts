// `modelgate evidence <id> --out <dir>` and `modelgate evidence verify <dir>`: an evidence pack for
// auditors, fetched from the API, and checked against the digest the audit archive recorded.
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { ChainVerification } from '../audit/chain';
import { checkSums, type SumsCheck, unzipPack } from '../evidence/bundle';
import { ApiCallError, ApiExitCode, apiTarget, callApi, promotionApiPath } from './api-client';
import { type CommonFlags, runCommand, withCommon } from './api-command';

const out = (text: string) => void process.stdout.write(text);

/** A pack's file names are plain names: a pack naming anything else is refused. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** What `GET …/evidence/exports` answers. */
interface ExportsAnswer {
  promotionId: string;
  exports: Array<{ at: string; actor: string; digest: string }>;
  verification: ChainVerification;
}

/** Reads a pack: an unpacked folder (its plain files) or a zip. */
async function readPack(location: string): Promise<Map<string, Uint8Array>> {
  const info = await stat(location).catch(() => {
    throw new ApiCallError(`no evidence pack at ${location}`, 400, 'usage');
  });
  if (info.isFile()) return unzipPack(new Uint8Array(await readFile(location)));
  const files = new Map<string, Uint8Array>();
  for (const entry of await readdir(location, { withFileTypes: true })) {
    if (entry.isFile()) files.set(entry.name, new Uint8Array(await readFile(path.join(location, entry.name))));
  }
  return files;
}

/** The result of `evidence verify`. */
export interface PackVerification {
  ok: boolean;
  promotionId?: string;
  sums: SumsCheck;
  /** The audit archive records an export with this pack's digest. */
  recorded: boolean;
  recordedBy?: { actor: string; at: string };
  exportChain?: ChainVerification;
}

/** Checks a pack: its SHA256SUMS against its files, and its digest against the exports the audit archive recorded. */
async function verifyPack(flags: CommonFlags, location: string): Promise<PackVerification> {
  const files = await readPack(location);
  const sums = checkSums(files);
  let promotionId: string | undefined;
  try {
    promotionId = (JSON.parse(Buffer.from(files.get('manifest.json') ?? new Uint8Array()).toString('utf8')) as { promotionId?: unknown }).promotionId as string;
  } catch {
    promotionId = undefined;
  }
  if (typeof promotionId !== 'string' || !promotionId) return { ok: false, sums, recorded: false };
  const answer = await callApi<ExportsAnswer>(apiTarget(flags), 'GET', promotionApiPath(promotionId, 'evidence/exports'));
  const match = answer.exports.find((e) => e.digest === sums.digest);
  return {
    ok: sums.ok && match !== undefined && answer.verification.ok,
    promotionId,
    sums,
    recorded: match !== undefined,
    ...(match ? { recordedBy: { actor: match.actor, at: match.at } } : {}),
    exportChain: answer.verification,
  };
}

function describeVerification(v: PackVerification, location: string): string {
  const lines = [`evidence pack ${location}${v.promotionId ? ` of ${v.promotionId}` : ''}: ${v.ok ? 'VERIFIED' : 'NOT VERIFIED'}`];
  lines.push(`  digest    ${v.sums.digest ?? '(no SHA256SUMS)'} (sha256 of SHA256SUMS)`);
  if (v.sums.mismatched.length) lines.push(`  altered   ${v.sums.mismatched.join(', ')}`);
  if (v.sums.missing.length) lines.push(`  missing   ${v.sums.missing.join(', ')}`);
  if (v.sums.unlisted.length) lines.push(`  unlisted  ${v.sums.unlisted.join(', ')}`);
  lines.push(v.recorded ? `  recorded  exported by ${v.recordedBy!.actor} at ${v.recordedBy!.at}` : '  recorded  NO: the audit archive records no export with this digest');
  if (v.exportChain && !v.exportChain.ok) lines.push(`  exports chain BROKEN: ${v.exportChain.reason}`);
  return `${lines.join('\n')}\n`;
}

/** Registers `modelgate evidence`. */
export function registerEvidenceCommands(program: Command, setExitCode: (code: number) => void): void {
  const evidence = withCommon(program.command('evidence'))
    .description('evidence pack for auditors: `evidence <promotionId> --out <dir>` fetches it; `evidence verify <dir|zip>` checks it')
    .argument('[promotionId]', 'the promotion')
    .option('--out <dir>', 'folder to unpack the pack into (the zip is written beside it, as <dir>.zip)')
    .action((id: string | undefined, flags: CommonFlags & { out?: string }) =>
      runCommand(setExitCode, flags, async () => {
        if (!id || !flags.out) throw new ApiCallError('usage: modelgate evidence <promotionId> --out <dir>', 400, 'usage');
        const zip = await callApi<Uint8Array>(apiTarget(flags), 'GET', promotionApiPath(id, 'evidence'), undefined, {
          bytes: true,
          timeoutMs: 180_000,
          headers: { accept: 'application/zip' },
        });
        const files = unzipPack(zip);
        const unsafe = [...files.keys()].filter((name) => !SAFE_NAME.test(name));
        if (unsafe.length) throw new ApiCallError(`the pack names files outside its folder: ${unsafe.join(', ')}`, 502, 'bad_pack');
        const dir = path.resolve(flags.out);
        await mkdir(dir, { recursive: true });
        for (const [name, bytes] of files) await writeFile(path.join(dir, name), bytes);
        const zipFile = `${dir}.zip`;
        await writeFile(zipFile, zip);
        const sums = checkSums(files);
        if (flags.json) out(`${JSON.stringify({ promotionId: id, dir, zip: zipFile, digest: sums.digest, files: [...files.keys()], sumsOk: sums.ok })}\n`);
        else out(`evidence pack of ${id}: ${files.size} files in ${dir}, zip ${zipFile}\n  digest ${sums.digest} (sha256 of SHA256SUMS)\n`);
        return sums.ok ? ApiExitCode.ok : ApiExitCode.failed;
      }),
    );

  withCommon(evidence.command('verify <pack>'))
    .description('recompute SHA256SUMS of an unpacked pack (or its zip) and compare its digest with the exports the audit archive recorded (exit 1 when tampered)')
    // `--server`, `--token` and `--json` may be given before or after `verify`.
    .action((location: string, _flags: CommonFlags, command: Command) => {
      const flags = command.optsWithGlobals<CommonFlags>();
      return runCommand(setExitCode, flags, async () => {
        const result = await verifyPack(flags, location);
        out(flags.json ? `${JSON.stringify(result)}\n` : describeVerification(result, location));
        return result.ok ? ApiExitCode.ok : ApiExitCode.failed;
      });
    });
}
