// HTTP helpers for integration tests: a response-hook server that records
// what it receives, and a raw POST.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HookServer {
  port: number;
  url(path?: string): string;
  received: Received[];
  next(): Promise<Received>;
  close(): Promise<void>;
}

/** An HTTP server standing in for a client's response hook (answers ACK("","") like coordinator-cli). */
export interface Answer {
  status?: number;
  body: string;
  headers?: Record<string, string | string[]>;
  /** Wait this long before answering, ms. */
  delayMs?: number;
}

export async function hookServer(answer: (r: Received) => Answer = () => ({ body: '{"error":"","id":"","result":null,"streamURL":null}' })): Promise<HookServer> {
  const received: Received[] = [];
  const waiters: Array<(r: Received) => void> = [];
  let consumed = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() };
      received.push(r);
      const a = answer(r);
      const respond = () => {
        if (res.destroyed) return;
        res.writeHead(a.status ?? 200, { 'content-type': 'text/plain; charset=utf-8', ...(a.headers ?? {}) }).end(a.body);
      };
      if (a.delayMs) setTimeout(respond, a.delayMs); else respond();
      const w = waiters.shift();
      if (w) { consumed += 1; w(r); }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: (path = '/response') => `http://127.0.0.1:${port}${path}`,
    received,
    next: () => new Promise((resolve) => { if (consumed < received.length) resolve(received[consumed++]!); else waiters.push(resolve); }),
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

export interface PostResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A test request that gets no answer fails naming itself, before the test's own timeout. */
const ANSWER_TIMEOUT_MS = 15_000;

export function post(url: string, body: string | Buffer, headers: Record<string, string> = {}, method = 'POST'): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(ANSWER_TIMEOUT_MS, () => req.destroy(new Error(`${method} ${url}: no answer within ${ANSWER_TIMEOUT_MS} ms`)));
    req.end(body);
  });
}

export function get(url: string): Promise<PostResult> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    }).on('error', reject).setTimeout(ANSWER_TIMEOUT_MS, function (this: http.ClientRequest) { this.destroy(new Error(`GET ${url}: no answer within ${ANSWER_TIMEOUT_MS} ms`)); });
  });
}
