import express, { type Express } from 'express';
import type { Logger } from '../logger';
import { ApiError, errorHandler, notFoundHandler } from './errors';
import { type ReadinessProbe, runProbes } from './readiness';

/** What the API is built from; tests pass their own. */
export interface AppDeps {
  log: Logger;
  /** Dependencies `/readyz` checks (Temporal, PostgreSQL). */
  readinessProbes: ReadonlyArray<ReadinessProbe>;
  /** How long one readiness probe may take. Default 2000 ms. */
  readinessTimeoutMs?: number;
  /** Largest accepted JSON body. Default `1mb`. */
  bodyLimit?: string;
}

/** Builds the Modelgate HTTP app without listening, so tests drive it directly. */
export function buildApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  /** Liveness: the process is up and serving HTTP. */
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  /** Readiness: every dependency answers; names the ones that do not. */
  app.get('/readyz', async (_req, res) => {
    const results = await runProbes(deps.readinessProbes, deps.readinessTimeoutMs ?? 2_000);
    const failing = results.filter((r) => !r.ok);
    const checks = Object.fromEntries(results.map((r) => [r.name, r.ok ? 'ok' : `unreachable: ${r.error}`]));
    if (failing.length === 0) {
      res.json({ status: 'ready', checks });
      return;
    }
    res.status(503).json({
      status: 'not ready',
      checks,
      error: {
        code: 'not_ready',
        message: `not ready: ${failing.map((r) => r.name).join(', ')} unreachable`,
      },
    });
  });

  app.use('/v1', express.json({ limit: deps.bodyLimit ?? '1mb' }));
  app.use('/v1', (req, _res, next) => {
    if (['POST', 'PUT', 'PATCH'].includes(req.method) && !req.is('application/json')) {
      next(new ApiError('unsupported_media_type', 'request body must be application/json'));
      return;
    }
    next();
  });

  app.use(notFoundHandler);
  app.use(errorHandler((err) => deps.log.error({ err }, 'unexpected error in request')));
  return app;
}
