/**
 * Raised when a check cannot run because of a problem that retrying will not fix: a URI that
 * does not resolve to a readable file, a malformed evaluation file, a missing column. Checks turn
 * it into a result with status `error` whose summary is the message.
 */
export class CheckInputError extends Error {
  override readonly name = 'CheckInputError';
  constructor(
    message: string,
    /** What the problem is about: a URI, a column, a row. */
    readonly subject?: string,
  ) {
    super(message);
  }
}

/**
 * Raised when a check could not run because of a problem that may pass: an HTTP artifact that
 * timed out or answered 5xx, a dropped connection. Activities let it propagate so that Temporal
 * retries them; the CLI reports it as an `error` result.
 */
export class TransientCheckError extends Error {
  override readonly name = 'TransientCheckError';
  constructor(
    message: string,
    /** The URI being read when it happened. */
    readonly uri?: string,
  ) {
    super(message);
  }
}

/** Message of anything thrown, for summaries (never a stack trace). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
