// The routes for operators and clients outside `/v1`: liveness, readiness, metrics and the
// OpenAPI document itself.
import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { Router } from 'express';
import { z } from 'zod';
import type { ApiMetrics } from './metrics';
import { json } from './openapi-parts';
import { type ReadinessProbe, runProbes } from './readiness';
import { HealthSchema, ReadinessSchema } from './schemas';

/** `GET /healthz` (the process is up and serving HTTP) and `GET /readyz` (every dependency answers; names the ones that do not). */
export function probeRoutes(probes: ReadonlyArray<ReadinessProbe>, timeoutMs: number): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    const results = await runProbes(probes, timeoutMs);
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
  return router;
}

/** `GET /openapi.json` (the document) and `GET /metrics` (Prometheus). */
export function documentAndMetricsRoutes(openApi: unknown, metrics: ApiMetrics): Router {
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.json(openApi);
  });
  router.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}

/** Registers the operational routes in the OpenAPI document. */
export function registerOperationalPaths(registry: OpenAPIRegistry): void {
  registry.registerPath({ method: 'get', path: '/healthz', summary: 'Liveness', responses: { 200: { description: 'the process serves', content: json(HealthSchema) } } });
  registry.registerPath({
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: Temporal and PostgreSQL answer',
    responses: {
      200: { description: 'ready', content: json(ReadinessSchema) },
      503: { description: 'a dependency does not answer; `checks` names it', content: json(ReadinessSchema) },
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics',
    responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
  });
  registry.registerPath({
    method: 'get',
    path: '/openapi.json',
    summary: 'This document',
    responses: { 200: { description: 'the OpenAPI 3.1 document', content: json(z.record(z.string(), z.unknown())) } },
  });
}
