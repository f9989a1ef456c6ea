import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, type KeyLike, SignJWT } from 'jose';
import { createAuthenticator, signDevToken } from '../../src/api/auth';
import { ApiError } from '../../src/api/errors';

/** An OIDC issuer's JWKS served over HTTP, as the API fetches it. */
describe('bearer tokens from an OIDC issuer (JWKS)', () => {
  let server: Server;
  let jwksUrl: string;
  type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;
  let es256: KeyPair;
  let rs256: KeyPair;
  let stranger: KeyPair;

  beforeAll(async () => {
    es256 = await generateKeyPair('ES256');
    rs256 = await generateKeyPair('RS256');
    stranger = await generateKeyPair('ES256');
    const keys = [
      { ...(await exportJWK(es256.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
      { ...(await exportJWK(rs256.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
    ];
    server = await new Promise<Server>((resolve) => {
      const s = createServer((_req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys }));
      }).listen(0, '127.0.0.1', () => resolve(s));
    });
    jwksUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/.well-known/jwks.json`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
  });

  const token = (key: KeyLike, alg: string, kid: string, claims: { iss?: string; aud?: string; roles?: unknown } = {}) =>
    new SignJWT({ roles: claims.roles ?? ['ml-reviewer'] })
      .setProtectedHeader({ alg, kid })
      .setSubject('alice')
      .setIssuer(claims.iss ?? 'https://issuer.example')
      .setAudience(claims.aud ?? 'modelgate')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);

  const refusal = async (promise: Promise<unknown>) => {
    try {
      await promise;
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      expect((err as ApiError).status).toBe(401);
      return (err as ApiError).message;
    }
    throw new Error('the token was accepted');
  };

  const authenticator = () => createAuthenticator({ jwksUrl, issuer: 'https://issuer.example', audience: 'modelgate' });

  it('accepts ES256 and RS256 tokens signed by the issuer’s keys, with sub and roles', async () => {
    const auth = authenticator();
    expect(await auth.authenticate(await token(es256.privateKey, 'ES256', 'ec-1'))).toEqual({ id: 'alice', roles: ['ml-reviewer'] });
    expect(await auth.authenticate(await token(rs256.privateKey, 'RS256', 'rsa-1', { roles: 'ml-reviewer security-reviewer' }))).toEqual({
      id: 'alice',
      roles: ['ml-reviewer', 'security-reviewer'],
    });
  });

  it('refuses a key the issuer does not publish, another issuer or audience, and HS256 without a secret', async () => {
    const auth = authenticator();
    expect(await refusal(auth.authenticate(await token(stranger.privateKey, 'ES256', 'ec-1')))).toBe('token signature is invalid');
    expect(await refusal(auth.authenticate(await token(es256.privateKey, 'ES256', 'ec-1', { iss: 'https://evil.example' })))).toMatch(/claim "iss"/);
    expect(await refusal(auth.authenticate(await token(es256.privateKey, 'ES256', 'ec-1', { aud: 'another-service' })))).toMatch(/claim "aud"/);
    const hs = await signDevToken({ secret: 'a-secret-that-is-long-enough-0123456789', user: 'alice', roles: ['admin'] });
    expect(await refusal(auth.authenticate(hs))).toBe('HS256 tokens are not accepted by this server');
    expect(await refusal(auth.authenticate('not-a-jwt'))).toMatch(/not a JWT|algorithm/);
  });

  it('a token without sub is refused', async () => {
    const secret = 'a-secret-that-is-long-enough-0123456789';
    const noSubject = await new SignJWT({ roles: [] }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(secret));
    expect(await refusal(createAuthenticator({ jwtSecret: secret }).authenticate(noSubject))).toMatch(/sub/);
  });
});

/** The message of a refused token (fails when it is accepted). */
async function message(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect((err as ApiError).status).toBe(401);
    return (err as ApiError).message;
  }
  throw new Error('the token was accepted');
}

describe('token lifetime and clock skew', () => {
  const secret = 'a-secret-that-is-long-enough-0123456789';
  const key = new TextEncoder().encode(secret);
  const now = () => Math.floor(Date.now() / 1000);
  const sign = (claims: { iat?: number; exp?: number }) => {
    let jwt = new SignJWT({ roles: ['ml-reviewer'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('alice');
    if (claims.iat !== undefined) jwt = jwt.setIssuedAt(claims.iat);
    if (claims.exp !== undefined) jwt = jwt.setExpirationTime(claims.exp);
    return jwt.sign(key);
  };

  it('a token without exp is refused', async () => {
    expect(await message(createAuthenticator({ jwtSecret: secret }).authenticate(await sign({ iat: now() })))).toMatch(/"exp"/);
  });

  it('a token living longer than the maximum lifetime is refused (exp − iat, or exp − now without iat)', async () => {
    const auth = createAuthenticator({ jwtSecret: secret, maxTokenLifetimeSeconds: 3600 });
    expect(await auth.authenticate(await sign({ iat: now(), exp: now() + 3600 }))).toEqual({ id: 'alice', roles: ['ml-reviewer'] });
    expect(await message(auth.authenticate(await sign({ iat: now(), exp: now() + 3601 })))).toMatch(/lifetime .*exceeds the maximum of 3600s/);
    expect(await message(auth.authenticate(await sign({ exp: now() + 365 * 86400 })))).toMatch(/lifetime .*exceeds/);
    expect(await message(auth.authenticate(await sign({ iat: now() - 10 * 86400, exp: now() + 60 })))).toMatch(/lifetime .*exceeds/);
    expect(await message(createAuthenticator({ jwtSecret: secret }).authenticate(await sign({ iat: now(), exp: now() + 13 * 3600 })))).toMatch(
      /exceeds the maximum of 43200s/,
    );
  });

  it('accepts a token expired within the clock skew, refuses beyond it, and refuses an iat in the future', async () => {
    const auth = createAuthenticator({ jwtSecret: secret, clockSkewSeconds: 60 });
    expect(await auth.authenticate(await sign({ iat: now() - 600, exp: now() - 30 }))).toEqual({ id: 'alice', roles: ['ml-reviewer'] });
    expect(await message(auth.authenticate(await sign({ iat: now() - 600, exp: now() - 120 })))).toBe('token has expired');
    expect(await message(auth.authenticate(await sign({ iat: now() + 600, exp: now() + 900 })))).toMatch(/"iat" .*future/);
  });

  it('a JWKS authenticator without issuer or audience cannot be built', () => {
    expect(() => createAuthenticator({ jwksUrl: 'https://issuer.example/jwks.json', audience: 'modelgate' })).toThrow(/issuer/);
    expect(() => createAuthenticator({ jwksUrl: 'https://issuer.example/jwks.json', issuer: 'https://issuer.example' })).toThrow(/audience/);
  });
});

describe('dev tokens (mg_dev)', () => {
  const jwtSecret = 'the-production-secret-0123456789-abcdef';
  const devSignInSecret = 'the-dev-sign-in-secret-0123456789-abcdef';


  it('are signed with their own key and carry mg_dev', async () => {
    const token = await signDevToken({ secret: devSignInSecret, user: 'sam', roles: ['data-scientist'], dev: true });
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(payload.mg_dev).toBe(true);
    expect(await createAuthenticator({ jwtSecret, devSignInSecret }).authenticate(token)).toEqual({ id: 'sam', roles: ['data-scientist'] });
  });

  it('a configuration without dev sign-in refuses them, even signed with its own secret', async () => {
    const production = createAuthenticator({ jwtSecret });
    for (const secret of [devSignInSecret, jwtSecret]) {
      const token = await signDevToken({ secret, user: 'sam', roles: ['admin'], dev: true });
      expect(await message(production.authenticate(token))).toMatch(/dev token/);
    }
  });

  it('the dev key signs nothing but dev tokens, and a dev token signed with another key is refused', async () => {
    const auth = createAuthenticator({ jwtSecret, devSignInSecret });
    const plainWithDevKey = await signDevToken({ secret: devSignInSecret, user: 'sam', roles: ['admin'] });
    expect(await message(auth.authenticate(plainWithDevKey))).toBe('token signature is invalid');
    const devWithProductionKey = await signDevToken({ secret: jwtSecret, user: 'sam', roles: ['admin'], dev: true });
    expect(await message(auth.authenticate(devWithProductionKey))).toBe('token signature is invalid');
  });
});
