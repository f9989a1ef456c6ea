// The Temporal token source against the real test identity provider (client credentials): what
// it gets, and what it says when it cannot (naming the variable or the answer, never the secret).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { ClientCredentialsTokenSource, loadTemporalTls } from '../src/temporal-credentials';
import { TEST_TEMPORAL_AUDIENCE, TEST_TEMPORAL_CLIENTS, testIssuer } from './support/oidc';

describe('ClientCredentialsTokenSource (the test identity provider)', () => {
  let dir: string;
  const secretFile = async (name: string, content: string) => {
    const file = path.join(dir, name);
    await writeFile(file, content, { mode: 0o600 });
    return file;
  };
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'modelgate-temporal-credentials-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("gets the client's token for Temporal's audience, with its permissions, the secret file's trailing newline ignored", async () => {
    const { id, secret } = TEST_TEMPORAL_CLIENTS.worker;
    const tokens = new ClientCredentialsTokenSource({ tokenUrl: `${testIssuer()}/token`, clientId: id, clientSecretFile: await secretFile('worker', `${secret}\n`), resource: TEST_TEMPORAL_AUDIENCE });
    try {
      const token = await tokens.start();
      const claims = decodeJwt(token);
      expect(claims).toMatchObject({ sub: id, aud: TEST_TEMPORAL_AUDIENCE, permissions: ['modelgate:write'] });
      expect(claims.exp! - claims.iat!).toBe(20);
      expect(tokens.current()).toBe(token);
    } finally {
      tokens.stop();
    }
  });

  it('names the answer of a refused client without repeating the secret or the body', async () => {
    const wrong = 'not-the-secret-of-this-client-0123456789';
    const tokens = new ClientCredentialsTokenSource({ tokenUrl: `${testIssuer()}/token`, clientId: TEST_TEMPORAL_CLIENTS.worker.id, clientSecretFile: await secretFile('wrong', wrong) });
    const error = await tokens.start().then(() => undefined, (err: Error) => err);
    expect(error?.message).toBe('the token endpoint (TEMPORAL_TOKEN_URL) answered 401: invalid_client');
    expect(error?.message).not.toContain(wrong);
  });

  it('names the variable when a file cannot be read, and an endpoint that is not there', async () => {
    const missing = new ClientCredentialsTokenSource({ tokenUrl: `${testIssuer()}/token`, clientId: 'x', clientSecretFile: path.join(dir, 'nope') });
    await expect(missing.start()).rejects.toThrow('TEMPORAL_CLIENT_SECRET_FILE: cannot read the file it names (ENOENT)');
    const nowhere = new ClientCredentialsTokenSource({ tokenUrl: 'http://127.0.0.1:1/token', clientId: 'x', clientSecretFile: await secretFile('any', 'x') });
    await expect(nowhere.start()).rejects.toThrow('the token endpoint (TEMPORAL_TOKEN_URL) refused the request: it cannot be reached');
    await expect(loadTemporalTls({ clientCertFile: path.join(dir, 'none.pem'), clientKeyFile: path.join(dir, 'none.key') })).rejects.toThrow('TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read the file it names (ENOENT)');
    await expect(loadTemporalTls({ serverCaFile: await secretFile('empty.pem', '') })).rejects.toThrow('TEMPORAL_TLS_SERVER_CA_CERT_PATH: the file it names must hold 1 to 65536 bytes');
  });
});
