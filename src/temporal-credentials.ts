// How Modelgate's processes prove who they are to Temporal: a client certificate (mTLS) and a
// bearer token from the identity provider (OAuth 2.0 client credentials), renewed before it
// expires. Temporal's frontend requires both (docs/security.md, "Temporal").
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/** TLS towards Temporal's frontend: the CA that signed its certificate, and this process's certificate. */
export interface TemporalTlsSettings {
  /** PEM file of the CA that signed the frontend's certificate (unset: the system's CAs). */
  serverCaFile?: string;
  /** PEM files of this process's client certificate and private key (both or neither). */
  clientCertFile?: string;
  clientKeyFile?: string;
  /** Name the frontend's certificate must carry, when it differs from the address's host. */
  serverName?: string;
}

/** Where and as whom this process asks the identity provider for its Temporal tokens. */
export interface TemporalTokenSettings {
  /** The provider's token endpoint (https, or http to a loopback address). */
  tokenUrl: string;
  clientId: string;
  /** File holding the client secret; read at every request, so a rotated secret is picked up. */
  clientSecretFile: string;
  /** Resource indicator (RFC 8707) naming Temporal, when the provider sets the audience from it. */
  resource?: string;
  /** Scopes to ask for, space-separated. */
  scope?: string;
}

/** The `tls` option of a Temporal connection (client or worker). */
export interface TemporalTlsOption {
  serverNameOverride?: string;
  serverRootCACertificate?: Buffer;
  clientCertPair?: { crt: Buffer; key: Buffer };
}

/** Largest PEM file read (a certificate chain or a key). */
const MAX_PEM_BYTES = 64 * 1024;
/** Largest client secret file read. */
const MAX_SECRET_BYTES = 4 * 1024;
/** Largest token endpoint answer read. */
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
/** How long one token request may take. */
const TOKEN_REQUEST_TIMEOUT_MS = 10_000;
/** Bounds on a token's lifetime as the provider states it (`expires_in`). */
const MIN_TOKEN_LIFETIME_S = 5;
const MAX_TOKEN_LIFETIME_S = 12 * 3600;

/** Reads a file of at most `max` bytes, naming the variable that pointed at it when it cannot. */
async function readBounded(file: string, max: number, variable: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new Error(`${variable}: cannot read the file it names (${code})`);
  }
  if (data.length === 0 || data.length > max) throw new Error(`${variable}: the file it names must hold 1 to ${max} bytes`);
  return data;
}

/** Reads the TLS files into the `tls` option of a Temporal connection. */
export async function loadTemporalTls(settings: TemporalTlsSettings): Promise<TemporalTlsOption> {
  const tls: TemporalTlsOption = {};
  if (settings.serverName) tls.serverNameOverride = settings.serverName;
  if (settings.serverCaFile) tls.serverRootCACertificate = await readBounded(settings.serverCaFile, MAX_PEM_BYTES, 'TEMPORAL_TLS_SERVER_CA_CERT_PATH');
  if (settings.clientCertFile && settings.clientKeyFile) {
    tls.clientCertPair = {
      crt: await readBounded(settings.clientCertFile, MAX_PEM_BYTES, 'TEMPORAL_TLS_CLIENT_CERT_PATH'),
      key: await readBounded(settings.clientKeyFile, MAX_PEM_BYTES, 'TEMPORAL_TLS_CLIENT_KEY_PATH'),
    };
  }
  return tls;
}

const TokenResponseSchema = z.object({
  access_token: z.string().min(1).max(16 * 1024).regex(/^[\x21-\x7e]+$/),
  token_type: z.string().regex(/^bearer$/i),
  expires_in: z.number().positive(),
});

/** A token and when to renew it. */
interface IssuedToken {
  token: string;
  /** When it expires (ms since epoch), as the provider said. */
  expiresAt: number;
}

/** What a {@link ClientCredentialsTokenSource} needs besides its settings (tests replace the clock). */
export interface TokenSourceOptions {
  /** Called when a renewal fails (it is retried until the current token expires). */
  onError?: (message: string) => void;
  now?: () => number;
}

/**
 * Temporal tokens of one confidential client of the identity provider (client credentials grant,
 * client_secret_basic). {@link start} gets the first one; it is then renewed in the background when
 * three quarters of its life have passed (retried with backoff while it is still valid), and
 * every listener of {@link onToken} hears the new one. Timers do not keep the process alive.
 */
export class ClientCredentialsTokenSource {
  private issued?: IssuedToken;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private readonly listeners = new Set<(token: string) => void | Promise<void>>();
  private readonly now: () => number;

  constructor(
    private readonly settings: TemporalTokenSettings,
    private readonly options: TokenSourceOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Gets the first token (throws a message naming the problem) and starts renewing it. */
  async start(): Promise<string> {
    this.issued = await this.request();
    this.schedule(this.renewDelay(this.issued));
    return this.issued.token;
  }

  /** The current token (call {@link start} first). */
  current(): string {
    if (!this.issued) throw new Error('the Temporal token source has not started');
    return this.issued.token;
  }

  /** Calls `listener` with every renewed token; returns a function that removes it. */
  onToken(listener: (token: string) => void | Promise<void>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops renewing. */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private renewDelay(issued: IssuedToken): number {
    return Math.max(1_000, (issued.expiresAt - this.now()) * 0.75);
  }

  private schedule(delayMs: number, nextBackoffMs = 1_000): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.renew(nextBackoffMs), delayMs);
    this.timer.unref();
  }

  private async renew(backoffMs: number): Promise<void> {
    try {
      const issued = await this.request();
      this.issued = issued;
      for (const listener of this.listeners) {
        await Promise.resolve(listener(issued.token)).catch((err: unknown) =>
          this.options.onError?.(`passing the renewed Temporal token on failed: ${err instanceof Error ? err.message : String(err)}`),
        );
      }
      this.schedule(this.renewDelay(issued));
    } catch (err) {
      const left = (this.issued?.expiresAt ?? 0) - this.now();
      this.options.onError?.(
        `renewing the Temporal token failed (${err instanceof Error ? err.message : String(err)}); ` +
          (left > 0 ? `the current one is valid for ${Math.round(left / 1000)} s more` : 'the current one has expired'),
      );
      this.schedule(backoffMs, Math.min(backoffMs * 2, 30_000));
    }
  }

  private async request(): Promise<IssuedToken> {
    const { tokenUrl, clientId, resource, scope } = this.settings;
    const secret = (await readBounded(this.settings.clientSecretFile, MAX_SECRET_BYTES, 'TEMPORAL_CLIENT_SECRET_FILE')).toString('utf8').trim();
    const body = new URLSearchParams({ grant_type: 'client_credentials' });
    if (resource) body.set('resource', resource);
    if (scope) body.set('scope', scope);
    const basic = Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64');
    const started = this.now();
    let response: Response;
    try {
      response = await fetch(tokenUrl, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(TOKEN_REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      const reason = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${TOKEN_REQUEST_TIMEOUT_MS / 1000} s` : 'it cannot be reached';
      throw new Error(`the token endpoint (TEMPORAL_TOKEN_URL) refused the request: ${reason}`);
    }
    const text = await readBody(response, MAX_TOKEN_RESPONSE_BYTES);
    if (!response.ok) {
      // Only the OAuth error code is repeated (a short identifier), never the body itself.
      let code = '';
      try {
        const error = (JSON.parse(text ?? '') as { error?: unknown }).error;
        if (typeof error === 'string' && /^[a-z_]{1,64}$/.test(error)) code = `: ${error}`;
      } catch {
        // not JSON: nothing to name
      }
      throw new Error(`the token endpoint (TEMPORAL_TOKEN_URL) answered ${response.status}${code}`);
    }
    let parsed: z.infer<typeof TokenResponseSchema>;
    try {
      parsed = TokenResponseSchema.parse(JSON.parse(text ?? ''));
    } catch {
      throw new Error('the token endpoint (TEMPORAL_TOKEN_URL) answered something that is not a bearer token with expires_in');
    }
    const lifetime = Math.min(MAX_TOKEN_LIFETIME_S, Math.max(MIN_TOKEN_LIFETIME_S, parsed.expires_in));
    return { token: parsed.access_token, expiresAt: started + lifetime * 1000 };
  }
}

/** The body of `response` as text, or undefined when it is larger than `max` bytes. */
async function readBody(response: Response, max: number): Promise<string | undefined> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
