import type { ErrorRequestHandler, RequestHandler } from 'express';

/** Machine-readable error codes of the HTTP API, with their status codes (DESIGN.md §7). */
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
 * Maps every error to the JSON error shape. Unknown errors become a 500 whose
 * message says nothing of the internals; they are reported to `onUnexpected`.
 */
export function errorHandler(onUnexpected: (err: unknown) => void): ErrorRequestHandler {
  return (err: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (err instanceof ApiError) {
      res.status(err.status).json(errorBody(err.code, err.message, err.details));
      return;
    }
    const clientError = clientErrorOf(err);
    if (clientError) {
      res.status(clientError.status).json(errorBody(clientError.code, clientError.message));
      return;
    }
    onUnexpected(err);
    res.status(500).json(errorBody('internal', 'internal error; the incident was logged'));
  };
}

/**
 * The answer to an error that express or its body parser raised for a bad request (malformed
 * JSON, a body over the limit, an unsupported charset or encoding, a path that is not valid
 * percent-encoding, an aborted upload), or undefined when the error is not the client's.
 */
function clientErrorOf(err: unknown): { status: number; code: ApiErrorCode; message: string } | undefined {
  const e = err as { type?: string; status?: number; expose?: boolean; message?: string; limit?: number };
  switch (e.type) {
    case 'entity.parse.failed':
      return { status: 400, code: 'invalid_input', message: `request body is not valid JSON: ${e.message}` };
    case 'entity.too.large':
      return { status: 413, code: 'payload_too_large', message: `request body is larger than the limit of ${e.limit ?? '?'} bytes` };
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return { status: 415, code: 'unsupported_media_type', message: e.message ?? 'unsupported encoding' };
  }
  // The router marks a path parameter it cannot decode with status 400.
  if (err instanceof URIError && e.status === 400) {
    return { status: 400, code: 'invalid_input', message: `the path is not valid percent-encoding (${e.message})` };
  }
  // Any other client error express raises (http-errors: a 4xx status, safe to show).
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true) {
    const code = (Object.entries(ApiErrorStatus).find(([, status]) => status === e.status)?.[0] ?? 'invalid_input') as ApiErrorCode;
    return { status: ApiErrorStatus[code], code, message: e.message ?? 'bad request' };
  }
  return undefined;
}
