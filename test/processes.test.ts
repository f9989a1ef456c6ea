import { spawn } from 'node:child_process';
import path from 'node:path';
import { createTestDatabase, testStackEnv } from './support/stack';
import { freePort } from './support/processes';

const root = path.resolve(__dirname, '..');

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a built entry point (dist/…) with the given environment. */
function runEntry(entry: string, env: Record<string, string>, untilOutput?: RegExp) {
  const child = spawn(process.execPath, [path.join(root, entry)], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let seen: () => void = () => undefined;
  const sawOutput = new Promise<void>((resolve) => (seen = resolve));
  const onData = () => {
    if (untilOutput && untilOutput.test(stdout + stderr)) seen();
  };
  child.stdout.on('data', (d: Buffer) => ((stdout += d.toString()), onData()));
  child.stderr.on('data', (d: Buffer) => ((stderr += d.toString()), onData()));
  const exited = new Promise<Exit>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, exited, sawOutput };
}


describe('process entry points (built in dist/)', () => {
  it.each([['dist/worker.js'], ['dist/api/server.js']])(
    '%s stops at start with a message naming a malformed variable',
    async (entry) => {
      const { exited } = runEntry(entry, { DATABASE_URL: 'not a url', PORT: 'x' });
      const result = await exited;
      expect(result.code).toBe(78);
      expect(result.stderr).toContain('invalid configuration');
      expect(result.stderr).toContain('DATABASE_URL: must be a postgres:// or postgresql:// URL');
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
    },
  );

  it('the worker refuses to start while it holds the API token key or the dev sign-in switch (it reads hostile files)', async () => {
    const { exited } = runEntry('dist/worker.js', {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      AUTH_JWT_SECRET: 'a-local-secret-of-at-least-32-characters',
      DASHBOARD_DEV_SIGN_IN: 'true',
    });
    const result = await exited;
    expect(result.code).toBe(78);
    expect(result.stderr).toContain('AUTH_JWT_SECRET, DASHBOARD_DEV_SIGN_IN belong(s) to the API only');
    expect(result.stderr).not.toContain('a-local-secret');
    expect(result.stderr).not.toMatch(/migrating PostgreSQL/);
  });

  it('the worker says plainly when PostgreSQL cannot be reached', async () => {
    const { exited } = runEntry('dist/worker.js', {
      DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      TEMPORAL_ADDRESS: testStackEnv().temporalAddress,
    });
    const result = await exited;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/migrating PostgreSQL at postgres:\/\/nobody@127\.0\.0\.1:1\/none failed/);
    expect(result.stderr).toContain('check DATABASE_URL');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('the API serves, then shuts down gracefully on SIGTERM', async () => {
    const db = await createTestDatabase();
    try {
      const port = await freePort();
      const { child, exited, sawOutput } = runEntry(
        'dist/api/server.js',
        { DATABASE_URL: db.url, TEMPORAL_ADDRESS: testStackEnv().temporalAddress, PORT: String(port), HOST: '127.0.0.1' },
        /API listening/,
      );
      // An API that stops before listening fails here with its own words, not as a test timeout.
      const started = await Promise.race([sawOutput.then(() => undefined), exited]);
      expect(started).toBeUndefined();
      const ready = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(20_000) });
      expect(ready.status).toBe(200);
      child.kill('SIGTERM');
      const result = await exited;
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('API stopped');
    } finally {
      await db.drop();
    }
  }, 90_000);

  it('the API says plainly when its port is in use', async () => {
    const db = await createTestDatabase();
    const net = await import('node:net');
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { exited } = runEntry('dist/api/server.js', {
        DATABASE_URL: db.url,
        TEMPORAL_ADDRESS: testStackEnv().temporalAddress,
        PORT: String(port),
        HOST: '127.0.0.1',
      });
      const result = await exited;
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`listening on 127.0.0.1:${port} failed`);
      expect(result.stderr).toContain('set PORT to a free one');
    } finally {
      blocker.close();
      await db.drop();
    }
  });
});
