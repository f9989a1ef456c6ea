import { createServer, type Server, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';
import { type ApiErrorCode, errorBody } from './errors';

/**
 * Largest request head (request line and headers) accepted: 64 KiB, so that every query the API
 * documents fits (a `pageToken` of 10,000 characters, percent-encoded, plus a bearer token);
 * Node's default is 16 KiB. A larger head is refused with 431.
 */
export const MAX_REQUEST_HEAD_BYTES = 64 * 1024;

/**
 * Listens with the API app on `host:port`. Requests that Node's HTTP parser refuses before
 * express sees them (a head over {@link MAX_REQUEST_HEAD_BYTES}, a malformed request line) are
 * answered in the API's JSON error shape instead of an empty response.
 */
export function listenHttp(app: Express, port: number, host: string): Promise<Server> {
  const server = createServer({ maxHeaderSize: MAX_REQUEST_HEAD_BYTES }, app);
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => answerClientError(err, socket));
  return new Promise<Server>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, code, message]: [number, ApiErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'request_header_fields_too_large', `the request line and headers are larger than ${MAX_REQUEST_HEAD_BYTES} bytes`]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'the request was not received in time']
        : [400, 'invalid_input', 'malformed HTTP request'];
  const body = JSON.stringify(errorBody(code, message));
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
