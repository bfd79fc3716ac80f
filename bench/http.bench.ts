// HTTP round trips through the coordinator (ingress -> in-process task ->
// delivery to the caller's HTTP hook) vs a bare Node HTTP server answering the
// same JSON; and stream proxy throughput vs a direct unix-to-HTTP pipe.
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Readable, pipeline } from 'node:stream';
import { Pool } from 'undici';
import { createCoordinator, createProvider, httpIngress, httpServer, inProcessProvider, streamProxy, unixTransport } from './subject.js';
import { ACK, compare, listen, measure, startHook } from './support.js';

function generated(total: number): Readable {
  const chunk = Buffer.alloc(256 * 1024, 3);
  let sent = 0;
  return new Readable({ read() { if (sent >= total) this.push(null); else { sent += chunk.length; this.push(chunk); } } });
}

async function drain(pool: Pool, urlPath: string): Promise<number> {
  const res = await pool.request({ method: 'GET', path: urlPath });
  let n = 0;
  for await (const c of res.body) n += (c as Buffer).length;
  return n;
}

export async function run(): Promise<void> {
  const dir = mkdtempSync('/tmp/hb-');
  const runtime = createCoordinator({ socketDir: dir, serviceName: 'bench', logLevel: 'silent', plugins: [unixTransport(), httpServer({ port: 0 }), httpIngress(), streamProxy(), inProcessProvider({ tasks: { Echo: (args: unknown) => args } })] });
  await runtime.start();
  const base = runtime.service('http.server').baseUrl();

  // The caller's hook: resolves the waiter for each delivered response.
  const { server: hook, port: hookPort, waiting } = await startHook();
  const bare = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = JSON.parse(Buffer.concat(chunks).toString());
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ error: '', id: request.id, result: request.args, streamURL: null }));
    });
  });
  const barePort = await listen(bare);

  const coordPool = new Pool(base, { connections: 64 });
  const barePool = new Pool(`http://127.0.0.1:${barePort}`, { connections: 64 });
  let seq = 0;
  const body = (id: string) => JSON.stringify({ id, task: 'Echo', responseHook: `http://127.0.0.1:${hookPort}/r`, args: { guest_id: 'g1', n: 1 } });
  const viaCoordinator = async () => {
    const id = `b${seq++}`;
    const delivered = new Promise<void>((resolve) => waiting.set(id, resolve));
    const res = await coordPool.request({ method: 'POST', path: '/', body: body(id), headers: { 'content-type': 'application/json' } });
    await res.body.text();
    await delivered;
  };
  const direct = async () => {
    const res = await barePool.request({ method: 'POST', path: '/', body: body(`d${seq++}`), headers: { 'content-type': 'application/json' } });
    await res.body.text();
  };

  try {
    for (const concurrency of [16, 64]) {
      await compare(`HTTP round trip, ${concurrency} in flight`,
        () => measure('bare Node HTTP server', direct, 5000, concurrency),
        () => measure('ingress -> task -> HTTP hook', viaCoordinator, 5000, concurrency));
    }

    // Stream throughput: 512 MiB per run.
    const TOTAL = 512 * 1024 * 1024;
    const provider = createProvider({ socketDir: dir, name: 'gen', tasks: { Gen: () => ({ stream: () => generated(TOTAL) }) } });
    await provider.start();
    const directSocket = path.join(dir, 'direct.sock');
    const unixSource = net.createServer((socket) => pipeline(generated(TOTAL), socket, () => undefined));
    await new Promise<void>((resolve) => unixSource.listen(directSocket, () => resolve()));
    const pipeServer = http.createServer((_req, res) => {
      res.writeHead(200);
      pipeline(net.connect(directSocket), res, () => undefined);
    });
    const pipePort = await listen(pipeServer);
    const pipePool = new Pool(`http://127.0.0.1:${pipePort}`);
    const mib = (bytes: number, ms: number) => (bytes / 1048576) / (ms / 1000);
    await compare('stream proxy throughput (MiB/s as ops/s)',
      async () => { const t0 = Date.now(); const n = await drain(pipePool, '/'); return { name: 'direct unix -> HTTP pipe', opsPerSec: mib(n, Date.now() - t0) }; },
      async () => {
        const streamUrl = await new Promise<string>((resolve) => {
          const id = `s${seq++}`;
          const catcher = http.createServer((req, res) => {
            const chunks: Buffer[] = [];
            req.on('data', (c: Buffer) => chunks.push(c));
            req.on('end', () => { res.end(ACK); catcher.close(); const r = JSON.parse(Buffer.concat(chunks).toString()); resolve(r.streamURL.Path); });
          });
          void listen(catcher).then((port) => coordPool.request({ method: 'POST', path: '/', body: JSON.stringify({ id, task: 'Gen', responseHook: `http://127.0.0.1:${port}/r` }) }).then((r) => r.body.text()));
        });
        const t0 = Date.now();
        const n = await drain(coordPool, streamUrl);
        return { name: 'unix provider -> coordinator -> HTTP', opsPerSec: mib(n, Date.now() - t0) };
      }, 2, 0.95);
    await pipePool.close();
    pipeServer.close();
    unixSource.close();
    await provider.stop();
  } finally {
    await coordPool.close();
    await barePool.close();
    hook.close();
    bare.close();
    await runtime.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
