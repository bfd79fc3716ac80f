// The HTTP server's routes over real HTTP: a handler is called at once, and
// one that throws, rejects, or fails after it began answering costs that one
// request (500, or its connection), never the process or other requests.
import assert from 'node:assert/strict';
import http from 'node:http';
import { createCoordinator, definePlugin, httpServer } from '../../index.js';
import { captureLogger } from '../support/runtime.js';
import { post } from '../support/http.js';

const routes = definePlugin<Record<string, never>>({
  name: 'routes',
  dependencies: ['http-server'],
  apply(api) {
    const server = api.service('http.server');
    server.route('POST', '/throws', () => {
      throw new Error('thrown at once');
    }, api.name);
    server.route('POST', '/rejects', async () => {
      await Promise.resolve();
      throw new Error('rejected later');
    }, api.name);
    server.route('POST', '/half', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      await new Promise((resolve) => setTimeout(resolve, 10));
      throw new Error('failed after the headers');
    }, api.name);
    server.route('POST', '/ok', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('fine');
    }, api.name);
  },
});

/** A POST whose connection may be cut: resolves with what arrived and whether the body ended. */
function postRaw(url: string): Promise<{ status: number; body: string; complete: boolean }> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'POST' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, complete: true }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body, complete: false }));
      res.on('close', () => resolve({ status: res.statusCode ?? 0, body, complete: res.complete }));
    });
    req.on('error', () => resolve({ status: 0, body: '', complete: false }));
    req.end('{}');
  });
}

describe('http-server: route handlers', function () {
  this.timeout(20_000);

  it('answers 500 to a handler that throws or rejects, cuts one that fails mid-answer, logs each, and keeps serving', async () => {
    const { logger, captured } = captureLogger('error');
    const runtime = createCoordinator({ plugins: [httpServer({ port: 0 }), routes({})] }, { logger });
    await runtime.start();
    try {
      const base = runtime.service('http.server').baseUrl();
      for (const target of ['/throws', '/rejects']) {
        const answer = await post(`${base}${target}`, '{}');
        assert.equal(answer.status, 500, target);
        assert.equal(answer.body, 'Internal error.');
      }
      const half = await postRaw(`${base}/half`);
      assert.equal(half.status, 200);
      assert.equal(half.complete, false, 'a response that failed after its headers must not look complete');
      const ok = await post(`${base}/ok`, '{}');
      assert.equal(ok.status, 200);
      assert.equal(ok.body, 'fine');
      assert.equal(captured.find('HTTP handler failed').length, 3, captured.text());
    } finally {
      await runtime.stop();
    }
  });
});
