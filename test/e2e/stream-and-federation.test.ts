// Federation between two coordinators in one test, and a multi-GiB stream
// proxied with memory checked to stay flat.
import assert from 'node:assert/strict';
import http from 'node:http';
import { Readable } from 'node:stream';
import { createProvider, httpIngress, httpServer, streamProxy, unixTransport, type HttpServerService, type RunningProvider } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import { makeRuntime } from '../support/runtime.js';
import { tempSocketDir } from '../support/sockets.js';
import { get, hookServer, post, type HookServer } from '../support/http.js';

function coordinator(dir: string, name: string, ingress: Record<string, unknown> = {}): Coordinator {
  return makeRuntime({ socketDir: dir, serviceName: name }, [unixTransport(), httpServer({ port: 0 }), httpIngress(ingress), streamProxy()]);
}

const baseOf = (runtime: Coordinator) => runtime.service('http.server').baseUrl();

describe('federation: a request forwarded to another coordinator', function () {
  this.timeout(30_000);
  const dirs = [tempSocketDir(), tempSocketDir()];
  let a: Coordinator;
  let b: Coordinator;
  let provider: RunningProvider;
  let hooks: HookServer;

  before(async () => {
    b = coordinator(dirs[1]!.dir, 'coordB');
    await b.start();
    a = coordinator(dirs[0]!.dir, 'coordA', { federationPeers: [`${baseOf(b)}/`] });
    await a.start();
    provider = createProvider({ socketDir: dirs[1]!.dir, name: 'remote', tasks: { Remote: (args: { k: string }) => ({ result: { got: args.k }, stream: `stream from B for ${args.k}` }) } });
    await provider.start();
    hooks = await hookServer();
  });
  after(async () => {
    await provider.stop();
    await a.stop();
    await b.stop();
    await hooks.close();
    for (const d of dirs) d.cleanup();
  });

  it('the client gets the remote result and a stream URL on its own coordinator that relays the remote stream', async () => {
    const request = { id: 'fed-1', task: 'Remote', taskURL: `${baseOf(b)}/anything`, responseHook: `http://localhost:${hooks.port}/response`, args: { k: 'v' } };
    const ack = await post(`${baseOf(a)}/`, JSON.stringify(request));
    assert.equal(ack.body, '{"error":"","id":"fed-1","result":null,"streamURL":null}');
    const delivered = JSON.parse((await hooks.next()).body);
    assert.equal(delivered.id, 'fed-1');
    assert.equal(delivered.error, '');
    assert.deepEqual(delivered.result, { got: 'v' });
    assert.equal(`${delivered.streamURL.Scheme}://${delivered.streamURL.Host}`, baseOf(a), 'stream URL points at the first coordinator');
    const stream = await get(`${baseOf(a)}${delivered.streamURL.Path}`);
    assert.equal(stream.status, 200);
    assert.equal(stream.body, 'stream from B for v');
  });

  it('a taskURL that is not a configured peer is refused', async () => {
    const request = { id: 'fed-2', task: 'Remote', taskURL: 'http://127.0.0.1:1/elsewhere', responseHook: `http://localhost:${hooks.port}/response` };
    const ack = await post(`${baseOf(a)}/`, JSON.stringify(request));
    assert.equal(ack.status, 403);
    assert.equal(JSON.parse(ack.body).error, 'taskURL http://127.0.0.1:1 is not a configured federation peer');
    const ftp = await post(`${baseOf(a)}/`, JSON.stringify({ ...request, id: 'fed-3', taskURL: 'ftp://x/' }));
    assert.equal(JSON.parse(ftp.body).error, 'unknown url scheme');
  });

  it('/proxy acks unknown ids and drops them; refuses an unreadable body', async () => {
    assert.equal((await post(`${baseOf(a)}/proxy`, '{"id":"nobody","error":"","result":1}')).body, '{"error":"","id":"","result":null,"streamURL":null}');
    const bad = await post(`${baseOf(a)}/proxy`, '{"id": 5}');
    assert.equal(JSON.parse(bad.body).error, 'id must be a string');
  });
});

describe('stream proxy: a multi-GiB stream with flat memory', function () {
  this.timeout(180_000);
  const TOTAL = 2 * 1024 * 1024 * 1024; // 2 GiB, generated
  const CHUNK = Buffer.alloc(256 * 1024, 7);
  let dir: ReturnType<typeof tempSocketDir>;
  let runtime: Coordinator;
  let provider: RunningProvider;
  let hooks: HookServer;

  before(async () => {
    dir = tempSocketDir();
    runtime = coordinator(dir.dir, 'big');
    await runtime.start();
    provider = createProvider({
      socketDir: dir.dir, name: 'gen',
      tasks: {
        Generate: () => ({
          stream: () => {
            let sent = 0;
            return new Readable({
              read() {
                if (sent >= TOTAL) { this.push(null); return; }
                sent += CHUNK.length;
                this.push(CHUNK);
              },
            });
          },
        }),
      },
    });
    await provider.start();
    hooks = await hookServer();
  });
  after(async () => {
    await provider.stop();
    await runtime.stop();
    await hooks.close();
    dir.cleanup();
  });

  it('proxies 2 GiB from a unix provider to an HTTP client; RSS stays flat', async () => {
    await post(`${baseOf(runtime)}/`, JSON.stringify({ id: 'big-1', task: 'Generate', responseHook: `http://localhost:${hooks.port}/r` }));
    const delivered = JSON.parse((await hooks.next()).body);
    const url = `${baseOf(runtime)}${delivered.streamURL.Path}`;
    let baseline = 0;
    let peak = 0;
    let received = 0;
    const sampler = setInterval(() => { if (baseline > 0) peak = Math.max(peak, process.memoryUsage().rss); }, 50);
    const t0 = Date.now();
    try {
      await new Promise<void>((resolve, reject) => {
        http.get(url, (res) => {
          assert.equal(res.statusCode, 200);
          res.on('data', (chunk: Buffer) => {
            received += chunk.length;
            if (baseline === 0 && received > 64 * 1024 * 1024) baseline = process.memoryUsage().rss;
          });
          res.on('end', resolve);
          res.on('error', reject);
        }).on('error', reject);
      });
    } finally {
      clearInterval(sampler);
    }
    console.log(`      2 GiB in ${((Date.now() - t0) / 1000).toFixed(1)} s; RSS baseline ${(baseline / 1048576).toFixed(0)} MiB, peak ${(peak / 1048576).toFixed(0)} MiB`);
    assert.equal(received, TOTAL);
    const growthMb = (peak - baseline) / (1024 * 1024);
    assert.ok(baseline > 0);
    assert.ok(growthMb < 128, `RSS grew ${growthMb.toFixed(1)} MiB over the stream (baseline ${(baseline / 1048576).toFixed(0)} MiB)`);
  });
});
