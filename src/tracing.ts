import { type Context, type Link, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

/** What OTEL_TRACES_EXPORTER may name: `none` (the default: no tracing at all), `otlp` (OTLP over HTTP), `console`. */
export const TRACES_EXPORTERS = ['none', 'otlp', 'console'] as const;

/** One of {@link TRACES_EXPORTERS}. */
export type TracesExporter = (typeof TRACES_EXPORTERS)[number];

/** Where OTLP traces go when OTEL_EXPORTER_OTLP_ENDPOINT is unset (the collector's standard HTTP port). */
export const DEFAULT_OTLP_ENDPOINT = 'http://localhost:4318';

/** The tracing part of the configuration (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME). */
export interface TracingSettings {
  exporter: TracesExporter;
  /** Base URL of the OTLP/HTTP collector; traces are sent to `<endpoint>/v1/traces`. */
  otlpEndpoint: string;
  /** The `service.name` of the spans (unset: the process's default, e.g. `modelgate-api`). */
  serviceName?: string;
}

/** The name under which spans are made in Modelgate's own code (the Temporal interceptors use their own). */
export const TRACER_NAME = 'modelgate';

/**
 * The tracing of one process: its provider (registered as the global one, with W3C trace-context
 * propagation and an AsyncLocalStorage context manager), and the processor and resource the
 * worker's workflow-span sink (`makeWorkflowExporter`) exports through.
 */
export interface Tracing {
  readonly provider: NodeTracerProvider;
  readonly spanProcessor: SpanProcessor;
  readonly resource: Resource;
  /** Exports what is pending, then unregisters the global provider. */
  shutdown(): Promise<void>;
}

/**
 * Starts the tracing configured by `settings` and registers it globally, or returns undefined when
 * OTEL_TRACES_EXPORTER is `none`: then nothing is registered, every span is the API's no-op span,
 * and nothing is exported. `options.exporter` replaces the configured exporter (tests: an
 * in-memory one); it does not turn tracing on. The SDK's modules are loaded only when tracing is on.
 */
export async function startTracing(settings: TracingSettings, defaultServiceName: string, options: { exporter?: SpanExporter } = {}): Promise<Tracing | undefined> {
  if (settings.exporter === 'none') return undefined;
  const [{ BatchSpanProcessor }, { Resource }, { NodeTracerProvider }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-trace-node'),
  ]);
  const exporter = options.exporter ?? (await exporterOf(settings));
  const spanProcessor = new BatchSpanProcessor(exporter, { scheduledDelayMillis: 1_000, maxQueueSize: 4_096 });
  const resource = new Resource({ 'service.name': settings.serviceName ?? defaultServiceName });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return {
    provider,
    spanProcessor,
    resource,
    async shutdown() {
      try {
        await provider.shutdown();
      } finally {
        trace.disable();
        propagation.disable();
        context.disable();
      }
    },
  };
}

async function exporterOf(settings: TracingSettings): Promise<SpanExporter> {
  if (settings.exporter === 'console') return new (await import('@opentelemetry/sdk-trace-base')).ConsoleSpanExporter();
  const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
  return new OTLPTraceExporter({ url: `${settings.otlpEndpoint.replace(/\/+$/, '')}/v1/traces`, timeoutMillis: 10_000 });
}

/** Memo key under which a promotion keeps the W3C `traceparent` of its submission. */
export const TRACE_CONTEXT_MEMO = 'modelgate.traceparent';

/** A `traceparent` header (version 00): what a memo value must look like to be trusted. */
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

const w3c = new W3CTraceContextPropagator();

/**
 * The memo entry that keeps the active trace's context with a promotion, so that messages sent
 * to it later (decisions) join the submission's trace; empty when no span is active (tracing off).
 */
export function traceContextMemo(): Record<string, string> {
  const carrier: Record<string, string> = {};
  w3c.inject(context.active(), carrier, { set: (c, key, value) => void (c[key] = value) });
  const traceparent = carrier.traceparent;
  return traceparent && TRACEPARENT.test(traceparent) ? { [TRACE_CONTEXT_MEMO]: traceparent } : {};
}

/** The trace context kept in a promotion's memo, or undefined when there is none (or it is malformed: ignored). */
export function traceContextOfMemo(memo: Record<string, unknown> | undefined): Context | undefined {
  const traceparent = memo?.[TRACE_CONTEXT_MEMO];
  if (typeof traceparent !== 'string' || !TRACEPARENT.test(traceparent)) return undefined;
  const extracted = w3c.extract(context.active(), { traceparent }, { get: (c, key) => c[key], keys: (c) => Object.keys(c) });
  return trace.getSpanContext(extracted) ? extracted : undefined;
}

/** True while a recording span is active (tracing on, inside a traced request). */
export function insideRecordingSpan(): boolean {
  return trace.getSpan(context.active())?.isRecording() === true;
}

/**
 * Runs `fn` in a span named `name` whose parent is `parent` (a promotion's submission), linked to
 * the span that was active (the request that caused it). Without a parent, `fn` runs as it is.
 */
export async function inTraceOf<T>(parent: Context | undefined, name: string, fn: () => Promise<T>): Promise<T> {
  if (!parent) return fn();
  const caller = trace.getSpanContext(context.active());
  const links: Link[] = caller ? [{ context: caller }] : [];
  return trace.getTracer(TRACER_NAME).startActiveSpan(name, { kind: SpanKind.INTERNAL, links }, parent, async (span) => {
    try {
      return await fn();
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.name : 'failed' });
      throw err;
    } finally {
      span.end();
    }
  });
}
