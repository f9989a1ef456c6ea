import { ConfigError, loadConfig } from '../src/config';

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

  describe('DASHBOARD_DEV_SIGN_IN', () => {
    const secret = { AUTH_JWT_SECRET: 'a-local-secret-of-at-least-32-characters' };

    it('is off unless set, and on with a secret to sign the dev tokens', () => {
      expect(loadConfig({ ...valid, ...secret }).dashboard).toEqual({ devSignIn: false });
      expect(loadConfig({ ...valid, ...secret, DASHBOARD_DEV_SIGN_IN: 'true' }).dashboard).toEqual({ devSignIn: true });
      expect(loadConfig({ ...valid, ...secret, DASHBOARD_DEV_SIGN_IN: '0' }).dashboard).toEqual({ devSignIn: false });
    });

    it('when on without AUTH_JWT_SECRET, under NODE_ENV=production, or not a boolean, then it is refused with the reason', () => {
      expect(() => loadConfig({ ...valid, DASHBOARD_DEV_SIGN_IN: 'true' })).toThrow(/DASHBOARD_DEV_SIGN_IN: needs AUTH_JWT_SECRET/);
      expect(() => loadConfig({ ...valid, ...secret, DASHBOARD_DEV_SIGN_IN: '1', NODE_ENV: 'production' })).toThrow(
        /DASHBOARD_DEV_SIGN_IN: must not be enabled when NODE_ENV=production/,
      );
      expect(() => loadConfig({ ...valid, DASHBOARD_DEV_SIGN_IN: 'yes' })).toThrow(/DASHBOARD_DEV_SIGN_IN: must be true or false/);
    });
  });
});
