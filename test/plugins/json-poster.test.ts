// The HTTP ingress's poster (response hooks, federation) against a real HTTP
// server: the reply body comes back whole, a reply over maxReplyBytes fails
// the delivery with a clear error, and the trace context is sent on.
import assert from 'node:assert/strict';
import { JsonPoster } from '../../plugins/http-ingress/http-client.js';
import { captureLogger } from '../support/runtime.js';
import { hookServer, type HookServer } from '../support/http.js';

describe('JsonPoster (undici dispatch, bounded reply)', () => {
  let server: HookServer;
  let reply = '';
  const poster = new JsonPoster();
  const { logger } = captureLogger('silent');
  const options = (maxReplyBytes: number) => ({ timeoutMs: 2000, maxReplyBytes, retry: { retries: 0, delayMs: 1, factor: 2, maxDelayMs: 1 }, log: logger, requestId: 'r1', trace: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } });

  before(async () => { server = await hookServer(() => ({ body: reply })); });
  after(async () => { await poster.close(); await server.close(); });

  it('returns the status and the whole reply body, and sends the JSON and the traceparent', async () => {
    reply = JSON.stringify({ error: '', id: 'r1', result: 'x'.repeat(100_000) });
    const answer = await poster.post(new URL(server.url('/hook')), '{"id":"r1"}', options(1_000_000));
    assert.equal(answer.status, 200);
    assert.equal(answer.body, reply);
    const received = server.received.at(-1)!;
    assert.equal(received.body, '{"id":"r1"}');
    assert.equal(received.headers['content-type'], 'application/json');
    assert.equal(received.headers.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  });

  it('a reply larger than maxReplyBytes fails with ERR_DELIVERY', async () => {
    reply = 'y'.repeat(50_000);
    await assert.rejects(poster.post(new URL(server.url('/hook')), '{}', options(1024)), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_DELIVERY');
      assert.match(err.message, /larger than 1024 bytes/);
      return true;
    });
    // The pool goes on serving.
    reply = 'ok';
    assert.equal((await poster.post(new URL(server.url('/hook')), '{}', options(1024))).body, 'ok');
  });
});
