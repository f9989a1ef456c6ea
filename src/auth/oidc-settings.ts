// The OpenID Connect provider the dashboard and the CLI sign in with (OIDC_* variables). Both are
// public clients (authorization code with PKCE for the page, device authorization for the CLI):
// the API holds no client secret. The API itself only verifies the access tokens they obtain
// (AUTH_JWKS_URL, AUTH_ISSUER, AUTH_AUDIENCE).

/** What the dashboard and the CLI need to sign in; served to both by `GET /ui/config.json`. */
export interface OidcClientSettings {
  /** Issuer URL; its discovery document is `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  /** Client id of the dashboard (authorization code with PKCE, no secret). */
  dashboardClientId?: string;
  /** Client id of `modelgate login` (device authorization, or a loopback redirect). */
  cliClientId?: string;
  /** Scopes asked for (space-separated). */
  scope: string;
  /** Resource indicator (RFC 8707) of this API, sent when the provider needs it to pick the audience. */
  resource?: string;
}

/** Default scopes: identity, name, and a refresh token. */
export const DEFAULT_OIDC_SCOPES = 'openid profile email offline_access';

/** The OIDC_* variables, as the environment schema parses them. */
export interface OidcEnvironment {
  OIDC_ISSUER?: string | undefined;
  OIDC_DASHBOARD_CLIENT_ID?: string | undefined;
  OIDC_CLI_CLIENT_ID?: string | undefined;
  OIDC_SCOPES: string;
  OIDC_RESOURCE?: string | undefined;
  AUTH_JWKS_URL?: string | undefined;
  AUTH_ISSUER?: string | undefined;
}

/**
 * The sign-in settings of an environment and what is wrong with them: client ids need an issuer,
 * and the tokens that issuer gives must be verifiable by the API (AUTH_JWKS_URL, and an AUTH_ISSUER
 * that is the same issuer).
 */
export function oidcSettingsOf(e: OidcEnvironment): { settings?: OidcClientSettings; problems: Array<{ variable: string; reason: string }> } {
  const problems: Array<{ variable: string; reason: string }> = [];
  if (!e.OIDC_ISSUER) {
    for (const variable of ['OIDC_DASHBOARD_CLIENT_ID', 'OIDC_CLI_CLIENT_ID', 'OIDC_RESOURCE'] as const) {
      if (e[variable]) problems.push({ variable, reason: 'needs OIDC_ISSUER (the provider it belongs to)' });
    }
    return { problems };
  }
  const issuer = e.OIDC_ISSUER;
  if (!e.AUTH_JWKS_URL) problems.push({ variable: 'OIDC_ISSUER', reason: 'needs AUTH_JWKS_URL (the jwks_uri of the issuer\'s discovery document): the API verifies the tokens it issues' });
  if (e.AUTH_ISSUER && e.AUTH_ISSUER !== issuer) problems.push({ variable: 'AUTH_ISSUER', reason: `must be OIDC_ISSUER ("${issuer}") or unset: the API accepts tokens of the issuer people sign in with` });
  if (!e.OIDC_DASHBOARD_CLIENT_ID && !e.OIDC_CLI_CLIENT_ID) problems.push({ variable: 'OIDC_ISSUER', reason: 'needs OIDC_DASHBOARD_CLIENT_ID or OIDC_CLI_CLIENT_ID (who signs in with it)' });
  if (!e.OIDC_SCOPES.split(/\s+/).includes('openid')) problems.push({ variable: 'OIDC_SCOPES', reason: 'must include openid' });
  return {
    problems,
    settings: {
      issuer,
      scope: e.OIDC_SCOPES.trim(),
      ...(e.OIDC_DASHBOARD_CLIENT_ID ? { dashboardClientId: e.OIDC_DASHBOARD_CLIENT_ID } : {}),
      ...(e.OIDC_CLI_CLIENT_ID ? { cliClientId: e.OIDC_CLI_CLIENT_ID } : {}),
      ...(e.OIDC_RESOURCE ? { resource: e.OIDC_RESOURCE } : {}),
    },
  };
}
