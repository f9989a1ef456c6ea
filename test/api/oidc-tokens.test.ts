// Bearer tokens from a real OpenID provider (the test provider, oidc-provider): audience, issuer,
// the roles claim, and the mapping of provider groups to Modelgate roles.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createAuthenticator } from '../../src/api/auth';
import { loadRoleMappingFile, parseRoleMapping, rolesFromClaim } from '../../src/auth/role-mapping';
import { loadConfig } from '../../src/config';
import { clientCredentialsToken, TEST_OTHER_AUDIENCE_CLIENT, testIssuer, testOidcAuthSettings } from '../support/oidc';

describe('tokens of the OpenID provider', () => {
  it('a client-credentials token (CI) authenticates its client, with the roles its groups map to', async () => {
    const actor = await createAuthenticator(testOidcAuthSettings()).authenticate(await clientCredentialsToken());
    expect(actor).toEqual({ id: 'modelgate-ci', roles: ['data-scientist'] });
  });

  it('a token for another audience is refused, naming the claim', async () => {
    const token = await clientCredentialsToken(TEST_OTHER_AUDIENCE_CLIENT);
    await expect(createAuthenticator(testOidcAuthSettings()).authenticate(token)).rejects.toThrow(/token claim "aud" is invalid/);
  });

  it('a token of another issuer than the configured one is refused, naming the claim', async () => {
    const token = await clientCredentialsToken();
    const wrongIssuer = testOidcAuthSettings({ issuer: testIssuer().replace('127.0.0.1', 'localhost') });
    await expect(createAuthenticator(wrongIssuer).authenticate(token)).rejects.toThrow(/token claim "iss" is invalid/);
  });

  it('a token without the roles claim gives no role and says why; never a default role', async () => {
    const actor = await createAuthenticator(testOidcAuthSettings({ rolesClaim: 'roles' })).authenticate(await clientCredentialsToken());
    expect(actor).toEqual({ id: 'modelgate-ci', roles: [], rolesProblem: 'the token has no "roles" claim: no roles' });
  });

  it('without a mapping the claim\'s values are the roles; with one, an unmapped group gives nothing', async () => {
    const token = await clientCredentialsToken();
    const unmapped = await createAuthenticator(testOidcAuthSettings({ roleMapping: parseRoleMapping('roles: { admins: [admin] }', 'inline') })).authenticate(token);
    expect(unmapped.roles).toEqual([]);
    expect(unmapped.rolesProblem).toMatch(/none of the token's "groups" \("ci-submitters"\) maps to a Modelgate role/);
    const { roleMapping: _none, ...withoutMapping } = testOidcAuthSettings();
    expect((await createAuthenticator(withoutMapping).authenticate(token)).roles).toEqual(['ci-submitters']);
  });
});

describe('role mapping', () => {
  it('maps groups to roles (one or several), ignores unmapped, oversized and non-string values', () => {
    const mapping = parseRoleMapping('roles:\n  reviewers: ml-reviewer\n  leads: [ml-reviewer, ml-manager]\n', 'm.yaml');
    expect(rolesFromClaim(['reviewers', 'leads', 'staff', 7, 'x'.repeat(300)], 'groups', mapping)).toEqual({ roles: ['ml-reviewer', 'ml-manager'] });
    expect(rolesFromClaim('reviewers staff', 'groups', mapping)).toEqual({ roles: ['ml-reviewer'] });
    expect(rolesFromClaim({ admin: true }, 'groups', mapping).problem).toMatch(/not a list of strings/);
    expect(rolesFromClaim([], 'roles').problem).toMatch(/"roles" claim is empty/);
  });

  it('a malformed mapping file is refused naming the file and the problem', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mg-mapping-'));
    const file = path.join(dir, 'mapping.yaml');
    await writeFile(file, 'roles:\n  reviewers: [1, 2]\n');
    expect(() => loadRoleMappingFile(file)).toThrow(`${file}: roles.reviewers`);
    await writeFile(file, 'groups: {}\n');
    expect(() => loadRoleMappingFile(file)).toThrow(/expected roles: \{ <provider group>/);
    expect(() => loadRoleMappingFile(path.join(dir, 'missing.yaml'))).toThrow(/cannot be read \(AUTH_ROLE_MAPPING_FILE\)/);
  });
});

describe('OIDC configuration', () => {
  const base = { DATABASE_URL: 'postgres://u@localhost/db' };
  const issuer = 'https://id.example.com';

  it('the issuer people sign in with is the issuer the API requires', () => {
    const config = loadConfig({ ...base, OIDC_ISSUER: issuer, OIDC_DASHBOARD_CLIENT_ID: 'dash', AUTH_JWKS_URL: `${issuer}/jwks`, AUTH_AUDIENCE: 'api' });
    expect(config.auth.issuer).toBe(issuer);
    expect(config.oidc).toEqual({ issuer, dashboardClientId: 'dash', scope: 'openid profile email offline_access' });
  });

  it('names every inconsistent variable', () => {
    expect(() => loadConfig({ ...base, OIDC_ISSUER: issuer })).toThrow(/OIDC_ISSUER: needs AUTH_JWKS_URL[\s\S]*OIDC_ISSUER: needs OIDC_DASHBOARD_CLIENT_ID or OIDC_CLI_CLIENT_ID/);
    expect(() => loadConfig({ ...base, OIDC_CLI_CLIENT_ID: 'cli' })).toThrow(/OIDC_CLI_CLIENT_ID: needs OIDC_ISSUER/);
    expect(() =>
      loadConfig({ ...base, OIDC_ISSUER: issuer, OIDC_CLI_CLIENT_ID: 'cli', AUTH_JWKS_URL: `${issuer}/jwks`, AUTH_AUDIENCE: 'api', AUTH_ISSUER: 'https://other.example.com', OIDC_SCOPES: 'profile' }),
    ).toThrow(/AUTH_ISSUER: must be OIDC_ISSUER[\s\S]*OIDC_SCOPES: must include openid/);
    expect(() => loadConfig({ ...base, OIDC_ISSUER: 'ftp://id.example.com' })).toThrow(/OIDC_ISSUER: must be an http\(s\) URL/);
  });
});
