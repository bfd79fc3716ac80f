// Scale-out: publish decisions on three coordinators sharing a real
// nats-server (the cluster plugin's nats engine; every publish also claims its
// channel cluster-wide) vs one coordinator with the embedded state, same
// driver (100 ingest connections, each publishing 10 channels one after
// another), same run. And the shared-state step alone: a claim and its
// release on NATS, p50/p99 (goal: p99 ≤ 10 ms on this machine). And
// callbacks through the cluster's event log (JetStream) vs the SQLite outbox
// and vs direct POSTs, same driver as outbox.bench.ts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cluster, ControlPeer, createCoordinator, httpServer, keyAuth, LazyAgent, mintToken, NatsClusterState, streamingControl, type Coordinator } from './subject.js';
import { startNatsServer } from '../test/support/nats.js';
import { compare, percentile, type Measurement } from './support.js';
import { application, directPosts, throughCallbacks } from './outbox.bench.js';

const CALLBACK_EVENTS = 2000;

const SECRET = 'bench-secret';
const INGEST = 100;
const PER = 10;

async function startNode(dir: string, id: string, natsUrl: string | undefined): Promise<{ runtime: Coordinator; base: string }> {
  const plugins = [httpServer({ port: 0 }), keyAuth(), streamingControl()];
  const runtime = createCoordinator({ logLevel: 'silent', dataDir: path.join(dir, id), plugins: natsUrl ? [cluster({ engine: 'nats', servers: [natsUrl], nodeId: id, prefix: `bench${Date.now()}` }), ...plugins] : plugins }, { env: { CONTROL_SECRET: SECRET } });
  await runtime.start();
  return { runtime, base: runtime.service('http.server').baseUrl() };
}

async function connectPeers(bases: string[]): Promise<{ ingest: ControlPeer[]; encoders: ControlPeer[] }> {
  const encoders = await Promise.all(bases.map((b) => ControlPeer.connect(b, '/ws/control/hls', { 'x-control-auth-token': mintToken(SECRET, { sub: 'hls-control' }) })));
  for (const e of encoders) e.send('REGISTER', { Capacity: INGEST * PER });
  const ingest: ControlPeer[] = [];
  for (let i = 0; i < INGEST; i += 1) ingest.push(await ControlPeer.connect(bases[i % bases.length]!, '/ws/control/rtmp', { 'x-control-auth-token': mintToken(SECRET, { sub: 'rtmp-control' }) }));
  return { ingest, encoders };
}

async function run1(name: string, ingest: ControlPeer[], round: number): Promise<Measurement> {
  const latencies: number[] = [];
  const start = process.hrtime.bigint();
  await Promise.all(ingest.map(async (peer, p) => {
    for (let k = 0; k < PER; k += 1) {
      const channel = `r${round}-${p}-${k}`;
      const t0 = process.hrtime.bigint();
      peer.send('PUBLISH-REQUEST', { 'Request-ID': channel, 'Stream-Channel': channel, 'Stream-Key': 'k' });
      const answer = await peer.next('PUBLISH-ACCEPT', 20_000);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1000);
      peer.send('PUBLISH-END', { 'Stream-Channel': channel, 'Stream-ID': answer.args['stream-id']! });
    }
  }));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  latencies.sort((a, b) => a - b);
  return { name, opsPerSec: latencies.length / seconds, p50Us: percentile(latencies, 50), p99Us: percentile(latencies, 99) };
}

export async function run(): Promise<void> {
  let nats;
  try {
    nats = await startNatsServer();
  } catch (err) {
    console.log(`skipped: ${(err as Error).message.split('\n')[0]}`);
    return;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'cluster-bench-'));
  const single = await startNode(dir, 'solo', undefined);
  const trio = await Promise.all(['n1', 'n2', 'n3'].map((id) => startNode(dir, id, nats.url)));
  const singlePeers = await connectPeers([single.base]);
  const trioPeers = await connectPeers(trio.map((t) => t.base));
  const claims = await NatsClusterState.open({ servers: [nats.url], nodeId: 'probe', prefix: `probe${Date.now()}`, heartbeatMs: 1000, deadAfterMs: 4000 });
  let round = 0;
  try {
    await compare(`publish decisions: 3 coordinators on NATS vs 1 embedded (${INGEST} ingest connections × ${PER} publishes each)`,
      () => run1('1 coordinator, embedded state', singlePeers.ingest, round++),
      () => run1('3 coordinators, NATS JetStream', trioPeers.ingest, round++),
      3);
    await compare('the shared-state step: a channel claim and its release (2,000, 16 in flight)',
      async () => {
        const t0 = process.hrtime.bigint();
        const map = new Map<string, string>();
        for (let i = 0; i < 2000; i += 1) { map.set(`c${i}`, 's'); map.delete(`c${i}`); }
        return { name: 'in-memory Map', opsPerSec: 2000 / (Number(process.hrtime.bigint() - t0) / 1e9) };
      },
      async () => {
        const latencies: number[] = [];
        let next = 0;
        const t0 = process.hrtime.bigint();
        await Promise.all(Array.from({ length: 16 }, async () => {
          while (next < 2000) {
            const i = next++;
            const t = process.hrtime.bigint();
            await claims.claim({ channel: `c${round}-${i}`, streamId: 's', node: 'probe', session: 1 });
            await claims.release(`c${round}-${i}`, 's');
            latencies.push(Number(process.hrtime.bigint() - t) / 1000);
          }
        }));
        round += 1;
        latencies.sort((a, b) => a - b);
        return { name: 'NATS claim + release', opsPerSec: 2000 / (Number(process.hrtime.bigint() - t0) / 1e9), p50Us: percentile(latencies, 50), p99Us: percentile(latencies, 99) };
      },
      3,
      { goal: (m) => ({ text: `claim + release p99 ≤ 10 ms (measured ${(m.p99Us! / 1000).toFixed(1)} ms)`, met: m.p99Us! <= 10_000 }) });
    const app = await application();
    const agent = new LazyAgent({ connections: 8, keepAliveTimeout: 10_000 });
    try {
      const onNats = () => [cluster({ engine: 'nats', servers: [nats.url], nodeId: 'cb', prefix: `cb${Date.now()}` })];
      await compare(`${CALLBACK_EVENTS} callbacks: the cluster's event log (JetStream, 1 node) vs direct POSTs`,
        () => directPosts(app.url, agent, CALLBACK_EVENTS),
        () => throughCallbacks('through JetStream', app.url, onNats(), CALLBACK_EVENTS),
        2);
      await compare(`${CALLBACK_EVENTS} callbacks: the cluster's event log (JetStream) vs the SQLite outbox`,
        () => throughCallbacks('through the SQLite outbox', app.url, [], CALLBACK_EVENTS),
        () => throughCallbacks('through JetStream', app.url, onNats(), CALLBACK_EVENTS),
        2);
    } finally {
      await agent.close();
      app.close();
    }
  } finally {
    for (const p of [...singlePeers.ingest, ...singlePeers.encoders, ...trioPeers.ingest, ...trioPeers.encoders]) p.terminate();
    await claims.close();
    for (const node of [single, ...trio]) await node.runtime.stop();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
