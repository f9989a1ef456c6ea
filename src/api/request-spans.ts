import { SpanKind, SpanStatusCode, context, trace } from '@opentelemetry/api';
import type { Request, RequestHandler } from 'express';
import { TRACER_NAME } from '../tracing';

/**
 * The route template a request matched (`/v1/promotions/:id/decisions`), never its path: paths
 * carry callers' input. A request a middleware answered (a refusal, a rate limit) has no route:
 * `unmatched`, since its `baseUrl` is the path itself. Routers are mounted at constant paths, which
 * routing matches in any case: the mount is lowercased, and anything else is `unmatched` too.
 */
function routeOf(req: Request): string {
  if (!req.route) return 'unmatched';
  const mount = req.baseUrl.toLowerCase();
  if (!/^(\/[a-z0-9-]+)*$/.test(mount)) return 'unmatched';
  const route = `${mount}${(req.route as { path: string }).path}`;
  return route.length > 1 ? route.replace(/\/$/, '') : route;
}

/**
 * One server span per request, named `<METHOD> <route template>` once the route is known (e.g.
 * `POST /v1/promotions`), active while the request is handled, so that the Temporal calls it makes
 * (the workflow start, Updates) are its children. Only installed when tracing is on.
 */
export function requestSpans(): RequestHandler {
  return (req, res, next) => {
    const span = trace.getTracer(TRACER_NAME).startSpan(req.method, {
      kind: SpanKind.SERVER,
      attributes: { 'http.request.method': req.method },
    });
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      const route = routeOf(req);
      span.updateName(`${req.method} ${route}`);
      span.setAttributes({ 'http.route': route, 'http.response.status_code': res.statusCode });
      if (res.statusCode >= 500 || !res.writableFinished) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    const active = trace.setSpan(context.active(), span);
    // The body arrives in events of the request stream: bound, its parsers run in the request's span too.
    context.bind(active, req);
    context.with(active, next);
  };
}
