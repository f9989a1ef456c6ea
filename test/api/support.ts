import type { RateLimits } from '../../src/api/rate-limits';
import type { Express } from 'express';
import { type ApiServices, buildApp } from '../../src/api/app';
import { createAuthenticator, signDevToken } from '../../src/api/auth';
import type { DashboardOptions } from '../../src/api/dashboard';
import { createLogger, type Logger } from '../../src/logger';
import type { LoadedPolicy } from '../../src/policy/load';
import type { Actor } from '../../src/shared/promotion';
import { type PromotionHarness, startPromotionHarness } from '../support/promotions';
import { testSources } from '../support/sources';
import type { Tracing } from '../../src/tracing';

/** HS256 secret of the API tests. */
export const TEST_SECRET = 'test-secret-of-the-modelgate-api-tests-0123456789';
/** Key of the dev tokens, when a test turns the dev sign-in on. */
export const TEST_DEV_SECRET = 'dev-sign-in-secret-of-the-modelgate-api-tests-0123';

/** A promotion harness (real worker, database) with the API built on it. */
export interface ApiHarness extends PromotionHarness {
  app: Express;
  /** A valid bearer header for an actor. */
  bearer(actor: Actor, options?: { expiresIn?: string | number; secret?: string }): Promise<string>;
}

/**
 * The API as the tests build it (silent log, no readiness probes) on a client, a database pool and
 * a policy serving as `default`; the other services default to the test token secret, the task
 * queue `services.taskQueue` and a local Temporal UI link.
 */
export function buildTestApp(
  services: Pick<ApiServices, 'client' | 'pool' | 'taskQueue'> & Partial<ApiServices> & { policy: LoadedPolicy },
  log: Logger = createLogger('test', 'silent'),
  options: { traceRequests?: boolean } = {},
): Express {
  const { policy, ...rest } = services;
  return buildApp({
    log,
    readinessProbes: [],
    ...(options.traceRequests ? { traceRequests: true } : {}),
    services: {
      policies: new Map([['default', policy]]),
      authenticator: createAuthenticator({
        jwtSecret: TEST_SECRET,
        ...(rest.dashboard?.devSignIn ? { devSignInSecret: rest.dashboard.devSignIn.devSignInSecret } : {}),
      }),
      temporalUiUrl: 'http://localhost:8233',
      sources: testSources(),
      ...rest,
    },
  });
}

/**
 * Starts the harness and builds the API on it (the harness's policy serves as `default`).
 * Options: the API's logger (default silent), the policy file (default the workflow tests'),
 * the Temporal namespace (default the test namespace), more policies the API knows, how
 * the dashboard (`/ui/`) is served, how long the API waits for a worker's answer, and the
 * process's tracing (then the worker, the client and the API's requests are traced).
 */
export async function startApiHarness(
  options: {
    log?: Logger;
    policyFile?: string;
    namespace?: string;
    extraPolicies?: LoadedPolicy[];
    dashboard?: DashboardOptions;
    workerAnswerTimeoutMs?: number;
    tracing?: Tracing;
    rateLimits?: RateLimits;
  } = {},
): Promise<ApiHarness> {
  const h = await startPromotionHarness(options.policyFile, {
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.tracing ? { tracing: options.tracing } : {}),
  });
  const app = buildTestApp(
    {
      client: h.client,
      pool: h.servicePool,
      auditSealer: h.audit.api,
      policy: h.policy,
      policies: new Map([
        ['default', h.policy],
        [h.policy.policy.name, h.policy],
        ...(options.extraPolicies ?? []).map((p) => [p.policy.name, p] as const),
      ]),
      taskQueue: h.config.temporal.taskQueue,
      ...(options.dashboard ? { dashboard: options.dashboard } : {}),
      ...(options.workerAnswerTimeoutMs ? { workerAnswerTimeoutMs: options.workerAnswerTimeoutMs } : {}),
      ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
    },
    options.log,
    { traceRequests: options.tracing !== undefined },
  );
  return Object.assign(h, {
    app,
    async bearer(actor: Actor, options: { expiresIn?: string | number; secret?: string } = {}) {
      const token = await signDevToken({
        secret: options.secret ?? TEST_SECRET,
        user: actor.id,
        roles: actor.roles,
        ...(options.expiresIn !== undefined ? { expiresIn: options.expiresIn } : {}),
      });
      return `Bearer ${token}`;
    },
  });
}

/** Path of a promotion's resource. */
export const promotionPath = (id: string, sub = '') => `/v1/promotions/${encodeURIComponent(id)}${sub ? `/${sub}` : ''}`;

/**
 * Starts an API harness before the tests of the enclosing `describe` (one database and worker
 * for them all) and closes it after them; the returned function gives it to tests and hooks.
 */
export function apiHarnessForSuite(): () => ApiHarness {
  let harness: ApiHarness | undefined;
  beforeAll(async () => {
    harness = await startApiHarness();
  }, 120_000);
  afterAll(async () => {
    await harness?.close();
  }, 60_000);
  return () => {
    if (!harness) throw new Error('the API harness has not started (use it inside tests and hooks)');
    return harness;
  };
}
