// The CLI's client of the Modelgate HTTP API: server URL and token from flags or environment,
// API errors turned into exit codes that scripts can rely on.
import { SignInError, storedAccessToken } from './oidc-sign-in';

/** Exit codes of the commands that talk to the API. */
export const ApiExitCode = {
  ok: 0,
  /** The promotion ended without deployment, needs action, or the audit chain is broken. */
  failed: 1,
  /** Bad command line or invalid input (HTTP 400). */
  usage: 2,
  /** Not authenticated or not allowed (HTTP 401, 403). */
  denied: 3,
  /** No such promotion or model (HTTP 404). */
  notFound: 4,
  /** The promotion's state does not allow it (HTTP 409). */
  conflict: 5,
  /** Refused by the policy (HTTP 422). */
  refused: 6,
  /** The server could not be reached or failed (5xx). */
  unavailable: 7,
  /** `submit --wait` gave up before a decision. */
  timedOut: 8,
} as const;

/** Where the API is and who the caller is. */
export interface ApiTarget {
  server: string;
  token?: string;
}

/** Environment variable with the API's base URL. */
export const SERVER_ENV = 'MODELGATE_URL';
/** Environment variable with the bearer token. */
export const TOKEN_ENV = 'MODELGATE_TOKEN';

/** Resolves the server and token: flags first, then `MODELGATE_URL` / `MODELGATE_TOKEN`, then localhost. */
export function apiTarget(flags: { server?: string; token?: string }, env: NodeJS.ProcessEnv = process.env): ApiTarget {
  const server = (flags.server ?? env[SERVER_ENV] ?? 'http://localhost:8080').replace(/\/$/, '');
  const token = flags.token ?? env[TOKEN_ENV];
  return { server, ...(token ? { token } : {}) };
}

/** An API call that failed: the HTTP status (0 when unreachable) and the API's error body. */
export class ApiCallError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiCallError';
  }

  /** Exit code for this failure. */
  get exitCode(): number {
    if (this.status === 0 || this.status >= 500) return ApiExitCode.unavailable;
    if (this.status === 400 || this.status === 413 || this.status === 415) return ApiExitCode.usage;
    if (this.status === 401 || this.status === 403) return ApiExitCode.denied;
    if (this.status === 404) return ApiExitCode.notFound;
    if (this.status === 409) return ApiExitCode.conflict;
    if (this.status === 422) return ApiExitCode.refused;
    return ApiExitCode.failed;
  }
}

/**
 * Calls the API and returns the parsed JSON (or text, for JSONL; or the bytes, with `bytes`).
 *
 * @throws {ApiCallError} for an error answer or an unreachable server.
 */
export async function callApi<T = unknown>(
  target: ApiTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  options: { text?: boolean; bytes?: boolean; timeoutMs?: number; headers?: Record<string, string> } = {},
): Promise<T> {
  let res: Response;
  // Without --token or MODELGATE_TOKEN: the sign-in `modelgate login` kept for this server, if any.
  const token = target.token ?? (await storedAccessToken(target.server).catch((e: unknown) => {
    throw e instanceof SignInError ? new ApiCallError(e.message, 401, 'sign_in_expired') : e;
  }));
  try {
    res = await fetch(`${target.server}${path}`, {
      method,
      headers: {
        accept: 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...options.headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new ApiCallError(`cannot reach the Modelgate API at ${target.server}: ${cause} (set --server or ${SERVER_ENV})`, 0, 'unreachable');
  }
  const raw = new Uint8Array(await res.arrayBuffer());
  const text = new TextDecoder().decode(raw);
  if (!res.ok) {
    let error: { code?: string; message?: string; details?: unknown } = {};
    try {
      error = (JSON.parse(text) as { error?: typeof error }).error ?? {};
    } catch {
      // not the API's error shape (a proxy?): report the status
    }
    const hint = res.status === 401 && !token ? ` (run modelgate login, or pass --token or set ${TOKEN_ENV}; \`modelgate dev-token\` makes one locally)` : '';
    throw new ApiCallError(`${error.message ?? `HTTP ${res.status}`}${hint}`, res.status, error.code ?? `http_${res.status}`, error.details);
  }
  if (options.bytes) return raw as T;
  if (options.text) return text as T;
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Path of a promotion resource (ids contain `:`, so they are encoded). */
export const promotionApiPath = (id: string, sub?: string) => `/v1/promotions/${encodeURIComponent(id)}${sub ? `/${sub}` : ''}`;

/** Formats rows as an aligned text table with a header. */
export function table(headers: string[], rows: Array<Array<string | number | undefined>>): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === undefined ? '' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : (c ?? '').padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}
