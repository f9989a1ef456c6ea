// `modelgate login | logout | whoami`: a person signs in with the API's OpenID Connect provider
// (device authorization, or a loopback redirect), and the CLI keeps the tokens in the user's
// config folder (src/cli/credentials.ts) and renews them when needed. MODELGATE_TOKEN (or
// --token) still wins when set: CI pipelines use a client-credentials token (README).
import type { Command } from 'commander';
import type { OidcClientSettings } from '../auth/oidc-settings';
import { ApiCallError, ApiExitCode, apiTarget, callApi, TOKEN_ENV } from './api-client';
import { credentialsFile, readCredentials, writeCredentials } from './credentials';
import { revoke, SignInError, signIn } from './oidc-sign-in';
import { type CommonFlags, runCommand, withCommon } from './api-command';

const out = (text: string) => void process.stdout.write(text);
const err = (text: string) => void process.stderr.write(text);

/** What `GET /v1/me` answers. */
interface Me {
  id: string;
  roles: string[];
  rolesProblem?: string;
}

/** Turns a sign-in failure into the CLI's error (exit code 3, the message as it is). */
function asCallError(e: unknown): unknown {
  return e instanceof SignInError ? new ApiCallError(e.message, 401, 'sign_in_failed') : e;
}

/** The provider and client to sign in with: flags, else what the API serves at `/ui/config.json`. */
async function signInSettings(server: string, flags: { issuer?: string; clientId?: string; scope?: string; resource?: string }): Promise<OidcClientSettings & { cliClientId: string }> {
  let served: OidcClientSettings | undefined;
  if (!flags.issuer || !flags.clientId) {
    served = (await callApi<{ oidc?: OidcClientSettings }>({ server, token: '' }, 'GET', '/ui/config.json')).oidc;
    if (!served) throw new ApiCallError(`the API at ${server} has no OpenID Connect provider (OIDC_ISSUER): pass --issuer and --client-id, or use ${TOKEN_ENV}`, 400, 'usage');
  }
  const issuer = flags.issuer ?? served!.issuer;
  const cliClientId = flags.clientId ?? served?.cliClientId;
  if (!cliClientId) throw new ApiCallError(`the API at ${server} names no client for the CLI (OIDC_CLI_CLIENT_ID): pass --client-id`, 400, 'usage');
  const resource = flags.resource ?? served?.resource;
  return { issuer, cliClientId, scope: flags.scope ?? served?.scope ?? 'openid profile offline_access', ...(resource ? { resource } : {}) };
}

/** One line describing who the API takes the caller for. */
function describeMe(me: Me, name?: string): string {
  const roles = me.roles.length > 0 ? me.roles.join(', ') : 'none';
  return `${me.id}${name && name !== me.id ? ` (${name})` : ''}, roles: ${roles}${me.rolesProblem ? ` — ${me.rolesProblem}` : ''}`;
}

/** Adds `login`, `logout` and `whoami`. */
export function registerLoginCommands(program: Command, setExitCode: (code: number) => void): void {
  withCommon(
    program
      .command('login')
      .description('sign in with the API’s OpenID Connect provider (device authorization, or a loopback redirect) and keep the tokens (mode 0600)')
      .option('--issuer <url>', 'issuer to sign in with (default: the API’s)')
      .option('--client-id <id>', 'client id of the CLI at the provider (default: the API’s)')
      .option('--scope <scopes>', 'scopes to ask for (default: the API’s)')
      .option('--resource <uri>', 'resource indicator of the API, when the provider needs one (default: the API’s)')
      .option('--loopback', 'use a redirect to 127.0.0.1 even when the provider offers device authorization'),
  ).action((flags: CommonFlags & { issuer?: string; clientId?: string; scope?: string; resource?: string; loopback?: boolean }) =>
    runCommand(setExitCode, flags, async () => {
      const { server } = apiTarget({ ...(flags.server ? { server: flags.server } : {}) });
      try {
        const settings = await signInSettings(server, flags);
        const kept = await signIn(settings, { ...(flags.loopback ? { loopback: true } : {}), tell: (line) => err(`${line}\n`) });
        // The API must accept the token (audience, issuer, roles) before it is kept.
        const me = await callApi<Me>({ server, token: kept.accessToken }, 'GET', '/v1/me');
        writeCredentials(server, kept);
        if (flags.json) out(`${JSON.stringify({ server, ...me, ...(kept.name ? { name: kept.name } : {}) })}\n`);
        else out(`signed in to ${server} as ${describeMe(me, kept.name)}\n`);
        if (me.roles.length === 0 && !flags.json) err(`modelgate: warning: you have no Modelgate role: ${me.rolesProblem ?? 'ask for one'}\n`);
        return ApiExitCode.ok;
      } catch (e) {
        throw asCallError(e);
      }
    }),
  );

  withCommon(program.command('logout').description('forget the kept sign-in for the API (and revoke its refresh token at the provider)')).action((flags: CommonFlags) =>
    runCommand(setExitCode, flags, async () => {
      const { server } = apiTarget({ ...(flags.server ? { server: flags.server } : {}) });
      const kept = readCredentials()[server];
      if (!kept) {
        out(flags.json ? `${JSON.stringify({ server, signedIn: false })}\n` : `not signed in to ${server}\n`);
        return ApiExitCode.ok;
      }
      const revoked = await revoke(kept);
      writeCredentials(server, undefined);
      out(flags.json ? `${JSON.stringify({ server, signedIn: false, revoked })}\n` : `signed out of ${server}${revoked ? ' (refresh token revoked at the provider)' : ''}\n`);
      return ApiExitCode.ok;
    }),
  );

  withCommon(program.command('whoami').description('who the API takes you for: your id, your roles, and where the token comes from')).action((flags: CommonFlags) =>
    runCommand(setExitCode, flags, async () => {
      const target = apiTarget(flags);
      const kept = target.token ? undefined : readCredentials()[target.server];
      const source = flags.token ? '--token' : target.token ? TOKEN_ENV : kept ? `modelgate login (${kept.issuer}, kept in ${credentialsFile()})` : 'no token';
      try {
        const me = await callApi<Me>(target, 'GET', '/v1/me');
        if (flags.json) out(`${JSON.stringify({ server: target.server, ...me, ...(kept?.name ? { name: kept.name } : {}), source })}\n`);
        else out(`${describeMe(me, kept?.name)}\ntoken: ${source}\n`);
        return ApiExitCode.ok;
      } catch (e) {
        throw asCallError(e);
      }
    }),
  );
}
