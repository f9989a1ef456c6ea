// Sign-in with the organisation's OpenID Connect provider, the page being a public client
// (oauth4webapi): authorization code with PKCE, state and nonce; tokens in memory only (never in
// storage), renewed with the refresh token before they expire and when the API refuses one;
// sign-out at the provider (RP-initiated logout) when it offers it. Only the PKCE verifier,
// state and nonce of a sign-in under way sit in sessionStorage, across the redirect.
import * as oauth from 'oauth4webapi';
import { ApiRequestError, request } from './api';
import type { Me } from './types';

/** The provider the API names in `/ui/config.json`. */
export interface OidcSettings {
  issuer: string;
  dashboardClientId?: string;
  scope: string;
  resource?: string;
}

/** Tokens of the signed-in person (memory only). */
interface Tokens {
  access: string;
  refresh?: string;
  idToken?: string;
  expiresAt: number;
}

const PENDING_KEY = 'modelgate.oidc.pending';
/** Set while signed in with the provider: a reload signs in again silently (prompt=none). */
const SIGNED_IN_KEY = 'modelgate.oidc.signed-in';
const SIGNED_OUT_KEY = 'modelgate.oidc.signed-out';

let tokens: Tokens | undefined;
let renewTimer: ReturnType<typeof setTimeout> | undefined;
let current: { settings: OidcSettings; as: oauth.AuthorizationServer } | undefined;

/** Plain http is tolerated for a provider on this machine only (local development, tests). */
const insecure = (issuer: URL) => issuer.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
const fail = (message: string) => new ApiRequestError(0, 'sign_in_failed', message);
const redirectUri = () => `${location.origin}/ui/`;
const clientOf = (settings: OidcSettings): oauth.Client => ({ client_id: settings.dashboardClientId ?? '' });
const httpOptions = (settings: OidcSettings) => ({
  [oauth.allowInsecureRequests]: insecure(new URL(settings.issuer)),
  ...(settings.resource ? { additionalParameters: { resource: settings.resource } } : {}),
});

/** The provider's metadata; every failure named: unreachable, no discovery document, another issuer. */
async function discover(settings: OidcSettings): Promise<oauth.AuthorizationServer> {
  if (current?.settings.issuer === settings.issuer) return current.as;
  const issuer = new URL(settings.issuer);
  let response: Response;
  try {
    response = await oauth.discoveryRequest(issuer, { algorithm: 'oidc', [oauth.allowInsecureRequests]: insecure(issuer) });
  } catch {
    throw fail(`the identity provider ${settings.issuer} cannot be reached: check that it is up (OIDC_ISSUER)`);
  }
  try {
    const as = await oauth.processDiscoveryResponse(issuer, response);
    current = { settings, as };
    return as;
  } catch (err) {
    if (!response.ok) throw fail(`${settings.issuer} has no OpenID Connect discovery document (it answered ${response.status}): is OIDC_ISSUER right?`);
    throw fail(`the discovery document at ${settings.issuer} is not that issuer's (${(err as Error).message}): OIDC_ISSUER must be exactly the provider's issuer`);
  }
}

/** Sends the browser to the provider's sign-in page (`silent`: prompt=none, after a reload). */
export async function startSignIn(settings: OidcSettings, silent = false): Promise<void> {
  const as = await discover(settings);
  if (!as.authorization_endpoint) throw fail(`the identity provider ${settings.issuer} names no authorization endpoint`);
  const verifier = oauth.generateRandomCodeVerifier();
  const pending = { state: oauth.generateRandomState(), nonce: oauth.generateRandomNonce(), verifier, hash: location.hash, silent };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(as.authorization_endpoint);
  const parameters: Record<string, string> = {
    client_id: settings.dashboardClientId ?? '',
    redirect_uri: redirectUri(),
    response_type: 'code',
    scope: settings.scope,
    code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: pending.state,
    nonce: pending.nonce,
    ...(settings.resource ? { resource: settings.resource } : {}),
    ...(silent ? { prompt: 'none' } : {}),
  };
  for (const [k, v] of Object.entries(parameters)) url.searchParams.set(k, v);
  location.assign(url.href);
}

/** Whether this page load is the provider's answer to a sign-in (or sign-out) started here. */
export function isProviderAnswer(): boolean {
  const params = new URLSearchParams(location.search);
  return params.has('state') || params.has('code') || params.has('error');
}

/** Whether a reload should sign in again silently (the person was signed in with the provider in this tab). */
export function wasSignedIn(): boolean {
  return sessionStorage.getItem(SIGNED_IN_KEY) === '1';
}

/** A signed-in person: the API's view of them and their name from the ID token. */
export interface OidcSignIn {
  token: string;
  actor: Me;
  name?: string;
}

/**
 * Finishes a sign-in on the provider's redirect: checks state, exchanges the code with the PKCE
 * verifier, checks the ID token's nonce, then asks the API who that is (which checks audience,
 * issuer and roles). Resolves `undefined` after a sign-out, or a silent sign-in the provider
 * refused (the person signs in again); rejects with the reason otherwise.
 */
export async function finishSignIn(settings: OidcSettings, onRenewed: (token: string) => void): Promise<OidcSignIn | 'signed-out' | undefined> {
  const answer = new URL(location.href);
  const pending = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? 'null') as { state: string; nonce: string; verifier: string; hash: string; silent: boolean } | null;
  sessionStorage.removeItem(PENDING_KEY);
  history.replaceState(null, '', `${location.pathname}${pending?.hash ?? location.hash}`);
  // Back on the page the person was on when they signed in (the router follows hashchange).
  dispatchEvent(new HashChangeEvent('hashchange'));
  if (!answer.searchParams.has('code') && !answer.searchParams.has('error') && sessionStorage.getItem(SIGNED_OUT_KEY) === answer.searchParams.get('state')) {
    sessionStorage.removeItem(SIGNED_OUT_KEY);
    return 'signed-out';
  }
  if (!pending) throw fail('this answer of the identity provider is not for a sign-in started in this tab: sign in again');
  const as = await discover(settings);
  const client = clientOf(settings);
  let parameters: URLSearchParams;
  try {
    parameters = oauth.validateAuthResponse(as, client, answer, pending.state);
  } catch (err) {
    if (err instanceof oauth.AuthorizationResponseError) {
      if (pending.silent) return undefined;
      throw fail(`the identity provider refused the sign-in: ${err.error}${err.error_description ? ` (${err.error_description})` : ''}`);
    }
    throw fail(`the identity provider's answer is not valid: ${(err as Error).message}`);
  }
  let result: oauth.TokenEndpointResponse;
  try {
    const response = await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), parameters, redirectUri(), pending.verifier, httpOptions(settings));
    result = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: pending.nonce, requireIdToken: true });
  } catch (err) {
    throw fail(`the identity provider did not give a token: ${describe(err)}`);
  }
  const claims = oauth.getValidatedIdTokenClaims(result);
  keep(result, settings, onRenewed);
  const actor = await request<Me>('/v1/me', { token: result.access_token });
  sessionStorage.setItem(SIGNED_IN_KEY, '1');
  const name = typeof claims?.name === 'string' ? claims.name : typeof claims?.preferred_username === 'string' ? claims.preferred_username : undefined;
  return { token: result.access_token, actor, ...(name ? { name } : {}) };
}

function describe(err: unknown): string {
  if (err instanceof oauth.ResponseBodyError) return `${err.error}${err.error_description ? ` (${err.error_description})` : ''}`;
  return err instanceof Error ? err.message : String(err);
}

/** Keeps the tokens in memory and schedules their renewal before the access token expires. */
function keep(result: oauth.TokenEndpointResponse, settings: OidcSettings, onRenewed: (token: string) => void): void {
  const lifetimeMs = (result.expires_in ?? 300) * 1000;
  tokens = {
    access: result.access_token,
    ...(result.refresh_token ?? tokens?.refresh ? { refresh: result.refresh_token ?? tokens?.refresh } : {}),
    ...(result.id_token ?? tokens?.idToken ? { idToken: result.id_token ?? tokens?.idToken } : {}),
    expiresAt: Date.now() + lifetimeMs,
  };
  clearTimeout(renewTimer);
  if (!tokens.refresh) return;
  // Renew when a sixth of the lifetime (at most a minute) is left.
  const early = Math.min(60_000, lifetimeMs / 6);
  renewTimer = setTimeout(() => void renew(settings, onRenewed).catch(() => undefined), Math.max(1_000, lifetimeMs - early));
}

/** Renews the access token with the refresh token; resolves the new token, or `undefined` when it cannot. */
export async function renew(settings: OidcSettings, onRenewed: (token: string) => void): Promise<string | undefined> {
  if (!tokens?.refresh) return undefined;
  const as = await discover(settings);
  const client = clientOf(settings);
  let response: Response;
  try {
    response = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh, httpOptions(settings));
  } catch {
    // Out of reach (offline, the provider down): the session stays, the request is retried later.
    throw new ApiRequestError(0, 'unreachable', `your sign-in expired and the identity provider ${settings.issuer} cannot be reached to renew it; retrying`);
  }
  const result = await oauth.processRefreshTokenResponse(as, client, response);
  keep(result, settings, onRenewed);
  onRenewed(result.access_token);
  return result.access_token;
}

/** The settings of the current provider sign-in, if the person signed in that way. */
export function providerSettings(): OidcSettings | undefined {
  return tokens ? current?.settings : undefined;
}

/**
 * Ends the sign-in: forgets the tokens, revokes the refresh token, and (`atProvider`) sends the
 * browser to the provider's end-session endpoint when it has one. Resolves `true` when it does.
 */
export async function endSignIn(atProvider: boolean): Promise<boolean> {
  const ending = tokens;
  const settings = current?.settings;
  tokens = undefined;
  clearTimeout(renewTimer);
  sessionStorage.removeItem(SIGNED_IN_KEY);
  if (!ending || !settings || !current) return false;
  const as = current.as;
  if (ending.refresh && as.revocation_endpoint) {
    await oauth.revocationRequest(as, clientOf(settings), oauth.None(), ending.refresh, { [oauth.allowInsecureRequests]: insecure(new URL(settings.issuer)) }).catch(() => undefined);
  }
  if (!atProvider || !as.end_session_endpoint) return false;
  const state = oauth.generateRandomState();
  sessionStorage.setItem(SIGNED_OUT_KEY, state);
  const url = new URL(as.end_session_endpoint);
  url.searchParams.set('client_id', settings.dashboardClientId ?? '');
  url.searchParams.set('post_logout_redirect_uri', redirectUri());
  url.searchParams.set('state', state);
  if (ending.idToken) url.searchParams.set('id_token_hint', ending.idToken);
  location.assign(url.href);
  return true;
}
