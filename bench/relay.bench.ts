// P1: HTTP ingress -> unix provider (acomm frame + ack) -> the response
// socket -> POST to the caller's HTTP hook, through the coordinator, vs a
// minimal relay written here that does the same I/O and nothing else (no
// hooks, no tracking, no timeouts, no validation beyond JSON.parse). Same
// provider, same hook, same driver, 16 in flight. RELAY_ONLY_COORDINATOR=1
// runs only the coordinator side, for a CPU profile.
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Agent, Pool, request } from 'undici';
import { createCoordinator, createProvider, httpIngress, httpServer, unixTransport } from './subject.js';
import { ACK, compare, listen, measure, startHook } from './support.js';

function frame(json: string): Buffer {
  const body = Buffer.from(json);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** Read one length-prefixed frame from a socket. */
function readFrame(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buffered: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      if (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
        socket.off('data', onData);
        resolve(buffered.subarray(4, 4 + buffered.readUInt32BE(0)));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** Send one frame to a unix socket and read its ack (one connection per message, as acomm peers do). */
async function sendFrame(socketPath: string, json: string): Promise<string> {
  const socket = net.connect(socketPath);
  socket.write(frame(json));
  const ack = await readFrame(socket);
  socket.destroy();
  return ack.toString();
}

/** The minimal relay: HTTP in, frame to the provider, response socket, POST to the hook. */
async function startRelay(dir: string, providerSocket: string): Promise<{ port: number; close(): void }> {
  const responseSocket = path.join(dir, 'relay-response.sock');
  const hooks = new Map<string, string>();
  const agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
  const responses = net.createServer((socket) => {
    void readFrame(socket).then(async (body) => {
      socket.end(frame(ACK));
      const response = JSON.parse(body.toString()) as { id: string };
      const hook = hooks.get(response.id);
      hooks.delete(response.id);
      if (!hook) return;
      const res = await request(hook, { method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher: agent });
      await res.body.text();
    }).catch(() => socket.destroy());
  });
  await new Promise<void>((resolve) => responses.listen(responseSocket, () => resolve()));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const incoming = JSON.parse(Buffer.concat(chunks).toString()) as { id: string; responseHook: string };
      hooks.set(incoming.id, incoming.responseHook);
      const forwarded = JSON.stringify({ ...incoming, responseHook: { Scheme: 'unix', Path: responseSocket } });
      void sendFrame(providerSocket, forwarded).then((ack) => res.writeHead(200, { 'content-type': 'application/json' }).end(ack));
    });
  });
  const port = await listen(server);
  return { port, close: () => { server.close(); responses.close(); void agent.close(); } };
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'relay-bench-'));
  const provider = createProvider({ socketDir: dir, name: 'echo', tasks: { Echo: (args: unknown) => args } });
  await provider.start();
  const runtime = createCoordinator({ socketDir: dir, serviceName: 'bench', logLevel: 'silent', plugins: [unixTransport(), httpServer({ port: 0 }), httpIngress()] });
  await runtime.start();
  const relay = await startRelay(dir, provider.sockets.Echo!);

  const { server: hook, port: hookPort, waiting } = await startHook();
  const coordPool = new Pool(runtime.service('http.server').baseUrl(), { connections: 64 });
  const relayPool = new Pool(`http://127.0.0.1:${relay.port}`, { connections: 64 });
  let seq = 0;
  const roundTrip = (pool: Pool, prefix: string) => async () => {
    const id = `${prefix}${seq++}`;
    const delivered = new Promise<void>((resolve) => waiting.set(id, resolve));
    const res = await pool.request({ method: 'POST', path: '/', body: JSON.stringify({ id, task: 'Echo', responseHook: `http://127.0.0.1:${hookPort}/r`, args: { guest_id: 'g1', n: 1 } }), headers: { 'content-type': 'application/json' } });
    await res.body.text();
    await delivered;
  };
  try {
    if (process.env.RELAY_ONLY_COORDINATOR) { await measure('coordinator', roundTrip(coordPool, 'c'), 8000, 16); return; }
    await compare('HTTP -> unix provider -> response socket -> HTTP hook, 16 in flight',
      () => measure('minimal relay (same I/O, nothing else)', roundTrip(relayPool, 'r'), 3000, 16),
      () => measure('coordinator', roundTrip(coordPool, 'c'), 3000, 16),
      5, { target: 1.0, warmup: true });
  } finally {
    await coordPool.close();
    await relayPool.close();
    hook.close();
    relay.close();
    await runtime.stop();
    await provider.stop(100);
    rmSync(dir, { recursive: true, force: true });
  }
}
