import { createServer, type Server } from 'node:http';

/** A local webhook receiver: fails the first `failures` requests with 500, then records them. */
export async function startNotificationReceiver(failures = 0): Promise<{ url: string; events: Array<Record<string, unknown>>; attempts: () => number; close: () => Promise<void> }> {
  const events: Array<Record<string, unknown>> = [];
  let attempts = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      attempts += 1;
      if (attempts <= failures) {
        res.writeHead(500).end();
        return;
      }
      events.push(JSON.parse(body));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}/hook`, events, attempts: () => attempts, close: () => new Promise((r) => server.close(() => r())) };
}
