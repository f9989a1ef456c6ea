// Guards that refuse hostile or mistaken requests before any route sees them: methods a path
// does not have, and JSON bodies nested deeper than any real request.
import type { RequestHandler } from 'express';
import { ApiError } from './errors';

/** The part of an OpenAPI document the method guard reads: paths and their operations. */
interface OpenApiPaths {
  paths?: { [path: string]: object | undefined };
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * Answers 405 with an `Allow` header when the path is one of the document's paths but the
 * method is not one of its operations (`PUT /v1/models/x`, `TRACE /healthz`), and answers
 * `OPTIONS` with 204 and the same header. Paths the document does not name pass through
 * (and end as 404). `HEAD` is allowed wherever `GET` is.
 */
export function methodGuard(document: OpenApiPaths): RequestHandler {
  const routes = Object.entries(document.paths ?? {}).map(([template, item]) => {
    const methods = HTTP_METHODS.filter((m) => item !== undefined && (item as Record<string, unknown>)[m] !== undefined).map((m) => m.toUpperCase());
    if (methods.includes('GET') && !methods.includes('HEAD')) methods.push('HEAD');
    const pattern = template
      .split(/\{[^}]+\}/)
      .map((literal) => literal.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
      .join('[^/]+');
    return { pattern: new RegExp(`^${pattern}/?$`), methods };
  });
  return (req, res, next) => {
    const route = routes.find((r) => r.pattern.test(req.path));
    if (!route || route.methods.includes(req.method)) {
      next();
      return;
    }
    res.set('Allow', [...route.methods, 'OPTIONS'].join(', '));
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next(new ApiError('method_not_allowed', `${req.method} is not allowed on ${req.path}; allowed: ${route.methods.join(', ')}`));
  };
}

/** Deepest nesting of objects and arrays a JSON body may have (a manifest needs about 5). */
export const MAX_JSON_DEPTH = 32;

/**
 * Refuses (400) a parsed JSON body nested deeper than `maxDepth` levels, naming where. Such a
 * body cannot be a valid request, and a very deep one would overflow the stack of the code that
 * serializes it later. Walks the body without recursion.
 */
export function jsonDepthGuard(maxDepth = MAX_JSON_DEPTH): RequestHandler {
  return (req, _res, next) => {
    const tooDeep = pathDeeperThan(req.body, maxDepth);
    if (tooDeep === undefined) {
      next();
      return;
    }
    const path = tooDeep.length === 0 ? '(root)' : tooDeep.slice(0, 8).join('.') + (tooDeep.length > 8 ? '.…' : '');
    const message = `request body nests objects or arrays deeper than ${maxDepth} levels`;
    next(new ApiError('invalid_input', `${message} (at ${path})`, { problems: [{ path, message }] }));
  };
}

/** The path of the first value nested deeper than `maxDepth`, or undefined when there is none. */
function pathDeeperThan(value: unknown, maxDepth: number): string[] | undefined {
  const stack: Array<{ value: unknown; path: string[] }> = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: current, path } = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (path.length >= maxDepth) return path;
    for (const [key, child] of Object.entries(current)) {
      if (child !== null && typeof child === 'object') stack.push({ value: child, path: [...path, key] });
    }
  }
  return undefined;
}
