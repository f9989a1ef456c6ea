import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import express from 'express';
import request from 'supertest';
import { requestSpans } from '../../src/api/request-spans';
import { ConfigError, loadConfig } from '../../src/config';
import { TRACE_CONTEXT_MEMO, startTracing, traceContextMemo, traceContextOfMemo } from '../../src/tracing';

const valid = { DATABASE_URL: 'postgres://u@localhost:5432/db' };

const problemsOf = (env: Record<string, string>): Array<{ variable: string; reason: string }> => {
  try {
    loadConfig({ ...valid, ...env });
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
};

describe('tracing settings', () => {
  it('traces are off by default, with the standard OTLP endpoint and no service name of its own', () => {
    expect(loadConfig(valid).tracing).toEqual({ exporter: 'none', otlpEndpoint: 'http://localhost:4318' });
  });

  it('reads the exporter, the OTLP endpoint and the service name', () => {
    const config = loadConfig({ ...valid, OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector:4318', OTEL_SERVICE_NAME: 'gate-api' });
    expect(config.tracing).toEqual({ exporter: 'otlp', otlpEndpoint: 'https://collector:4318', serviceName: 'gate-api' });
  });

  it.each([
    ['OTEL_TRACES_EXPORTER', 'jaeger', 'must be one of none, otlp, console'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'ftp://collector:21', 'must be an http(s) URL'],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318', 'must be an http(s) URL'],
    ['OTEL_SERVICE_NAME', 'api; rm -rf', 'must be letters, digits'],
  ])('when %s is %p, then it is refused, named, with the reason', (variable, value, reason) => {
    const problems = problemsOf({ [variable]: value });
    expect(problems).toEqual([{ variable, reason: expect.stringContaining(reason) }]);
    // The refused value is not echoed back.
    expect(JSON.stringify(problems)).not.toContain(value);
  });
});

describe('startTracing', () => {
  it('with OTEL_TRACES_EXPORTER=none, registers nothing and exports nothing', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await startTracing(loadConfig(valid).tracing, 'modelgate-test', { exporter });
    expect(tracing).toBeUndefined();
    const span = trace.getTracer('test').startSpan('anything');
    expect(span.isRecording()).toBe(false);
    span.end();
    // No span is active, so a promotion keeps no trace context either.
    expect(traceContextMemo()).toEqual({});
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it('when on, exports the spans with the service name, and a promotion keeps the active trace context', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await startTracing(loadConfig({ ...valid, OTEL_TRACES_EXPORTER: 'console' }).tracing, 'modelgate-test', { exporter });
    try {
      expect(tracing).toBeDefined();
      const memo = trace.getTracer('test').startActiveSpan('submit', (span) => {
        const kept = traceContextMemo();
        span.end();
        return kept;
      });
      expect(memo[TRACE_CONTEXT_MEMO]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      await tracing!.spanProcessor.forceFlush();
      const [span] = exporter.getFinishedSpans();
      expect(span?.name).toBe('submit');
      expect(span?.resource.attributes['service.name']).toBe('modelgate-test');
      expect(trace.getSpanContext(traceContextOfMemo(memo)!)?.traceId).toBe(span?.spanContext().traceId);
    } finally {
      await tracing?.shutdown();
    }
  });

  it.each([[undefined], [{}], [{ [TRACE_CONTEXT_MEMO]: 42 }], [{ [TRACE_CONTEXT_MEMO]: 'not a traceparent' }], [{ [TRACE_CONTEXT_MEMO]: `00-${'0'.repeat(32)}-${'1'.repeat(16)}-01` }], [{ [TRACE_CONTEXT_MEMO]: 'x'.repeat(100_000) }]])(
    'a memo without a valid trace context (%#) gives none',
    (memo) => {
      expect(traceContextOfMemo(memo as Record<string, unknown> | undefined)).toBeUndefined();
    },
  );
});

describe('request span names', () => {
  it('are route templates, never paths: a request a middleware answered is unmatched, and case variants name one route', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = await startTracing(loadConfig({ ...valid, OTEL_TRACES_EXPORTER: 'console' }).tracing, 'modelgate-test', { exporter });
    try {
      const app = express();
      app.use(requestSpans());
      // As the API mounts its rate limiter for deployers' reports: a middleware on a path with a parameter.
      app.use('/v1/promotions/:id/deployment', (_req, res) => void res.status(429).end());
      const promotions = express.Router();
      promotions.post('/:id/decisions', (_req, res) => void res.status(201).end());
      app.use('/v1/promotions', promotions);
      await request(app).post('/v1/promotions/<caller-input>/deployment').expect(429);
      await request(app).post('/V1/Promotions/caller-input/decisions').expect(201);
      await request(app).get('/caller-input').expect(404);
      await tracing!.spanProcessor.forceFlush();
      const names = exporter.getFinishedSpans().map((s) => s.name);
      expect(names).toEqual(['POST unmatched', 'POST /v1/promotions/:id/decisions', 'GET unmatched']);
    } finally {
      await tracing?.shutdown();
    }
  });
});
