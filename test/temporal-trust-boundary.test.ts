// Temporal's trust boundary as the production shape runs it: the real Temporal server on
// PostgreSQL with frontend mTLS (temporal/make-certs.sh) and the JWT authorizer
// (temporal/config/secure.yaml), tokens from the test identity provider. Whoever lacks a client
// certificate, a token, the namespace permission, or holds a token for another audience or from
// another signer is refused; the built worker and API, with their own certificates and
// client-credentials tokens (20 s lifetime, so both renew them), run promotions end to end.
//
// It starts its own secure server (databases trust_<id>_temporal…) on the test run's PostgreSQL
// cluster, with the server binary temporal/install-server.sh builds. That build is part of the
// PostgreSQL pass of scripts/test.sh (MODELGATE_TEST_TEMPORAL=postgres, CI's second pass), so the
// test runs in that pass and is skipped in the dev-server pass.
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { cpSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection, ScheduleClient } from '@temporalio/client';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { parse as parseYaml } from 'yaml';
import { signDevToken } from '../src/api/auth';
import { workerEnvironment } from '../src/config';
import type { PromotionState } from '../src/shared/promotion';
import { TEST_OTHER_AUDIENCE_CLIENT, TEST_CI_CLIENT, TEST_TEMPORAL_AUDIENCE, TEST_TEMPORAL_CLIENTS, clientCredentialsToken, testIssuer } from './support/oidc';
import { ModelgateProcess, REPO_ROOT, freePort, waitForApiReady } from './support/processes';
import { people } from './support/promotions';
import { createTestDatabase, testStackEnv } from './support/stack';
import { waitUntil } from './support/wait';

const run = promisify(execFile);
const inPostgresPass = process.env.MODELGATE_TEST_TEMPORAL === 'postgres';
const JWT_SECRET = 'api-token-key-of-the-trust-boundary-test-0123456789';
/** The name on the frontend's certificate (make-certs.sh's default). */
const SERVER_NAME = 'temporal';

jest.setTimeout(300_000);

(inPostgresPass ? describe : describe.skip)(
  'Temporal trust boundary: mTLS and the JWT authorizer on the real server (PostgreSQL pass only: MODELGATE_TEST_TEMPORAL=postgres builds the server)',
  () => {
    let work: string;
    let certs: string;
    let address: string;
    let serverPidFile: string;
    let serverLog: string;
    let dropDatabase: (() => Promise<void>) | undefined;
    const processes: ModelgateProcess[] = [];

    const file = (name: string) => readFileSync(path.join(certs, name));
    const tlsAs = (client?: string) => ({
      serverNameOverride: SERVER_NAME,
      serverRootCACertificate: file('ca.pem'),
      ...(client ? { clientCertPair: { crt: file(`clients/${client}.pem`), key: file(`clients/${client}.key`) } } : {}),
    });
    /**
     * Asks the frontend to describe the namespace, over a fresh connection with these credentials
     * (default: alice's certificate, no token). A failure's message carries its causes' messages
     * (connecting asks the server's system info, which a refused token already fails).
     */
    const describeNamespace = async (options: { tls?: ReturnType<typeof tlsAs> | false; token?: string; namespace?: string }) => {
      try {
        const connection = await Connection.connect({
          address,
          tls: options.tls === undefined ? tlsAs('alice') : options.tls,
          ...(options.token ? { apiKey: options.token } : {}),
          connectTimeout: 5_000,
        });
        try {
          return await connection.workflowService.describeNamespace({ namespace: options.namespace ?? 'modelgate' });
        } finally {
          await connection.close();
        }
      } catch (err) {
        const messages: string[] = [];
        for (let e: unknown = err; e instanceof Error; e = e.cause) messages.push(e.message);
        throw new Error(messages.join(' <- '));
      }
    };

    beforeAll(async () => {
      work = await mkdtemp(path.join(tmpdir(), 'modelgate-trust-'));
      certs = path.join(work, 'certs');
      serverPidFile = path.join(work, 'temporal.pid');
      serverLog = path.join(work, 'temporal.log');
      await run(path.join(REPO_ROOT, 'temporal', 'make-certs.sh'), ['--dir', certs, '--client', 'admin', '--client', 'alice']);
      const port = await freePort();
      address = `127.0.0.1:${port}`;
      const pgPort = new URL(testStackEnv().databaseUrl).port;
      const adminToken = await clientCredentialsToken(TEST_TEMPORAL_CLIENTS.admin);
      const script = path.join(REPO_ROOT, 'temporal', 'start-postgres-server.sh');
      const args = [
        '--port', String(port), '--pg-port', pgPort, '--namespace', 'modelgate', '--dir', path.join(work, 'temporal'),
        '--pidfile', serverPidFile, '--log', serverLog, '--db-prefix', `trust_${randomBytes(4).toString('hex')}`,
        '--secure', certs, '--jwks-url', `${testIssuer()}/jwks`, '--audience', TEST_TEMPORAL_AUDIENCE,
      ];
      await new Promise<void>((resolve, reject) => {
        const child = spawn(script, args, { env: { ...process.env, TEMPORAL_API_KEY: adminToken }, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`start-postgres-server.sh --secure failed (${code}):\n${stderr}`))));
      });
    }, 300_000);

    afterAll(async () => {
      await Promise.allSettled(processes.map((p) => p.stop(5_000)));
      const pid = Number(await readFile(serverPidFile, 'utf8').catch(() => ''));
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGTERM');
          await waitUntil(() => { try { process.kill(pid, 0); return false; } catch { return true; } }, (gone) => gone, 15_000).catch(() => process.kill(pid, 'SIGKILL'));
        } catch {
          // already gone
        }
      }
      await dropDatabase?.();
      if (work) await rm(work, { recursive: true, force: true });
    }, 60_000);

    it('serves a client with a certificate and a token holding modelgate:write (the control for the refusals below)', async () => {
      const answer = await describeNamespace({ token: await clientCredentialsToken(TEST_TEMPORAL_CLIENTS.worker) });
      expect(answer.namespaceInfo?.name).toBe('modelgate');
    });

    it('refuses a client in the clear, and one with TLS but no client certificate (even holding a valid token)', async () => {
      const token = await clientCredentialsToken(TEST_TEMPORAL_CLIENTS.worker);
      await expect(describeNamespace({ tls: false })).rejects.toThrow(/Failed to connect before the deadline/);
      await expect(describeNamespace({ tls: tlsAs(), token })).rejects.toThrow(/Failed to connect before the deadline/);
    });

    it('refuses a client certificate signed by another CA', async () => {
      const other = path.join(work, 'other-certs');
      await run(path.join(REPO_ROOT, 'temporal', 'make-certs.sh'), ['--dir', other]);
      const token = await clientCredentialsToken(TEST_TEMPORAL_CLIENTS.worker);
      const forged = { ...tlsAs(), clientCertPair: { crt: readFileSync(path.join(other, 'clients', 'worker.pem')), key: readFileSync(path.join(other, 'clients', 'worker.key')) } };
      await expect(describeNamespace({ tls: forged, token })).rejects.toThrow(/Failed to connect before the deadline/);
    });

    it('refuses a certificate without a token, and tokens without the namespace permission', async () => {
      await expect(describeNamespace({})).rejects.toThrow(/Request unauthorized/);
      await expect(describeNamespace({ token: await clientCredentialsToken(TEST_TEMPORAL_CLIENTS.noPermission) })).rejects.toThrow(/Request unauthorized/);
      await expect(describeNamespace({ token: await clientCredentialsToken(TEST_TEMPORAL_CLIENTS.otherNamespace) })).rejects.toThrow(/Request unauthorized/);
      // modelgate:write is not admin: the worker's token cannot create namespaces.
      const connection = await Connection.connect({ address, tls: tlsAs('alice'), apiKey: await clientCredentialsToken(TEST_TEMPORAL_CLIENTS.worker) });
      try {
        await expect(connection.workflowService.registerNamespace({ namespace: `x-${randomUUID().slice(0, 8)}` })).rejects.toThrow(/Request unauthorized/);
      } finally {
        await connection.close();
      }
    });

    it('refuses tokens of the same provider for other audiences (the API, another app) and tokens signed by another key', async () => {
      await expect(describeNamespace({ token: await clientCredentialsToken(TEST_CI_CLIENT) })).rejects.toThrow(/Request unauthorized/);
      await expect(describeNamespace({ token: await clientCredentialsToken(TEST_OTHER_AUDIENCE_CLIENT) })).rejects.toThrow(/Request unauthorized/);
      // Another issuer: the right claims, signed by a key the server's JWKS does not hold.
      const { privateKey, publicKey } = await generateKeyPair('RS256');
      const kid = (await exportJWK(publicKey)).kid ?? 'other-issuer-key';
      const forged = await new SignJWT({ permissions: ['modelgate:write', 'temporal-system:admin'] })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer('https://issuer.example.test')
        .setAudience(TEST_TEMPORAL_AUDIENCE)
        .setSubject('intruder')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
      await expect(describeNamespace({ token: forged })).rejects.toThrow(/Request unauthorized/);
    });

    it("the server's own system workers still work (they use the internal frontend): a schedule fires", async () => {
      const connection = await Connection.connect({ address, tls: tlsAs('alice'), apiKey: await clientCredentialsToken(TEST_TEMPORAL_CLIENTS.admin) });
      const schedules = new ScheduleClient({ connection, namespace: 'modelgate' });
      const scheduleId = `trust-${randomUUID().slice(0, 8)}`;
      try {
        const handle = await schedules.create({
          scheduleId,
          spec: { intervals: [{ every: '1s' }] },
          action: { type: 'startWorkflow', workflowType: 'NoSuchWorkflow', taskQueue: `nobody-${scheduleId}`, args: [] },
        });
        const described = await waitUntil(() => handle.describe(), (d) => d.info.recentActions.length > 0, 60_000);
        expect(described.info.recentActions.length).toBeGreaterThan(0);
        await handle.delete();
      } finally {
        await connection.close();
      }
    });

    it('the built worker and API, each with its certificate and its own renewed token, run promotions end to end', async () => {
      const db = await createTestDatabase();
      dropDatabase = db.drop;
      const apiPort = await freePort();
      const server = `http://127.0.0.1:${apiPort}`;
      const secrets = path.join(work, 'secrets');
      await run('mkdir', ['-m', '0700', secrets]);
      const secretFile = async (name: string, secret: string) => {
        const f = path.join(secrets, name);
        await writeFile(f, secret, { mode: 0o600 });
        return f;
      };
      const common: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        TEMPORAL_ADDRESS: address,
        TEMPORAL_NAMESPACE: 'modelgate',
        TEMPORAL_TASK_QUEUE: 'modelgate-promotions',
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: path.join(certs, 'ca.pem'),
        TEMPORAL_TLS_SERVER_NAME: SERVER_NAME,
        TEMPORAL_TOKEN_URL: `${testIssuer()}/token`,
        TEMPORAL_TOKEN_RESOURCE: TEST_TEMPORAL_AUDIENCE,
        DATABASE_URL: db.url,
        ARTIFACT_ROOTS: tmpdir(),
        ARTIFACT_STORE_DIR: path.join(work, 'artifact-store'),
        LOG_LEVEL: 'info',
        SHUTDOWN_GRACE_SECONDS: '1',
      };
      const as = (name: 'worker' | 'api', client: { id: string; secret: string }) => async () => ({
        TEMPORAL_TLS_CLIENT_CERT_PATH: path.join(certs, 'clients', `${name}.pem`),
        TEMPORAL_TLS_CLIENT_KEY_PATH: path.join(certs, 'clients', `${name}.key`),
        TEMPORAL_CLIENT_ID: client.id,
        TEMPORAL_CLIENT_SECRET_FILE: await secretFile(name, client.secret),
      });
      const workerEnv = workerEnvironment({ ...common, ...(await as('worker', TEST_TEMPORAL_CLIENTS.worker)()) });
      const worker = new ModelgateProcess('worker', {
        entry: 'worker',
        env: workerEnv,
        logFile: path.join(work, 'worker.log'),
      });
      const api = new ModelgateProcess('api', {
        entry: 'api',
        env: { ...common, ...(await as('api', TEST_TEMPORAL_CLIENTS.api)()), AUTH_JWT_SECRET: JWT_SECRET, PORT: String(apiPort), HOST: '127.0.0.1', PUBLIC_URL: server },
        logFile: path.join(work, 'api.log'),
      });
      processes.push(worker, api);
      worker.start();
      api.start();
      await waitForApiReady(server, 120_000);

      // `modelgate temporal-token` prints a token of the configured client (what docker-compose's setup job uses).
      const printed = await run(process.execPath, [path.join(REPO_ROOT, 'bin', 'modelgate.js'), 'temporal-token'], { env: workerEnv });
      expect((await describeNamespace({ token: printed.stdout.trim() })).namespaceInfo?.name).toBe('modelgate');
      const earlyToken = await clientCredentialsToken(TEST_TEMPORAL_CLIENTS.worker);
      const dir = await mkdtemp(path.join(tmpdir(), 'modelgate-trust-examples-'));
      cpSync(path.join(REPO_ROOT, 'examples'), dir, { recursive: true });
      const bearer = `Bearer ${await signDevToken({ secret: JWT_SECRET, user: people.sam.id, roles: people.sam.roles })}`;
      const manifest = (version: string) => {
        const text = readFileSync(path.join(dir, 'low-auto-approved.yaml'), 'utf8').replace(/file:\/\/(?!\/)/g, `file://${dir}/`);
        const doc = parseYaml(text) as { model: { version: string } };
        doc.model.version = version;
        return doc;
      };
      const submitAndWait = async (version: string) => {
        const res = await fetch(`${server}/v1/promotions`, { method: 'POST', headers: { authorization: bearer, 'content-type': 'application/json' }, body: JSON.stringify(manifest(version)) });
        expect(res.status).toBe(201);
        const id = ((await res.json()) as { promotionId: string }).promotionId;
        const read = async () => (await (await fetch(`${server}/v1/promotions/${encodeURIComponent(id)}`, { headers: { authorization: bearer } })).json()) as PromotionState;
        return waitUntil(read, (s) => ['DEPLOYED', 'CHECKS_FAILED', 'REJECTED', 'DEPLOY_FAILED'].includes(s.status), 120_000);
      };
      try {
        const first = await submitAndWait('1.0.0');
        expect(first.status).toBe('DEPLOYED');
        // Both processes' first tokens (20 s) have expired by now unless renewed: the API must start
        // and read a promotion, and the worker poll and run it, with renewed tokens.
        await new Promise((r) => setTimeout(r, 25_000));
        await expect(describeNamespace({ token: earlyToken })).rejects.toThrow(/Request unauthorized/);
        const second = await submitAndWait('1.0.1');
        expect(second.status).toBe('DEPLOYED');
        expect(worker.unexpectedExits).toEqual([]);
        expect(api.unexpectedExits).toEqual([]);
        // Nothing was refused along the way: no renewal failed and no call was unauthorized.
        const logs = (await readFile(path.join(work, 'worker.log'), 'utf8')) + (await readFile(path.join(work, 'api.log'), 'utf8'));
        expect(logs).not.toMatch(/renewing the Temporal token failed|Request unauthorized|PermissionDenied/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  },
);
