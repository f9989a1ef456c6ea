// A tiny round-robin TCP proxy for the scale-out benchmark: each new connection goes to the next
// backend in turn (HTTP keep-alive connections stay on the backend they were given).
import { connect, createServer, type Server, type Socket } from 'node:net';

/** A running round-robin proxy on 127.0.0.1. */
export interface RoundRobinProxy {
  /** The port it listens on. */
  port: number;
  /** Connections handed to each backend, in the order of `backends`. */
  connections: number[];
  /** Stops listening and closes every open connection. */
  close(): Promise<void>;
}

/** Listens on a free port of 127.0.0.1 and spreads connections over the backends' ports on 127.0.0.1. */
export async function startRoundRobinProxy(backends: readonly number[]): Promise<RoundRobinProxy> {
  if (backends.length === 0) throw new Error('a round-robin proxy needs at least one backend');
  const connections = backends.map(() => 0);
  const open = new Set<Socket>();
  let next = 0;
  const server: Server = createServer((client) => {
    const index = next;
    next = (next + 1) % backends.length;
    connections[index]! += 1;
    const upstream = connect(backends[index]!, '127.0.0.1');
    open.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
