// `modelgate login` against the API's OpenID Connect provider, with openid-client: discovery,
// the device authorization grant (or, when the provider has none, the authorization code grant
// with PKCE through a loopback redirect), refresh and revocation. openid-client is an ES module:
// it is loaded on first use (Node's require of ES modules), so commands that never sign in do not
// load it.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as OpenIdClient from 'openid-client';
import type { OidcClientSettings } from '../auth/oidc-settings';
import { type StoredSignIn, readCredentials, writeCredentials } from './credentials';

type Client = typeof OpenIdClient;
let loaded: Promise<Client> | undefined;
const openIdClient = (): Promise<Client> => (loaded ??= import('openid-client'));

/** A sign-in failure to show as it is (no stack trace). */
export class SignInError extends Error {
  override name = 'SignInError';
}

/** Renew an access token this long before it expires. */
const RENEW_BEFORE_MS = 30_000;
/** How long `login` waits for the person to finish in the browser, at most. */
const LOGIN_TIMEOUT_MS = 10 * 60_000;

/** Whether plain http is tolerated for this issuer: only on this machine (tests, local development). */
function isLoopback(url: URL): boolean {
  return ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

/**
 * The provider's configuration for `clientId`, from `<issuer>/.well-known/openid-configuration`.
 *
 * @throws {SignInError} naming the issuer and the problem: unreachable, no discovery document, another issuer.
 */
export async function discover(issuer: string, clientId: string): Promise<OpenIdClient.Configuration> {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    throw new SignInError(`the issuer "${issuer}" is not a URL`);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url))) {
    throw new SignInError(`the issuer ${issuer} must use https (plain http is allowed on this machine only)`);
  }
  const client = await openIdClient();
  try {
    return await client.discovery(url, clientId, undefined, client.None(), {
      timeout: 15,
      ...(url.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : {}),
    });
  } catch (err) {
    throw describeProviderError(err, issuer, 'discovery');
  }
}

/** A provider failure as a sentence naming the issuer and what went wrong (never a token). */
export function describeProviderError(err: unknown, issuer: string, step: string): SignInError {
  if (err instanceof SignInError) return err;
  const e = err as { name?: string; message?: string; code?: string; cause?: unknown; error?: string; error_description?: string; status?: number };
  const cause = e.cause as { code?: string; message?: string; status?: number } | undefined;
  if (e.error) return new SignInError(`the identity provider ${issuer} refused the ${step}: ${e.error}${e.error_description ? ` (${e.error_description})` : ''}`);
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return new SignInError(`the identity provider ${issuer} did not answer in time (${step})`);
  if (e.message === 'fetch failed' || cause?.code === 'ECONNREFUSED' || cause?.code === 'ENOTFOUND') {
    return new SignInError(`cannot reach the identity provider ${issuer} (${cause?.code ?? cause?.message ?? 'network error'}): check the issuer URL and that it is up`);
  }
  if (e.code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && step === 'discovery') {
    return new SignInError(`${issuer} has no OpenID Connect discovery document (${issuer.replace(/\/$/, '')}/.well-known/openid-configuration answered ${cause?.status ?? 'an error'}): is the issuer URL right?`);
  }
  if (e.code === 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' || /issuer/i.test(e.message ?? '')) {
    return new SignInError(`the discovery document at ${issuer} names another issuer (${e.message ?? 'issuer mismatch'}): the issuer URL must be exactly the provider's issuer`);
  }
  return new SignInError(`sign-in with ${issuer} failed (${step}): ${(e.message ?? String(err)).split('\n')[0]}`);
}

/** Extra parameters of every request: the API as resource, when the provider needs it named. */
const resourceParameter = (settings: Pick<OidcClientSettings, 'resource'>): Record<string, string> => (settings.resource ? { resource: settings.resource } : {});

/** What a sign-in returns: the tokens to keep. */
type Tokens = OpenIdClient.TokenEndpointResponse & OpenIdClient.TokenEndpointResponseHelpers;

function toStored(tokens: Tokens, settings: OidcClientSettings & { cliClientId: string }, previous?: StoredSignIn): StoredSignIn {
  const name = tokens.claims()?.name;
  const refreshToken = tokens.refresh_token ?? previous?.refreshToken;
  const keptName = typeof name === 'string' ? name.slice(0, 500) : previous?.name;
  return {
    issuer: settings.issuer,
    clientId: settings.cliClientId,
    scope: settings.scope,
    ...(settings.resource ? { resource: settings.resource } : {}),
    accessToken: tokens.access_token,
    ...(refreshToken ? { refreshToken } : {}),
    expiresAt: Date.now() + (tokens.expiresIn() ?? 300) * 1000,
    ...(keptName ? { name: keptName } : {}),
  };
}

/**
 * Signs in with the device authorization grant when the provider offers it, else with a loopback
 * redirect; `tell` receives what the person must do (open a URL, check a code).
 */
export async function signIn(
  settings: OidcClientSettings & { cliClientId: string },
  options: { loopback?: boolean; tell: (line: string) => void },
): Promise<StoredSignIn> {
  const client = await openIdClient();
  const config = await discover(settings.issuer, settings.cliClientId);
  const parameters = { scope: settings.scope, ...resourceParameter(settings) };
  try {
    if (!options.loopback && config.serverMetadata().device_authorization_endpoint) {
      const device = await client.initiateDeviceAuthorization(config, parameters);
      options.tell(`To sign in, open ${device.verification_uri_complete ?? device.verification_uri}`);
      options.tell(`and check that it shows the code ${device.user_code}.`);
      const tokens = await client.pollDeviceAuthorizationGrant(config, device, undefined, {
        signal: AbortSignal.timeout(Math.min(device.expires_in * 1000, LOGIN_TIMEOUT_MS)),
      });
      return toStored(tokens, settings);
    }
    return toStored(await loopbackSignIn(client, config, parameters, options.tell), settings);
  } catch (err) {
    throw describeProviderError(err, settings.issuer, 'sign-in');
  }
}

/** The authorization code grant with PKCE, its redirect caught on 127.0.0.1 (RFC 8252). */
async function loopbackSignIn(client: Client, config: OpenIdClient.Configuration, parameters: Record<string, string>, tell: (line: string) => void): Promise<Tokens> {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  let finish!: (url: URL) => void;
  let fail!: (err: Error) => void;
  const callback = new Promise<URL>((resolve, reject) => ((finish = resolve), (fail = reject)));
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('Modelgate: you may close this page and return to the terminal.\n');
    finish(url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`;
  const timer = setTimeout(() => fail(new SignInError('no sign-in within 10 minutes')), LOGIN_TIMEOUT_MS);
  try {
    const url = client.buildAuthorizationUrl(config, {
      ...parameters,
      redirect_uri: redirectUri,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      state,
    });
    tell(`To sign in, open ${url.href}`);
    const returned = await callback;
    returned.host = new URL(redirectUri).host;
    return await client.authorizationCodeGrant(config, returned, { pkceCodeVerifier: verifier, expectedState: state }, { redirect_uri: redirectUri, ...parameters });
  } finally {
    clearTimeout(timer);
    server.close();
  }
}

/**
 * The kept access token for `server`, renewed with the refresh token when it is about to expire;
 * undefined when there is no sign-in for it.
 *
 * @throws {SignInError} when it expired and cannot be renewed.
 */
export async function storedAccessToken(server: string): Promise<string | undefined> {
  const kept = readCredentials()[server];
  if (!kept) return undefined;
  if (kept.expiresAt - RENEW_BEFORE_MS > Date.now()) return kept.accessToken;
  if (!kept.refreshToken) throw new SignInError(`your sign-in to ${server} has expired: run modelgate login`);
  const client = await openIdClient();
  const settings = { issuer: kept.issuer, cliClientId: kept.clientId, scope: kept.scope, ...(kept.resource ? { resource: kept.resource } : {}) };
  try {
    const config = await discover(kept.issuer, kept.clientId);
    const renewed = toStored(await client.refreshTokenGrant(config, kept.refreshToken, resourceParameter(settings)), settings, kept);
    writeCredentials(server, renewed);
    return renewed.accessToken;
  } catch (err) {
    throw new SignInError(`your sign-in to ${server} has expired and could not be renewed (${describeProviderError(err, kept.issuer, 'refresh').message}): run modelgate login`);
  }
}

/** Revokes the refresh token at the provider (best effort: the token is forgotten anyway). */
export async function revoke(kept: StoredSignIn): Promise<boolean> {
  if (!kept.refreshToken) return false;
  try {
    const client = await openIdClient();
    const config = await discover(kept.issuer, kept.clientId);
    if (!config.serverMetadata().revocation_endpoint) return false;
    await client.tokenRevocation(config, kept.refreshToken, { token_type_hint: 'refresh_token' });
    return true;
  } catch {
    return false;
  }
}
