// The test OpenID provider that scripts/test.sh starts (scripts/oidc-provider.mjs with the realm
// test/fixtures/oidc/realm.json), and the API built to accept its tokens.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { type AuthSettings, createAuthenticator } from '../../src/api/auth';
import { loadRoleMappingFile } from '../../src/auth/role-mapping';
import { DEFAULT_OIDC_SCOPES, type OidcClientSettings } from '../../src/auth/oidc-settings';
import { buildTestApp } from '../api/support';
import { type PromotionHarness, startPromotionHarness } from './promotions';

/** Audience of the access tokens the test provider issues for the API. */
export const TEST_API_AUDIENCE = 'urn:modelgate:api';
/** The test realm's groups → Modelgate roles. */
export const TEST_ROLE_MAPPING = path.join(__dirname, '..', 'fixtures', 'oidc', 'role-mapping.yaml');
/** Passwords of the test realm's users. */
export const TEST_PASSWORDS: Record<string, string> = { rita: 'rita-pass-1', sam: 'sam-pass-1', bo: 'bo-pass-1', nora: 'nora-pass-1' };
/** The test realm's client-credentials client for CI. */
export const TEST_CI_CLIENT = { id: 'modelgate-ci', secret: 'modelgate-ci-secret-of-the-tests-0123456789' };
/** A client-credentials client whose tokens are for another API (audience `urn:other:api`). */
export const TEST_OTHER_AUDIENCE_CLIENT = { id: 'other-app', secret: 'other-app-secret-of-the-tests-0123456789' };

/** Audience (resource) of the test provider's tokens for Temporal's authorizer. */
export const TEST_TEMPORAL_AUDIENCE = 'urn:modelgate:temporal';
/** Client-credentials clients of the test realm whose tokens are for Temporal, by their `permissions` claim. */
export const TEST_TEMPORAL_CLIENTS = {
  /** The worker's and the API's own clients: `modelgate:write`; their tokens live 20 s. */
  worker: { id: 'modelgate-worker', secret: 'modelgate-worker-secret-of-the-tests-0123456789' },
  api: { id: 'modelgate-api', secret: 'modelgate-api-secret-of-the-tests-0123456789' },
  /** `temporal-system:admin`: namespaces and search attributes. */
  admin: { id: 'temporal-admin', secret: 'temporal-admin-secret-of-the-tests-0123456789' },
  /** No `permissions` claim at all. */
  noPermission: { id: 'temporal-no-permission', secret: 'temporal-no-permission-secret-of-the-tests-0123456789' },
  /** `other:write`: another namespace only. */
  otherNamespace: { id: 'temporal-other-namespace', secret: 'temporal-other-namespace-secret-of-the-tests-0123456789' },
} as const;

/** The issuer URL of the test provider that scripts/test.sh started. */
export function testIssuer(): string {
  const issuer = process.env.MODELGATE_TEST_OIDC_ISSUER;
  if (!issuer) throw new Error('MODELGATE_TEST_OIDC_ISSUER is not set: run the tests with ./scripts/test.sh, which starts the test OpenID provider');
  return issuer;
}

/** Verification settings for the test provider's tokens: its JWKS, issuer, the API's audience, groups mapped to roles. */
export function testOidcAuthSettings(overrides: Partial<AuthSettings> = {}): AuthSettings {
  const issuer = testIssuer();
  return {
    jwksUrl: `${issuer}/jwks`,
    issuer,
    audience: TEST_API_AUDIENCE,
    rolesClaim: 'groups',
    roleMapping: loadRoleMappingFile(TEST_ROLE_MAPPING),
    ...overrides,
  };
}

/** A client-credentials access token from the test provider (what a CI pipeline sets as MODELGATE_TOKEN). */
export async function clientCredentialsToken(client: { id: string; secret: string } = TEST_CI_CLIENT): Promise<string> {
  const res = await fetch(`${testIssuer()}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  if (!res.ok) throw new Error(`the test provider refused client credentials: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** Fills the test provider's login page (wherever `page` is on it) and submits it. */
export async function signInAtProvider(page: Page, user: string, password = TEST_PASSWORDS[user]!): Promise<void> {
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** A promotion harness with the API on a port, accepting the test provider's tokens. */
export interface OidcApi {
  h: PromotionHarness;
  base: string;
  close(): Promise<void>;
}

/**
 * Starts a promotion harness and the API on 127.0.0.1 accepting the test provider's tokens, with
 * the dashboard signing in through `dashboardClientId` and the CLI through `cliClientId`.
 */
export async function startOidcApi(
  options: { policyFile?: string; dashboardClientId?: string; cliClientId?: string; auth?: Partial<AuthSettings>; issuer?: string } = {},
): Promise<OidcApi> {
  const h = await startPromotionHarness(options.policyFile);
  const oidc: OidcClientSettings = {
    issuer: options.issuer ?? testIssuer(),
    scope: DEFAULT_OIDC_SCOPES,
    dashboardClientId: options.dashboardClientId ?? 'modelgate-dashboard',
    cliClientId: options.cliClientId ?? 'modelgate-cli',
  };
  const app = buildTestApp({
    client: h.client,
    pool: h.pool,
    policy: h.policy,
    taskQueue: h.config.temporal.taskQueue,
    authenticator: createAuthenticator(testOidcAuthSettings(options.auth)),
    dashboard: { oidc },
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    h,
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await h.close();
    },
  };
}
