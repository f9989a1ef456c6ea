// Schemathesis against the API's own /openapi.json, with a valid token: the real API (buildApp
// behind listenHttp, as the server process runs it) on the real worker, Temporal and PostgreSQL.
// Bounded: a time budget (MODELGATE_FUZZ_SECONDS, default 60) and examples per operation
// (MODELGATE_FUZZ_EXAMPLES, default 25), a fixed seed (MODELGATE_FUZZ_SEED) so a failure repeats.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { signDevToken } from '../../src/api/auth';
import { listenHttp } from '../../src/api/http-server';
import { type ApiHarness, startApiHarness, TEST_SECRET } from '../api/support';
import { testPython } from '../checks/python';
import { people, waitForStatus } from '../support/promotions';
import { createTestNamespace } from '../support/stack';

const FUZZ_SECONDS = Number(process.env.MODELGATE_FUZZ_SECONDS ?? 60);
const EXAMPLES_PER_OPERATION = Number(process.env.MODELGATE_FUZZ_EXAMPLES ?? 25);
const SEED = Number(process.env.MODELGATE_FUZZ_SEED ?? 20261122);

/** Roles that reach every operation: each gate's, the override and expedite roles, admin. */
const FUZZER = {
  id: 'fuzzer',
  roles: ['ml-reviewer', 'security-reviewer', 'fairness-reviewer', 'compliance-officer', 'business-owner', 'ml-manager', 'risk-manager', 'admin'],
};

/** What a schemathesis JSON report says (the parts read here). */
interface SchemathesisReport {
  running_time: number;
  test_cases: { generated: number; with_failures: number; errored: number };
  operations: { tested: number; total: number };
  failures: unknown[];
  errors: unknown[];
}

/**
 * Lets the process reach only loopback addresses while the fuzzer runs: generated manifests
 * carry arbitrary http(s) URIs, and no request may leave this machine.
 */
function allowLoopbackFetchOnly(): () => void {
  const original = globalThis.fetch;
  globalThis.fetch = (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
      throw new Error(`the fuzz test allows loopback addresses only, not ${url.hostname}`);
    }
    return original(input, init);
  }) as typeof fetch;
  return () => {
    globalThis.fetch = original;
  };
}

describe('the API under schemathesis (OpenAPI-driven fuzzing with a valid token)', () => {
  let h: ApiHarness;
  let server: Server;
  let baseUrl: string;
  let workDir: string;
  let restoreFetch: () => void;
  const errorLogs: Array<{ msg?: string; err?: { message?: string } }> = [];

  beforeAll(async () => {
    restoreFetch = allowLoopbackFetchOnly();
    const log = pino({ level: 'error' }, { write: (line: string) => void errorLogs.push(JSON.parse(line)) });
    // A namespace of its own: listings show only the fuzzer's promotions (whose worker runs),
    // never another test's, whose worker has stopped and which would answer no query.
    const namespace = await createTestNamespace();
    // Limits of refused requests out of reach: a fast run refuses more than 120 generated deployer
    // reports a minute, and schemathesis does not count a 429 as rejecting invalid data. The limits
    // have their own tests (test/api/rate-limits.test.ts).
    const unlimited = { refusedTokensPerMinute: 1_000_000, refusedReportsPerMinute: 1_000_000 };
    h = await startApiHarness({ log, namespace, policyFile: path.join(__dirname, '..', 'fixtures', 'policies', 'fuzz.yaml'), rateLimits: unlimited });
    server = await listenHttp(h.app, 0, '127.0.0.1');
    baseUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    workDir = await mkdtemp(path.join(tmpdir(), 'modelgate-fuzz-'));
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server?.closeAllConnections();
    await h?.close();
    restoreFetch?.();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('answers every generated request as documented: no 5xx, every status, content type and body in the spec', async () => {
    // A promotion in review, so that the operations on {id} and {name} also reach a real workflow.
    const manifest = await h.manifest();
    const submitted = await request(h.app).post('/v1/promotions').set('authorization', await h.bearer(people.sam)).send(manifest);
    expect(submitted.status).toBe(201);
    await waitForStatus(h.client.workflow.getHandle(submitted.body.promotionId), 'IN_REVIEW');

    // Half of the {id} and {name} values are the real promotion and model, half generated.
    const config = path.join(workDir, 'schemathesis.toml');
    await writeFile(
      config,
      (await readFile(path.join(__dirname, 'schemathesis.toml'), 'utf8')) +
        `
[parameters]
"path.id" = { dictionary = "promotions", probability = 0.5 }
"path.name" = { dictionary = "models", probability = 0.5 }

[dictionaries.promotions]
values = ${JSON.stringify([submitted.body.promotionId])}

[dictionaries.models]
values = ${JSON.stringify([manifest.model.name])}
`,
    );
    const token = await signDevToken({ secret: TEST_SECRET, user: FUZZER.id, roles: FUZZER.roles });
    const schemathesis = path.join(path.dirname(testPython()), 'schemathesis');
    const reportDir = path.join(workDir, 'report');
    const args = [
      '--config-file', config, 'run', `${baseUrl}/openapi.json`,
      '--header', `Authorization: Bearer ${token}`,
      '--max-examples', String(EXAMPLES_PER_OPERATION),
      '--max-time', String(FUZZ_SECONDS),
      '--seed', String(SEED),
      '--workers', '1',
      '--request-timeout', '20',
      '--generation-database', 'none',
      '--no-color',
      '--report', 'json', '--report-dir', reportDir,
    ];
    const output = await new Promise<string>((resolve) => {
      execFile(schemathesis, args, { cwd: workDir, timeout: (FUZZ_SECONDS + 120) * 1000, maxBuffer: 64 * 1024 * 1024 }, (_err, stdout, stderr) =>
        resolve(`${stdout}${stderr}`),
      );
    });
    const reportFile = (await readdir(reportDir).catch(() => [])).find((f) => f.endsWith('.json'));
    if (!reportFile) throw new Error(`schemathesis wrote no report:\n${output.slice(-4000)}`);
    const report = JSON.parse(await readFile(path.join(reportDir, reportFile), 'utf8')) as SchemathesisReport;

    console.log(
      `schemathesis: ${report.test_cases.generated} generated cases on ${report.operations.tested} operations ` +
        `in ${Math.round(report.running_time)} s (seed ${SEED}); ${report.failures.length} failures, ${report.errors.length} errors`,
    );
    // On failure the output names each case with its curl reproduction.
    const summary = output.slice(output.indexOf('=== FAILURES') >= 0 ? output.indexOf('=== FAILURES') : -6000);
    expect({ failures: report.failures.length, errors: report.errors.length, output: report.failures.length + report.errors.length > 0 ? summary : '' }).toEqual({
      failures: 0,
      errors: 0,
      output: '',
    });
    expect(report.operations.tested).toBe(report.operations.total);
    // Every operation was exercised several times; how many cases fit in the time bound depends on
    // the machine's load (455 on a busy 2-core machine, ~2,500 on a quiet one), so it is not asserted.
    expect(report.test_cases.generated).toBeGreaterThanOrEqual(report.operations.total * 5);
    // Nothing was logged as an unexpected error, and the API still serves.
    expect(errorLogs.map((e) => `${e.msg}: ${e.err?.message}`)).toEqual([]);
    expect((await request(server).get('/healthz')).status).toBe(200);
  }, (FUZZ_SECONDS + 180) * 1000);
});
