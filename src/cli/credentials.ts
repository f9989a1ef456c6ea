// What `modelgate login` keeps: per API server, the access token, refresh token and where they
// came from, in `<config folder>/modelgate/credentials.json` (mode 0600, folder 0700). A file
// that others may read is refused, not used.
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';

/** One server's sign-in. */
export const StoredSignInSchema = z.object({
  issuer: z.string().max(2000),
  clientId: z.string().max(200),
  scope: z.string().max(1000),
  resource: z.string().max(1000).optional(),
  accessToken: z.string().max(16_000),
  refreshToken: z.string().max(16_000).optional(),
  /** Epoch milliseconds the access token expires at. */
  expiresAt: z.number(),
  /** The person's name from the ID token, for `whoami`. */
  name: z.string().max(500).optional(),
});

/** One server's sign-in, as kept. */
export type StoredSignIn = z.infer<typeof StoredSignInSchema>;

const CredentialsSchema = z.object({ servers: z.record(z.string().max(2000), StoredSignInSchema) });

/** Largest credentials file read. */
const MAX_CREDENTIALS_BYTES = 1024 * 1024;

/** The credentials file: `$XDG_CONFIG_HOME/modelgate/credentials.json`, else `~/.config/modelgate/credentials.json`. */
export function credentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : path.join(homedir(), '.config');
  return path.join(base, 'modelgate', 'credentials.json');
}

/**
 * Every kept sign-in, by server URL (empty without a file).
 *
 * @throws {Error} when the file is readable by others, too large or not a credentials file.
 */
export function readCredentials(file = credentialsFile()): Record<string, StoredSignIn> {
  let stat;
  try {
    stat = statSync(file);
  } catch {
    return {};
  }
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    throw new Error(`${file} may be read by other users (mode ${(stat.mode & 0o777).toString(8)}): run chmod 600 ${file}, or modelgate login again`);
  }
  if (stat.size > MAX_CREDENTIALS_BYTES) throw new Error(`${file} is larger than ${MAX_CREDENTIALS_BYTES} bytes: not a credentials file`);
  try {
    return CredentialsSchema.parse(JSON.parse(readFileSync(file, 'utf8'))).servers;
  } catch {
    throw new Error(`${file} is not a Modelgate credentials file: remove it and run modelgate login`);
  }
}

/** Keeps (or with `undefined`, forgets) the sign-in of `server`; written atomically, mode 0600. */
export function writeCredentials(server: string, signIn: StoredSignIn | undefined, file = credentialsFile()): void {
  const servers = readCredentials(file);
  if (signIn) servers[server] = signIn;
  else delete servers[server];
  if (Object.keys(servers).length === 0) {
    rmSync(file, { force: true });
    return;
  }
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ servers }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  renameSync(temporary, file);
}
