import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..');

/** Runs a project script; resolves to its exit code and output instead of throwing. */
async function script(file: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  try {
    const { stdout, stderr } = await run(path.join(root, file), args, { env, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function occupiedPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

describe('the install and start scripts say plainly what is wrong', () => {
  it('without a Temporal CLI and without go, install.sh says to install Go and exits non-zero', async () => {
    // a PATH with node and the basic tools, but neither `temporal` nor `go`
    const bin = await mkdtemp(path.join(tmpdir(), 'path-'));
    try {
      for (const tool of ['bash', 'node', 'cat', 'dirname', 'mkdir', 'id', 'tail', 'sha256sum']) {
        const found = (await run('bash', ['-c', `command -v ${tool}`])).stdout.trim();
        await symlink(found, path.join(bin, tool));
      }
      const result = await script('temporal/install.sh', [], { PATH: bin, TEMPORAL_CLI_VERSION: 'v0.0.0-not-built' });
      expect(result.code).toBe(1);
      expect(result.stderr).toContain("the Temporal CLI is not installed and 'go' was not found to build it");
      expect(result.stderr).toContain('Install Go');
    } finally {
      await rm(bin, { recursive: true, force: true });
    }
  });

  it('a failed Temporal build names the log and what to try', async () => {
    const result = await script('temporal/install.sh', [], {
      ...process.env,
      PATH: (process.env.PATH ?? '').split(':').filter((d) => !d.includes('.tools')).join(':'),
      TEMPORAL_CLI_VERSION: 'v0.0.0-no-such-version',
      GOFLAGS: '-mod=mod',
      GOPROXY: 'off',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/building the Temporal CLI failed \(full log: .*temporal-build\.log\)/);
  }, 120_000);

  it('PostgreSQL on a port already in use: refused with the port named', async () => {
    const { port, server } = await occupiedPort();
    const dir = await mkdtemp(path.join(root, '.data', 'pg-port-'));
    try {
      const result = await script('scripts/postgres.sh', ['start', path.join(dir, 'pg'), String(port)]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`port ${port} is already in use`);
    } finally {
      server.close();
      await script('scripts/postgres.sh', ['stop', path.join(dir, 'pg')]);
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it('the Temporal server on PostgreSQL without a PostgreSQL to use: refused naming the port, before any build', async () => {
    // two ports nothing listens on
    const [pg, frontend] = [await occupiedPort(), await occupiedPort()];
    pg.server.close();
    frontend.server.close();
    const [pgPort, port] = [pg.port, frontend.port];
    const dir = await mkdtemp(path.join(tmpdir(), 'temporal-pg-'));
    try {
      const args = ['--port', String(port), '--pg-port', String(pgPort), '--namespace', 'modelgate', '--dir', dir, '--pidfile', path.join(dir, 'pid'), '--log', path.join(dir, 'log')];
      const result = await script('temporal/start-postgres-server.sh', args);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`no PostgreSQL listens on 127.0.0.1:${pgPort}`);
      expect(result.stderr).not.toContain('building Temporal Server');
      const usage = await script('temporal/start-postgres-server.sh', ['--port', String(port)]);
      expect(usage.code).toBe(1);
      expect(usage.stderr).toContain('usage: start-postgres-server.sh');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the Temporal dev server on a port already in use: refused with the port named', async () => {
    const { port, server } = await occupiedPort();
    try {
      const result = await script('temporal/start-dev.sh', [
        '--port', String(port), '--headless', '--namespace', 'x', '--pidfile', '/tmp/none.pid', '--log', '/tmp/none.log',
      ]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain(`port ${port} is already in use (another Temporal server?)`);
    } finally {
      server.close();
    }
  });

  it('dynamic config YAML becomes --dynamic-config-value flags', async () => {
    const { stdout } = await run('node', [path.join(root, 'temporal', 'dynamic-config-flags.js'), path.join(root, 'temporal', 'dynamicconfig', 'modelgate.yaml')]);
    expect(stdout.split('\n')).toEqual(expect.arrayContaining(['frontend.enableUpdateWorkflowExecution=true', 'limit.historyCount.suggestContinueAsNew=4096']));
  });
});

describe('temporal/make-certs.sh: the certificates of the Temporal trust boundary', () => {
  let dir: string;
  beforeAll(async () => {
    dir = path.join(await mkdtemp(path.join(tmpdir(), 'modelgate-certs-')), 'certs');
  });
  afterAll(async () => {
    await rm(path.dirname(dir), { recursive: true, force: true });
  });
  const openssl = async (...args: string[]) => (await run('openssl', args)).stdout;

  it('makes two CAs, the server and internode certificates, and one client certificate per name; keys 0600 in 0700 folders', async () => {
    const made = await script('temporal/make-certs.sh', ['--dir', dir, '--days', '30', '--client', 'alice']);
    expect(made.code).toBe(0);
    const { stat } = await import('node:fs/promises');
    const mode = async (f: string) => ((await stat(path.join(dir, f))).mode & 0o777).toString(8);
    for (const key of ['ca.key', 'internode-ca.key', 'frontend.key', 'internode.key', 'clients/worker.key', 'clients/api.key', 'clients/ui.key', 'clients/alice.key']) {
      expect([key, await mode(key)]).toEqual([key, '600']);
    }
    expect(await mode('.')).toBe('700');
    expect(await mode('clients')).toBe('700');
    // Clients chain to the client CA only; the internode certificate to the internode CA only.
    expect(await openssl('verify', '-CAfile', path.join(dir, 'ca.pem'), path.join(dir, 'clients', 'alice.pem'), path.join(dir, 'frontend.pem'))).toContain('alice.pem: OK');
    await expect(run('openssl', ['verify', '-CAfile', path.join(dir, 'internode-ca.pem'), path.join(dir, 'clients', 'alice.pem')])).rejects.toThrow();
    const client = await openssl('x509', '-in', path.join(dir, 'clients', 'alice.pem'), '-noout', '-text');
    expect(client).toContain('TLS Web Client Authentication');
    expect(client).not.toContain('TLS Web Server Authentication');
    const server = await openssl('x509', '-in', path.join(dir, 'frontend.pem'), '-noout', '-text');
    expect(server).toContain('DNS:temporal');
    // Bounded validity: 30 days, so not valid 31 days from now.
    await expect(run('openssl', ['x509', '-in', path.join(dir, 'frontend.pem'), '-noout', '-checkend', String(31 * 86400)])).rejects.toThrow();
  });

  it('run again, keeps what is still fresh and adds a new operator', async () => {
    const before = await openssl('x509', '-in', path.join(dir, 'clients', 'worker.pem'), '-noout', '-serial');
    const again = await script('temporal/make-certs.sh', ['--dir', dir, '--days', '30', '--client', 'bob']);
    expect(again.code).toBe(0);
    expect(await openssl('x509', '-in', path.join(dir, 'clients', 'worker.pem'), '-noout', '-serial')).toBe(before);
    expect(again.stderr).toContain('bob.pem');
  });

  it('refuses unbounded validity and names that are not names', async () => {
    expect((await script('temporal/make-certs.sh', ['--dir', dir, '--days', '3650'])).stderr).toContain('--days must be a whole number from 1 to 397');
    expect((await script('temporal/make-certs.sh', ['--dir', dir, '--client', '../x'])).stderr).toContain('--client names are');
  });
});

describe("the benchmark script's check for logged errors", () => {
  /** Runs lib.sh's fail_on_logged_errors on `output`; its exit code and what it printed. */
  async function check(output: string) {
    const dir = await mkdtemp(path.join(tmpdir(), 'bench-output-'));
    try {
      const file = path.join(dir, 'output.log');
      await run('bash', ['-c', 'printf "%s" "$1" > "$2"', 'bash', output, file]);
      try {
        const { stderr } = await run('bash', ['-c', `source "${path.join(root, 'scripts', 'lib.sh')}" && fail_on_logged_errors "$1"`, 'bash', file]);
        return { code: 0, stderr };
      } catch (err) {
        return { code: (err as { code: number }).code, stderr: (err as { stderr: string }).stderr };
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('fails on the Temporal SDK error lines, pino errors and unhandled rejections, and passes warnings', async () => {
    const sdk = await check("2026-12-07T05:12:00Z [WARN] slow\n2026-12-07T05:12:00Z [ERROR] Failed to initialize workflow of type 'ModelEnvironmentWorkflow'\ndone\n");
    expect(sdk.code).toBe(1);
    expect(sdk.stderr).toContain('1 error lines logged');
    expect(sdk.stderr).toContain('Failed to initialize workflow');
    expect((await check('{"level":50,"msg":"activity failed"}\n{"level":60,"msg":"x"}\n')).stderr).toContain('2 error lines logged');
    expect((await check('(node:1) UnhandledPromiseRejection: boom\n')).code).toBe(1);
    expect(await check('{"level":40,"msg":"retrying"}\n[WARN] Task not found when completing\nresults: bench/results/x.json\n')).toEqual({ code: 0, stderr: '' });
  });
});
