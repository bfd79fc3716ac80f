import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createProvider, httpIngress, httpServer, replaceLocalhost, streamProxy, unixTransport, type RunningProvider, type HttpServerService, type StreamProxyService } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { makeRuntime, delay } from '../support/runtime.js';
import { tempSocketDir } from '../support/sockets.js';
import { ackText, rawPeer, rawSend, type RawPeer, goHttpUrl } from '../support/raw-acomm.js';
import { get, hookServer, post, type HookServer } from '../support/http.js';


function httpRequest(id: string, task: string, hook: string, args = 'null', extra = ''): string {
  return `{"id":"${id}","task":"${task}","taskURL":null,"responseHook":${hook},"streamURL":null,"args":${args}${extra}}`;
}

describe('localhost rewriting (the table of the original tests)', () => {
  const rows: Array<[string, string, string]> = [
    ['http://localhost/path', 'foobar', 'http://foobar/path'],
    ['http://localhost:8080/path', 'foobar', 'http://foobar:8080/path'],
    ['http://:8080/path', 'foobar', 'http://foobar:8080/path'],
    ['http://localhost/path', '::1', 'http://[::1]/path'],
    ['http://127.42.42.42:8080/path', 'foobar', 'http://foobar:8080/path'],
    ['http://[::1]:8080/path', '::2', 'http://[::2]:8080/path'],
    ['http://108.1.1.1:8080/path', 'foobar', 'http://108.1.1.1:8080/path'],
    ['http://localhost:8080/path', '::ffff:10.1.2.3', 'http://10.1.2.3:8080/path'],
    ['unix:///tmp/x.sock', 'foobar', 'unix:///tmp/x.sock'],
  ];
  for (const [input, peer, expected] of rows) {
    it(`${input} from ${peer} -> ${expected}`, async () => {
      const { readWireUrl } = await import('../../core/wire-url.js');
      assert.equal(replaceLocalhost(readWireUrl(input, 'u'), peer)!.href, new URL(expected).href);
    });
  }
});

describe('peer and URL hosts compared bare (the caller checks of hooks, /proxy answers and inbound streams)', () => {
  it('peerAddress unwraps IPv4-mapped IPv6 and leaves other addresses bare', async () => {
    const { peerAddress } = await import('../../plugins/shared/localhost.js');
    assert.equal(peerAddress('10.1.2.3'), '10.1.2.3');
    assert.equal(peerAddress('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(peerAddress('::FFFF:10.1.2.3'), '10.1.2.3');
    assert.equal(peerAddress('::1'), '::1');
    assert.equal(peerAddress('fe80::1'), 'fe80::1');
  });
  it('unbracketed gives the address a URL names, as peerAddress gives it', async () => {
    const { peerAddress, unbracketed } = await import('../../plugins/shared/localhost.js');
    assert.equal(unbracketed(new URL('http://[::1]:8080/x').hostname), '::1');
    assert.equal(unbracketed(new URL('http://10.1.2.3:8080/x').hostname), '10.1.2.3');
    assert.equal(unbracketed(new URL('http://example.com/x').hostname), 'example.com');
    assert.equal(unbracketed(new URL('http://[::ffff:10.1.2.3]/').hostname), '::ffff:a01:203');
    assert.equal(unbracketed(new URL('http://[::1]/').hostname), peerAddress('::1'));
  });
});

describe('HTTP ingress, HTTP hooks, stream proxy (real sockets and HTTP)', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => void;
  let runtime: Coordinator;
  let base: string;
  let hooks: HookServer;
  const peers: RawPeer[] = [];
  const providers: RunningProvider[] = [];

  async function start(ingressOptions: Record<string, unknown> = {}, config: Record<string, unknown> = {}, proxyOptions: Record<string, unknown> = {}): Promise<void> {
    runtime = makeRuntime({ socketDir: dir, serviceName: 'coord1', ...config }, [unixTransport(), httpServer({ port: 0 }), httpIngress(ingressOptions), streamProxy(proxyOptions)]);
    await runtime.start();
    base = runtime.service('http.server').baseUrl();
  }

  async function provider(tasks: Parameters<typeof createProvider>[0]['tasks']): Promise<RunningProvider> {
    const p = createProvider({ socketDir: dir, name: 'prov', coordinatorUrl: `unix://${dir}/coordinator/coord1.sock`, tasks });
    providers.push(p);
    await p.start();
    return p;
  }

  beforeEach(async () => {
    ({ dir, cleanup } = tempSocketDir());
    hooks = await hookServer();
  });
  afterEach(async () => {
    for (const p of providers.splice(0)) await p.stop(100);
    for (const p of peers.splice(0)) await p.close();
    await runtime?.stop();
    await hooks.close();
    cleanup();
  });

  it('HTTP request in -> unix provider -> HTTP hook, field by field', async () => {
    await start();
    const prov = await rawPeer(path.join(dir, 'CPUInfo', '50-fake.sock'), (body) => ackText(JSON.parse(body).id));
    peers.push(prov);
    const ack = await post(`${base}/`, httpRequest('h1', 'CPUInfo', goHttpUrl(`127.0.0.1:${hooks.port}`, '/response'), '{"guest_id":"g1"}'));
    assert.equal(ack.status, 200);
    assert.equal(ack.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(ack.body, ackText('h1', ''));
    const forwarded = JSON.parse(await prov.next());
    assert.equal(forwarded.responseHook.Scheme, 'unix');
    assert.equal(forwarded.responseHook.Path, path.join(dir, 'response', 'coord1.sock'), 'the provider sees the coordinator response socket');
    assert.equal(forwarded.taskURL, null);
    await rawSend(path.join(dir, 'response', 'coord1.sock'), '{"error":"","id":"h1","result":[{"processor":0,"mhz":2600}],"streamURL":null}');
    const delivered = await hooks.next();
    assert.equal(delivered.method, 'POST');
    assert.equal(delivered.url, '/response');
    assert.equal(delivered.headers['content-type'], 'application/json');
    assert.equal(delivered.body, '{"error":"","id":"h1","result":[{"processor":0,"mhz":2600}],"streamURL":null}');
  });

  it('rewrites localhost and empty hosts in hooks to the caller address', async () => {
    await start();
    await provider({ Ping: () => 'pong' });
    for (const [id, hook] of [['l1', goHttpUrl(`localhost:${hooks.port}`, '/resp')], ['l2', goHttpUrl(`:${hooks.port}`, '/resp2')], ['l3', `"http://localhost:${hooks.port}/resp3"`]] as const) {
      const ack = await post(`${base}/`, httpRequest(id, 'Ping', hook));
      assert.equal(ack.body, ackText(id, ''));
      const delivered = await hooks.next();
      assert.equal(delivered.headers.host, `127.0.0.1:${hooks.port}`);
      assert.equal(JSON.parse(delivered.body).result, 'pong');
    }
    assert.deepEqual(hooks.received.map((r) => r.url), ['/resp', '/resp2', '/resp3']);
  });

  it('answers each bad input with a clear error in the ack, and keeps serving', async () => {
    await start({ maxBodyBytes: 2048 });
    const hook = goHttpUrl(`127.0.0.1:${hooks.port}`, '/r');
    const cases: Array<[string, Promise<{ status: number; body: string }>, number, string]> = [
      ['GET /', get(`${base}/`), 400, ackText('', 'failed to unmarshal request: unexpected end of JSON input')],
      ['missing task', post(`${base}/`, httpRequest('m1', '', hook)), 400, ackText('m1', 'request missing task')],
      ['no provider', post(`${base}/`, httpRequest('m2', 'NoSuchTask', hook)), 404, ackText('m2', 'no providers available for task')],
      ['missing hook', post(`${base}/`, '{"id":"m3","task":"T"}'), 400, ackText('m3', 'missing responseHook')],
      ['unknown scheme', post(`${base}/`, httpRequest('m4', 'T', '"ftp://x/"')), 400, ackText('m4', 'unknown url scheme')],
      ['unix hook from outside', post(`${base}/`, httpRequest('m5', 'T', `"unix://${dir}/response/x.sock"`)), 403, ackText('m5', 'responseHook: unix URLs are not accepted from HTTP callers')],
      ['string URL', post(`${base}/`, '{"id":"m6","task":"T","responseHook":"asdf"}'), 400, ackText('m6', 'failed to unmarshal request: responseHook: invalid URI for request')],
      ['too large', post(`${base}/`, `{"id":"big","task":"T","args":"${'x'.repeat(4096)}"}`), 413, ackText('', 'request body too large: the limit is 2048 bytes')],
      // The body is read as JSON whatever its declared type, as the original did: not JSON is an unmarshal error.
      ['content type', post(`${base}/`, '<xml/>', { 'content-type': 'application/xml' }), 400, ackText('', "failed to unmarshal request: invalid JSON: Unexpected token '<'")],
      // curl's default type with a JSON body is routed, and the id stays in the ack.
      ['form-urlencoded JSON', post(`${base}/`, httpRequest('m7', 'NoSuchTask', hook), { 'content-type': 'application/x-www-form-urlencoded' }), 404, ackText('m7', 'no providers available for task')],
    ];
    for (const [name, pending, status, body] of cases) {
      const res = await pending;
      assert.equal(res.status, status, name);
      assert.equal(res.body, body, name);
    }
    const garbage = await post(`${base}/`, '{"id": x}');
    assert.equal(garbage.status, 400);
    assert.match(JSON.parse(garbage.body).error, /^failed to unmarshal request: /);
    assert.equal((await get(`${base}/stream?addr=unix%3A%2F%2F%2Ftmp%2Fx.sock`)).status, 404);
  });

  it('refuses a duplicate id while the first is tracked, and still answers the first', async () => {
    await start();
    const prov = await rawPeer(path.join(dir, 'Slow', '50-fake.sock'), (body) => ackText(JSON.parse(body).id));
    peers.push(prov);
    const hook = goHttpUrl(`127.0.0.1:${hooks.port}`, '/r');
    assert.equal((await post(`${base}/`, httpRequest('d1', 'Slow', hook))).body, ackText('d1', ''));
    const second = await post(`${base}/`, httpRequest('d1', 'Slow', hook));
    assert.equal(second.body, ackText('d1', 'request id already tracked'));
    await rawSend(path.join(dir, 'response', 'coord1.sock'), '{"error":"","id":"d1","result":"first","streamURL":null}');
    assert.equal(JSON.parse((await hooks.next()).body).result, 'first');
  });

  it('delivers a response timeout to the HTTP hook when the provider stays silent', async () => {
    await start({}, { requestTimeoutMs: 200 });
    peers.push(await rawPeer(path.join(dir, 'Silent', '50-fake.sock'), (body) => ackText(JSON.parse(body).id)));
    await post(`${base}/`, httpRequest('t1', 'Silent', goHttpUrl(`127.0.0.1:${hooks.port}`, '/r')));
    const delivered = await hooks.next();
    assert.equal(delivered.body, '{"error":"response timeout","id":"t1","result":null,"streamURL":null}');
  });

  it('retries a hook that refuses connections, then gives up (bounded)', async () => {
    await start({ retry: { retries: 2, delayMs: 20 } });
    await provider({ Ping: () => 'pong' });
    await hooks.close();
    hooks = await hookServer();
    const deadPort = 1; // nothing listens on port 1
    const ack = await post(`${base}/`, httpRequest('r1', 'Ping', goHttpUrl(`127.0.0.1:${deadPort}`, '/r')));
    assert.equal(ack.body, ackText('r1', ''));
    await delay(300);
    assert.equal(runtime.inFlight, 0);
  });

  it('proxies a provider output stream through a single-use token URL; other tokens are 404', async () => {
    await start();
    await provider({ StreamEcho: (args) => ({ stream: JSON.stringify(args) }) });
    await post(`${base}/`, httpRequest('s1', 'StreamEcho', goHttpUrl(`127.0.0.1:${hooks.port}`, '/r'), '{"hello":"<world>&"}'));
    const delivered = JSON.parse((await hooks.next()).body);
    assert.equal(delivered.streamURL.Scheme, 'http');
    assert.match(delivered.streamURL.Path, /^\/stream\/[A-Za-z0-9_-]{32}$/);
    const streamUrl = `${base}${delivered.streamURL.Path}`;
    const first = await get(streamUrl);
    assert.equal(first.status, 200);
    assert.equal(first.body, '{"hello":"<world>&"}');
    assert.equal((await get(streamUrl)).status, 404, 'a token is single use');
    assert.equal((await get(`${base}/stream/${'A'.repeat(32)}`)).status, 404, 'a forged token is refused');
    assert.equal((await get(`${base}/stream`)).status, 404);
  });

  it('stream tokens expire', async () => {
    await start({}, {}, { tokenTtlMs: 50 });
    await provider({ StreamEcho: (args) => ({ stream: JSON.stringify(args) }) });
    await post(`${base}/`, httpRequest('e1', 'StreamEcho', goHttpUrl(`127.0.0.1:${hooks.port}`, '/r'), '{"a":1}'));
    const delivered = JSON.parse((await hooks.next()).body);
    await delay(100);
    assert.equal((await get(`${base}${delivered.streamURL.Path}`)).status, 404);
  });

  it('a source that fails mid-stream aborts the HTTP response (no silent truncation)', async () => {
    await start();
    // An upstream HTTP source (as a federated peer's stream) that dies after some bytes.
    const upstream = http.createServer((_req, res) => {
      res.writeHead(200);
      res.write(Buffer.alloc(64 * 1024, 1));
      setTimeout(() => res.destroy(), 30);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
    try {
      const proxy = runtime.service('stream.proxy');
      const url = proxy.register(new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/data`));
      await assert.rejects(get(url.href), /aborted|socket hang up|ECONNRESET/);
    } finally {
      upstream.closeAllConnections();
      await new Promise((resolve) => upstream.close(resolve));
    }
  });

  it('a unix stream: an empty one is a 200 with no body; one that cannot be opened is a 502 before any byte', async () => {
    await start();
    await provider({ Empty: () => ({ stream: '' }) });
    await post(`${base}/`, httpRequest('z1', 'Empty', goHttpUrl(`127.0.0.1:${hooks.port}`, '/r')));
    const delivered = JSON.parse((await hooks.next()).body);
    const empty = await get(`${base}${delivered.streamURL.Path}`);
    assert.deepEqual([empty.status, empty.body], [200, '']);
    const proxy = runtime.service('stream.proxy');
    const gone = proxy.register(new URL(`unix://${path.join(dir, 'no-such-stream.sock')}`));
    const failed = await get(gone.href);
    assert.deepEqual([failed.status, failed.body], [502, 'failed to stream data\n']);
    assert.equal(proxy.open, 0);
  });

  it('a unix stream read slowly holds the provider back instead of buffering (backpressure end to end)', async () => {
    await start();
    let produced = 0;
    await provider({
      Fast: () => ({
        stream: () => new Readable({
          read() {
            produced += 64 * 1024;
            this.push(produced > 64 * 1024 * 1024 ? null : Buffer.alloc(64 * 1024, 3));
          },
        }),
      }),
    });
    await post(`${base}/`, httpRequest('f1', 'Fast', goHttpUrl(`127.0.0.1:${hooks.port}`, '/r')));
    const delivered = JSON.parse((await hooks.next()).body);
    let received = 0;
    await new Promise<void>((resolve, reject) => {
      http.get(`${base}${delivered.streamURL.Path}`, (res) => {
        res.pause();
        res.once('readable', () => {
          // The client reads nothing more for a while: the provider must stall far short of the 64 MiB.
          setTimeout(() => {
            const stalledAt = produced;
            assert.ok(stalledAt < 16 * 1024 * 1024, `the provider ran ahead by ${stalledAt} bytes`);
            res.on('data', (chunk: Buffer) => { received += chunk.length; });
            res.on('end', resolve);
            res.resume();
          }, 300);
        });
      }).on('error', reject);
    });
    assert.equal(received, 64 * 1024 * 1024);
  });

  it('a client that leaves mid-stream releases the source', async () => {
    await start();
    let destroyed = false;
    await provider({
      Endless: () => ({
        stream: () => new Readable({
          read() { this.push(Buffer.alloc(64 * 1024, 2)); },
          destroy(err, cb) { destroyed = true; cb(err); },
        }),
      }),
    });
    await post(`${base}/`, httpRequest('c1', 'Endless', goHttpUrl(`127.0.0.1:${hooks.port}`, '/r')));
    const delivered = JSON.parse((await hooks.next()).body);
    await new Promise<void>((resolve, reject) => {
      http.get(`${base}${delivered.streamURL.Path}`, (res) => {
        let n = 0;
        res.on('data', (chunk: Buffer) => {
          n += chunk.length;
          if (n > 1024 * 1024) { res.destroy(); resolve(); }
        });
      }).on('error', reject);
    });
    for (let i = 0; i < 100 && !destroyed; i += 1) await delay(20);
    assert.ok(destroyed, 'the provider source was destroyed after the client left');
    const proxy = runtime.service('stream.proxy');
    for (let i = 0; i < 100 && proxy.open > 0; i += 1) await delay(20);
    assert.equal(proxy.open, 0);
  });

  it('an inbound HTTP stream reaches the unix provider; other hosts are not fetched', async () => {
    await start();
    await provider({ Count: async (_args, ctx) => { let n = 0; for await (const chunk of ctx.readStream()!) n += (chunk as Buffer).length; return n; } });
    const source = await hookServer(() => ({ body: 'y'.repeat(100_000) }));
    try {
      const ack = await post(`${base}/`, `{"id":"in1","task":"Count","responseHook":${goHttpUrl(`localhost:${hooks.port}`, '/r')},"streamURL":${goHttpUrl(`localhost:${source.port}`, '/stream')}}`);
      assert.equal(ack.body, ackText('in1', ''));
      assert.equal(JSON.parse((await hooks.next()).body).result, 100_000);
      assert.equal(source.received[0]!.method, 'GET');
      const refused = await post(`${base}/`, `{"id":"in2","task":"Count","responseHook":${goHttpUrl(`localhost:${hooks.port}`, '/r')},"streamURL":"http://10.9.9.9/secret"}`);
      assert.equal(refused.body, ackText('in2', 'streamURL: the coordinator does not fetch 10.9.9.9 (inboundStreamHosts policy)'));
    } finally {
      await source.close();
    }
  });

  it('requires a bearer token when configured', async () => {
    await start({ bearerTokens: ['s3cret-token-0123456789'] });
    await provider({ Ping: () => 'pong' });
    const request = httpRequest('a1', 'Ping', goHttpUrl(`127.0.0.1:${hooks.port}`, '/r'));
    const denied = await post(`${base}/`, request);
    assert.equal(denied.status, 401);
    assert.equal(denied.body, ackText('', 'unauthorized'));
    const wrong = await post(`${base}/`, request, { authorization: 'Bearer s3cret-token-0123456788' });
    assert.equal(wrong.status, 401);
    const ok = await post(`${base}/`, request, { authorization: 'Bearer s3cret-token-0123456789' });
    assert.equal(ok.body, ackText('a1', ''));
  });
});
