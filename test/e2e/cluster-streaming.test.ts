// Two coordinators sharing one real nats-server (the cluster plugin's nats
// engine), each with its own encoder and ingest server on real WebSockets:
// one publish per channel cluster-wide, the close command reaching the node
// that holds the publisher, and a node that goes silent: its channels are
// freed by the survivor, and when it comes back it closes its sessions.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cluster, eventCallbacks, httpServer, keyAuth, makeEvent, streamingControl } from '../../index.js';
import type { Coordinator } from '../../core/runtime.js';
import type { NatsClusterState } from '../../plugins/cluster/nats.js';
import { makeRuntime, until } from '../support/runtime.js';
import { ControlPeer, mintToken } from '../support/control-peer.js';
import { startNatsServer, type NatsServer } from '../support/nats.js';

const SECRET = 'cluster-secret';
const AUTH = { COMMANDS_API_AUTH: 'Bearer', COMMANDS_API_AUTH_TOKEN: 'cmd' };

describe('streaming on a cluster of coordinators (nats engine)', function () {
  this.timeout(40_000);
  let nats: NatsServer;
  let dataDir: string;
  const runtimes: Coordinator[] = [];
  const peers: ControlPeer[] = [];

  before(async () => { nats = await startNatsServer(); });
  after(async () => { await nats.stop(); });
  beforeEach(() => { dataDir = mkdtempSync(path.join(tmpdir(), 'cluster-streaming-')); });
  afterEach(async () => {
    for (const p of peers.splice(0)) p.terminate();
    for (const r of runtimes.splice(0)) await r.stop().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function node(id: string, prefix: string): Promise<{ runtime: Coordinator; base: string }> {
    const runtime = makeRuntime({ dataDir: path.join(dataDir, id) }, [
      cluster({ engine: 'nats', servers: [nats.url], nodeId: id, prefix, heartbeatMs: 100, deadAfterMs: 800 }),
      httpServer({ port: 0 }), keyAuth(), streamingControl(),
    ], { CONTROL_SECRET: SECRET, ...AUTH });
    runtimes.push(runtime);
    await runtime.start();
    return { runtime, base: runtime.service('http.server').baseUrl() };
  }

  async function peers2(base: string): Promise<{ encoder: ControlPeer; ingest: ControlPeer }> {
    const encoder = await ControlPeer.connect(base, '/ws/control/hls', { 'x-control-auth-token': mintToken(SECRET, { sub: 'hls-control' }) });
    encoder.send('REGISTER', { Capacity: 10 });
    const ingest = await ControlPeer.connect(base, '/ws/control/rtmp', { 'x-control-auth-token': mintToken(SECRET, { sub: 'rtmp-control' }) });
    peers.push(encoder, ingest);
    await new Promise((r) => setTimeout(r, 100));
    return { encoder, ingest };
  }

  it('one publish per channel across coordinators; the close command reaches the node holding the publisher', async () => {
    const a = await node('a', 'st1');
    const b = await node('b', 'st1');
    const pa = await peers2(a.base);
    const pb = await peers2(b.base);
    for (let round = 0; round < 5; round += 1) {
      const channel = `contested-${round}`;
      pa.ingest.send('PUBLISH-REQUEST', { 'Request-ID': `a${round}`, 'Stream-Channel': channel, 'Stream-Key': 'k' });
      pb.ingest.send('PUBLISH-REQUEST', { 'Request-ID': `b${round}`, 'Stream-Channel': channel, 'Stream-Key': 'k' });
      const answers = await Promise.all([pa.ingest.next(), pb.ingest.next()]);
      assert.deepEqual(answers.map((m) => m.type).sort(), ['PUBLISH-ACCEPT', 'PUBLISH-DENY'], `round ${round}: one winner`);
    }
    // Capacity and report answer for the whole cluster, from either node.
    const commands = async (base: string, what: string) => (await fetch(`${base}/commands/${what}`, { headers: { authorization: 'Bearer cmd' } })).json();
    let capacity = await commands(b.base, 'capacity') as { load: number; capacity: number; encoderCount: number };
    for (let i = 0; i < 20 && capacity.load !== 5; i += 1) {
      await new Promise((r) => setTimeout(r, 50));
      capacity = await commands(b.base, 'capacity') as typeof capacity;
    }
    assert.deepEqual(capacity, { load: 5, capacity: 20, encoderCount: 2 });
    const report = await commands(a.base, 'report') as { streamingServers: Array<{ id: number }>; encoders: Array<{ id: number }>; activeStreams: Array<{ channel: string; streamServer: number }> };
    assert.equal(report.streamingServers.length, 2);
    assert.equal(new Set(report.streamingServers.map((s) => s.id)).size, 2, 'session ids are unique across coordinators');
    assert.equal(new Set(report.encoders.map((e) => e.id)).size, 2);
    assert.deepEqual(report.activeStreams.map((x) => x.channel).sort(), ['contested-0', 'contested-1', 'contested-2', 'contested-3', 'contested-4']);
    assert.ok(report.activeStreams.every((x) => report.streamingServers.some((s) => s.id === x.streamServer)), 'each stream names a listed ingest server');

    // A channel published on A, closed through B's commands API.
    pa.ingest.send('PUBLISH-REQUEST', { 'Request-ID': 'only-a', 'Stream-Channel': 'on-a', 'Stream-Key': 'k' });
    const accept = await pa.ingest.next('PUBLISH-ACCEPT');
    const res = await fetch(`${b.base}/commands/close`, { method: 'POST', headers: { authorization: 'Bearer cmd', 'x-streaming-channel': 'on-a', 'x-streaming-id': accept.args['stream-id']! } });
    assert.equal(await res.text(), 'SUCCESS');
    const kill = await pa.ingest.next('STREAM-KILL');
    assert.equal(kill.args['stream-channel'], 'on-a');
    assert.equal(kill.args['stream-id'], accept.args['stream-id']);
    // The stream ends (PUBLISH-END): the channel is free cluster-wide, B can take it.
    pa.ingest.send('PUBLISH-END', { 'Stream-Channel': 'on-a', 'Stream-ID': accept.args['stream-id']! });
    await new Promise((r) => setTimeout(r, 200));
    pb.ingest.send('PUBLISH-REQUEST', { 'Request-ID': 'b-after', 'Stream-Channel': 'on-a', 'Stream-Key': 'k' });
    assert.equal((await pb.ingest.next()).type, 'PUBLISH-ACCEPT');
  });

  it('a silent node: the survivor frees its channels; when it comes back it closes its control sessions', async () => {
    const a = await node('a', 'st2');
    const b = await node('b', 'st2');
    const pa = await peers2(a.base);
    const pb = await peers2(b.base);
    pa.ingest.send('PUBLISH-REQUEST', { 'Request-ID': '1', 'Stream-Channel': 'held-by-a', 'Stream-Key': 'k' });
    await pa.ingest.next('PUBLISH-ACCEPT');
    pb.ingest.send('PUBLISH-REQUEST', { 'Request-ID': '2', 'Stream-Channel': 'held-by-a', 'Stream-Key': 'k' });
    assert.equal((await pb.ingest.next()).type, 'PUBLISH-DENY');

    const stateA = a.runtime.service('cluster.state') as unknown as NatsClusterState;
    stateA.pauseHeartbeats(); // as a process under SIGSTOP
    const stateB = b.runtime.service('cluster.state');
    let free = false;
    for (let i = 0; i < 60 && !free; i += 1) {
      free = (await stateB.claimOf('held-by-a')) === undefined;
      if (!free) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(free, 'the survivor freed the dead node\'s channel');
    pb.ingest.send('PUBLISH-REQUEST', { 'Request-ID': '3', 'Stream-Channel': 'held-by-a', 'Stream-Key': 'k' });
    assert.equal((await pb.ingest.next()).type, 'PUBLISH-ACCEPT');

    stateA.resumeHeartbeats(); // SIGCONT: A learns it was declared dead and stops acting
    await until(() => pa.ingest.closed && pa.encoder.closed, 5000);
    assert.equal((await fetch(`${b.base}/commands/capacity`, { headers: { authorization: 'Bearer cmd' } })).status, 200, 'the live node goes on');
  });

  it('a publish on one coordinator is encoded by an encoder on another: start, stop, capacity, and either side ending it', async () => {
    const a = await node('a', 'st3');
    const b = await node('b', 'st3');
    const ingest = await ControlPeer.connect(a.base, '/ws/control/rtmp', { 'x-control-auth-token': mintToken(SECRET, { sub: 'rtmp-control' }), 'x-external-ip': '10.0.0.7' });
    const encoder = await ControlPeer.connect(b.base, '/ws/control/hls', { 'x-control-auth-token': mintToken(SECRET, { sub: 'hls-control' }) });
    peers.push(ingest, encoder);
    encoder.send('REGISTER', { Capacity: 2 });
    const stateA = a.runtime.service('cluster.state');
    await until(async () => (await stateA.encoders()).length === 1, 5000);

    // A has no encoder: B's takes the stream, and B sends it ENCODE-START with A's ingest server in the source URI.
    ingest.send('PUBLISH-REQUEST', { 'Request-ID': '1', 'Stream-Channel': 'c1', 'Stream-Key': 'key1' });
    const start = await encoder.next('ENCODE-START');
    const accept = await ingest.next('PUBLISH-ACCEPT');
    assert.equal(start.args['stream-channel'], 'c1');
    assert.equal(start.args['stream-id'], accept.args['stream-id']);
    assert.equal(start.args['stream-source-uri'], 'rtmp://10.0.0.7:1935/c1/key1');
    const claim = await stateA.claimOf('c1');
    await until(async () => (await stateA.claimOf('c1'))?.encoderNode === 'b', 3000);
    assert.equal(claim?.node, 'a');

    // PUBLISH-END on A: ENCODE-STOP on B, and the slot is free again.
    ingest.send('PUBLISH-END', { 'Stream-Channel': 'c1', 'Stream-ID': accept.args['stream-id']! });
    const stop = await encoder.next('ENCODE-STOP');
    assert.equal(stop.args['stream-id'], accept.args['stream-id']);
    await until(() => b.runtime.service('streaming.control').capacity().load === 0, 3000);

    // Capacity 2 is never exceeded: the third publish is denied.
    const ids: string[] = [];
    for (const ch of ['c2', 'c3', 'c4']) {
      ingest.send('PUBLISH-REQUEST', { 'Request-ID': ch, 'Stream-Channel': ch, 'Stream-Key': 'k' });
      const answer = await ingest.next();
      if (answer.type === 'PUBLISH-ACCEPT') ids.push(answer.args['stream-id']!);
      assert.equal(answer.type, ch === 'c4' ? 'PUBLISH-DENY' : 'PUBLISH-ACCEPT', ch);
    }
    assert.equal(b.runtime.service('streaming.control').capacity().load, 2);

    // B's encoder closes c2: A kills its publisher, and the channel is free cluster-wide.
    await encoder.next('ENCODE-START');
    await encoder.next('ENCODE-START');
    encoder.send('STREAM-CLOSED', { 'Stream-Channel': 'c2', 'Stream-ID': ids[0]! });
    const kill = await ingest.next('STREAM-KILL');
    assert.deepEqual([kill.args['stream-channel'], kill.args['stream-id']], ['c2', ids[0]]);
    await until(async () => (await stateA.claimOf('c2')) === undefined, 3000);

    // B's encoder leaves: A kills the publisher of c3.
    encoder.terminate();
    const kill3 = await ingest.next('STREAM-KILL');
    assert.deepEqual([kill3.args['stream-channel'], kill3.args['stream-id']], ['c3', ids[1]]);
    await until(async () => (await stateA.claimOf('c3')) === undefined, 3000);
  });

  it('the coordinator holding the encoder dies: the survivor kills the publisher it served', async () => {
    const a = await node('a', 'st4');
    const b = await node('b', 'st4');
    const ingest = await ControlPeer.connect(a.base, '/ws/control/wss', { 'x-control-auth-token': mintToken(SECRET, { sub: 'wss-control' }) });
    const encoder = await ControlPeer.connect(b.base, '/ws/control/hls', { 'x-control-auth-token': mintToken(SECRET, { sub: 'hls-control' }) });
    peers.push(ingest, encoder);
    encoder.send('REGISTER', { Capacity: -1 });
    await until(async () => (await a.runtime.service('cluster.state').encoders()).length === 1, 5000);
    ingest.send('PUBLISH-REQUEST', { 'Request-ID': '1', 'Stream-Channel': 'far', 'Stream-Key': 'k' });
    const accept = await ingest.next('PUBLISH-ACCEPT');
    await until(async () => (await a.runtime.service('cluster.state').claimOf('far'))?.encoderNode === 'b', 3000);

    (b.runtime.service('cluster.state') as unknown as NatsClusterState).pauseHeartbeats(); // B stalls
    const kill = await ingest.next('STREAM-KILL', 8000);
    assert.deepEqual([kill.args['stream-channel'], kill.args['stream-id']], ['far', accept.args['stream-id']]);
    await until(async () => (await a.runtime.service('cluster.state').claimOf('far')) === undefined, 3000);
  });

  it('NATS out of reach: publishes are denied with a reason, callbacks wait in memory (not ready), and past the death timeout the node fences itself', async () => {
    const own = await startNatsServer();
    try {
      const runtime = makeRuntime({ dataDir: path.join(dataDir, 'outage') }, [
        cluster({ engine: 'nats', servers: [own.url], nodeId: 'lonely', prefix: 'outage', heartbeatMs: 100, deadAfterMs: 800, connection: { reconnectTimeWait: 100 } }),
        httpServer({ port: 0 }), keyAuth(), eventCallbacks(), streamingControl(),
      ], { CONTROL_SECRET: SECRET, EVENT_CALLBACK_URL: 'http://127.0.0.1:9/never', ...AUTH });
      runtimes.push(runtime);
      await runtime.start();
      const { encoder, ingest } = await peers2(runtime.service('http.server').baseUrl());
      ingest.send('PUBLISH-REQUEST', { 'Request-ID': 'before', 'Stream-Channel': 'o1', 'Stream-Key': 'k' });
      assert.equal((await ingest.next()).type, 'PUBLISH-ACCEPT');

      await own.stop(); // NATS goes away
      ingest.send('PUBLISH-REQUEST', { 'Request-ID': 'during', 'Stream-Channel': 'o2', 'Stream-Key': 'k' });
      const denied = await ingest.next();
      assert.equal(denied.type, 'PUBLISH-DENY');
      assert.equal(denied.args['request-id'], 'during');
      // An event emitted now cannot be stored: it waits in memory, and the node says it is not ready.
      void runtime.emit(makeEvent('stream.available', { channel: 'o1', streamId: 'x', streamType: 'HLS', resolution: '720p', indexFile: 'i.m3u8' }));
      await until(() => runtime.service('event-callbacks').stats().unstored === 1, 5000);
      assert.equal(runtime.readiness().ready, false);
      // Longer than deadAfterMs without a heartbeat written: fenced, control sessions closed.
      await until(() => ingest.closed && encoder.closed, 5000);
      assert.equal(runtime.service('cluster.state').fenced, true);
    } finally {
      await own.stop();
    }
  });
});
