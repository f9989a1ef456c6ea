import { Client, Connection } from '@temporalio/client';
import type { Config } from './config';

/** Connects a Temporal client for the configured address and namespace. */
export async function connectTemporalClient(config: Config): Promise<Client> {
  const connection = await Connection.connect({ address: config.temporal.address });
  return new Client({ connection, namespace: config.temporal.namespace });
}

/** Resolves when the Temporal frontend answers for the namespace within `timeoutMs`. */
export async function pingTemporal(client: Client, timeoutMs = 2_000): Promise<void> {
  await client.connection.withDeadline(Date.now() + timeoutMs, () =>
    client.workflowService.describeNamespace({ namespace: client.options.namespace }),
  );
}
