#!/usr/bin/env node
// A real OpenID Connect provider for the tests: `oidc-provider` (an OpenID Certified
// implementation) with the users, groups, clients and APIs of a realm file, on 127.0.0.1.
//
//   node scripts/oidc-provider.mjs --port 4100 [--realm test/fixtures/oidc/realm.json]
//
// Realm file: `resources` (API audience → its scope), `users` (id, password, name, email,
// groups) and `clients` (client metadata, plus `resource`: the audience of its access tokens,
// `accessTokenTTL` in seconds, and `groups` and `permissions` for a client-credentials client).
// Access tokens are JWTs (RS256) naming their audience, with the user's (or client's) groups in
// the `groups` claim and a client's Temporal permissions (`<namespace>:<role>`) in the
// `permissions` claim; a user without groups gets no `groups` claim. Consent is implied (every client is first
// party); the login page checks the password. Keys live in memory: a restart signs anew.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    realm: { type: 'string', default: path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'test', 'fixtures', 'oidc', 'realm.json') },
  },
});
if (!values.port || !/^\d+$/.test(values.port)) {
  process.stderr.write('usage: oidc-provider.mjs --port <port> [--host 127.0.0.1] [--realm realm.json]\n');
  process.exit(2);
}
const issuer = `http://${values.host}:${values.port}`;
const realm = JSON.parse(readFileSync(values.realm, 'utf8'));
const users = new Map(realm.users.map((u) => [u.id, u]));
const realmClients = new Map(realm.clients.map((c) => [c.client_id, c]));
const OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

const escapeHtml = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) =>
  `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
  `<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), alg: 'RS256', use: 'sig', kid: randomBytes(8).toString('hex') };

const provider = new Provider(issuer, {
  clients: realm.clients.map(({ resource: _r, accessTokenTTL: _t, groups: _g, permissions: _p, ...metadata }) => metadata),
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'], email: ['email', 'email_verified'] },
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  async findAccount(_ctx, sub) {
    const user = users.get(sub);
    if (!user) return undefined;
    return {
      accountId: sub,
      claims: async () => ({ sub, name: user.name, preferred_username: user.id, email: user.email, email_verified: true }),
    };
  },
  async extraTokenClaims(_ctx, token) {
    const groups = token.accountId ? users.get(token.accountId)?.groups : realmClients.get(token.clientId)?.groups;
    const permissions = token.accountId ? undefined : realmClients.get(token.clientId)?.permissions;
    return groups || permissions ? { ...(groups ? { groups } : {}), ...(permissions ? { permissions } : {}) } : undefined;
  },
  // Every client is first party: what it asks for is granted without a consent page.
  async loadExistingGrant(ctx) {
    const { client, session } = ctx.oidc;
    const grantId = ctx.oidc.result?.consent?.grantId ?? session.grantIdFor(client.clientId);
    if (grantId) {
      const existing = await ctx.oidc.provider.Grant.find(grantId);
      if (existing) return existing;
    }
    return ctx.oidc.provider.Grant.find(await newGrant(client.clientId, session.accountId));
  },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  // Public browser clients on a loopback origin may call the token and revocation endpoints.
  clientBasedCORS: (_ctx, origin, client) => client.clientAuthMethod === 'none' && /^http:\/\/(127\.0\.0\.1|localhost)(:\d+)?$/.test(origin),
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { Session: 3600, Interaction: 600, Grant: 3600, RefreshToken: 3600, DeviceCode: 600, IdToken: 600, AccessToken: (_ctx, _token, client) => realmClients.get(client.clientId)?.accessTokenTTL ?? 600, ClientCredentials: (_ctx, _token, client) => realmClients.get(client.clientId)?.accessTokenTTL ?? 600 },
  features: {
    devInteractions: { enabled: false },
    revocation: { enabled: true },
    clientCredentials: { enabled: true },
    deviceFlow: {
      enabled: true,
      userCodeInputSource: (ctx, form, out, err) => {
        const problem = err ? `<p role="alert">${escapeHtml(out?.error_description ?? err.message ?? 'That code is not valid.')}</p>` : '';
        ctx.body = page('Connect a device', `${problem}${form}<label for="user-code">Code shown on your device</label><input id="user-code" name="user_code" form="op.deviceInputForm" autocomplete="off"><button type="submit" form="op.deviceInputForm">Continue</button>`);
      },
      userCodeConfirmSource: (ctx, form, client, _device, userCode) => {
        ctx.body = page('Confirm the device', `<p>${escapeHtml(client.clientId)} shows the code <strong data-user-code>${escapeHtml(userCode)}</strong>.</p>${form}<button type="submit" form="op.deviceConfirmForm">Confirm</button><button type="submit" form="op.deviceConfirmForm" name="abort" value="yes">Abort</button>`);
      },
      successSource: (ctx) => {
        ctx.body = page('Device connected', '<p>You may close this page and return to your device.</p>');
      },
    },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: (ctx, form) => {
        ctx.body = page('Sign out of the identity provider?', `${form}<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button><button type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      postLogoutSuccessSource: (ctx) => {
        ctx.body = page('Signed out', '<p>You are signed out of the identity provider.</p>');
      },
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (_ctx, client, oneOf) => oneOf ?? realmClients.get(client.clientId)?.resource,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, resource, client) => {
        const server = realm.resources[resource];
        if (!server) throw new Provider.errors.InvalidTarget(`unknown resource ${resource}`);
        return {
          scope: server.scope,
          audience: resource,
          accessTokenFormat: 'jwt',
          accessTokenTTL: realmClients.get(client.clientId)?.accessTokenTTL ?? 600,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Sign-in error', `<p role="alert">${escapeHtml(out.error)}: ${escapeHtml(out.error_description ?? '')}</p>`);
  },
});

/** Grants a client everything it may ask for on behalf of an account; returns the grant's id. */
async function newGrant(clientId, accountId) {
  const grant = new provider.Grant({ clientId, accountId });
  grant.addOIDCScope(OIDC_SCOPES.join(' '));
  for (const [resource, { scope }] of Object.entries(realm.resources)) grant.addResourceScope(resource, scope);
  return grant.save();
}

/** Reads an urlencoded form body of at most 4 kB. */
async function formBody(req) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 4096) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const loginPage = (uid, error) =>
  page(
    'Sign in to the test identity provider',
    `${error ? `<p role="alert">${escapeHtml(error)}</p>` : ''}<form method="post" action="/interaction/${escapeHtml(uid)}/login">` +
      '<label for="username">Username</label><input id="username" name="username" autocomplete="username">' +
      '<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password">' +
      '<button type="submit">Sign in</button></form>',
  );

/** The login prompt: a username and password form checked against the realm's users. */
async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (details.prompt.name === 'consent') {
    // Consent is implied (every client is first party); native clients are asked every time.
    const grantId = details.grantId ?? (await newGrant(details.params.client_id, details.session.accountId));
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
    return;
  }
  const send = (status, html) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html);
  };
  if (req.method === 'GET' && !action) return send(200, loginPage(uid));
  if (req.method !== 'POST' || action !== '/login') return send(405, page('Not allowed', ''));
  const form = await formBody(req);
  const user = users.get(form.get('username') ?? '');
  if (!user || user.password !== form.get('password')) return send(200, loginPage(uid, 'Wrong username or password.'));
  await provider.interactionFinished(req, res, { login: { accountId: user.id } }, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
const server = http.createServer((req, res) => {
  const match = /^\/interaction\/([\w-]+)(\/login)?$/.exec(new URL(req.url ?? '/', issuer).pathname);
  if (!match) return callback(req, res);
  interaction(req, res, match[1], match[2]).catch((err) => {
    if (!res.headersSent) res.writeHead(400, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page('Sign-in error', `<p role="alert">${escapeHtml(err.message)}</p>`));
  });
});
server.listen(Number(values.port), values.host, () => {
  process.stdout.write(`test OpenID provider listening: ${issuer}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => server.close(() => process.exit(0)));
