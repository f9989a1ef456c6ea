import type { ErrorRequestHandler, RequestHandler } from 'express';

/** Machine-readable error codes of the HTTP API, with their status codes (DESIGN.md §7). */
export const ApiErrorStatus = {
  invalid_input: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  refused_by_policy: 422,
  internal: 500,
  not_ready: 503,
} as const;

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
    const bodyParserError = err as { type?: string; status?: number; message?: string };
    switch (bodyParserError.type) {
      case 'entity.parse.failed':
        res.status(400).json(errorBody('invalid_input', `request body is not valid JSON: ${bodyParserError.message}`));
        return;
      case 'entity.too.large':
        res.status(413).json(errorBody('payload_too_large', 'request body is larger than the limit'));
        return;
      case 'encoding.unsupported':
      case 'charset.unsupported':
        res.status(415).json(errorBody('unsupported_media_type', bodyParserError.message ?? 'unsupported encoding'));
        return;
    }
    onUnexpected(err);
    res.status(500).json(errorBody('internal', 'internal error; the incident was logged'));
  };
}
