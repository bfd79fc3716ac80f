// The minimal relay of the P1 benchmark (relay.bench.ts): HTTP in, an acomm
// frame to the unix provider and its ack, the response socket, a POST to the
// caller's hook — the same I/O as the coordinator and nothing else (no hooks,
// no tracking, no timeouts, no validation beyond JSON.parse).
//
// Plain JavaScript on purpose: the benchmarks load .ts files through tsx,
// whose esbuild keepNames wraps every closure created per request in a call
// that names it. The coordinator is measured compiled (dist/, see
// subject.ts); the baseline must run as plain code too, or it pays a cost
// the subject does not.
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { Agent, request } from 'undici';

const ACK = '{"error":"","id":"","result":null,"streamURL":null}';

function frame(json) {
  const body = Buffer.from(json);
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

/** Read one length-prefixed frame from a socket. */
function readFrame(socket) {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk) => {
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
async function sendFrame(socketPath, json) {
  const socket = net.connect(socketPath);
  socket.write(frame(json));
  const ack = await readFrame(socket);
  socket.destroy();
  return ack.toString();
}

/** Start the relay: its HTTP port, and close(). */
export async function startRelay(dir, providerSocket) {
  const responseSocket = path.join(dir, 'relay-response.sock');
  const hooks = new Map();
  const agent = new Agent({ connections: 64, keepAliveTimeout: 10_000 });
  const responses = net.createServer((socket) => {
    void readFrame(socket).then(async (body) => {
      socket.end(frame(ACK));
      const response = JSON.parse(body.toString());
      const hook = hooks.get(response.id);
      hooks.delete(response.id);
      if (!hook) return;
      const res = await request(hook, { method: 'POST', body, headers: { 'content-type': 'application/json' }, dispatcher: agent });
      await res.body.text();
    }).catch(() => socket.destroy());
  });
  await new Promise((resolve) => responses.listen(responseSocket, () => resolve()));
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const incoming = JSON.parse(Buffer.concat(chunks).toString());
      hooks.set(incoming.id, incoming.responseHook);
      const forwarded = JSON.stringify({ ...incoming, responseHook: { Scheme: 'unix', Path: responseSocket } });
      void sendFrame(providerSocket, forwarded).then((ack) => res.writeHead(200, { 'content-type': 'application/json' }).end(ack));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = server.address().port;
  return { port, close: () => { server.close(); responses.close(); void agent.close(); } };
}
