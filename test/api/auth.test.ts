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
