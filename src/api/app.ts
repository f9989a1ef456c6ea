import type { Client } from '@temporalio/client';
import express, { type Express } from 'express';
import type { Pool } from 'pg';
import type { Logger } from '../logger';
import type { LoadedPolicy } from '../policy/load';
import { type Authenticator, requireActor } from './auth';
import { type DashboardOptions, dashboardRoutes } from './dashboard';
import { deploymentReportRoutes } from './deployment-reports';
import { environmentRoutes } from './environments';
import { ApiError, errorHandler, notFoundHandler } from './errors';
import { evidenceRoutes } from './evidence';
import { governanceRoutes } from './governance';
import { createApiMetrics } from './metrics';
import { buildOpenApiDocument } from './openapi';
import { documentAndMetricsRoutes, probeRoutes } from './operational';
import { policyRoutes } from './policies';
import { promotionMessageRoutes } from './promotion-messages';
import { promotionRoutes } from './promotions';
import type { ReadinessProbe } from './readiness';
import { DEFAULT_RATE_LIMITS, type RateLimits, refusedReportLimiter, refusedTokenLimiter } from './rate-limits';
import { createRefusalLog } from './refusal-log';
import { jsonDepthGuard, methodGuard } from './request-guards';
import { type MlflowIntakeSettings, mlflowWebhookRoutes } from './mlflow-webhooks';
import { modelRoutes } from './registry';
import { reviewerRoutes } from './reviewer';
import { requestSpans } from './request-spans';
import type { SourceRules } from '../sources/rules';
import type { AuditSealer } from '../audit/seal';

/** What the `/v1` routes are built from. */
export interface ApiServices {
  client: Client;
  pool: Pool;
  /** Loaded policies by name (`default` governs submissions that name none). */
  policies: ReadonlyMap<string, LoadedPolicy>;
  authenticator: Authenticator;
  taskQueue: string;
  temporalUiUrl: string;
  /** Version shown in the OpenAPI document. */
  version?: string;
  /** How the reviewer dashboard (`/ui/`) is served. */
  dashboard?: DashboardOptions;
  /** How long a message or a state read waits for a worker before a 503 (default 20 s). */
  workerAnswerTimeoutMs?: number;
  /** Where manifests' sources may be read from: submissions naming others are refused (400). */
  sources: SourceRules;
  /** How many refused requests an address may cause per minute (default {@link DEFAULT_RATE_LIMITS}). */
  rateLimits?: RateLimits;
  /** Chromium that prints evidence packs' report.pdf (EVIDENCE_CHROMIUM); without it packs have no PDF. */
  evidenceChromium?: string;
  /** The API's own audit sealer: signs the heads of the refused-attempts chain and of the chains the API appends to (AUDIT_SIGNING_KEY_FILE). */
  auditSealer?: AuditSealer;
  /** The MLflow webhook intake (MLFLOW_WEBHOOK_SECRET); without it `/v1/mlflow/webhooks` is not served. */
  mlflowIntake?: MlflowIntakeSettings;
}

/** What the API is built from; tests pass their own. */
export interface AppDeps {
  log: Logger;
  /** Dependencies `/readyz` checks (Temporal, PostgreSQL). */
  readinessProbes: ReadonlyArray<ReadinessProbe>;
  /** How long one readiness probe may take. Default 2000 ms. */
  readinessTimeoutMs?: number;
  /** Largest accepted JSON body. Default `1mb`. */
  bodyLimit?: string;
  /** The API's services; without them only the probes and the error handling are served. */
  services?: ApiServices;
  /** One span per request (tracing on: src/tracing.ts); off by default, then nothing is traced. */
  traceRequests?: boolean;
}

/** All gate names of the loaded policies (metrics per gate). */
function gateNamesOf(policies: ReadonlyMap<string, LoadedPolicy>): string[] {
  const names: string[] = [];
  for (const { policy } of policies.values()) {
    const tierSets = [policy.tiers, ...Object.values(policy.environments).map((e) => e.tiers ?? {})];
    for (const tiers of tierSets) {
      for (const rules of Object.values(tiers)) for (const stage of rules?.stages ?? []) for (const gate of stage.gates) names.push(gate.name);
    }
  }
  return [...new Set(names)].sort();
}

/** Builds the Modelgate HTTP app without listening, so tests drive it directly. */
export function buildApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  const openApi = buildOpenApiDocument({ version: deps.services?.version ?? '1' });
  app.use(methodGuard(openApi));

  // Liveness and readiness (not counted in the request metrics).
  app.use(probeRoutes(deps.readinessProbes, deps.readinessTimeoutMs ?? 2_000));
  // Spans for every other request (the probes would only add noise).
  if (deps.traceRequests) app.use(requestSpans());

  /** JSON bodies of `/v1`: parsed (nesting bounded), and refused with 415 when of another type. */
  const acceptJsonBodies = () => {
    app.use('/v1', express.json({ limit: deps.bodyLimit ?? '1mb' }), jsonDepthGuard());
    app.use('/v1', (req, _res, next) => {
      if (['POST', 'PUT', 'PATCH'].includes(req.method) && !req.is('application/json')) {
        next(new ApiError('unsupported_media_type', 'request body must be application/json'));
        return;
      }
      next();
    });
  };

  const services = deps.services;
  // Without services there is no caller to check first (and no /v1 route: only the error shapes).
  if (!services) acceptJsonBodies();
  if (services) {
    const metrics = createApiMetrics({ client: services.client, pool: services.pool, gateNames: () => gateNamesOf(services.policies) });
    const refusalLog = createRefusalLog({ pool: services.pool, log: deps.log, ...(services.auditSealer ? { sealer: services.auditSealer } : {}) });

    app.use((req, res, next) => {
      const started = process.hrtime.bigint();
      res.on('finish', () => {
        const route = req.route ? `${req.baseUrl}${(req.route as { path: string }).path}` : req.baseUrl || 'unmatched';
        metrics.observeRequest(req.method, route, res.statusCode, Number(process.hrtime.bigint() - started) / 1e9);
      });
      next();
    });
    app.use(documentAndMetricsRoutes(openApi, metrics));

    const rateLimits = services.rateLimits ?? DEFAULT_RATE_LIMITS;
    // Deployers' completion reports: signed over the raw body, no bearer token (before both).
    app.use('/v1/promotions/:id/deployment', refusedReportLimiter(rateLimits));
    app.use('/v1/promotions', deploymentReportRoutes(services));
    // MLflow's webhooks: signed over the raw body with MLflow's scheme, no bearer token.
    if (services.mlflowIntake) {
      app.use('/v1/mlflow/webhooks', refusedReportLimiter(rateLimits));
      app.use('/v1/mlflow', mlflowWebhookRoutes({ ...services, intake: services.mlflowIntake }));
    }
    // The caller is known before the body is read, so that invalid input is logged with its actor.
    app.use('/v1', refusedTokenLimiter(rateLimits), requireActor(services.authenticator, refusalLog.tokenRefused));
    acceptJsonBodies();
    app.use('/v1/promotions', promotionRoutes({ ...services, metrics }));
    app.use('/v1/promotions', promotionMessageRoutes(services));
    app.use('/v1/promotions', evidenceRoutes(services));
    app.use('/v1/models', modelRoutes(services.pool, undefined, services.auditSealer));
    app.use('/v1/models', environmentRoutes(services));
    app.use('/v1/policies', policyRoutes(services));
    app.use('/v1/governance', governanceRoutes(services));
    app.use('/v1', reviewerRoutes(services));
    app.use(dashboardRoutes(services.dashboard));

    app.use('/v1', refusalLog.middleware);
  }

  app.use(notFoundHandler);
  app.use(errorHandler((err) => deps.log.error({ err }, 'unexpected error in request')));
  return app;
}
