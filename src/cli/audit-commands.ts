// `modelgate audit --verify`, `modelgate audit-keygen` and `modelgate migrate`: the audit record's
// verification (read-only access to PostgreSQL, the checkpoint files and the public keys: no secret,
// no API), the key pairs that seal it, and the migrations run as the database owner.
import { open, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { Pool } from 'pg';
import { generateAuditKeyPair, loadPublicKeys, readCheckpoints } from '../audit/seal';
import { type AuditVerification, verifyAudit } from '../audit/verify';
import { runMigrations } from '../db/migrate';
import { redactUrl } from '../startup';
import { ApiExitCode } from './api-client';
import { err, out } from './api-command';

/** Options of `audit --verify`. */
export interface VerifyFlags {
  databaseUrl?: string;
  checkpoints?: string;
  publicKeys?: string;
  json?: boolean;
}

const listOf = (value: string | undefined) => (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);

/** The report of a verification, one finding a line. */
export function verificationReport(v: AuditVerification, promotionId?: string): string {
  const scope = promotionId ? `the audit chain of ${promotionId}` : `${v.chains} audit chain(s)`;
  const lines = v.findings.map((f) => `TAMPERED ${f.kind} ${f.chain}: ${f.message}`);
  if (v.unchainedRefusedAttempts > 0 && !promotionId) lines.push(`note: ${v.unchainedRefusedAttempts} refused attempt(s) were logged before refused attempts were chained; they are not protected`);
  lines.push(v.ok ? `${scope} intact: every row matches the ${v.signedHeads} signed head(s)` : `${scope}: ${v.findings.length} finding(s); the record was tampered with`);
  return `${lines.join('\n')}\n`;
}

/**
 * Verifies the audit tables against the signed checkpoints. Exit 0 intact, 1 tampered, 2 when it
 * cannot verify (no checkpoint or key given, a file or the database unreadable).
 */
export async function runAuditVerify(promotionId: string | undefined, flags: VerifyFlags): Promise<number> {
  const databaseUrl = flags.databaseUrl ?? process.env.AUDIT_DATABASE_URL ?? process.env.DATABASE_URL;
  const checkpointFiles = listOf(flags.checkpoints ?? process.env.AUDIT_CHECKPOINT_FILES);
  const publicKeyFiles = listOf(flags.publicKeys ?? process.env.AUDIT_PUBLIC_KEY_FILES);
  const missing = [
    ...(databaseUrl ? [] : ['--database-url (or AUDIT_DATABASE_URL, DATABASE_URL): read access to the audit tables']),
    ...(checkpointFiles.length ? [] : ['--checkpoints (or AUDIT_CHECKPOINT_FILES): the checkpoint files of the worker(s) and API(s)']),
    ...(publicKeyFiles.length ? [] : ['--public-keys (or AUDIT_PUBLIC_KEY_FILES): their public keys']),
  ];
  if (missing.length > 0) {
    err(`modelgate audit --verify needs:\n${missing.map((m) => `  ${m}`).join('\n')}\n`);
    return ApiExitCode.usage;
  }
  let keys: Awaited<ReturnType<typeof loadPublicKeys>>;
  let checkpoints: Awaited<ReturnType<typeof readCheckpoints>>;
  try {
    keys = await loadPublicKeys(publicKeyFiles);
    checkpoints = await readCheckpoints(checkpointFiles);
  } catch (e) {
    err(`modelgate: ${(e as Error).message}\n`);
    return ApiExitCode.usage;
  }
  const pool = new Pool({ connectionString: databaseUrl, max: 2, connectionTimeoutMillis: 5_000 });
  try {
    const result = await verifyAudit(pool, checkpoints, keys, promotionId);
    out(flags.json ? `${JSON.stringify({ ...(promotionId ? { promotionId } : {}), ...result })}\n` : verificationReport(result, promotionId));
    return result.ok ? ApiExitCode.ok : ApiExitCode.failed;
  } catch (e) {
    err(`modelgate: cannot read the audit tables at ${redactUrl(databaseUrl!)}: ${(e as Error).message}\n`);
    return ApiExitCode.usage;
  } finally {
    await pool.end();
  }
}

/** Registers `audit-keygen` and `migrate`. */
export function registerAuditCommands(program: Command, setExitCode: (code: number) => void): void {
  program
    .command('audit-keygen')
    .description("write a new ed25519 key pair for a process's audit seal: the private key (mode 0600, for AUDIT_SIGNING_KEY_FILE) and its public key (for audit --verify)")
    .requiredOption('--private-key <file>', 'where the private key goes (must not exist)')
    .requiredOption('--public-key <file>', 'where the public key goes')
    .action(async (flags: { privateKey: string; publicKey: string }) => {
      const pair = generateAuditKeyPair();
      try {
        const handle = await open(flags.privateKey, 'wx', 0o600);
        try {
          await handle.writeFile(pair.privateKeyPem);
        } finally {
          await handle.close();
        }
        await writeFile(flags.publicKey, pair.publicKeyPem, { mode: 0o644 });
      } catch (e) {
        err(`modelgate: cannot write the key pair: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}\n`);
        setExitCode(ApiExitCode.usage);
        return;
      }
      out(`audit key ${pair.keyId}: private key ${flags.privateKey}, public key ${flags.publicKey}\n`);
      setExitCode(ApiExitCode.ok);
    });

  program
    .command('migrate')
    .description('bring the database schema up to date as its owner (DATABASE_OWNER_URL); the services then connect as the service role (DATABASE_URL)')
    .option('--database-url <url>', 'the owner URL (default: $DATABASE_OWNER_URL)')
    .action(async (flags: { databaseUrl?: string }) => {
      const url = flags.databaseUrl ?? process.env.DATABASE_OWNER_URL;
      if (!url) {
        err('modelgate migrate needs the owner URL: --database-url or DATABASE_OWNER_URL\n');
        setExitCode(ApiExitCode.usage);
        return;
      }
      try {
        const applied = await runMigrations(url);
        out(applied.length ? `applied ${applied.join(', ')}\n` : 'the schema is up to date\n');
        setExitCode(ApiExitCode.ok);
      } catch (e) {
        err(`modelgate: migrating ${redactUrl(url)} failed: ${(e as Error).message}\n`);
        setExitCode(ApiExitCode.failed);
      }
    });
}
