// What every command that calls the API shares: its flags, its output and how its errors end it.
import type { Command } from 'commander';
import { ApiCallError, SERVER_ENV, TOKEN_ENV } from './api-client';

/** Flags of every API command. */
export interface CommonFlags {
  server?: string;
  token?: string;
  json?: boolean;
}

/** Where a command writes. */
export type Out = (text: string) => void;
/** Standard output. */
export const out: Out = (text) => void process.stdout.write(text);
/** Standard error. */
export const err: Out = (text) => void process.stderr.write(text);

/** Adds the flags of every API command (`--server`, `--token`, `--json`). */
export function withCommon(command: Command): Command {
  return command
    .option('--server <url>', `API base URL (default: $${SERVER_ENV} or http://localhost:8080)`)
    .option('--token <jwt>', `bearer token (default: $${TOKEN_ENV})`)
    .option('--json', 'print the API answer as JSON');
}

function printProblems(details: unknown, write: Out) {
  const problems = (details as { problems?: Array<{ path: string; message: string }> } | undefined)?.problems;
  if (Array.isArray(problems)) for (const p of problems) write(`  ${p.path}: ${p.message}\n`);
}

/**
 * Runs a command body: API errors are printed (as JSON with `--json`) and become the
 * exit code of `ApiExitCode` (api-client.ts).
 */
export function runCommand(setExitCode: (code: number) => void, flags: CommonFlags, body: () => Promise<number>): Promise<void> {
  return body().then(setExitCode, (e: unknown) => {
    if (!(e instanceof ApiCallError)) throw e;
    if (flags.json) out(`${JSON.stringify({ error: { code: e.code, status: e.status, message: e.message, ...(e.details !== undefined ? { details: e.details } : {}) } })}\n`);
    else {
      err(`modelgate: ${e.message}\n`);
      printProblems(e.details, err);
    }
    setExitCode(e.exitCode);
  });
}
