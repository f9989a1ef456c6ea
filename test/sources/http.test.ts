import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openHttpSource } from '../../src/sources/read';
import { SourceRefusal, SourceUnavailable, sourceRules } from '../../src/sources/rules';

let server: Server;
let port: number;
let hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    const to = url.searchParams.get('to');
    if (url.pathname === '/redirect' && to) {
      res.writeHead(302, { location: to }).end();
      return;
    }
    if (url.pathname === '/loop') {
      res.writeHead(302, { location: '/loop' }).end();
      return;
    }
    if (url.pathname === '/big') {
      res.writeHead(200, { 'content-length': '100000' }).end(Buffer.alloc(100_000));
      return;
    }
    if (url.pathname === '/chunked-big') {
      res.writeHead(200);
      for (let i = 0; i < 10; i++) res.write(Buffer.alloc(10_000));
      res.end();
      return;
    }
    if (url.pathname === '/slow') {
      res.writeHead(200);
      res.write('a');
      return; // never ends
    }
    if (url.pathname === '/slow-headers') {
      // One header line every 100 ms: never idle, never done.
      const socket = res.socket!;
      socket.write('HTTP/1.1 200 OK\r\n');
      const timer = setInterval(() => (socket.destroyed ? clearInterval(timer) : socket.write('x-slow: 1\r\n')), 100);
      return;
    }
    if (url.pathname === '/unavailable') {
      res.writeHead(503).end();
      return;
    }
    if (url.pathname === '/missing') {
      res.writeHead(404).end('AUTH_JWT_SECRET=from-the-body');
      return;
    }
    res.writeHead(200).end('model-bytes');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  hits = [];
});

async function read(uri: string, hosts = '127.0.0.1', overrides = {}): Promise<string> {
  const stream = await openHttpSource(uri, sourceRules('', hosts, overrides), 'artifact.uri', { maxBytes: 50_000 });
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts).toString();
}

async function refusal(uri: string, hosts = '127.0.0.1', overrides = {}): Promise<string> {
  try {
    await read(uri, hosts, overrides);
    return 'allowed';
  } catch (err) {
    if (err instanceof SourceRefusal) return err.rule;
    if (err instanceof SourceUnavailable) return 'unavailable';
    throw err;
  }
}

describe('HTTP sources', () => {
  it('reads from a listed host', async () => {
    expect(await read(`http://127.0.0.1:${port}/model.pkl`)).toBe('model-bytes');
  });

  it('checks the address a listed name resolves to: loopback is refused unless its address is listed', async () => {
    expect(await refusal(`http://localhost:${port}/model.pkl`, 'localhost')).toBe('address-not-allowed');
    expect(hits).toEqual([]);
    expect(await refusal(`http://localhost:${port}/model.pkl`, 'localhost,127.0.0.1,::1')).toBe('allowed');
  });

  it('checks every redirect like the first URI: to an unlisted host, to loopback by name, to the metadata address', async () => {
    expect(await refusal(`http://127.0.0.1:${port}/redirect?to=${encodeURIComponent('http://169.254.169.254/latest/meta-data/')}`)).toBe('host-not-allowed');
    expect(await refusal(`http://127.0.0.1:${port}/redirect?to=${encodeURIComponent(`http://localhost:${port}/model.pkl`)}`)).toBe('host-not-allowed');
    expect(hits.filter((h) => h === '/model.pkl')).toEqual([]);
    expect(await read(`http://127.0.0.1:${port}/redirect?to=/model.pkl`)).toBe('model-bytes');
  });

  it('stops after the redirect limit', async () => {
    expect(await refusal(`http://127.0.0.1:${port}/loop`)).toBe('redirect');
    expect(hits.length).toBe(6);
  });

  it('bounds the body by its declared length and by what arrives', async () => {
    expect(await refusal(`http://127.0.0.1:${port}/big`)).toBe('too-large');
    expect(await refusal(`http://127.0.0.1:${port}/chunked-big`)).toBe('too-large');
  });

  it('gives up on a silent connection, and treats 5xx as passing and 4xx as final, echoing no body', async () => {
    expect(await refusal(`http://127.0.0.1:${port}/slow`, '127.0.0.1', { httpIdleTimeoutMs: 300 })).toBe('unavailable');
    expect(await refusal(`http://127.0.0.1:${port}/unavailable`)).toBe('unavailable');
    await expect(read(`http://127.0.0.1:${port}/missing`)).rejects.toThrow(/answered HTTP 404$/);
    await expect(read(`http://127.0.0.1:${port}/missing`)).rejects.not.toThrow(/from-the-body/);
  });

  it('bounds the whole download by one deadline, headers included', async () => {
    await expect(read(`http://127.0.0.1:${port}/slow-headers`, '127.0.0.1', { httpTotalTimeoutMs: 700, httpIdleTimeoutMs: 500 })).rejects.toThrow(/the download took longer than 700 ms/);
  });

  it('stops a download when the reader is cancelled', async () => {
    const controller = new AbortController();
    const stream = await openHttpSource(`http://127.0.0.1:${port}/slow`, sourceRules('', '127.0.0.1'), 'artifact.uri', { maxBytes: 50_000, signal: controller.signal });
    const reading = (async () => {
      for await (const chunk of stream) void chunk;
    })();
    controller.abort();
    await expect(reading).rejects.toThrow(/the download was cancelled/);
  });

  it('refuses a connection to an unlisted or metadata address before connecting', async () => {
    expect(await refusal('http://169.254.169.254/latest/meta-data/', '169.254.0.0/16')).toBe('address-not-allowed');
    expect(await refusal(`http://127.0.0.1:${port}/model.pkl`, 'example.com')).toBe('host-not-allowed');
  });
});
