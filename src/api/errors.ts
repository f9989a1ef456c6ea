import { isGrpcServiceError, NamespaceNotFoundError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { isConnectionError } from '../db/pool';
import { domainAnswerOf } from './domain-errors';

/** Machine-readable error codes of the HTTP API, with their status codes (docs/api.md#errors). */
export const ApiErrorStatus = {
  invalid_input: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  refused_by_policy: 422,
  too_many_requests: 429,
  request_header_fields_too_large: 431,
  internal: 500,
  not_ready: 503,
} as const;

/** The API's error codes, in the order of their status codes. */
export const API_ERROR_CODES = Object.keys(ApiErrorStatus) as [ApiErrorCode, ...ApiErrorCode[]];

/** One of the API's error codes. */
export type ApiErrorCode = keyof typeof ApiErrorStatus;

/** An error the API answers with `{ error: { code, message, details? } }`. */
export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }

  /** HTTP status of this error. */
  get status(): number {
    return ApiErrorStatus[this.code];
  }
}

/** Body of every error response. */
export function errorBody(code: ApiErrorCode, message: string, details?: unknown) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/** Answers 404 for any route the app does not have. */
export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json(errorBody('not_found', `no route for ${req.method} ${req.path}`));
};

/**
 * The API error an error answers with: itself when it is an {@link ApiError}, the matching one
 * for a domain error (src/api/domain-errors.ts: conflicts, refused Updates, unknown workflows)
 * and for the JSON body parser's errors (malformed JSON, too large, unsupported charset), else
 * `undefined` (an unexpected error).
 */
export function asApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  const domain = domainAnswerOf(err);
  if (domain) return new ApiError(domain.code, domain.message, domain.details);
  const e = err as { type?: string; status?: number; expose?: boolean; message?: string; limit?: number } | undefined;
  switch (e?.type) {
    case 'entity.parse.failed':
      return new ApiError('invalid_input', `request body is not valid JSON: ${e.message}`);
    case 'entity.too.large':
      return new ApiError('payload_too_large', `request body is larger than the limit of ${e.limit ?? '?'} bytes`);
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new ApiError('unsupported_media_type', e.message ?? 'unsupported encoding');
  }
  const unavailable = unavailableService(err);
  if (unavailable) return new ApiError('not_ready', `${unavailable} is unavailable or overloaded; retry shortly (nothing was changed by this request unless its answer says so)`);
  // The router marks a path parameter it cannot decode with status 400.
  if (err instanceof URIError && e?.status === 400) {
    return new ApiError('invalid_input', `the path is not valid percent-encoding (${err.message})`);
  }
  // Any other client error express raises (http-errors: a 4xx status, safe to show).
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true) {
    const code = (Object.entries(ApiErrorStatus).find(([, status]) => status === e.status)?.[0] ?? 'invalid_input') as ApiErrorCode;
    return new ApiError(code, e.message ?? 'bad request');
  }
  return undefined;
}

/** gRPC codes with which Temporal says "not now" rather than "never". */
const TEMPORAL_TRANSIENT_CODES: ReadonlySet<number> = new Set([
  4, // DEADLINE_EXCEEDED
  8, // RESOURCE_EXHAUSTED
  14, // UNAVAILABLE
]);

/**
 * Which service a request failed on because it could not be reached or was overloaded for a
 * moment — `Temporal` or `PostgreSQL` — looking through the error's causes; else `undefined`.
 * Temporal not knowing the API's namespace counts as unavailable: a Temporal server that has just
 * restarted answers so until it has loaded its namespaces (a namespace that really is missing
 * shows in `/readyz`, which asks Temporal for it).
 */
export function unavailableService(err: unknown): 'Temporal' | 'PostgreSQL' | undefined {
  for (const e of causesOf(err)) {
    if (isGrpcServiceError(e) && TEMPORAL_TRANSIENT_CODES.has(e.code)) return 'Temporal';
    if (e instanceof NamespaceNotFoundError) return 'Temporal';
    if (isGrpcServiceError(e) && e.code === 5 /* NOT_FOUND */ && /^namespace\b.*\bnot found/i.test(e.details)) return 'Temporal';
    if (isConnectionError(e)) return 'PostgreSQL';
  }
  return undefined;
}

/**
 * True when no worker answered a query or Update of a workflow: the call ended at its deadline;
 * Temporal cancelled it (a worker that had just stopped was handed it); or Temporal cut it short
 * because no worker has polled the workflow's task queue lately (`FAILED_PRECONDITION` "no poller
 * seen for task queue recently", answered a second before the deadline once the queue has had no
 * poller for `matching.queryPollerUnavailableWindow`, 20 s by default). The API never cancels
 * its own calls, so a cancellation is Temporal's.
 */
export function isNoWorkerAnswer(err: unknown): boolean {
  if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
  for (const e of causesOf(err)) {
    if (!isGrpcServiceError(e)) continue;
    if (e.code === 1 /* CANCELLED */ || e.code === 4 /* DEADLINE_EXCEEDED */) return true;
    if (e.code === 9 /* FAILED_PRECONDITION */ && /no poller seen/i.test(e.details)) return true;
  }
  return false;
}

/**
 * True when Temporal refused a query or Update because the workflow's last workflow task failed
 * and is being retried (a worker died or lost its database mid-task): the workflow has not
 * answered yet, and will once a task succeeds.
 */
export function isWorkflowTaskRetrying(err: unknown): boolean {
  for (const e of causesOf(err)) {
    if (isGrpcServiceError(e) && e.code === 9 /* FAILED_PRECONDITION */ && /workflow task in failed state/i.test(e.details)) return true;
  }
  return false;
}

/** An error and its causes, outermost first (at most 8: a cause chain can be cyclic). */
function* causesOf(err: unknown): Generator<unknown> {
  for (let e: unknown = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) yield e;
}

/** Seconds a client is asked to wait (`Retry-After`) when a service is unavailable. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

/**
 * Maps every error to the JSON error shape. Unknown errors become a 500 whose
 * message says nothing of the internals; they are reported to `onUnexpected`.
 */
export function errorHandler(onUnexpected: (err: unknown) => void): ErrorRequestHandler {
  return (err: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const apiError = asApiError(err);
    if (apiError) {
      if (apiError.code === 'not_ready') res.set('Retry-After', String(UNAVAILABLE_RETRY_AFTER_SECONDS));
      res.status(apiError.status).json(errorBody(apiError.code, apiError.message, apiError.details));
      return;
    }
    onUnexpected(err);
    res.status(500).json(errorBody('internal', 'internal error; the incident was logged'));
  };
}

