import { API_ONLY_VARIABLES, ConfigError, loadConfig } from '../src/config';

const valid = { DATABASE_URL: 'postgres://u@localhost:5432/db' };

describe('loadConfig', () => {
  it('applies the defaults when only DATABASE_URL is given', () => {
    const config = loadConfig(valid);
    expect(config.temporal).toEqual({
      address: 'localhost:7233',
      namespace: 'modelgate',
      taskQueue: 'modelgate-promotions',
      uiUrl: 'http://localhost:8233',
    });
    expect(config.http.port).toBe(8080);
  });

  it('when DATABASE_URL is missing, then the error names it', () => {
    expect(() => loadConfig({})).toThrow(ConfigError);
    try {
      loadConfig({});
    } catch (err) {
      expect((err as ConfigError).problems.map((p) => p.variable)).toEqual(['DATABASE_URL']);
    }
  });

  it('when several variables are malformed, then each is named with its reason', () => {
    let error: ConfigError | undefined;
    try {
      loadConfig({ ...valid, PORT: 'eighty', TEMPORAL_ADDRESS: 'nohostport', DATABASE_URL: 'mysql://x' });
    } catch (err) {
      error = err as ConfigError;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const byVariable = Object.fromEntries(error!.problems.map((p) => [p.variable, p.reason]));
    expect(Object.keys(byVariable).sort()).toEqual(['DATABASE_URL', 'PORT', 'TEMPORAL_ADDRESS']);
    expect(byVariable.PORT).toMatch(/port/);
    expect(byVariable.TEMPORAL_ADDRESS).toMatch(/host:port/);
    expect(byVariable.DATABASE_URL).toMatch(/postgres/);
    expect(error!.message).toContain('PORT:');
  });

  it('rejects a port out of range and treats an empty value as unset', () => {
    expect(() => loadConfig({ ...valid, PORT: '70000' })).toThrow(/PORT: must be between 1 and 65535/);
    expect(loadConfig({ ...valid, PORT: '' }).http.port).toBe(8080);
  });

  it('versions a worker with both WORKER_DEPLOYMENT_NAME and WORKER_BUILD_ID, never one alone, and names a bad value', () => {
    expect(loadConfig(valid).worker.deployment).toBeUndefined();
    expect(loadConfig({ ...valid, WORKER_DEPLOYMENT_NAME: 'modelgate', WORKER_BUILD_ID: '0.2.0' }).worker.deployment).toEqual({ name: 'modelgate', buildId: '0.2.0', versioningBehavior: 'auto-upgrade' });
    expect(loadConfig({ ...valid, WORKER_DEPLOYMENT_NAME: 'modelgate', WORKER_BUILD_ID: '0.2.0', WORKER_VERSIONING_BEHAVIOR: 'pinned' }).worker.deployment?.versioningBehavior).toBe('pinned');
    expect(() => loadConfig({ ...valid, WORKER_BUILD_ID: '0.2.0' })).toThrow(/WORKER_DEPLOYMENT_NAME: is required with WORKER_BUILD_ID/);
    expect(() => loadConfig({ ...valid, WORKER_DEPLOYMENT_NAME: 'modelgate' })).toThrow(/WORKER_BUILD_ID: is required with WORKER_DEPLOYMENT_NAME/);
    expect(() => loadConfig({ ...valid, WORKER_DEPLOYMENT_NAME: 'model.gate', WORKER_BUILD_ID: '1' })).toThrow(/WORKER_DEPLOYMENT_NAME: must be/);
    expect(() => loadConfig({ ...valid, WORKER_DEPLOYMENT_NAME: 'm', WORKER_BUILD_ID: '1', WORKER_VERSIONING_BEHAVIOR: 'sometimes' })).toThrow(/WORKER_VERSIONING_BEHAVIOR: must be one of auto-upgrade, pinned/);
  });

  describe('the audit seal (AUDIT_SIGNING_KEY_FILE, AUDIT_CHECKPOINT_FILE)', () => {
    const seal = { AUDIT_SIGNING_KEY_FILE: '/keys/worker.key', AUDIT_CHECKPOINT_FILE: '/audit/worker.checkpoints.jsonl' };
    it('is required in production: a process without it refuses to start, naming both variables', () => {
      for (const NODE_ENV of ['production', 'PRODUCTION', ' Production ']) {
        expect(() => loadConfig({ ...valid, NODE_ENV })).toThrow(/AUDIT_SIGNING_KEY_FILE: is required when NODE_ENV is production[\s\S]*AUDIT_CHECKPOINT_FILE: is required/);
      }
      expect(loadConfig({ ...valid, ...seal, NODE_ENV: 'production' }).audit).toEqual({ signingKeyFile: seal.AUDIT_SIGNING_KEY_FILE, checkpointFile: seal.AUDIT_CHECKPOINT_FILE });
      // a checks worker appends to no audit chain: it starts without a key; other roles do not
      expect(loadConfig({ ...valid, NODE_ENV: 'production', WORKER_ROLE: 'checks' }).audit).toBeUndefined();
      expect(() => loadConfig({ ...valid, NODE_ENV: 'production', WORKER_ROLE: 'promotions' })).toThrow(/AUDIT_SIGNING_KEY_FILE: is required/);
    });
    it('is optional elsewhere, but never half: the key without its checkpoint file (or the reverse) is refused', () => {
      expect(loadConfig({ ...valid, NODE_ENV: 'development' }).audit).toBeUndefined();
      expect(() => loadConfig({ ...valid, AUDIT_SIGNING_KEY_FILE: seal.AUDIT_SIGNING_KEY_FILE })).toThrow(/AUDIT_CHECKPOINT_FILE: is required with AUDIT_SIGNING_KEY_FILE/);
      expect(() => loadConfig({ ...valid, AUDIT_CHECKPOINT_FILE: seal.AUDIT_CHECKPOINT_FILE })).toThrow(/AUDIT_SIGNING_KEY_FILE: is required with AUDIT_CHECKPOINT_FILE/);
      expect(() => loadConfig({ ...valid, AUDIT_SIGNING_KEY_FILE: 'relative.key', AUDIT_CHECKPOINT_FILE: seal.AUDIT_CHECKPOINT_FILE })).toThrow(/AUDIT_SIGNING_KEY_FILE: must be an absolute path/);
    });
  });

  describe('DASHBOARD_DEV_SIGN_IN', () => {
    const dev = {
      DEV_SIGN_IN_SECRET: 'a-dev-sign-in-secret-of-32-characters-at-least',
      HOST: '127.0.0.1',
      NODE_ENV: 'development',
    };

    it('is off unless set, and on with its own secret, a loopback HOST and NODE_ENV development or test', () => {
      expect(loadConfig({ ...valid, ...dev }).dashboard).toEqual({ devSignIn: false });
      expect(loadConfig({ ...valid, ...dev }).auth.devSignInSecret).toBeUndefined();
      const on = loadConfig({ ...valid, ...dev, DASHBOARD_DEV_SIGN_IN: 'true' });
      expect(on.dashboard).toEqual({ devSignIn: true });
      expect(on.auth.devSignInSecret).toBe(dev.DEV_SIGN_IN_SECRET);
      expect(on.auth.jwtSecret).toBeUndefined();
      for (const HOST of ['localhost', '::1', '127.0.0.1']) {
        for (const NODE_ENV of ['test', 'TEST', 'Development']) {
          expect(loadConfig({ ...valid, ...dev, HOST, NODE_ENV, DASHBOARD_DEV_SIGN_IN: '1' }).dashboard.devSignIn).toBe(true);
        }
      }
      expect(loadConfig({ ...valid, ...dev, DASHBOARD_DEV_SIGN_IN: '0' }).dashboard).toEqual({ devSignIn: false });
    });

    it('when on without its own secret, then it is refused naming DEV_SIGN_IN_SECRET (AUTH_JWT_SECRET does not do)', () => {
      const { DEV_SIGN_IN_SECRET: _unused, ...withoutSecret } = dev;
      expect(() => loadConfig({ ...valid, ...withoutSecret, DASHBOARD_DEV_SIGN_IN: 'true' })).toThrow(/DASHBOARD_DEV_SIGN_IN: needs DEV_SIGN_IN_SECRET/);
      expect(() =>
        loadConfig({ ...valid, ...withoutSecret, AUTH_JWT_SECRET: 'a-local-secret-of-at-least-32-characters', DASHBOARD_DEV_SIGN_IN: 'true' }),
      ).toThrow(/DASHBOARD_DEV_SIGN_IN: needs DEV_SIGN_IN_SECRET/);
      expect(() => loadConfig({ ...valid, ...dev, AUTH_JWT_SECRET: dev.DEV_SIGN_IN_SECRET, DASHBOARD_DEV_SIGN_IN: 'true' })).toThrow(
        /DEV_SIGN_IN_SECRET: must differ from AUTH_JWT_SECRET/,
      );
    });

    it('when NODE_ENV is anything but development or test (or unset), then it is refused', () => {
      for (const NODE_ENV of ['production', 'PRODUCTION', 'Production ', 'prod', 'staging', undefined]) {
        expect(() => loadConfig({ ...valid, ...dev, NODE_ENV, DASHBOARD_DEV_SIGN_IN: 'true' })).toThrow(
          /DASHBOARD_DEV_SIGN_IN: needs NODE_ENV=development or NODE_ENV=test/,
        );
      }
    });

    it('when the API listens on anything but a loopback address, then it is refused', () => {
      for (const HOST of ['0.0.0.0', '::', '10.0.0.5', 'modelgate.example', undefined]) {
        expect(() => loadConfig({ ...valid, ...dev, HOST, DASHBOARD_DEV_SIGN_IN: 'true' })).toThrow(
          /DASHBOARD_DEV_SIGN_IN: needs HOST to be a loopback address/,
        );
      }
      expect(() => loadConfig({ ...valid, DASHBOARD_DEV_SIGN_IN: 'yes' })).toThrow(/DASHBOARD_DEV_SIGN_IN: must be true or false/);
    });

    it('the worker refuses the dev sign-in secret too', () => {
      expect(API_ONLY_VARIABLES).toContain('DEV_SIGN_IN_SECRET');
    });
  });

  it('MLFLOW_ALIAS_RECONCILE_INTERVAL: 5m by default, a duration from 1s to 24h, anything else refused naming it', () => {
    const mlflow = { ...valid, MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000', MLFLOW_ALIASES: 'production=champion' };
    expect(loadConfig(mlflow).mlflow).toMatchObject({ aliases: { production: 'champion' }, reconcileIntervalMs: 300_000 });
    expect(loadConfig({ ...mlflow, MLFLOW_ALIAS_RECONCILE_INTERVAL: '30s' }).mlflow?.reconcileIntervalMs).toBe(30_000);
    for (const bad of ['0s', '500ms', '2d', 'often']) {
      expect(() => loadConfig({ ...mlflow, MLFLOW_ALIAS_RECONCILE_INTERVAL: bad })).toThrow(/MLFLOW_ALIAS_RECONCILE_INTERVAL: must be a duration from 1s to 24h/);
    }
  });

  it('MLFLOW_ALIASES: one alias per environment and one environment per alias', () => {
    const mlflow = { ...valid, MLFLOW_TRACKING_URI: 'http://127.0.0.1:5000' };
    expect(loadConfig({ ...mlflow, MLFLOW_ALIASES: 'production=champion,staging=challenger' }).mlflow?.aliases).toEqual({ production: 'champion', staging: 'challenger' });
    expect(() => loadConfig({ ...mlflow, MLFLOW_ALIASES: 'production=champion,staging=champion' })).toThrow(/MLFLOW_ALIASES: alias champion is named for two environments/);
    expect(() => loadConfig({ ...mlflow, MLFLOW_ALIASES: 'production=champion,production=other' })).toThrow(/MLFLOW_ALIASES: environment production is named twice/);
  });

  describe('token rules', () => {
    it('default to a 12h maximum lifetime and 60s of clock skew, and take other values', () => {
      expect(loadConfig(valid).auth).toMatchObject({ maxTokenLifetimeSeconds: 12 * 3600, clockSkewSeconds: 60 });
      expect(loadConfig({ ...valid, AUTH_MAX_TOKEN_LIFETIME: '30m', AUTH_CLOCK_SKEW_SECONDS: '5' }).auth).toMatchObject({
        maxTokenLifetimeSeconds: 1800,
        clockSkewSeconds: 5,
      });
      expect(() => loadConfig({ ...valid, AUTH_MAX_TOKEN_LIFETIME: 'forever' })).toThrow(/AUTH_MAX_TOKEN_LIFETIME: must be a duration/);
      expect(() => loadConfig({ ...valid, AUTH_CLOCK_SKEW_SECONDS: '3600' })).toThrow(/AUTH_CLOCK_SKEW_SECONDS: must be at most 300/);
    });

    it('with AUTH_JWKS_URL, then AUTH_ISSUER and AUTH_AUDIENCE are required, each named', () => {
      const jwks = { ...valid, AUTH_JWKS_URL: 'https://issuer.example/.well-known/jwks.json' };
      let error: ConfigError | undefined;
      try {
        loadConfig(jwks);
      } catch (err) {
        error = err as ConfigError;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect(error!.problems.map((p) => p.variable).sort()).toEqual(['AUTH_AUDIENCE', 'AUTH_ISSUER']);
      expect(error!.message).toMatch(/AUTH_ISSUER: is required with AUTH_JWKS_URL/);
      expect(() => loadConfig({ ...jwks, AUTH_ISSUER: 'https://issuer.example' })).toThrow(/AUTH_AUDIENCE: is required with AUTH_JWKS_URL/);
      expect(loadConfig({ ...jwks, AUTH_ISSUER: 'https://issuer.example', AUTH_AUDIENCE: 'modelgate' }).auth).toMatchObject({
        issuer: 'https://issuer.example',
        audience: 'modelgate',
      });
    });
  });
});

describe('loadConfig: credentials towards Temporal (mTLS and the token source)', () => {
  const problemsOf = (env: Record<string, string>) => {
    try {
      loadConfig({ ...valid, ...env });
      return {};
    } catch (err) {
      return Object.fromEntries((err as ConfigError).problems.map((p) => [p.variable, p.reason]));
    }
  };
  const tls = { TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/certs/ca.pem', TEMPORAL_TLS_CLIENT_CERT_PATH: '/certs/worker.pem', TEMPORAL_TLS_CLIENT_KEY_PATH: '/certs/worker.key', TEMPORAL_TLS_SERVER_NAME: 'temporal' };
  const token = { TEMPORAL_TOKEN_URL: 'https://idp.example.com/token', TEMPORAL_CLIENT_ID: 'modelgate-worker', TEMPORAL_CLIENT_SECRET_FILE: '/run/secrets/temporal-client-secret' };

  it('reads the TLS files, the server name and the client-credentials client', () => {
    const config = loadConfig({ ...valid, ...tls, ...token, TEMPORAL_TOKEN_RESOURCE: 'urn:modelgate:temporal' });
    expect(config.temporal.tls).toEqual({ serverCaFile: '/certs/ca.pem', clientCertFile: '/certs/worker.pem', clientKeyFile: '/certs/worker.key', serverName: 'temporal' });
    expect(config.temporal.token).toEqual({ tokenUrl: 'https://idp.example.com/token', clientId: 'modelgate-worker', clientSecretFile: '/run/secrets/temporal-client-secret', resource: 'urn:modelgate:temporal' });
  });

  it('refuses a certificate without its key, and relative paths', () => {
    expect(problemsOf({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/certs/worker.pem' })).toEqual({ TEMPORAL_TLS_CLIENT_KEY_PATH: expect.stringContaining('go together') });
    expect(problemsOf({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: 'certs/ca.pem' })).toEqual({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: 'must be an absolute path' });
  });

  it('refuses a token source missing a part, a token sent without TLS, and a token endpoint in the clear off this machine', () => {
    expect(problemsOf({ ...tls, TEMPORAL_TOKEN_URL: token.TEMPORAL_TOKEN_URL })).toEqual({
      TEMPORAL_CLIENT_ID: expect.stringContaining('needs all three'),
      TEMPORAL_CLIENT_SECRET_FILE: expect.stringContaining('needs all three'),
    });
    expect(problemsOf(token)).toEqual({ TEMPORAL_TOKEN_URL: expect.stringContaining('never sent in the clear') });
    expect(problemsOf({ ...tls, ...token, TEMPORAL_TOKEN_URL: 'http://idp.example.com/token' })).toEqual({ TEMPORAL_TOKEN_URL: expect.stringContaining('must be https') });
    expect(problemsOf({ ...tls, ...token, TEMPORAL_TOKEN_URL: 'http://127.0.0.1:4000/token' })).toEqual({});
  });
});
