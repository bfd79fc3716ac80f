// Issue 10, items 1-4 and 12-14: what an unauthenticated caller could do to
// the coordinator's memory, descriptors and answers, and what it does now.
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import { readdirSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { httpIngress, httpServer, inProcessProvider, operations, streamProxy, unixTransport, createProvider, type HttpServerService, type RunningProvider } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { makeRuntime, delay } from '../support/runtime.js';
import { tempSocketDir } from '../support/sockets.js';
import { ackText, frame, goRequest, header, rawPeer, rawSend, type RawPeer, goHttpUrl } from '../support/raw-acomm.js';
import { get, hookServer, post, type HookServer } from '../support/http.js';


describe('hardening: hostile input costs little', function () {
  this.timeout(30_000);
  let dir: string;
  let cleanup: () => void;
  let runtime: Coordinator;
  let base: string;
  let hooks: HookServer;
  const peers: RawPeer[] = [];
  const providers: RunningProvider[] = [];
  const sockets: net.Socket[] = [];

  async function start(config: Record<string, unknown> = {}, options: { ingress?: Record<string, unknown>; server?: Record<string, unknown>; unix?: Record<string, unknown> } = {}): Promise<void> {
    runtime = makeRuntime({ socketDir: dir, serviceName: 'c', ...config }, [
      unixTransport(options.unix ?? {}),
      httpServer({ port: 0, ...(options.server ?? {}) }),
      httpIngress(options.ingress ?? {}),
      streamProxy(),
      inProcessProvider({ tasks: { Ok: () => 'fine' } }),
      operations({ processMetrics: false }),
    ]);
    await runtime.start();
    base = runtime.service('http.server').baseUrl();
  }

  const coordSock = () => path.join(dir, 'coordinator', 'c.sock');
  const hook = () => goHttpUrl(`127.0.0.1:${hooks.port}`, '/r');
  const body = (id: string, task: string, extra = '') => `{"id":"${id}","task":"${task}","taskURL":null,"responseHook":${hook()},"streamURL":null,"args":null${extra}}`;

  /** A normal request still gets its answer. */
  async function stillServes(id: string): Promise<void> {
    const ack = await post(`${base}/`, body(id, 'Ok'));
    assert.equal(ack.status, 200, ack.body);
    const answered = await hooks.next();
    assert.equal(JSON.parse(answered.body).result, 'fine');
  }

  beforeEach(async () => {
    ({ dir, cleanup } = tempSocketDir());
    hooks = await hookServer();
  });
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await runtime?.stop();
    for (const p of providers.splice(0)) await p.stop();
    for (const p of peers.splice(0)) await p.close();
    await hooks.close();
    cleanup();
  });

  it('1. task names callers choose never become metric labels: unknown tasks count as "other"', async () => {
    await start();
    const long = 'L'.repeat(100_000);
    for (let i = 0; i < 40; i += 1) await post(`${base}/`, body(`n${i}`, `junk-${i}-${Math.random().toString(36).slice(2)}`));
    await post(`${base}/`, body('long', long));
    await stillServes('ok1');
    const metrics = (await get(`${base}/metrics`)).body;
    assert.ok(!metrics.includes('junk-'), 'a caller-chosen task name is a label');
    assert.ok(!metrics.includes('LLLL'), 'a 100 kB task name is a label');
    assert.ok(metrics.length < 20_000, `metrics grew to ${metrics.length} bytes`);
    assert.match(metrics, /coordinator_requests_total\{task="other",outcome="ERR_NO_PROVIDER"\} 40/);
    assert.match(metrics, /coordinator_requests_total\{task="other",outcome="ERR_BAD_TASK_NAME"\} 1/);
    assert.match(metrics, /coordinator_requests_total\{task="Ok",outcome="ok"\} 1/);
  });

  it('2. a refused request leaves no stream bridge open; bridges are bounded per caller with a clear error', async () => {
    await start();
    // A provider that refuses everything: each request is refused after its bridge was opened.
    peers.push(await rawPeer(path.join(dir, 'Refuse', '50-p.sock'), (b) => ackText(JSON.parse(b).id, 'busy')));
    const upstream = `{"Scheme":"http","Opaque":"","User":null,"Host":"127.0.0.1:${hooks.port}","Path":"/data","RawPath":"","OmitHost":false,"ForceQuery":false,"RawQuery":"","Fragment":"","RawFragment":""}`;
    const withStream = (id: string, task: string) => `{"id":"${id}","task":"${task}","taskURL":null,"responseHook":${hook()},"streamURL":${upstream},"args":null}`;
    for (let i = 0; i < 50; i += 1) {
      const ack = await post(`${base}/`, withStream(`s${i}`, 'Refuse'));
      assert.equal(JSON.parse(ack.body).error, 'busy');
    }
    await delay(50);
    const streamDir = path.join(dir, 'streams', 'c');
    const left = existsSync(streamDir) ? readdirSync(streamDir) : [];
    assert.deepEqual(left, [], `${left.length} bridge sockets left open for refused requests`);

    // A provider that accepts and never reads: bridges stay until read or expired, at most 32 for one caller.
    peers.push(await rawPeer(path.join(dir, 'Sink', '50-p.sock'), (b) => ackText(JSON.parse(b).id)));
    for (let i = 0; i < 32; i += 1) assert.equal(JSON.parse((await post(`${base}/`, withStream(`k${i}`, 'Sink'))).body).error, '');
    const over = await post(`${base}/`, withStream('k-over', 'Sink'));
    assert.equal(over.status, 503);
    assert.match(JSON.parse(over.body).error, /too many stream bridges open: the limit is 32 for one caller \(maxInboundStreamsPerCaller\)/);
    assert.equal(JSON.parse(over.body).id, 'k-over');
    await stillServes('ok2');
  });

  it('3. bytes being received are bounded overall: past maxPendingBytes new bodies and frames are refused, not buffered', async () => {
    await start({ maxPendingBytes: 1024 * 1024 });
    const chunk = Buffer.alloc(400 * 1024, 0x20);
    // Two HTTP bodies of 400 kB held open (never finished)...
    for (let i = 0; i < 2; i += 1) {
      const s = net.connect(Number(new URL(base).port), '127.0.0.1');
      sockets.push(s);
      s.write(`POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4000000\r\n\r\n`);
      s.write(chunk);
    }
    await delay(200);
    // ...then a unix frame whose bytes would pass the budget is refused with a clear ack.
    const unix = await new Promise<string>((resolve) => {
      const s = net.connect(coordSock());
      sockets.push(s);
      let got = Buffer.alloc(0);
      s.on('data', (d: Buffer) => { got = Buffer.concat([got, d]); });
      s.on('close', () => resolve(got.subarray(4).toString()));
      s.on('error', () => undefined);
      s.write(header(3_000_000));
      s.write(chunk);
    });
    assert.match(JSON.parse(unix).error, /^coordinator overloaded: more than 1048576 bytes of requests are being received at once \(maxPendingBytes\)/);
    // ...and so is a third HTTP body.
    const third = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(`${base}/`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '4000000' } }, (res) => {
        let text = '';
        res.on('data', (d) => { text += String(d); });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.write(chunk);
    });
    assert.equal(third.status, 503);
    assert.match(JSON.parse(third.body).error, /coordinator overloaded/);
    await stillServes('ok3');
    assert.ok(runtime.receiveBudget.inUse <= 1024 * 1024);
    for (const s of sockets.splice(0)) s.destroy();
    await delay(100);
    assert.equal(runtime.receiveBudget.inUse, 0, 'bytes of closed connections are released');
  });

  it('3. slow headers are cut at headersTimeoutMs, not 30 s later', async () => {
    await start({}, { server: { headersTimeoutMs: 800, requestTimeoutMs: 5000 } });
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve) => {
      const s = net.connect(Number(new URL(base).port), '127.0.0.1');
      sockets.push(s);
      s.on('error', () => undefined);
      s.on('close', () => resolve(Date.now() - started));
      s.write('POST / HTTP/1.1\r\nHost: x\r\n');
      const drip = setInterval(() => { if (!s.destroyed) s.write('X-A: b\r\n'); }, 200);
      s.on('close', () => clearInterval(drip));
    });
    assert.ok(closedAfter < 3000, `slow headers lived ${closedAfter} ms`);
  });

  it('4. the request socket closes its end after the ack, even when the client never closes', async () => {
    await start();
    const result = await new Promise<string>((resolve) => {
      // A client that keeps its own end open (as one that never reads does).
      const s = net.connect({ path: coordSock(), allowHalfOpen: true });
      sockets.push(s);
      s.on('data', () => undefined);
      s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
      s.on('end', () => {
        // Half-closed by the server; write again after a moment: a closed peer refuses it.
        setTimeout(() => { s.write(Buffer.alloc(1024)); setTimeout(() => resolve('still open'), 500); }, 200);
      });
      s.write(frame(goRequest('h1', 'Nope', path.join(dir, 'response', 'x.sock'))));
    });
    assert.ok(result === 'EPIPE' || result === 'ECONNRESET', `the coordinator kept the connection: ${result}`);
  });

  it('4. connection caps: the HTTP server closes connections past maxConnections; unix requests still work', async () => {
    await start({}, { server: { maxConnections: 20 } });
    for (let i = 0; i < 40; i += 1) {
      const s = net.connect(Number(new URL(base).port), '127.0.0.1');
      s.on('error', () => undefined);
      s.write('GET /healthz HTTP/1.1\r\n');
      sockets.push(s);
    }
    await delay(300);
    const open = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
    assert.ok(open <= 20, `${open} connections held`);
    peers.push(await rawPeer(path.join(dir, 'T', '50-p.sock'), (b) => ackText(JSON.parse(b).id)));
    assert.equal(await rawSend(coordSock(), goRequest('u1', 'T', path.join(dir, 'response', 'x.sock'))), ackText('u1', ''));
  });

  it('12. deep nesting and bad percent-encoding get ERR_BAD_REQUEST / bad-url answers, never JavaScript internals', async () => {
    await start();
    const deep = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const viaHttp = await post(`${base}/`, body('deep1', 'Ok').replace('"args":null', `"args":${deep}`));
    assert.equal(viaHttp.status, 400);
    assert.equal(JSON.parse(viaHttp.body).error, 'failed to unmarshal request: JSON nested deeper than 64 levels');
    const viaUnix = await rawSend(coordSock(), goRequest('deep2', 'Ok', path.join(dir, 'response', 'x.sock'), deep));
    assert.equal(JSON.parse(viaUnix).error, 'failed to unmarshal request: JSON nested deeper than 64 levels');
    const badPath = goRequest('pct', 'Ok', null).replace('"responseHook":null', '"responseHook":{"Scheme":"unix","Path":"","RawPath":"/tmp/%E0%A4%A.sock"}');
    const pct = JSON.parse(await rawSend(coordSock(), badPath)).error as string;
    assert.match(pct, /^failed to unmarshal request: responseHook: invalid (percent-encoding in url|url object)/);
    const lone = JSON.parse(await rawSend(coordSock(), goRequest('sur', 'Ok', null).replace('"responseHook":null', '"responseHook":{"Scheme":"unix","Path":"/tmp/\\ud800.sock"}'))).error as string;
    assert.equal(lone, 'failed to unmarshal request: responseHook: invalid characters in url');
    for (const text of [pct, lone]) assert.doesNotMatch(text, /URI malformed|plugin unix-transport failed|Maximum call stack/);
    await stillServes('ok12');
  });

  it('13. a request with hundreds of thousands of keys is refused with a clear error; the process keeps serving', async () => {
    await start({}, { ingress: { maxBodyBytes: 16 * 1024 * 1024 } });
    const keys = Array.from({ length: 330_000 }, (_, i) => `"k${i}":1`).join(',');
    const res = await post(`${base}/`, `{"id":"many","task":"Ok","responseHook":${hook()},${keys}}`);
    assert.equal(res.status, 400);
    assert.equal(JSON.parse(res.body).error, 'failed to unmarshal request: JSON has more than 100000 object members');
    await stillServes('ok13');
  });

  it('14. a request that times out while providers are tried gets one outcome: ERR_TIMEOUT in the ack, no hook delivery, no further failover', async () => {
    await start({ requestTimeoutMs: 400 }, { unix: { sendTimeoutMs: 3000 } });
    // The best provider accepts the connection and never acks; the next one would accept.
    const silent = net.createServer((s) => { s.on('data', () => undefined); s.on('error', () => undefined); });
    mkdirSync(path.join(dir, 'Slow'), { recursive: true });
    await new Promise<void>((resolve) => { silent.listen(path.join(dir, 'Slow', '10-silent.sock'), () => resolve()); });
    const second = await rawPeer(path.join(dir, 'Slow', '20-ok.sock'), (b) => ackText(JSON.parse(b).id));
    peers.push(second);
    try {
      const started = Date.now();
      const ack = await post(`${base}/`, body('t1', 'Slow'));
      const elapsed = Date.now() - started;
      assert.equal(ack.status, 504);
      assert.equal(JSON.parse(ack.body).error, 'response timeout');
      assert.equal(JSON.parse(ack.body).id, 't1');
      assert.ok(elapsed < 2000, `the ack took ${elapsed} ms`);
      await delay(3500);
      assert.equal(second.received.length, 0, 'failover went on after the timeout');
      assert.equal(hooks.received.length, 0, 'the hook got a second answer');
    } finally {
      silent.close();
    }
  });
});
