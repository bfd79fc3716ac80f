// P1: HTTP ingress -> unix provider (acomm frame + ack) -> the response
// socket -> POST to the caller's HTTP hook, through the coordinator, vs a
// minimal relay (relay-baseline.mjs, plain JavaScript like the compiled
// subject) that does the same I/O and nothing else (no hooks, no tracking,
// no timeouts, no validation beyond JSON.parse). Same
// provider, same hook, same driver, 16 in flight. RELAY_ONLY_COORDINATOR=1
// runs only the coordinator side, for a CPU profile.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { createCoordinator, createProvider, httpIngress, httpServer, unixTransport } from './subject.js';
import { compare, measure, startHook } from './support.js';
import { startRelay } from './relay-baseline.mjs';

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
      5, { target: 1.0, warmup: 1 });
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
