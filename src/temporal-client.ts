import { Client, type ClientInterceptors, Connection } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import type { Config } from './config';
import type { Tracing } from './tracing';
import { ClientCredentialsTokenSource, type TemporalTlsOption, loadTemporalTls } from './temporal-credentials';

/** How one process connects to Temporal: the `tls` option and the first bearer token, renewed in the background. */
export interface TemporalConnectionCredentials {
  tls?: TemporalTlsOption;
  /** Gives the current token; renewals reach the listeners of `tokens.onToken`. */
  tokens?: ClientCredentialsTokenSource;
}

/**
 * Reads the configured TLS files and gets the first Temporal token (throws naming the variable or
 * the token endpoint's answer). `onError` hears renewals that failed (retried while the token is valid).
 */
export async function temporalConnectionCredentials(config: Config, onError?: (message: string) => void): Promise<TemporalConnectionCredentials> {
  const { tls, token } = config.temporal;
  const credentials: TemporalConnectionCredentials = {};
  if (tls) credentials.tls = await loadTemporalTls(tls);
  if (token) {
    const tokens = new ClientCredentialsTokenSource(token, onError ? { onError } : {});
    await tokens.start();
    credentials.tokens = tokens;
  }
  return credentials;
}

/**
 * The client interceptors of a traced process: each workflow start, Update, Signal and query is a
 * span, and its trace context travels to the workflow in the call's headers. None when tracing is off.
 */
export function tracingClientInterceptors(tracing: Tracing | undefined): ClientInterceptors | undefined {
  return tracing ? { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } : undefined;
}

/**
 * Connects a Temporal client for the configured address and namespace, over mTLS and with a bearer
 * token renewed before it expires when they are configured (each call reads the current token);
 * traced when `tracing` is given.
 */
export async function connectTemporalClient(config: Config, onError?: (message: string) => void, tracing?: Tracing): Promise<Client> {
  const { tls, tokens } = await temporalConnectionCredentials(config, onError);
  const connection = await Connection.connect({
    address: config.temporal.address,
    ...(tls ? { tls } : {}),
    ...(tokens ? { apiKey: () => tokens.current() } : {}),
  });
  const interceptors = tracingClientInterceptors(tracing);
  return new Client({ connection, namespace: config.temporal.namespace, ...(interceptors ? { interceptors } : {}) });
}

/** Resolves when the Temporal frontend answers for the namespace within `timeoutMs`. */
export async function pingTemporal(client: Client, timeoutMs = 2_000): Promise<void> {
  await client.connection.withDeadline(Date.now() + timeoutMs, () =>
    client.workflowService.describeNamespace({ namespace: client.options.namespace }),
  );
}
