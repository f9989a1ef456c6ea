// The dashboard's HTTP client of the Modelgate API: bearer token, JSON, and the API's error shape.

/** An answer of the API that is not 2xx: its status, `error.code` and `error.message` (the reason). */
export class ApiRequestError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiRequestError';
  }
}

let onUnauthenticated: (error: ApiRequestError) => void = () => undefined;

/** Sets what happens when the API answers 401 to a signed-in request (the session ends). */
export function whenUnauthenticated(handler: (error: ApiRequestError) => void): void {
  onUnauthenticated = handler;
}

let renewToken: (refused: string) => Promise<string | undefined> = async () => undefined;

/** Sets how a refused token is renewed (a provider sign-in's refresh token): the request is then sent once more. */
export function whenTokenRefused(renew: (refused: string) => Promise<string | undefined>): void {
  renewToken = renew;
}

/** Sends one request; resolves with the JSON body, rejects with an {@link ApiRequestError}. */
export async function request<T>(path: string, options: { token?: string; method?: 'GET' | 'POST'; body?: unknown; renewed?: boolean } = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      cache: 'no-store',
    });
  } catch {
    throw new ApiRequestError(0, 'unreachable', 'the Modelgate API cannot be reached; retrying');
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const error = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    const failure = new ApiRequestError(
      response.status,
      error?.code ?? `http_${response.status}`,
      error?.message ?? `the API answered ${response.status} ${response.statusText}`,
      error?.details,
    );
    if (response.status === 401 && options.token && !options.renewed) {
      const renewed = await renewToken(options.token).catch((e: unknown) => (e instanceof ApiRequestError && e.status === 0 ? e : undefined));
      // The provider cannot be reached to renew it: the session stays (the page retries).
      if (renewed instanceof ApiRequestError) throw renewed;
      if (renewed) return request<T>(path, { ...options, token: renewed, renewed: true });
    }
    if (response.status === 401 && options.token) onUnauthenticated(failure);
    throw failure;
  }
  return body as T;
}

/** Path of a promotion's resource under `/v1/promotions`. */
export function promotionPath(promotionId: string, sub?: string): string {
  return `/v1/promotions/${encodeURIComponent(promotionId)}${sub ? `/${sub}` : ''}`;
}
