// Three `coordinator start` processes on one real nats-server (NATS_URL),
// each with a fake encoder and ingest server on real WebSockets, and one
// application receiving callbacks. Contested publishes: one winner per
// channel, no encoder over capacity (n1's encoder is small: its streams spill
// onto the others' encoders). Encoders announce every stream (callbacks).
// SIGKILL of one node: a survivor frees its channels, which live nodes can
// publish again. SIGSTOP of another past the death timeout, then SIGCONT: it
// finds itself declared dead and closes its control sessions. At the end every
// announced stream has exactly one stream-closed, no callback is lost, each
// stream's callbacks arrive in order, and a duplicate always carries the same
// delivery id.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ControlPeer, mintToken } from '../support/control-peer.js';
import { startNatsServer, type NatsServer } from '../support/nats.js';
import { startChild, type Child } from '../support/processes.js';
import { until } from '../support/runtime.js';
import { hookServer, type HookServer } from '../support/http.js';

const SECRET = 'failover-secret';
const CHANNELS = 12;
/** Encoder capacity per node: n1's is small, so what n1 wins beyond it is encoded elsewhere. */
const CAPACITY: Record<string, number> = { n1: 2, n2: 30, n3: 30 };

interface Node { id: string; child: Child; base: string; encoder: ControlPeer; ingest: ControlPeer }

describe('cluster failover: three coordinator processes on one NATS', function () {
  this.timeout(60_000);
  let nats: NatsServer;
  let dir: string;
  let app: HookServer;
  const nodes: Node[] = [];

  before(async () => {
    nats = await startNatsServer();
    app = await hookServer(() => ({ body: '' }));
    dir = mkdtempSync(path.join(tmpdir(), 'cluster-failover-'));
    const config = path.join(dir, 'coordinator.config.json');
    writeFileSync(config, JSON.stringify({
      externalPort: 0, bindAddress: '127.0.0.1', logLevel: 'info',
      plugins: ['cluster', 'http-server', 'key-auth', 'event-callbacks', 'streaming-control'],
      pluginOptions: { cluster: { prefix: 'failover', heartbeatMs: 200, deadAfterMs: 1500 } },
    }));
    const children = ['n1', 'n2', 'n3'].map((id) => ({ id, child: startChild(process.execPath, ['bin/coordinator.js', 'start', '--config', config], {
      NATS_URL: nats.url, COORDINATOR_NODE_ID: id, CONTROL_SECRET: SECRET, COORDINATOR_DATA_DIR: path.join(dir, id), COMMANDS_API_AUTH: 'Bearer', COMMANDS_API_AUTH_TOKEN: 'cmd',
      EVENT_CALLBACK_URL: app.url('/events'),
    }) }));
    for (const { id, child } of children) {
      await child.waitFor(/coordinator ready/, 30_000);
      const port = Number(/"port":(\d+),"msg":"HTTP server listening"/.exec(child.output())![1]);
      const base = `http://127.0.0.1:${port}`;
      const encoder = await ControlPeer.connect(base, '/ws/control/hls', { 'x-control-auth-token': mintToken(SECRET, { sub: 'hls-control' }) });
      encoder.send('REGISTER', { Capacity: CAPACITY[id]! });
      const ingest = await ControlPeer.connect(base, '/ws/control/rtmp', { 'x-control-auth-token': mintToken(SECRET, { sub: 'rtmp-control' }) });
      nodes.push({ id, child, base, encoder, ingest });
    }
  });
  after(async () => {
    for (const n of nodes) { n.encoder.terminate(); n.ingest.terminate(); }
    for (const n of nodes) { n.child.proc.kill('SIGCONT'); await n.child.stop('SIGKILL'); }
    await nats?.stop();
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function publish(node: Node, channel: string, requestId: string): Promise<string> {
    node.ingest.send('PUBLISH-REQUEST', { 'Request-ID': requestId, 'Stream-Channel': channel, 'Stream-Key': 'k' });
    // Several publishes are in flight on one connection: find this one's answer by its request id.
    const answer = () => node.ingest.received.find((m) => (m.type === 'PUBLISH-ACCEPT' || m.type === 'PUBLISH-DENY') && m.args['request-id'] === requestId);
    await until(() => answer() !== undefined, 8000);
    return answer()!.type;
  }

  /** The fake encoders announce each stream they start (once), as real ones do after their first segment. */
  const announced = new Set<string>();
  function announce(): void {
    for (const n of nodes) {
      if (n.encoder.closed) continue;
      for (const m of n.encoder.received) {
        const key = `${m.args['stream-channel']}/${m.args['stream-id']}`;
        if (m.type !== 'ENCODE-START' || announced.has(key)) continue;
        announced.add(key);
        n.encoder.send('STREAM-AVAILABLE', { 'Stream-Channel': m.args['stream-channel']!, 'Stream-ID': m.args['stream-id']!, 'Stream-Type': 'HLS', Resolution: '720p', 'Index-file': 'i.m3u8' });
      }
    }
  }
  const callbacks = (type: string) => app.received.filter((r) => r.headers['x-event-type'] === type);

  /** Encoder load as each live encoder saw it: started, minus stopped, minus closed by it. */
  function encoderLoad(n: Node): number {
    const live = new Set<string>();
    for (const m of n.encoder.received) {
      const key = `${m.args['stream-channel']}/${m.args['stream-id']}`;
      if (m.type === 'ENCODE-START') live.add(key);
      if (m.type === 'ENCODE-STOP') live.delete(key);
    }
    return live.size;
  }

  it('one winner per channel; the survivors free the channels of a killed node and of a paused one, which fences itself; callbacks: none lost, in order, one stream-closed per stream', async () => {
    // Every channel asked for on all three nodes at once.
    const winners = new Map<string, string[]>();
    await Promise.all(Array.from({ length: CHANNELS }, async (_, c) => {
      const results = await Promise.all(nodes.map((n) => publish(n, `ch${c}`, `${n.id}-${c}`)));
      winners.set(`ch${c}`, nodes.filter((_, i) => results[i] === 'PUBLISH-ACCEPT').map((n) => n.id));
    }));
    for (const [channel, won] of winners) assert.equal(won.length, 1, `${channel}: ${won.join(',')}`);
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    // n1 publishes beyond its own encoder's capacity: the rest is encoded on n2's or n3's.
    for (let i = 0; i < 4; i += 1) assert.equal(await publish(n1, `n1-only-${i}`, `n1o-${i}`), 'PUBLISH-ACCEPT');
    // No encoder over its capacity.
    for (const n of nodes) assert.ok(encoderLoad(n) <= CAPACITY[n.id]!, `${n.id}: ${encoderLoad(n)} streams for capacity ${CAPACITY[n.id]}`);
    const cluster = await (await fetch(`${n2.base}/commands/report`, { headers: { authorization: 'Bearer cmd' } })).json() as { encoders: Array<{ capacity: number; load: number }> };
    for (const e of cluster.encoders) assert.ok(e.load <= e.capacity, `encoder load ${e.load} of ${e.capacity}`);
    assert.equal([...winners.values()].flat().length, CHANNELS, 'every channel was published somewhere');
    assert.ok(encoderLoad(n2) + encoderLoad(n3) > CHANNELS + 4 - CAPACITY.n1! - 1, 'streams published on n1 were encoded on other nodes');

    // A channel held by each of the nodes about to fail.
    assert.equal(await publish(n1, 'held-by-n1', 'h1'), 'PUBLISH-ACCEPT');
    assert.equal(await publish(n3, 'held-by-n3', 'h3'), 'PUBLISH-ACCEPT');
    assert.equal(await publish(n2, 'held-by-n1', 'h1-early'), 'PUBLISH-DENY');
    // Every stream is announced, and the application has heard it (the emitters were told it is stored).
    announce();
    await until(() => callbacks('stream-available').length >= announced.size, 10_000);

    // SIGKILL n1: its channels are freed by a survivor; a live node can publish one within a few seconds.
    const killedAt = Date.now();
    n1.child.proc.kill('SIGKILL');
    let detectedMs = 0;
    {
      let accepted = false;
      for (let i = 0; i < 30 && !accepted; i += 1) {
        accepted = await publish(n2, 'held-by-n1', `retake-${i}`) === 'PUBLISH-ACCEPT';
        if (!accepted) await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(accepted, 'a killed node\'s channel can be published again on a live node');
      detectedMs = Date.now() - killedAt;
    }

    // SIGSTOP n3 past the death timeout, then SIGCONT: it fences itself and closes its sessions.
    n3.child.proc.kill('SIGSTOP');
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await publish(n2, 'held-by-n3', 'retake-n3'), 'PUBLISH-ACCEPT', 'a paused node\'s channel is free once it is declared dead');
    n3.child.proc.kill('SIGCONT');
    await until(() => n3.ingest.closed && n3.encoder.closed, 10_000);
    assert.match(n3.child.output(), /declared dead by the cluster/);
    // n2 goes on.
    assert.equal(await publish(n2, 'after-failover', 'last'), 'PUBLISH-ACCEPT');

    // The streams still running wholly on n2 end the usual way: its encoder closes them.
    announce();
    await until(() => callbacks('stream-available').length >= announced.size, 10_000);
    const stopped = new Set(n2.encoder.received.filter((m) => m.type === 'ENCODE-STOP').map((m) => `${m.args['stream-channel']}/${m.args['stream-id']}`));
    for (const m of n2.encoder.received.filter((x) => x.type === 'ENCODE-START')) {
      if (!stopped.has(`${m.args['stream-channel']}/${m.args['stream-id']}`)) n2.encoder.send('STREAM-CLOSED', { 'Stream-Channel': m.args['stream-channel']!, 'Stream-ID': m.args['stream-id']! });
    }

    // Every announced stream: exactly one stream-closed (one delivery id), after its stream-available.
    const streamsAnnounced = new Set([...announced].map((k) => k.split('/')[1]!));
    await until(() => new Set(callbacks('stream-closed').map((r) => r.headers['x-streaming-id'])).size >= streamsAnnounced.size, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    const byStream = new Map<string, Array<{ seq: number; id: string; type: string }>>();
    for (const r of app.received) {
      const id = String(r.headers['x-streaming-id']);
      if (!byStream.has(id)) byStream.set(id, []);
      byStream.get(id)!.push({ seq: Number(r.headers['x-event-sequence']), id: String(r.headers['x-delivery-id']), type: String(r.headers['x-event-type']) });
    }
    let duplicates = 0;
    for (const stream of streamsAnnounced) {
      const got = byStream.get(stream) ?? [];
      const closes = new Set(got.filter((g) => g.type === 'stream-closed').map((g) => g.id));
      assert.equal(closes.size, 1, `${stream}: ${closes.size} stream-closed`);
      // A duplicate (same sequence number) always carries the same delivery id.
      const idOfSeq = new Map<number, string>();
      for (const g of got) {
        if (idOfSeq.has(g.seq)) { duplicates += 1; assert.equal(idOfSeq.get(g.seq), g.id, `${stream} seq ${g.seq}`); } else idOfSeq.set(g.seq, g.id);
      }
      // In order, nothing lost: first deliveries are 1, 2, … and stream-closed is the last.
      const firsts = [...idOfSeq.keys()];
      assert.deepEqual(firsts, firsts.map((_, i) => i + 1), `${stream}: ${firsts.join(',')}`);
      assert.equal(got.find((g) => g.seq === firsts.length)!.type, 'stream-closed');
    }
    console.log(`      failover: channel of the killed node free again after ${detectedMs} ms; ${streamsAnnounced.size} streams, ${app.received.length} callbacks, ${duplicates} duplicate(s), 0 lost`);
  });
});
