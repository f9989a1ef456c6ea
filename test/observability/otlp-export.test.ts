import { type IncomingMessage, type Server, createServer } from 'node:http';
import { signDevToken } from '../../src/api/auth';
import { createTestDatabase, testStackEnv } from '../support/stack';
import { ModelgateProcess, freePort, waitForApiReady } from '../support/processes';

/** The built API (dist/) with OTEL_TRACES_EXPORTER=otlp sends its spans to an OTLP/HTTP collector. */
const SECRET = 'a-local-secret-of-at-least-32-characters';

describe('OTLP export of the built API', () => {
  const received: Array<{ path: string; body: string }> = [];
  let collector: Server;
  let collectorPort: number;
  let db: { url: string; drop: () => Promise<void> };

  beforeAll(async () => {
    db = await createTestDatabase();
    collectorPort = await freePort();
    collector = createServer((req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url ?? '', body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => collector.listen(collectorPort, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => collector.close(() => resolve()));
    await db.drop();
  });

  it('a request to the API reaches the collector as a span of service OTEL_SERVICE_NAME', async () => {
    const env = testStackEnv();
    const port = await freePort();
    const api = new ModelgateProcess('api', {
      entry: 'api',
      env: {
        PATH: process.env.PATH ?? '',
        TEMPORAL_ADDRESS: env.temporalAddress,
        TEMPORAL_NAMESPACE: env.namespace,
        DATABASE_URL: db.url,
        AUTH_JWT_SECRET: SECRET,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        SHUTDOWN_GRACE_SECONDS: '1',
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`,
        OTEL_SERVICE_NAME: 'otlp-test-api',
      },
    });
    api.start();
    try {
      await waitForApiReady(`http://127.0.0.1:${port}`);
      const token = await signDevToken({ secret: SECRET, user: 'olivia', roles: ['ml-reviewer'] });
      const res = await fetch(`http://127.0.0.1:${port}/v1/policies`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      // Refused before any route: named after no path of the caller's.
      expect((await fetch(`http://127.0.0.1:${port}/v1/policies/secret-looking-path`)).status).toBe(401);
    } finally {
      // Stopping flushes what is pending.
      await api.stop();
    }
    expect(api.unexpectedExits).toEqual([]);
    const traces = received.filter((r) => r.path === '/v1/traces');
    expect(traces.length).toBeGreaterThan(0);
    const bodies = traces.map((t) => t.body).join('\n');
    expect(bodies).toContain('otlp-test-api');
    expect(bodies).toContain('"name":"GET /v1/policies"');
    expect(bodies).toContain('"name":"GET unmatched"');
    expect(bodies).not.toContain('secret-looking-path');
  }, 90_000);
});
