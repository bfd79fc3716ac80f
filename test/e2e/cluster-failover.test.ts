// Three `coordinator start` processes on one real nats-server (NATS_URL),
// each with a fake encoder and ingest server on real WebSockets. Contested
// publishes: one winner per channel, no encoder over capacity. SIGKILL of one
// node: a survivor frees its channels, which live nodes can publish again.
// SIGSTOP of another past the death timeout, then SIGCONT: it finds itself
// declared dead and closes its control sessions; its channels are free too.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ControlPeer, mintToken } from '../support/control-peer.js';
import { startNatsServer, type NatsServer } from '../support/nats.js';
import { startChild, type Child } from '../support/processes.js';
import { until } from '../support/runtime.js';

const SECRET = 'failover-secret';
const CHANNELS = 12;

interface Node { id: string; child: Child; base: string; encoder: ControlPeer; ingest: ControlPeer }

describe('cluster failover: three coordinator processes on one NATS', function () {
  this.timeout(60_000);
  let nats: NatsServer;
  let dir: string;
  const nodes: Node[] = [];

  before(async () => {
    nats = await startNatsServer();
    dir = mkdtempSync(path.join(tmpdir(), 'cluster-failover-'));
    const config = path.join(dir, 'coordinator.config.json');
    writeFileSync(config, JSON.stringify({
      externalPort: 0, bindAddress: '127.0.0.1', logLevel: 'info',
      plugins: ['cluster', 'http-server', 'key-auth', 'event-callbacks', 'streaming-control'],
      pluginOptions: { cluster: { prefix: 'failover', heartbeatMs: 200, deadAfterMs: 1500 } },
    }));
    const children = ['n1', 'n2', 'n3'].map((id) => ({ id, child: startChild(process.execPath, ['bin/coordinator.js', 'start', '--config', config], {
      NATS_URL: nats.url, COORDINATOR_NODE_ID: id, CONTROL_SECRET: SECRET, COORDINATOR_DATA_DIR: path.join(dir, id), COMMANDS_API_AUTH: 'Bearer', COMMANDS_API_AUTH_TOKEN: 'cmd',
    }) }));
    for (const { id, child } of children) {
      await child.waitFor(/coordinator ready/, 30_000);
      const port = Number(/"port":(\d+),"msg":"HTTP server listening"/.exec(child.output())![1]);
      const base = `http://127.0.0.1:${port}`;
      const encoder = await ControlPeer.connect(base, '/ws/control/hls', { 'x-control-auth-token': mintToken(SECRET, { sub: 'hls-control' }) });
      encoder.send('REGISTER', { Capacity: CHANNELS + 5 });
      const ingest = await ControlPeer.connect(base, '/ws/control/rtmp', { 'x-control-auth-token': mintToken(SECRET, { sub: 'rtmp-control' }) });
      nodes.push({ id, child, base, encoder, ingest });
    }
  });
  after(async () => {
    for (const n of nodes) { n.encoder.terminate(); n.ingest.terminate(); }
    for (const n of nodes) { n.child.proc.kill('SIGCONT'); await n.child.stop('SIGKILL'); }
    await nats?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function publish(node: Node, channel: string, requestId: string): Promise<string> {
    node.ingest.send('PUBLISH-REQUEST', { 'Request-ID': requestId, 'Stream-Channel': channel, 'Stream-Key': 'k' });
    // Several publishes are in flight on one connection: find this one's answer by its request id.
    const answer = () => node.ingest.received.find((m) => (m.type === 'PUBLISH-ACCEPT' || m.type === 'PUBLISH-DENY') && m.args['request-id'] === requestId);
    await until(() => answer() !== undefined, 8000);
    return answer()!.type;
  }

  it('one winner per channel; the survivors free the channels of a killed node and of a paused one, which fences itself', async () => {
    // Every channel asked for on all three nodes at once.
    const winners = new Map<string, string[]>();
    await Promise.all(Array.from({ length: CHANNELS }, async (_, c) => {
      const results = await Promise.all(nodes.map((n) => publish(n, `ch${c}`, `${n.id}-${c}`)));
      winners.set(`ch${c}`, nodes.filter((_, i) => results[i] === 'PUBLISH-ACCEPT').map((n) => n.id));
    }));
    for (const [channel, won] of winners) assert.equal(won.length, 1, `${channel}: ${won.join(',')}`);
    // No encoder over its capacity (encoders are chosen among the node's own for now: each can take every channel, and more).
    for (const n of nodes) {
      const capacity = await (await fetch(`${n.base}/commands/capacity`, { headers: { authorization: 'Bearer cmd' } })).json() as { load: number; capacity: number };
      assert.ok(capacity.load <= capacity.capacity, `${n.id}: load ${capacity.load} of ${capacity.capacity}`);
      const starts = n.encoder.received.filter((m) => m.type === 'ENCODE-START').length;
      assert.ok(starts <= CHANNELS + 5, `${n.id}: ${starts} ENCODE-STARTs for capacity ${CHANNELS + 5}`);
    }
    assert.equal([...winners.values()].flat().length, CHANNELS, 'every channel was published somewhere');

    const [n1, n2, n3] = nodes as [Node, Node, Node];
    // A channel held by each of the nodes about to fail.
    assert.equal(await publish(n1, 'held-by-n1', 'h1'), 'PUBLISH-ACCEPT');
    assert.equal(await publish(n3, 'held-by-n3', 'h3'), 'PUBLISH-ACCEPT');
    assert.equal(await publish(n2, 'held-by-n1', 'h1-early'), 'PUBLISH-DENY');

    // SIGKILL n1: its channels are freed by a survivor; a live node can publish one within a few seconds.
    n1.child.proc.kill('SIGKILL');
    {
      let accepted = false;
      for (let i = 0; i < 30 && !accepted; i += 1) {
        accepted = await publish(n2, 'held-by-n1', `retake-${i}`) === 'PUBLISH-ACCEPT';
        if (!accepted) await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(accepted, 'a killed node\'s channel can be published again on a live node');
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
  });
});
